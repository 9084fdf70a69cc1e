//! Delivery reports held until their message is recorded SENT (table `dlr_held`): an operator
//! may report a message before the gateway has committed the operator's answer to its send.

use sqlx::MySqlPool;

use super::reports::{self, ReportOutcome};
use crate::domain::final_state;

/// Holds a report for `(operator, message_id)`. The same report twice is held once.
pub async fn hold(
    pool: &MySqlPool,
    operator: &str,
    message_id: &str,
    status: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into dlr_held (operator, message_id, status) values (?, ?, ?) \
         on duplicate key update received_at = received_at",
    )
    .bind(operator)
    .bind(message_id)
    .bind(status)
    .execute(pool)
    .await?;
    Ok(())
}

/// Reports held now.
pub async fn count(pool: &MySqlPool) -> Result<u64, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("select count(*) from dlr_held")
        .fetch_one(pool)
        .await?;
    Ok(n.max(0) as u64)
}

/// What one pass over the held reports did: the operator of each report it applied, and of
/// each it dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// Reports whose message is now known, applied (or recorded) and removed.
    pub applied: Vec<String>,
    /// Reports held longer than the hold, removed unapplied.
    pub expired: Vec<String>,
}

/// Applies up to `limit` held reports whose message id a message now has, oldest first, and
/// drops up to `limit` held longer than `hold_secs`. Each report is applied as if it had just
/// arrived ([`reports::apply_report`]: conditional on the message's state, so applying one
/// twice changes nothing), then deleted.
pub async fn apply_due(pool: &MySqlPool, limit: u32, hold_secs: u64) -> Result<Pass, sqlx::Error> {
    let due: Vec<(i64, String, String, String)> = sqlx::query_as(
        "select h.id, h.operator, h.message_id, h.status from dlr_held h \
         join sms_status s on s.provider = h.operator and s.provider_message_id = h.message_id \
         order by h.id limit ?",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut pass = Pass::default();
    for (id, operator, message_id, status) in due {
        let outcome =
            reports::apply_report(pool, &operator, &message_id, &status, final_state(&status))
                .await?;
        delete(pool, id).await?;
        if outcome != ReportOutcome::UnknownMessage {
            pass.applied.push(operator);
        }
    }
    let old: Vec<(i64, String)> = sqlx::query_as(
        "select id, operator from dlr_held where received_at < now(6) - interval ? second \
         order by received_at limit ?",
    )
    .bind(hold_secs)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    for (id, operator) in old {
        delete(pool, id).await?;
        pass.expired.push(operator);
    }
    Ok(pass)
}

async fn delete(pool: &MySqlPool, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("delete from dlr_held where id = ?")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}
