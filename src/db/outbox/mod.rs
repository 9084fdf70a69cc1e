//! The transactional outbox: rows written with each accepted request, claimed and published by
//! the publisher pool.

mod scheduled;
mod sweep;

pub use scheduled::{count_scheduled, counters, promote_scheduled, scheduled_totals};
pub use sweep::{Requeue, Waiting, request_of, requeue, waiting_after};

use super::{Tx, batch};

/// Queues the delivery of an accepted request at virtual time 0, one slice of one recipient
/// (tests and tools; intake writes [`insert_many`] rows with their fair-order tags).
pub async fn insert(
    tx: &mut Tx,
    request_id: i64,
    sms_identifier: &str,
    priority: i32,
    traceparent: Option<&str>,
) -> Result<(), sqlx::Error> {
    let row = NewRow {
        request_id,
        sms_identifier,
        priority,
        traceparent,
        vtime: 0,
        vstep: crate::domain::fair_share::default_vstep(),
        recipients: 1,
        send_at: None,
    };
    insert_many(tx, &[row]).await
}

/// One row of [`insert_many`].
#[derive(Debug, Clone, Copy)]
pub struct NewRow<'a> {
    pub request_id: i64,
    pub sms_identifier: &'a str,
    pub priority: i32,
    pub traceparent: Option<&'a str>,
    /// Virtual start time of its first slice ([`crate::fairness`]).
    pub vtime: i64,
    /// Virtual time per recipient of its customer.
    pub vstep: i64,
    /// Its recipients.
    pub recipients: i64,
    /// When it is due (scheduled sending): the row waits `scheduled` until then, outside the
    /// fair order (`vtime` is then given at the promotion); `None`: pending now.
    pub send_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Queues several accepted requests with multi-row inserts (see [`batch::insert_chunks`]):
/// pending now, or `scheduled` until their `send_at`. Runs inside the intake transaction;
/// the caller counts the scheduled ones ([`count_scheduled`]).
pub async fn insert_many(tx: &mut Tx, rows: &[NewRow<'_>]) -> Result<(), sqlx::Error> {
    for chunk in batch::insert_chunks(rows) {
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "insert into outbox_events \
             (request_id, sms_identifier, priority, traceparent, vtime, vstep, recipients, \
             status, next_run_at) ",
        );
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(r.request_id)
                .push_bind(r.sms_identifier)
                .push_bind(r.priority)
                .push_bind(r.traceparent)
                .push_bind(r.vtime)
                .push_bind(r.vstep)
                .push_bind(r.recipients)
                .push_bind(if r.send_at.is_some() {
                    "scheduled"
                } else {
                    "pending"
                })
                // One text whether or not a row is scheduled (see `batch`).
                .push("coalesce(")
                .push_bind_unseparated(r.send_at)
                .push_unseparated(", now(6))");
        });
        qb.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// A claimed outbox row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedRow {
    pub id: i64,
    pub request_id: i64,
    pub sms_identifier: String,
    pub priority: i32,
    pub traceparent: Option<String>,
    pub vtime: i64,
    pub vstep: i64,
    pub recipients: i64,
    pub after_id: i64,
}

