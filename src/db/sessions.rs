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
}

/// Stores a new session.
pub async fn insert(
    pool: &MySqlPool,
    id_hash: &[u8; 32],
    session: &StoredSession,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into console_sessions (id_hash, customer_id, credential_hash, created_at, expires_at) \
         values (?, ?, ?, ?, ?)",
    )
    .bind(&id_hash[..])
    .bind(session.customer_id)
    .bind(&session.credential_hash[..])
    .bind(now)
    .bind(session.expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// The session with this id hash, if it has not expired at `now` and, for a customer, was
/// opened with the customer's current key. (The admin's credential is checked by the caller,
/// against the running process's `ADMIN_TOKEN`.)
pub async fn find_live(
    pool: &MySqlPool,
    id_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<Option<StoredSession>, sqlx::Error> {
    let row: Option<(Option<i64>, Vec<u8>, DateTime<Utc>)> = sqlx::query_as(
        "select s.customer_id, s.credential_hash, s.expires_at from console_sessions s \
         left join customers c on c.id = s.customer_id \
         where s.id_hash = ? and s.expires_at > ? \
           and (s.customer_id is null or c.api_key_hash = s.credential_hash)",
    )
    .bind(&id_hash[..])
    .bind(now)
    .fetch_optional(pool)
    .await?;
    row.map(|(customer_id, hash, expires_at)| {
        let credential_hash =
            <[u8; 32]>::try_from(hash.as_slice()).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(StoredSession {
            customer_id,
            credential_hash,
            expires_at,
        })
    })
    .transpose()
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

/// Removes up to `limit` sessions that expired before `now` (they are refused already; this
/// keeps the table small). Returns how many went.
pub async fn purge_expired(
    pool: &MySqlPool,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("delete from console_sessions where expires_at <= ? limit ?")
            .bind(now)
            .bind(limit)
            .execute(pool)
            .await?
            .rows_affected(),
    )
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
