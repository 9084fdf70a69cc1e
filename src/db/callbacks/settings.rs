//! A customer's callback settings: its webhook URL and its signing secrets (the current one
//! and, for `CALLBACK_SECRET_GRACE_SECS` after a rotation, the previous one).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, MySqlPool};

/// A customer's callback settings.
#[derive(Debug, Clone, FromRow)]
pub struct Settings {
    #[sqlx(rename = "callback_url")]
    pub url: Option<String>,
    #[sqlx(rename = "callback_secret")]
    pub secret: Option<String>,
    /// The secret before the last rotation, while it still signs.
    pub previous_secret: Option<String>,
    /// Until when it does.
    pub previous_until: Option<DateTime<Utc>>,
}

/// The settings of a customer; `None` when there is no such customer.
pub async fn get(pool: &MySqlPool, customer_id: i64) -> Result<Option<Settings>, sqlx::Error> {
    sqlx::query_as(
        "select callback_url, callback_secret, \
         if(callback_previous_until > now(6), callback_previous_secret, null) as previous_secret, \
         if(callback_previous_until > now(6), callback_previous_until, null) as previous_until \
         from customers where id = ?",
    )
    .bind(customer_id)
    .fetch_optional(pool)
    .await
}

/// Sets (or, with `None`, clears) a customer's webhook URL; a customer without a secret gets
/// `fresh_secret`. False when there is no such customer.
pub async fn set_url(
    pool: &MySqlPool,
    customer_id: i64,
    url: Option<&str>,
    fresh_secret: &str,
) -> Result<bool, sqlx::Error> {
    // `rows_affected` counts matched rows (sqlx connects with CLIENT_FOUND_ROWS), so an unchanged
    // URL still says the customer exists.
    let matched = sqlx::query(
        "update customers set callback_url = ?, callback_secret = coalesce(callback_secret, ?) \
         where id = ?",
    )
    .bind(url)
    .bind(fresh_secret)
    .bind(customer_id)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(matched == 1)
}

/// Gives a customer without a secret `fresh_secret` (a request's own `callback_url` may be
/// used before the customer ever set its settings). False when there is no such customer.
pub async fn ensure_secret(
    pool: &MySqlPool,
    customer_id: i64,
    fresh_secret: &str,
) -> Result<bool, sqlx::Error> {
    let matched = sqlx::query(
        "update customers set callback_secret = coalesce(callback_secret, ?) where id = ?",
    )
    .bind(fresh_secret)
    .bind(customer_id)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(matched == 1)
}

/// Replaces a customer's secret with `fresh_secret`; the one it replaces keeps signing for
/// `grace_secs`. False when there is no such customer.
pub async fn rotate(
    pool: &MySqlPool,
    customer_id: i64,
    fresh_secret: &str,
    grace_secs: u64,
) -> Result<bool, sqlx::Error> {
    // Assignments apply left to right: the previous secret is the one being replaced.
    let matched = sqlx::query(
        "update customers set callback_previous_secret = callback_secret, \
         callback_previous_until = if(callback_secret is null, null, now(6) + interval ? second), \
         callback_secret = ? where id = ?",
    )
    .bind(grace_secs)
    .bind(fresh_secret)
    .bind(customer_id)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(matched == 1)
}
