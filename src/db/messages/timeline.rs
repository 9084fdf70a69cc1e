//! Reads of the recipients' event timelines (`sms_events`), bounded per recipient.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, MySql, MySqlPool, QueryBuilder};

use crate::db::batch;

/// One event of a recipient's timeline.
#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub id: i64,
    pub status_id: i64,
    pub status: String,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The columns of [`EventRow`].
macro_rules! event_columns {
    () => {
        "id, status_id, status, detail, created_at"
    };
}

/// Status rows per statement of [`newest_events`]: one `union all` branch each.
const NEWEST_EVENTS_BRANCHES: usize = 64;

/// The newest `per_status` events of each of these status rows, in no particular order. Each
/// status row is one `union all` branch reading `idx_sms_events_status` (`(status_id, id)`,
/// forced like [`events_page`]'s) backwards and stopping after `per_status` entries, so a recipient with a long timeline
/// costs no more than one with `per_status` events. Branches are padded to a power of two by
/// repeating the last status id (see `batch`); the repeats' rows are dropped here.
pub async fn newest_events(
    pool: &MySqlPool,
    status_ids: &[i64],
    per_status: u32,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let mut rows: Vec<EventRow> = Vec::new();
    for chunk in status_ids.chunks(NEWEST_EVENTS_BRANCHES) {
        let mut qb: QueryBuilder<MySql> = QueryBuilder::new("");
        for (i, status_id) in batch::padded(chunk).enumerate() {
            if i > 0 {
                qb.push(" union all ");
            }
            qb.push(concat!(
                "(select ",
                event_columns!(),
                " from sms_events force index (idx_sms_events_status) where status_id = "
            ))
            .push_bind(status_id)
            .push(" order by id desc limit ")
            .push_bind(per_status)
            .push(")");
        }
        rows.extend(qb.build_query_as::<EventRow>().fetch_all(pool).await?);
    }
    let mut seen = std::collections::HashSet::with_capacity(rows.len());
    rows.retain(|e| seen.insert(e.id));
    Ok(rows)
}

/// At most `limit` events of one status row, oldest first, from `from_id` on: a range scan
/// of `idx_sms_events_status` (`(status_id, id)`), forced for the reason given at
/// [`super::statuses_page`] (left alone, MariaDB takes the primary key for a recent cursor).
pub async fn events_page(
    pool: &MySqlPool,
    status_id: i64,
    from_id: Option<i64>,
    limit: u32,
) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        event_columns!(),
        " from sms_events force index (idx_sms_events_status) \
         where status_id = ? and id >= ? order by id limit ?"
    ))
    .bind(status_id)
    .bind(from_id.unwrap_or(0))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The newest event row of a status row written at or before `at` (SENT's place in its
/// timeline, see `http::sms::timeline`).
pub async fn last_event_up_to(
    pool: &MySqlPool,
    status_id: i64,
    at: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "select max(id) from sms_events force index (idx_sms_events_status) \
         where status_id = ? and created_at <= ?",
    )
    .bind(status_id)
    .bind(at)
    .fetch_one(pool)
    .await
}
