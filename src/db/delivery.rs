//! Delivery state in SQL: every transition is a conditional UPDATE on the current state, so
//! a duplicate or redelivered queue message can never move a message twice, and a refund is
//! written in the same transaction as its FAILED transition under a unique transaction id
//! (and counted in the daily counters, `daily`, in that transaction too).

use sqlx::{FromRow, MySqlPool};

use super::batch;
use super::callbacks;
use super::daily;
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
    /// Its own text (personalized bulk); `None`: the request's.
    pub body: Option<String>,
}

/// The first `limit` recipients of a request after status row `after_id` that are PENDING,
/// or SENDING without a live lease (a lease that ran out, or a retry that is due), in id
/// order. The request's unique key `(request_id, recipient)` ends (implicitly) in `id`, so
/// `id > ?` is checked in the index before any row is read.
pub async fn open_recipients(
    pool: &MySqlPool,
    request_id: i64,
    after_id: i64,
    limit: usize,
) -> Result<Vec<OpenRecipient>, sqlx::Error> {
    sqlx::query_as(
        "select id, recipient, attempts, body from sms_status where request_id = ? and id > ? and \
         (status = 'PENDING' or (status = 'SENDING' and (locked_until is null or locked_until < now(6)))) \
         order by id limit ?",
    )
    .bind(request_id)
    .bind(after_id)
    .bind(limit as u64)
    .fetch_all(pool)
    .await
}

pub(super) async fn event(
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

/// What [`claim_many`] took.
#[derive(Debug, Clone, Default)]
pub struct Claimed {
    /// The recipients taken, each with its new attempt number.
    pub taken: Vec<OpenRecipient>,
    /// Dispatch is paused: nothing was taken.
    pub paused: bool,
}

/// Takes the still-open recipients among `ids` (PENDING, or SENDING with an expired lease) in
/// one transaction: locks them, moves them to SENDING with a lease of `lease_secs` and the
/// next attempt number, writes the SENDING event of first takes, and returns them (with that
/// attempt number: what the take's SENT, FAILED or retry must still find). Recipients
/// another worker holds, or that moved on, are left out. At most [`batch::MAX_ROWS`] ids.
///
/// While dispatch is paused nothing is taken: the transaction reads the switch in share mode
/// first, so the pause (`dispatch::set_paused`, which writes it) waits for takes in progress
/// and every take after it sees it.
///
/// The locking reads here and in `sent::record_many` go through the primary key (`force
/// index`): through `idx_sms_status_lease`, which the optimizer picks when few rows are
/// SENDING, they would lock every PENDING or SENDING row they pass, and two lanes recording
/// their sends at once deadlocked that way (tests/api/locking.rs).
pub async fn claim_many(
    pool: &MySqlPool,
    ids: &[i64],
    lease_secs: u64,
) -> Result<Claimed, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Claimed::default());
    }
    let mut tx = pool.begin().await?;
    if super::dispatch::is_paused_for_take(&mut tx).await? {
        tx.rollback().await?;
        return Ok(Claimed {
            taken: Vec::new(),
            paused: true,
        });
    }
    let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
        "select id, recipient, attempts + 1 as attempts, body from sms_status force index (primary) \
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
        return Ok(Claimed::default());
    }
    // The first take (attempts 0 before it) is the PENDING -> SENDING transition of the
    // timeline, read from `taken_at` (no event row); later takes are retries, already in the
    // timeline as RETRY. `taken_at` is assigned before `attempts`, so it sees the old count.
    let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
        "update sms_status force index (primary) set status = 'SENDING', \
         taken_at = if(attempts = 0, now(6), taken_at), attempts = attempts + 1, \
         locked_until = now(6) + interval ",
    );
    qb.push_bind(lease_secs).push(" second where id in ");
    let taken_ids: Vec<i64> = taken.iter().map(|r| r.id).collect();
    batch::push_in_list(&mut qb, &taken_ids);
    qb.build().execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(Claimed {
        taken,
        paused: false,
    })
}

/// The take of one recipient: its id and the attempt number that take wrote. What a worker
/// does with a recipient it took is conditional on both, so a worker whose lease ran out can
/// never overwrite a newer attempt (another worker's) or refund a recipient someone else sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    pub id: i64,
    pub attempt: i32,
}

impl From<&OpenRecipient> for Taken {
    fn from(r: &OpenRecipient) -> Self {
        Self {
            id: r.id,
            attempt: r.attempts,
        }
    }
}

/// SENDING (under `taken`'s attempt) -> FAILED and the refund of that recipient's charge, in
/// one transaction, counted on the request's day (`daily`, last: after the balance's lock). The refund's `transaction_id` is `refund:<status id>`: unique, so no retry,
/// redelivery or second process can refund twice. Returns the credits refunded when this
/// call failed it (0 for a free message), `None` when the recipient had already moved on.
pub async fn fail_and_refund(
    pool: &MySqlPool,
    request: &RequestRow,
    taken: Taken,
    reason: &str,
    provider: Option<&str>,
) -> Result<Option<i64>, sqlx::Error> {
    let status_id = taken.id;
    let mut tx = pool.begin().await?;
    let updated = sqlx::query(
        "update sms_status set status = 'FAILED', failure_reason = ?, \
         provider = coalesce(?, provider), locked_until = null \
         where id = ? and status = 'SENDING' and attempts = ?",
    )
    .bind(reason.chars().take(255).collect::<String>())
    .bind(provider)
    .bind(status_id)
    .bind(taken.attempt)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    event(&mut tx, status_id, "FAILED", Some(reason)).await?;
    // The recipient's own segments: a personalized request's recipients differ (its request
    // row holds their total). Failures only; the row is the one just updated.
    let segments: i32 = sqlx::query_scalar("select segments from sms_status where id = ?")
        .bind(status_id)
        .fetch_one(&mut *tx)
        .await?;
    let amount = i64::from(segments) * request.price_per_segment;
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
    if request.callbacks {
        let failed = callbacks::NewEvent {
            customer_id: request.customer_id,
            status_id,
            status: "FAILED",
            detail: Some(reason),
            refund: Some(amount.max(0)),
        };
        callbacks::insert(&mut tx, &[failed]).await?;
    }
    let key = daily::Key::of(request.customer_id, request.created_at, request.sms_type);
    let counts = daily::Counts {
        failed: 1,
        refunded: amount.max(0),
        ..daily::Counts::default()
    };
    daily::add(&mut tx, &[(key, counts)]).await?;
    tx.commit().await?;
    Ok(Some(amount.max(0)))
}

