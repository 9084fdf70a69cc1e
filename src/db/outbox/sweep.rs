//! Putting requests back into the outbox, and the reads of the stranded-message sweep.

use crate::domain::SmsType;

/// A request to put (back) into the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requeue {
    pub request_id: i64,
    pub sms_identifier: String,
    pub sms_type: SmsType,
}

/// Puts requests into the outbox, due now (waiting, so the promotion gives them the lane's
/// current virtual time), from their first recipient, unless a row of theirs is already
/// there (the unique `request_id` key): a row kept while a slice was out (`published`, whose
/// queue message is what was lost) waits again from the first recipient; any other stays as
/// it is. Returns the rows inserted or changed.
pub async fn requeue(pool: &sqlx::MySqlPool, requests: &[Requeue]) -> Result<u64, sqlx::Error> {
    let mut inserted = 0;
    for r in requests {
        inserted += sqlx::query(
            "insert into outbox_events (request_id, sms_identifier, priority, status) \
             values (?, ?, ?, 'waiting') on duplicate key update \
             after_id = if(status = 'published', 0, after_id), \
             next_run_at = if(status = 'published', now(6), next_run_at), \
             status = if(status = 'published', 'waiting', status)",
        )
        .bind(r.request_id)
        .bind(&r.sms_identifier)
        .bind(r.sms_type.priority())
        .execute(pool)
        .await?
        .rows_affected()
        .min(1);
    }
    Ok(inserted)
}

/// The request of an `sms_identifier`, if it exists.
pub async fn request_of(
    pool: &sqlx::MySqlPool,
    sms_identifier: &str,
) -> Result<Option<Requeue>, sqlx::Error> {
    let row: Option<(i64, SmsType)> =
        sqlx::query_as("select id, sms_type from sms_requests where sms_identifier = ?")
            .bind(sms_identifier)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(request_id, sms_type)| Requeue {
        request_id,
        sms_identifier: sms_identifier.to_string(),
        sms_type,
    }))
}

/// One recipient examined by the stranded-message sweep.
#[derive(Debug, Clone)]
pub struct Waiting {
    /// The status row (the sweep's watermark).
    pub id: i64,
    pub request_id: i64,
    pub sms_identifier: String,
    pub sms_type: SmsType,
    /// Untouched for longer than the sweep's threshold.
    pub old: bool,
    /// Its request has an outbox row with work to publish, or kept while a slice is out
    /// (`published`) for less than the sweep's threshold: a slice takes seconds, so a row
    /// kept longer means its queue message was lost.
    pub queued: bool,
}

/// The next `limit` recipients after status row `after_id` that wait without a lease:
/// `PENDING` (never taken) or `SENDING` with no lease (waiting for a retry), in id order.
///
/// A bounded read whatever the backlog: the inner select is a range of `limit` entries of
/// `idx_sms_status_lease (status, locked_until)` (InnoDB appends `id`, so `status = ? and
/// locked_until is null and id > ?` is read in id order, without a filesort), and the outer
/// one adds, per row, the age test and one probe of the outbox's unique `request_id` key
/// (docs/DESIGN.md shows the plan).
pub async fn waiting_after(
    pool: &sqlx::MySqlPool,
    status: &str,
    after_id: i64,
    older_than_secs: u64,
    limit: u32,
) -> Result<Vec<Waiting>, sqlx::Error> {
    let rows: Vec<(i64, i64, String, SmsType, i64, i64)> = sqlx::query_as(
        "select w.id, w.request_id, w.sms_identifier, w.sms_type, \
         cast(w.updated_at < now(6) - interval ? second as signed), \
         cast(exists (select 1 from outbox_events o where o.request_id = w.request_id \
                      and (o.status <> 'published' \
                           or o.next_run_at > now(6) - interval ? second)) as signed) \
         from (select id, request_id, sms_identifier, sms_type, updated_at \
               from sms_status force index (idx_sms_status_lease) \
               where status = ? and locked_until is null and id > ? \
               order by id limit ?) w \
         order by w.id",
    )
    .bind(older_than_secs)
    .bind(older_than_secs)
    .bind(status)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, request_id, sms_identifier, sms_type, old, queued)| Waiting {
                id,
                request_id,
                sms_identifier,
                sms_type,
                old: old != 0,
                queued: queued != 0,
            },
        )
        .collect())
}
