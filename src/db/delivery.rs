//! Delivery state in SQL: every transition is a conditional UPDATE on the current state, so
//! a duplicate or redelivered queue message can never move a message twice, and a refund is
//! written in the same transaction as its FAILED transition under a unique transaction id.

use sqlx::{FromRow, MySqlPool};

use super::batch;
use super::ledger::{self, Entry, EntryType};
use super::messages::RequestRow;
use crate::domain::SmsType;

/// A recipient that may need work.
#[derive(Debug, Clone, FromRow)]
pub struct OpenRecipient {
    pub id: i64,
    pub recipient: String,
    /// Operator rounds made so far (before this worker takes it).
    pub attempts: i32,
}

/// Recipients of a request that are PENDING, or SENDING without a live lease.
pub async fn open_recipients(
    pool: &MySqlPool,
    request_id: i64,
) -> Result<Vec<OpenRecipient>, sqlx::Error> {
    sqlx::query_as(
        "select id, recipient, attempts from sms_status where request_id = ? and \
         (status = 'PENDING' or (status = 'SENDING' and (locked_until is null or locked_until < now(6)))) \
         order by id",
    )
    .bind(request_id)
    .fetch_all(pool)
    .await
}

async fn event(
    conn: &mut sqlx::MySqlConnection,
    status_id: i64,
    status: &str,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into sms_events (status_id, status, detail) values (?, ?, ?)")
        .bind(status_id)
        .bind(status)
        .bind(detail.map(|d| d.chars().take(255).collect::<String>()))
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the still-open recipients among `ids` (PENDING, or SENDING with an expired lease) in
/// one transaction: locks them, moves them to SENDING with a lease of `lease_secs`, writes the
/// SENDING event of first takes, and returns them (with their new attempt count). Recipients
/// another worker holds, or that moved on, are left out. At most [`batch::MAX_ROWS`] ids.
///
/// The locking reads here and in [`mark_sent_many`] go through the primary key (`force
/// index`): through `idx_sms_status_lease`, which the optimizer picks when few rows are
/// SENDING, they would lock every PENDING or SENDING row they pass, and two lanes recording
/// their sends at once deadlocked that way (tests/api/locking.rs).
pub async fn claim_many(
    pool: &MySqlPool,
    ids: &[i64],
    lease_secs: u64,
) -> Result<Vec<OpenRecipient>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
        "select id, recipient, attempts + 1 as attempts from sms_status force index (primary) \
         where id in ",
    );
    batch::push_in_list(&mut qb, ids);
    qb.push(
        " and (status = 'PENDING' or (status = 'SENDING' and \
         (locked_until is null or locked_until < now(6)))) order by id for update",
    );
    let taken: Vec<OpenRecipient> = qb.build_query_as().fetch_all(&mut *tx).await?;
    if taken.is_empty() {
        tx.rollback().await?;
        return Ok(taken);
    }
    let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
        "update sms_status force index (primary) set status = 'SENDING', attempts = attempts + 1, \
         locked_until = now(6) + interval ",
    );
    qb.push_bind(lease_secs).push(" second where id in ");
    let taken_ids: Vec<i64> = taken.iter().map(|r| r.id).collect();
    batch::push_in_list(&mut qb, &taken_ids);
    qb.build().execute(&mut *tx).await?;
    // The first take (attempts now 1) is the PENDING -> SENDING transition; later takes are
    // retries, already in the timeline as RETRY.
    let first: Vec<i64> = taken
        .iter()
        .filter(|r| r.attempts == 1)
        .map(|r| r.id)
        .collect();
    for chunk in batch::insert_chunks(&first) {
        let mut qb =
            sqlx::QueryBuilder::<sqlx::MySql>::new("insert into sms_events (status_id, status) ");
        qb.push_values(chunk, |mut b, id| {
            b.push_bind(*id).push("'SENDING'");
        });
        qb.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(taken)
}