/// Claims up to `limit` due rows of one priority for `owner`, lowest virtual time first (the
/// fair order, docs/DESIGN.md): `FOR UPDATE SKIP LOCKED`, so concurrent publishers (in this
/// process or others) never claim the same row, then marks them claimed with a lease
/// timestamp, all in one short transaction.
pub async fn claim(
    pool: &sqlx::MySqlPool,
    priority: i32,
    limit: u32,
    owner: &str,
) -> Result<Vec<ClaimedRow>, sqlx::Error> {
    // An idle lane's publishers poll (express every 20 ms): one plain read of the claim
    // index tells them there is nothing, instead of the four statements of an empty claim
    // transaction (docs/BENCHMARKS.md "What one SMS costs"). A row committed just after
    // is found by the next poll, or at once through `outbox::wake` in its own process.
    let mut conn = pool.acquire().await?;
    let any: Option<i64> = sqlx::query_scalar(
        "select id from outbox_events force index (idx_outbox_claim)          where status = 'pending' and priority = ? limit 1",
    )
    .bind(priority)
    .fetch_optional(&mut *conn)
    .await?;
    if any.is_none() {
        return Ok(Vec::new());
    }
    // READ COMMITTED: the claim locks only the rows it takes, no gaps of the claim index, so
    // intake inserting new outbox rows never waits on (or deadlocks with) a publisher.
    sqlx::query("set transaction isolation level read committed")
        .execute(&mut *conn)
        .await?;
    let mut tx = sqlx::Acquire::begin(&mut *conn).await?;
    let rows: Vec<ClaimedRow> = sqlx::query_as(
        "select id, request_id, sms_identifier, priority, traceparent, vtime, vstep, \
         recipients, after_id from outbox_events force index (idx_outbox_claim) \
         where status = 'pending' and priority = ? \
         order by vtime, recipients, id limit ? for update skip locked",
    )
    .bind(priority)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        tx.rollback().await?;
        return Ok(rows);
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    for chunk in batch::key_chunks(&ids) {
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "update outbox_events force index (primary) set status = 'claimed', \
             claimed_at = now(6), attempts = attempts + 1, claimed_by = ",
        );
        qb.push_bind(owner).push(" where id in ");
        batch::push_in_list(&mut qb, chunk);
        qb.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(rows)
}

/// Deletes rows the broker confirmed (only while `owner` still holds their lease).
///
/// Statements here that name rows by id force the primary key: the outbox holds only the
/// backlog, and on a small table the optimizer scans it whole, which (at REPEATABLE READ)
/// locks every row and gap: intake's inserts and the other publishers then wait for this
/// statement (tests/api/locking.rs).
pub async fn delete_published(
    pool: &sqlx::MySqlPool,
    ids: &[i64],
    owner: &str,
) -> Result<u64, sqlx::Error> {
    batch::execute_per_chunk(pool, ids, |qb| {
        // The multiple-table form: MariaDB takes no index hint in a single-table delete.
        qb.push("delete o from outbox_events o force index (primary) where o.claimed_by = ")
            .push_bind(owner.to_string())
            .push(" and o.id in ");
    })
    .await
}

/// Keeps the rows of requests with more than one slice left after their slice was published
/// (only while `owner` still holds their lease): `published`, at the virtual time of the next
/// slice, so the lane's clock (the smallest start time in the outbox) does not run past the
/// rest of a request that is being delivered. The worker makes such a row pending again
/// (`db::delivery::continue_request`), or deletes it after the last slice ([`delete_kept`]).
pub async fn keep_published(
    pool: &sqlx::MySqlPool,
    ids: &[i64],
    owner: &str,
    slice: i64,
) -> Result<u64, sqlx::Error> {
    batch::execute_per_chunk(pool, ids, |qb| {
        qb.push(
            "update outbox_events force index (primary) set status = 'published', \
             vtime = vtime + vstep * ",
        )
        .push_bind(slice)
        .push(", recipients = greatest(recipients - ")
        .push_bind(slice)
        .push(
            ", 0), next_run_at = now(6), claimed_by = null, claimed_at = null where claimed_by = ",
        )
        .push_bind(owner.to_string())
        .push(" and id in ");
    })
    .await
}

