//! Each lane's recent throughput (`lane_sent`): recipients recorded SENT, counted in memory
//! by each worker process and added here once a second ([`add`]), summed over a window by
//! `GET /admin/lanes` ([`sent_since`]). Shared by every process, so the answer is the
//! gateway's, whichever process serves it. See docs/DESIGN.md "Lane throughput".

use sqlx::MySqlPool;

use crate::domain::SmsType;

/// Processes spread over this many rows per lane and second.
pub const SLOTS: u32 = 16;

/// This process's slot.
pub fn slot() -> u16 {
    (std::process::id() % SLOTS) as u16
}

/// Adds `sent` recipients of each lane (lanes with 0 are skipped) to the current second of
/// the database's clock, in this process's `slot`.
pub async fn add(pool: &MySqlPool, slot: u16, sent: &[(SmsType, u64)]) -> Result<(), sqlx::Error> {
    let rows: Vec<&(SmsType, u64)> = sent.iter().filter(|(_, n)| *n > 0).collect();
    if rows.is_empty() {
        return Ok(());
    }
    let mut qb =
        sqlx::QueryBuilder::<sqlx::MySql>::new("insert into lane_sent (sms_type, at, slot, sent) ");
    qb.push_values(rows, |mut b, (lane, n)| {
        b.push_bind(lane.as_str())
            .push("utc_timestamp()")
            .push_bind(slot)
            .push_bind(i64::try_from(*n).unwrap_or(i64::MAX));
    });
    qb.push(" on duplicate key update sent = sent + values(sent)");
    qb.build().execute(pool).await?;
    Ok(())
}

/// Recipients of `lane` recorded SENT in the last `secs` seconds of the database's clock (the
/// current second included): a range of the primary key, at most `secs` x [`SLOTS`] rows.
pub async fn sent_since(pool: &MySqlPool, lane: SmsType, secs: u32) -> Result<u64, sqlx::Error> {
    let sum: i64 = sqlx::query_scalar(
        "select cast(coalesce(sum(sent), 0) as signed) from lane_sent \
         where sms_type = ? and at > utc_timestamp() - interval ? second",
    )
    .bind(lane.as_str())
    .bind(secs)
    .fetch_one(pool)
    .await?;
    Ok(sum.max(0) as u64)
}

/// Deletes up to `limit` rows of each lane older than `keep_secs`; returns how many went.
pub async fn prune(pool: &MySqlPool, keep_secs: u32, limit: u32) -> Result<u64, sqlx::Error> {
    let mut gone = 0;
    for lane in [SmsType::Express, SmsType::Normal] {
        gone += sqlx::query(
            "delete from lane_sent where sms_type = ? \
             and at < utc_timestamp() - interval ? second limit ?",
        )
        .bind(lane.as_str())
        .bind(keep_secs)
        .bind(limit)
        .execute(pool)
        .await?
        .rows_affected();
    }
    Ok(gone)
}