/// Records several recipients SENT in one transaction: `(status id, operator, operator's
/// message id)`. Only rows still SENDING move; returns the ids that did. At
/// most [`batch::MAX_ROWS`] rows.
pub async fn mark_sent_many(
    pool: &MySqlPool,
    sent: &[(i64, String, String)],
) -> Result<Vec<i64>, sqlx::Error> {
    if sent.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
        "select id from sms_status force index (primary) where id in ",
    );
    let ids: Vec<i64> = sent.iter().map(|(id, _, _)| *id).collect();
    batch::push_in_list(&mut qb, &ids);
    qb.push(" and status = 'SENDING' for update");
    let sending: std::collections::HashSet<i64> = qb
        .build_query_scalar::<i64>()
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
    let moving: Vec<(i64, &str, &str)> = sent
        .iter()
        .filter(|(id, _, _)| sending.contains(id))
        .map(|(id, operator, message_id)| (*id, operator.as_str(), message_id.as_str()))
        .collect();
    if moving.is_empty() {
        tx.rollback().await?;
        return Ok(Vec::new());
    }
    let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
        "update sms_status force index (primary) set status = 'SENT', locked_until = null, \
         provider = case id",
    );
    let providers: Vec<(i64, &str)> = moving.iter().map(|(id, op, _)| (*id, *op)).collect();
    batch::push_case_arms(&mut qb, &providers);
    qb.push(" end, provider_message_id = case id");
    let message_ids: Vec<(i64, &str)> = moving.iter().map(|(id, _, m)| (*id, *m)).collect();
    batch::push_case_arms(&mut qb, &message_ids);
    qb.push(" end where id in ");
    let moving_ids: Vec<i64> = moving.iter().map(|(id, _, _)| *id).collect();
    batch::push_in_list(&mut qb, &moving_ids);
    qb.build().execute(&mut *tx).await?;
    for chunk in batch::insert_chunks(&moving) {
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "insert into sms_events (status_id, status, detail) ",
        );
        qb.push_values(chunk, |mut b, (id, operator, _)| {
            b.push_bind(*id).push("'SENT'").push_bind(*operator);
        });
        qb.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(moving.iter().map(|(id, _, _)| *id).collect())
}

