//! The log of callback POSTs (`callback_deliveries`): one row per POST, read by
//! `GET /callbacks/deliveries`, pruned after `CALLBACK_LOG_DAYS`.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, MySqlPool};

use crate::db::batch;

/// One POST, as logged.
#[derive(Debug, Clone, FromRow)]
pub struct Delivery {
    pub id: i64,
    pub url: String,
    pub events: i32,
    /// `delivered`, `failed`, `unreachable` or `refused`.
    pub outcome: String,
    pub http_status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
    pub created_at: DateTime<Utc>,
}

/// A POST to log.
#[derive(Debug, Clone, Copy)]
pub struct NewDelivery<'a> {
    pub customer_id: i64,
    pub url: &'a str,
    pub events: usize,
    pub outcome: &'a str,
    pub http_status: Option<u16>,
    pub error: Option<&'a str>,
    pub duration_ms: u64,
}

/// Logs POSTs: one multi-row statement per [`batch::insert_chunks`] chunk.
pub async fn insert(pool: &MySqlPool, rows: &[NewDelivery<'_>]) -> Result<(), sqlx::Error> {
    for chunk in batch::insert_chunks(rows) {
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "insert into callback_deliveries \
             (customer_id, url, events, outcome, http_status, error, duration_ms) ",
        );
        qb.push_values(chunk, |mut b, d| {
            b.push_bind(d.customer_id)
                .push_bind(d.url.chars().take(2048).collect::<String>())
                .push_bind(d.events as u32)
                .push_bind(d.outcome)
                .push_bind(d.http_status)
                .push_bind(d.error.map(|e| e.chars().take(255).collect::<String>()))
                .push_bind(d.duration_ms.min(i32::MAX as u64) as i32);
        });
        qb.build().execute(pool).await?;
    }
    Ok(())
}

/// A customer's POSTs, newest first, with an id below `before_id` (the cursor), at most
/// `limit`.
pub async fn recent(
    pool: &MySqlPool,
    customer_id: i64,
    before_id: Option<i64>,
    limit: u32,
) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query_as(
        "select id, url, events, outcome, http_status, error, duration_ms, created_at \
         from callback_deliveries where customer_id = ? and id < ? order by id desc limit ?",
    )
    .bind(customer_id)
    .bind(before_id.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Deletes up to `limit` log rows older than `days`; returns how many.
pub async fn prune(pool: &MySqlPool, days: u32, limit: u32) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "delete from callback_deliveries where created_at < now(6) - interval ? day \
         order by created_at limit ?",
    )
    .bind(days)
    .bind(limit)
    .execute(pool)
    .await?
    .rows_affected())
}
