//! Console sessions (`console_sessions`): kept by the SHA-256 of their id, bound to the
//! credential they were opened with, shared by every gateway process.

use chrono::{DateTime, Utc};
use sqlx::MySqlPool;

use super::Tx;

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// `None` for the admin.
    pub customer_id: Option<i64>,
    /// SHA-256 of the key or token it was opened with.
    pub credential_hash: [u8; 32],
    pub expires_at: DateTime<Utc>,
    /// When it was last used (moved forward at most once a minute, [`touch`]).
    pub last_seen_at: DateTime<Utc>,
}

/// When a session ends: `expires_at` passed, or unused since `idle_since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub now: DateTime<Utc>,
    /// Sessions last seen at or before this are idle (now - `SESSION_IDLE_SECS`).
    pub idle_since: DateTime<Utc>,
}

/// Stores a new session.
pub async fn insert(
    pool: &MySqlPool,
    id_hash: &[u8; 32],
    session: &StoredSession,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into console_sessions \
         (id_hash, customer_id, credential_hash, created_at, expires_at, last_seen_at) \
         values (?, ?, ?, ?, ?, ?)",
    )
    .bind(&id_hash[..])
    .bind(session.customer_id)
    .bind(&session.credential_hash[..])
    .bind(now)
    .bind(session.expires_at)
    .bind(session.last_seen_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// The session with this id hash, if it has not expired nor been idle at `at` and, for a
/// customer, was opened with the customer's current key. (The admin's credential is checked
/// by the caller, against the running process's `ADMIN_TOKEN`.)
pub async fn find_live(
    pool: &MySqlPool,
    id_hash: &[u8; 32],
    at: Cutoffs,
) -> Result<Option<StoredSession>, sqlx::Error> {
    /// customer_id, credential_hash, expires_at, last_seen_at.
    type Row = (Option<i64>, Vec<u8>, DateTime<Utc>, DateTime<Utc>);
    let row: Option<Row> = sqlx::query_as(
        "select s.customer_id, s.credential_hash, s.expires_at, s.last_seen_at \
         from console_sessions s left join customers c on c.id = s.customer_id \
         where s.id_hash = ? and s.expires_at > ? and s.last_seen_at > ? \
           and (s.customer_id is null or c.api_key_hash = s.credential_hash)",
    )
    .bind(&id_hash[..])
    .bind(at.now)
    .bind(at.idle_since)
    .fetch_optional(pool)
    .await?;
    row.map(|(customer_id, hash, expires_at, last_seen_at)| {
        let credential_hash =
            <[u8; 32]>::try_from(hash.as_slice()).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(StoredSession {
            customer_id,
            credential_hash,
            expires_at,
            last_seen_at,
        })
    })
    .transpose()
}

/// Moves a session's `last_seen_at` to `now` unless a concurrent request moved it past
/// `older_than` already; false when nothing changed.
pub async fn touch(
    pool: &MySqlPool,
    id_hash: &[u8; 32],
    now: DateTime<Utc>,
    older_than: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "update console_sessions set last_seen_at = ? where id_hash = ? and last_seen_at < ?",
    )
    .bind(now)
    .bind(&id_hash[..])
    .bind(older_than)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// Ends a session (signing out); false if there was none.
pub async fn delete(pool: &MySqlPool, id_hash: &[u8; 32]) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("delete from console_sessions where id_hash = ?")
            .bind(&id_hash[..])
            .execute(pool)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Binds a customer's session to its new key (the customer rotated its key from this session)
/// in the rotation's transaction; the customer's other sessions end with the old key.
pub async fn rebind(
    tx: &mut Tx,
    id_hash: &[u8; 32],
    customer_id: i64,
    credential_hash: &[u8; 32],
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "update console_sessions set credential_hash = ? where id_hash = ? and customer_id = ?",
    )
    .bind(&credential_hash[..])
    .bind(&id_hash[..])
    .bind(customer_id)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

/// Removes up to `limit` sessions that expired, and up to `limit` that went idle, by `at`
/// (they are refused already; this keeps the table small). Returns how many went.
pub async fn purge_expired(pool: &MySqlPool, at: Cutoffs, limit: u32) -> Result<u64, sqlx::Error> {
    // Two statements, each a range of its own index (an `or` of both would scan the table).
    let expired = sqlx::query("delete from console_sessions where expires_at <= ? limit ?")
        .bind(at.now)
        .bind(limit)
        .execute(pool)
        .await?
        .rows_affected();
    let idle = sqlx::query("delete from console_sessions where last_seen_at <= ? limit ?")
        .bind(at.idle_since)
        .bind(limit)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(expired + idle)
}

/// Ends every session of a customer; returns how many there were.
pub async fn delete_for_customer(pool: &MySqlPool, customer_id: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("delete from console_sessions where customer_id = ?")
            .bind(customer_id)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