/// Deletes a request's row kept by [`keep_published`] once its last slice is done.
pub async fn delete_kept(pool: &sqlx::MySqlPool, request_id: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("delete from outbox_events where request_id = ? and status = 'published'")
            .bind(request_id)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// The smallest virtual start time of a lane's work in the outbox (pending, claimed or
/// published), if any: three dives into `idx_outbox_claim`.
pub async fn min_vtime(pool: &sqlx::MySqlPool, priority: i32) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "select least(\
         coalesce((select min(vtime) from outbox_events where status = 'pending' and priority = ?), 9223372036854775807), \
         coalesce((select min(vtime) from outbox_events where status = 'claimed' and priority = ?), 9223372036854775807), \
         coalesce((select min(vtime) from outbox_events where status = 'published' and priority = ?), 9223372036854775807))",
    )
    .bind(priority)
    .bind(priority)
    .bind(priority)
    .fetch_one(pool)
    .await
    .map(|v: i64| (v != i64::MAX).then_some(v))
}

/// Gives rows back after a failed publish: waiting, due again after `delay_ms`, with the error.
pub async fn release(
    pool: &sqlx::MySqlPool,
    ids: &[i64],
    owner: &str,
    delay_ms: u64,
    error: &str,
) -> Result<u64, sqlx::Error> {
    let error: String = error.chars().take(500).collect();
    batch::execute_per_chunk(pool, ids, |qb| {
        qb.push(
            "update outbox_events force index (primary) set status = 'waiting', \
             claimed_by = null, claimed_at = null, next_run_at = now(6) + interval ",
        )
        .push_bind(delay_ms * 1_000)
        .push(" microsecond, last_error = ")
        .push_bind(error.clone())
        .push(" where claimed_by = ")
        .push_bind(owner.to_string())
        .push(" and id in ");
    })
    .await
}

/// Returns rows whose lease expired (their publisher died or stalled) to the pending state.
pub async fn reap_expired(
    pool: &sqlx::MySqlPool,
    lease_secs: u64,
    limit: u32,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "update outbox_events set status = 'pending', claimed_by = null, claimed_at = null, \
         last_error = 'lease expired' \
         where status = 'claimed' and claimed_at < now(6) - interval ? second limit ?",
    )
    .bind(lease_secs)
    .bind(limit)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Makes the waiting rows of one priority that are due pending, at virtual time `vtime` at
/// the earliest (the lane's clock: a retry joins the fair order where the lane is now, not
/// where it was when it failed). Returns how many.
pub async fn promote_due(
    pool: &sqlx::MySqlPool,
    priority: i32,
    vtime: i64,
    limit: u32,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "update outbox_events force index (idx_outbox_due) \
         set status = 'pending', vtime = greatest(vtime, ?) \
         where status = 'waiting' and priority = ? and next_run_at <= now(6) limit ?",
    )
    .bind(vtime)
    .bind(priority)
    .bind(limit)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Recipients of one priority's work in the outbox (pending, claimed, waiting or published
/// with more slices to come), counted over at most `cap` rows: every row has at least one
/// recipient, so a `cap` of the bound tells whether the bound is passed. An index-only range
/// scan of `idx_outbox_claim` (it ends in `recipients`), bounded by `cap`.
pub async fn waiting_recipients(
    pool: &sqlx::MySqlPool,
    priority: i32,
    cap: u64,
) -> Result<u64, sqlx::Error> {
    let sum: i64 = sqlx::query_scalar(
        "select cast(coalesce(sum(recipients), 0) as signed) from (select recipients \
         from outbox_events force index (idx_outbox_claim) \
         where status in ('pending', 'claimed', 'waiting', 'published') and priority = ? \
         limit ?) t",
    )
    .bind(priority)
    .bind(cap)
    .fetch_one(pool)
    .await?;
    Ok(sum.max(0) as u64)
}

/// Rows of one priority with work not yet published (pending, claimed, waiting, or published
/// with more slices to come): an index range count, cheap enough to sample every few
/// seconds, not to run per request.
pub async fn backlog(pool: &sqlx::MySqlPool, priority: i32) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from outbox_events \
         where status in ('pending', 'claimed', 'waiting', 'published') and priority = ?",
    )
    .bind(priority)
    .fetch_one(pool)
    .await
}
