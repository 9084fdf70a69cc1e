//! Stored responses of requests made with an `Idempotency-Key`.

use sqlx::{FromRow, MySqlPool};

use super::Tx;

/// A stored first response.
#[derive(Debug, Clone, FromRow)]
pub struct StoredResponse {
    pub request_hash: Vec<u8>,
    pub status_code: i16,
    pub response_body: String,
}

/// The response stored under `(scope, key)`, if any and younger than `ttl_secs`.
pub async fn find(
    pool: &MySqlPool,
    scope: &str,
    key: &str,
    ttl_secs: u64,
) -> Result<Option<StoredResponse>, sqlx::Error> {
    sqlx::query_as(
        "select request_hash, status_code, response_body from idempotency_keys \
         where scope = ? and idem_key = ? and created_at > now(6) - interval ? second",
    )
    .bind(scope)
    .bind(key)
    .bind(ttl_secs)
    .fetch_optional(pool)
    .await
}

/// Stores the response in the transaction that made it. A concurrent request with the same
/// key blocks on the primary key until this commits, then fails with a unique violation.
pub async fn insert(
    tx: &mut Tx,
    scope: &str,
    key: &str,
    request_hash: &[u8; 32],
    status_code: u16,
    body: &str,
    ttl_secs: u64,
) -> Result<(), sqlx::Error> {
    // An expired row under the same key is replaced; a live one makes the insert below fail.
    sqlx::query(
        "delete from idempotency_keys where scope = ? and idem_key = ? \
         and created_at <= now(6) - interval ? second",
    )
    .bind(scope)
    .bind(key)
    .bind(ttl_secs)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "insert into idempotency_keys (scope, idem_key, request_hash, status_code, response_body) \
         values (?, ?, ?, ?, ?)",
    )
    .bind(scope)
    .bind(key)
    .bind(&request_hash[..])
    .bind(status_code as i16)
    .bind(body)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes keys older than `ttl_secs`, at most `batch` rows; returns how many went.
pub async fn prune(pool: &MySqlPool, ttl_secs: u64, batch: u32) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "delete from idempotency_keys where created_at < now(6) - interval ? second limit ?",
    )
    .bind(ttl_secs)
    .bind(batch)
    .execute(pool)
    .await?
    .rows_affected())
}
