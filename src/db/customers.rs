//! Customers, their hashed API keys, and the generation of the keys (bumped by every key
//! creation and rotation, polled by the API processes' negative key caches).

use sqlx::{MySqlPool, Row};

use super::Tx;

/// Inserts a customer with its (empty) balance row and returns its id.
pub async fn insert(
    tx: &mut Tx,
    name: &str,
    api_key_hash: &[u8; 32],
    api_key_hint: &str,
) -> Result<i64, sqlx::Error> {
    let id =
        sqlx::query("insert into customers (name, api_key_hash, api_key_hint) values (?, ?, ?)")
            .bind(name)
            .bind(&api_key_hash[..])
            .bind(api_key_hint)
            .execute(&mut **tx)
            .await?
            .last_insert_id();
    let id = i64::try_from(id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    sqlx::query("insert into user_balances (user_id, balance) values (?, 0)")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

/// The customer owning an API key, by the key's SHA-256.
pub async fn find_by_key_hash(
    pool: &MySqlPool,
    api_key_hash: &[u8; 32],
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query("select id from customers where api_key_hash = ?")
        .bind(&api_key_hash[..])
        .fetch_optional(pool)
        .await?
        .map(|row| row.try_get::<i64, _>(0))
        .transpose()
}

/// Whether a customer exists.
pub async fn exists(pool: &MySqlPool, id: i64) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("select 1 from customers where id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .is_some())
}

/// Replaces the key hash of a customer; false if there is no such customer.
pub async fn set_key(
    tx: &mut Tx,
    id: i64,
    api_key_hash: &[u8; 32],
    api_key_hint: &str,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("update customers set api_key_hash = ?, api_key_hint = ? where id = ?")
            .bind(&api_key_hash[..])
            .bind(api_key_hint)
            .bind(id)
            .execute(&mut **tx)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Bumps the key generation in the transaction that creates or replaces a key: the API
/// processes see the change (`key_generation`) and forget the keys they refused.
pub async fn bump_key_generation(tx: &mut Tx) -> Result<(), sqlx::Error> {
    sqlx::query("update api_key_generation set generation = generation + 1 where id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The current key generation (`None` if its row is missing).
pub async fn key_generation(pool: &MySqlPool) -> Result<Option<u64>, sqlx::Error> {
    sqlx::query_scalar("select generation from api_key_generation where id = 1")
        .fetch_optional(pool)
        .await
}

/// A customer's name and key hint, if it exists.
pub async fn name_and_hint(
    pool: &MySqlPool,
    id: i64,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("select name, api_key_hint from customers where id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// A customer as the admin's list shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Listed {
    pub id: i64,
    pub name: String,
    pub api_key_hint: String,
    pub balance: i64,
    pub weight: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Customers whose name contains `search` (any, when `None`), newest first, with an id below
/// `before` when given, at most `limit`.
pub async fn list(
    pool: &MySqlPool,
    search: Option<&str>,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<Listed>, sqlx::Error> {
    let pattern = search.map(|s| {
        let escaped = s
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    sqlx::query_as(
        "select c.id, c.name, c.api_key_hint, coalesce(b.balance, 0) as balance, c.weight, \
         c.created_at from customers c left join user_balances b on b.user_id = c.id \
         where c.id < ? and (? is null or c.name like ?) order by c.id desc limit ?",
    )
    .bind(before.unwrap_or(i64::MAX))
    .bind(pattern.as_deref())
    .bind(pattern.as_deref())
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// One customer as the admin's customer page shows it: the list's fields, its limits as set,
/// how many sender ids it has and which is the default, its webhook URL, its live console
/// sessions (opened with its current key, neither expired nor idle) and its parked callbacks.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Detail {
    /// What the list shows of it.
    #[sqlx(flatten)]
    pub listed: Listed,
    pub max_requests_per_sec: Option<i32>,
    pub max_recipients_per_sec: Option<i32>,
    pub senders: i64,
    pub default_sender: Option<String>,
    pub callback_url: Option<String>,
    pub console_sessions: i64,
    pub parked_callbacks: i64,
}

/// Parked callback events counted at most by [`detail`].
pub const PARKED_COUNT_CAP: i64 = 10_000;

/// The customer `id`, if it exists (one statement: primary keys, the senders' primary key
/// prefix, the sessions' customer index and at most [`PARKED_COUNT_CAP`] entries of the
/// callback events' customer index).
pub async fn detail(
    pool: &MySqlPool,
    id: i64,
    sessions: super::sessions::Cutoffs,
) -> Result<Option<Detail>, sqlx::Error> {
    sqlx::query_as(
        "select c.id, c.name, c.api_key_hint, coalesce(b.balance, 0) as balance, c.weight, \
         c.max_requests_per_sec, c.max_recipients_per_sec, \
         (select count(*) from customer_senders s where s.customer_id = c.id) as senders, \
         (select s.sender from customer_senders s where s.customer_id = c.id \
            and s.is_default = 1) as default_sender, \
         c.callback_url, \
         (select count(*) from console_sessions x where x.customer_id = c.id \
            and x.credential_hash = c.api_key_hash and x.expires_at > ? \
            and x.last_seen_at > ?) as console_sessions, \
         (select count(*) from (select 1 from callback_events e \
            where e.customer_id = ? and e.state = 'parked' limit ?) p) as parked_callbacks, \
         c.created_at from customers c left join user_balances b on b.user_id = c.id \
         where c.id = ?",
    )
    .bind(sessions.now)
    .bind(sessions.idle_since)
    .bind(id)
    .bind(PARKED_COUNT_CAP)
    .bind(id)
    .fetch_optional(pool)
    .await
}