/// PENDING | SENDING -> FAILED and the refund of that recipient's charge, in one
/// transaction. The refund's `transaction_id` is `refund:<status id>`: unique, so no retry,
/// redelivery or second process can refund twice. Returns the credits refunded when this
/// call failed it (0 for a free message), `None` when the recipient had already moved on.
pub async fn fail_and_refund(
    pool: &MySqlPool,
    request: &RequestRow,
    status_id: i64,
    reason: &str,
    provider: Option<&str>,
) -> Result<Option<i64>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let updated = sqlx::query(
        "update sms_status set status = 'FAILED', failure_reason = ?, \
         provider = coalesce(?, provider), locked_until = null \
         where id = ? and status in ('PENDING', 'SENDING')",
    )
    .bind(reason.chars().take(255).collect::<String>())
    .bind(provider)
    .bind(status_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    event(&mut tx, status_id, "FAILED", Some(reason)).await?;
    let amount = i64::from(request.segments) * request.price_per_segment;
    if amount > 0 {
        let transaction_id = format!("refund:{status_id}");
        ledger::credit(
            &mut tx,
            &Entry {
                customer_id: request.customer_id,
                entry_type: EntryType::Refund,
                transaction_id: &transaction_id,
                description: Some(reason),
                sms_identifier: Some(&request.sms_identifier),
            },
            amount,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Some(amount.max(0)))
}

/// Every operator failed transiently: release the lease, note why, and schedule the request
/// again through the outbox after `delay_ms`.
pub async fn schedule_retry(
    pool: &MySqlPool,
    request: &RequestRow,
    status_id: i64,
    detail: &str,
    delay_ms: u64,
    priority: i32,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let updated = sqlx::query(
        "update sms_status set locked_until = null where id = ? and status = 'SENDING'",
    )
    .bind(status_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 1 {
        event(&mut tx, status_id, "RETRY", Some(detail)).await?;
    }
    requeue(
        &mut tx,
        request.id,
        &request.sms_identifier,
        priority,
        delay_ms,
    )
    .await?;
    tx.commit().await
}

/// Puts a request (back) into the outbox, due after `delay_ms`. If its row is still there:
/// a pending row keeps the earlier due time; a row a publisher has claimed (its publication
/// of the previous attempt is still awaiting the broker's confirm) is made pending again and
/// taken from that publisher, whose delete-after-confirm (`where claimed_by = <owner>`) then
/// leaves it alone, so the retry cannot be lost.
pub async fn requeue(
    conn: &mut sqlx::MySqlConnection,
    request_id: i64,
    sms_identifier: &str,
    priority: i32,
    delay_ms: u64,
) -> Result<(), sqlx::Error> {
    // Assignments apply left to right: next_run_at must read the old status.
    sqlx::query(
        "insert into outbox_events (request_id, sms_identifier, priority, next_run_at) \
         values (?, ?, ?, now(6) + interval ? microsecond) \
         on duplicate key update \
         next_run_at = if(status = 'claimed', now(6) + interval ? microsecond, \
                          least(next_run_at, now(6) + interval ? microsecond)), \
         status = 'pending', claimed_by = null, claimed_at = null",
    )
    .bind(request_id)
    .bind(sms_identifier)
    .bind(priority)
    .bind(delay_ms * 1_000)
    .bind(delay_ms * 1_000)
    .bind(delay_ms * 1_000)
    .execute(conn)
    .await?;
    Ok(())
}

/// Requests with a SENDING recipient whose lease expired (its worker died mid-send) and
/// nothing in the outbox: queued again. Returns how many.
pub async fn requeue_expired_leases(pool: &MySqlPool, limit: u32) -> Result<u64, sqlx::Error> {
    let stuck: Vec<(i64, String, SmsType)> = sqlx::query_as(
        "select distinct s.request_id, s.sms_identifier, s.sms_type from sms_status s \
         where s.status = 'SENDING' and s.locked_until < now(6) \
         and not exists (select 1 from outbox_events o where o.request_id = s.request_id) \
         limit ?",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut conn = pool.acquire().await?;
    for (request_id, sms_identifier, sms_type) in &stuck {
        requeue(
            &mut conn,
            *request_id,
            sms_identifier,
            sms_type.priority(),
            0,
        )
        .await?;
    }
    Ok(stuck.len() as u64)
}

/// Outcome of a delivery report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Moved SENT -> DELIVERED / UNDELIVERED.
    Applied,
    /// Recorded in the timeline only (intermediate, duplicate or late report).
    Recorded,
    /// No message of this operator has that id.
    UnknownMessage,
}

/// Applies an operator's delivery report. `final_status` is `Some("DELIVERED" |
/// "UNDELIVERED")` for final reports, `None` for intermediate ones.
pub async fn apply_report(
    pool: &MySqlPool,
    operator: &str,
    message_id: &str,
    report: &str,
    final_status: Option<&str>,
) -> Result<ReportOutcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let status_id: Option<i64> = sqlx::query_scalar(
        "select id from sms_status where provider = ? and provider_message_id = ? for update",
    )
    .bind(operator)
    .bind(message_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(status_id) = status_id else {
        tx.rollback().await?;
        return Ok(ReportOutcome::UnknownMessage);
    };
    let mut applied = false;
    if let Some(target) = final_status {
        let failure = (target == "UNDELIVERED").then_some(report);
        applied = sqlx::query(
            "update sms_status set status = ?, failure_reason = coalesce(?, failure_reason) \
             where id = ? and status = 'SENT'",
        )
        .bind(target)
        .bind(failure)
        .bind(status_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
    }
    let shown = if applied {
        final_status.unwrap_or(report)
    } else {
        report
    };
    event(&mut tx, status_id, shown, Some(&format!("report {report}"))).await?;
    tx.commit().await?;
    Ok(if applied {
        ReportOutcome::Applied
    } else {
        ReportOutcome::Recorded
    })
}
