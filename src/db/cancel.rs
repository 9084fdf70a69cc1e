//! Cancelling a request (`POST /sms/{sms_identifier}/cancel`, docs/DESIGN.md "Cancelling"):
//! its recipients not yet taken (PENDING) move to CANCELLED and are refunded, in one
//! transaction with their events, the outbox row's removal when nothing is left to deliver,
//! one refund ledger row and the counters.
//!
//! Racing a worker's take: both lock the recipients' rows through the primary key in id order
//! (`delivery::claim_many` takes PENDING rows `for update`; this takes them the same way),
//! so each row goes to whoever locks it first, and the other reads it after that commit: a
//! worker finds a CANCELLED row no longer open and leaves it (a queue message already
//! published for it sends nothing), a cancel finds a SENDING row no longer PENDING and leaves
//! it to its worker. Exactly the rows this transaction moved are refunded.
//!
//! Exactly once: a second cancel (or a concurrent one) finds no PENDING row left, since rows
//! never become PENDING again, and refunds nothing; the refund's `transaction_id`
//! `cancel:<sms_identifier>` is unique, so even a second refund of the request could not
//! commit.

use sqlx::Row;

use super::messages::RequestRow;
use super::{Tx, batch, callbacks, daily, ledger, outbox};

/// What [`cancel`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cancelled {
    /// Recipients moved PENDING -> CANCELLED by this call.
    pub cancelled: u64,
    /// Credits refunded for them (their segments x the request's price).
    pub refunded: i64,
    /// The request's outbox row was removed (nothing left to deliver).
    pub outbox_removed: bool,
}

/// Cancels `request`'s PENDING recipients inside `tx`, which must be READ COMMITTED
/// (`db::begin_read_committed`: its locking reads then take no gaps, so intake's inserts
/// never wait for a cancel). Locks, in this order: the recipients, the outbox row, the
/// balance (the refund), the scheduled counters, the daily counters (the order of the
/// promotion and of `delivery::fail_and_refund`). The caller commits.
pub async fn cancel(tx: &mut Tx, request: &RequestRow) -> Result<Cancelled, sqlx::Error> {
    // Which recipients look open; the locking read below decides.
    let candidates: Vec<i64> = sqlx::query_scalar(
        "select id from sms_status force index (uq_sms_status_request_recipient) \
         where request_id = ? and status = 'PENDING' order by id",
    )
    .bind(request.id)
    .fetch_all(&mut **tx)
    .await?;
    let mut ids: Vec<i64> = Vec::with_capacity(candidates.len());
    let mut segments: i64 = 0;
    let mut refunds: Vec<(i64, i64)> = Vec::new();
    for chunk in batch::key_chunks(&candidates) {
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "select id, segments from sms_status force index (primary) where id in ",
        );
        batch::push_in_list(&mut qb, chunk);
        qb.push(" and status = 'PENDING' order by id for update");
        for row in qb.build().fetch_all(&mut **tx).await? {
            let (id, own) = (row.try_get(0)?, i64::from(row.try_get::<i32, _>(1)?));
            ids.push(id);
            segments += own;
            refunds.push((id, own * request.price_per_segment));
        }
    }
    if ids.is_empty() {
        return Ok(Cancelled::default());
    }
    for chunk in batch::key_chunks(&ids) {
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "update sms_status force index (primary) set status = 'CANCELLED', \
             failure_reason = 'cancelled', locked_until = null where status = 'PENDING' \
             and id in ",
        );
        batch::push_in_list(&mut qb, chunk);
        qb.build().execute(&mut **tx).await?;
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "insert into sms_events (status_id, status, detail) \
             select id, 'CANCELLED', 'cancelled by the customer' from sms_status \
             force index (primary) where id in ",
        );
        batch::push_in_list(&mut qb, chunk);
        qb.build().execute(&mut **tx).await?;
    }
    if request.callbacks {
        let events: Vec<callbacks::NewEvent<'_>> = refunds
            .iter()
            .map(|&(status_id, refund)| callbacks::NewEvent {
                customer_id: request.customer_id,
                status_id,
                status: "CANCELLED",
                detail: Some("cancelled by the customer"),
                refund: Some(refund.max(0)),
            })
            .collect();
        callbacks::insert(tx, &events).await?;
    }
    let removed = remove_outbox_row_if_done(tx, request.id).await?;

    let amount = segments * request.price_per_segment;
    if amount > 0 {
        let transaction_id = format!("cancel:{}", request.sms_identifier);
        let description = format!("cancelled: {} recipient(s)", ids.len());
        ledger::credit(
            tx,
            &ledger::Entry {
                customer_id: request.customer_id,
                entry_type: ledger::EntryType::Refund,
                transaction_id: &transaction_id,
                description: Some(&description),
                sms_identifier: Some(&request.sms_identifier),
            },
            amount,
        )
        .await?;
    }
    if let Some(Removed {
        priority,
        recipients,
        scheduled: true,
    }) = removed
    {
        outbox::count_scheduled(tx, &[(priority, recipients)], -1).await?;
    }
    let key = daily::Key::of(request.customer_id, request.created_at, request.sms_type);
    let counts = daily::Counts {
        cancelled: ids.len() as i64,
        refunded: amount.max(0),
        ..daily::Counts::default()
    };
    daily::add(tx, &[(key, counts)]).await?;
    Ok(Cancelled {
        cancelled: ids.len() as u64,
        refunded: amount.max(0),
        outbox_removed: removed.is_some(),
    })
}

/// An outbox row [`remove_outbox_row_if_done`] deleted.
#[derive(Debug, Clone, Copy)]
struct Removed {
    priority: i32,
    recipients: i64,
    /// It was still waiting for its `send_at` (counted in `scheduled_counts`).
    scheduled: bool,
}

/// Deletes the request's outbox row (locked first: a publisher holding it, or promoting it,
/// finishes before) when none of its recipients is open any more (PENDING, or SENDING: in
/// flight or waiting for a retry, which needs the row). Whatever a publisher does with the
/// row afterwards is conditional on its claim and finds nothing; a queue message already out
/// finds nothing open.
async fn remove_outbox_row_if_done(
    tx: &mut Tx,
    request_id: i64,
) -> Result<Option<Removed>, sqlx::Error> {
    let row: Option<(i64, i32, i64, String)> = sqlx::query_as(
        "select id, priority, recipients, status from outbox_events \
         where request_id = ? for update",
    )
    .bind(request_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((id, priority, recipients, status)) = row else {
        return Ok(None);
    };
    let open: Option<i64> = sqlx::query_scalar(
        "select id from sms_status force index (uq_sms_status_request_recipient) \
         where request_id = ? and status in ('PENDING', 'SENDING') limit 1",
    )
    .bind(request_id)
    .fetch_optional(&mut **tx)
    .await?;
    if open.is_some() {
        return Ok(None);
    }
    sqlx::query("delete o from outbox_events o force index (primary) where o.id = ?")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(Some(Removed {
        priority,
        recipients,
        scheduled: status == "scheduled",
    }))
}