/// Gives a taken recipient back unsent (dispatch was paused before its operator call): its
/// lease is cleared, so the next take after the resume has it at once. Nothing when another
/// attempt owns it.
pub async fn release(pool: &MySqlPool, taken: Taken) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update sms_status set locked_until = null \
         where id = ? and status = 'SENDING' and attempts = ?",
    )
    .bind(taken.id)
    .bind(taken.attempt)
    .execute(pool)
    .await?;
    Ok(())
}

/// Every operator failed transiently: hold the recipient until the retry is due (its lease
/// becomes the due time, so no delivery of the request takes it earlier), note why, and
/// schedule the request again through the outbox after `delay_ms`; false (nothing done) when
/// the recipient is no longer SENDING under `taken`'s attempt.
pub async fn schedule_retry(
    pool: &MySqlPool,
    request: &RequestRow,
    taken: Taken,
    detail: &str,
    delay_ms: u64,
    priority: i32,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let updated = sqlx::query(
        "update sms_status set locked_until = now(6) + interval ? microsecond \
         where id = ? and status = 'SENDING' and attempts = ?",
    )
    .bind(delay_ms * 1_000)
    .bind(taken.id)
    .bind(taken.attempt)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        // Another attempt owns it now (this one's lease ran out): it schedules its own.
        tx.rollback().await?;
        return Ok(false);
    }
    event(&mut tx, taken.id, "RETRY", Some(detail)).await?;
    requeue(
        &mut tx,
        request.id,
        &request.sms_identifier,
        priority,
        delay_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Puts a request (back) into the outbox, waiting until `delay_ms` from now (then the
/// publishers make it pending at the lane's virtual time), from its first recipient. If its
/// row is still there: a pending row stays pending (it is due already); a waiting row keeps
/// the earlier due time; a row a publisher has claimed (its publication of the previous
/// attempt is still awaiting the broker's confirm) waits again and is taken from that
/// publisher, whose delete-after-confirm (`where claimed_by = <owner>`) then leaves it alone,
/// so the retry cannot be lost.
pub async fn requeue(
    conn: &mut sqlx::MySqlConnection,
    request_id: i64,
    sms_identifier: &str,
    priority: i32,
    delay_ms: u64,
) -> Result<(), sqlx::Error> {
    // Assignments apply left to right: next_run_at and status must read the old status.
    sqlx::query(
        "insert into outbox_events (request_id, sms_identifier, priority, status, next_run_at) \
         values (?, ?, ?, 'waiting', now(6) + interval ? microsecond) \
         on duplicate key update \
         next_run_at = if(status = 'claimed', now(6) + interval ? microsecond, \
                          least(next_run_at, now(6) + interval ? microsecond)), \
         status = if(status = 'pending', 'pending', 'waiting'), after_id = 0, \
         claimed_by = null, claimed_at = null",
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

/// The next slice of a request: where it starts and its place in the fair order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextSlice<'a> {
    pub request_id: i64,
    pub sms_identifier: &'a str,
    pub priority: i32,
    /// Its virtual start time.
    pub vtime: i64,
    pub vstep: i64,
    /// Recipients it will likely carry.
    pub recipients: i64,
    /// The last status row the slices before it handled.
    pub after_id: i64,
}

/// Puts the rest of a request back into the outbox, pending at once at the virtual time of
/// its next slice (a large request is delivered one slice at a time, so other customers'
/// messages take their turns between its slices). If its row is there already (a retry
/// scheduled by this slice, or a duplicate): pending now, from the earlier of the two
/// cursors, and taken from a publisher that has it claimed (as in [`requeue`]).
pub async fn continue_request(
    conn: &mut sqlx::MySqlConnection,
    next: &NextSlice<'_>,
) -> Result<(), sqlx::Error> {
    // Assignments apply left to right: vtime must read the old status.
    sqlx::query(
        "insert into outbox_events \
         (request_id, sms_identifier, priority, vtime, vstep, recipients, after_id) \
         values (?, ?, ?, ?, ?, ?, ?) \
         on duplicate key update \
         vtime = if(status = 'pending', least(vtime, ?), ?), vstep = ?, \
         recipients = greatest(recipients, ?), after_id = least(after_id, ?), \
         status = 'pending', next_run_at = now(6), claimed_by = null, claimed_at = null",
    )
    .bind(next.request_id)
    .bind(next.sms_identifier)
    .bind(next.priority)
    .bind(next.vtime)
    .bind(next.vstep)
    .bind(next.recipients)
    .bind(next.after_id)
    .bind(next.vtime)
    .bind(next.vtime)
    .bind(next.vstep)
    .bind(next.recipients)
    .bind(next.after_id)
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
         and not exists (select 1 from outbox_events o where o.request_id = s.request_id \
                         and o.status <> 'published') \
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
