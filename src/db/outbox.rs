//! The transactional outbox: rows written with each accepted request, claimed and published by
//! the publisher pool.

use super::Tx;

/// Queues the delivery of an accepted request. Runs inside the intake transaction.
pub async fn insert(
    tx: &mut Tx,
    request_id: i64,
    sms_identifier: &str,
    priority: i32,
    traceparent: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into outbox_events (request_id, sms_identifier, priority, traceparent) \
         values (?, ?, ?, ?)",
    )
    .bind(request_id)
    .bind(sms_identifier)
    .bind(priority)
    .bind(traceparent)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
