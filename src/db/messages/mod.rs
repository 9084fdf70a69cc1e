//! SMS requests and their per-recipient status rows; the recipients' event timelines are
//! read in `timeline`.

mod timeline;

pub use self::timeline::{EventRow, events_page, newest_events};

use chrono::{DateTime, Utc};
use sqlx::{FromRow, MySql, MySqlPool, QueryBuilder};

use super::{Tx, batch};
use crate::domain::{Encoding, SmsStatus, SmsType};

/// An accepted request, as written by intake.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub sms_identifier: &'a str,
    pub customer_id: i64,
    pub sms_type: &'a str,
    pub body: &'a str,
    pub encoding: &'a str,
    pub segments: u32,
    pub recipients: &'a [String],
    pub price_per_segment: i64,
    pub cost: i64,
    pub operators: &'a str,
    pub validity_seconds: Option<u32>,
    pub traceparent: Option<&'a str>,
    /// When it was accepted (the database's clock, read by the acceptance): the request's
    /// and its status rows' `created_at`, so both fall on the same UTC day, the day its
    /// daily counters (`db::daily`) use.
    pub created_at: DateTime<Utc>,
}

/// Writes the request row and one PENDING status row per recipient; returns the request id.
pub async fn insert_request(tx: &mut Tx, req: &NewRequest<'_>) -> Result<i64, sqlx::Error> {
    let id = sqlx::query(
        "insert into sms_requests (sms_identifier, user_id, sms_type, body, encoding, segments, \
         recipients, price_per_segment, cost, operators, expires_at, traceparent, created_at) \
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
         case when ? is null then null else now(6) + interval ? second end, ?, ?)",
    )
    .bind(req.sms_identifier)
    .bind(req.customer_id)
    .bind(req.sms_type)
    .bind(req.body)
    .bind(req.encoding)
    .bind(req.segments)
    .bind(req.recipients.len() as u32)
    .bind(req.price_per_segment)
    .bind(req.cost)
    .bind(req.operators)
    .bind(req.validity_seconds)
    .bind(req.validity_seconds)
    .bind(req.traceparent)
    .bind(req.created_at)
    .execute(&mut **tx)
    .await?
    .last_insert_id();
    let request_id = i64::try_from(id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;

    let rows: Vec<(&NewRequest<'_>, i64, &str)> = req
        .recipients
        .iter()
        .map(|r| (req, request_id, r.as_str()))
        .collect();
    insert_status_rows(tx, &rows).await?;
    Ok(request_id)
}

/// Inserts several requests with one statement per table (chunked) and returns their ids,
/// in order. The ids are read back by `sms_identifier` rather than assumed consecutive
/// (MySQL 8's default auto-increment lock mode interleaves concurrent multi-row inserts).
pub async fn insert_requests(
    tx: &mut Tx,
    reqs: &[NewRequest<'_>],
) -> Result<Vec<i64>, sqlx::Error> {
    for chunk in batch::insert_chunks(reqs) {
        let mut qb: QueryBuilder<MySql> = QueryBuilder::new(
            "insert into sms_requests (sms_identifier, user_id, sms_type, body, encoding, segments, \
             recipients, price_per_segment, cost, operators, expires_at, traceparent, \
             created_at) ",
        );
        qb.push_values(chunk, |mut b, req| {
            b.push_bind(req.sms_identifier)
                .push_bind(req.customer_id)
                .push_bind(req.sms_type)
                .push_bind(req.body)
                .push_bind(req.encoding)
                .push_bind(req.segments)
                .push_bind(req.recipients.len() as u32)
                .push_bind(req.price_per_segment)
                .push_bind(req.cost)
                .push_bind(req.operators)
                // One text whether or not a row has a validity (see `batch`).
                .push("case when ")
                .push_bind_unseparated(req.validity_seconds)
                .push_unseparated(" is null then null else now(6) + interval ")
                .push_bind_unseparated(req.validity_seconds)
                .push_unseparated(" second end")
                .push_bind(req.traceparent)
                .push_bind(req.created_at);
        });
        qb.build().execute(&mut **tx).await?;
    }
    let mut ids = std::collections::HashMap::with_capacity(reqs.len());
    let identifiers: Vec<&str> = reqs.iter().map(|r| r.sms_identifier).collect();
    for chunk in batch::key_chunks(&identifiers) {
        let mut qb: QueryBuilder<MySql> = QueryBuilder::new(
            "select sms_identifier, id from sms_requests where sms_identifier in ",
        );
        batch::push_in_list(&mut qb, chunk);
        let rows: Vec<(String, i64)> = qb.build_query_as().fetch_all(&mut **tx).await?;
        ids.extend(rows);
    }
    let ids: Vec<i64> = reqs
        .iter()
        .map(|r| {
            ids.get(r.sms_identifier)
                .copied()
                .ok_or_else(|| sqlx::Error::RowNotFound)
        })
        .collect::<Result<_, _>>()?;

    let rows: Vec<(&NewRequest<'_>, i64, &str)> = reqs
        .iter()
        .zip(&ids)
        .flat_map(|(req, id)| req.recipients.iter().map(move |r| (req, *id, r.as_str())))
        .collect();
    insert_status_rows(tx, &rows).await?;
    Ok(ids)
}

/// One PENDING status row per `(request, request id, recipient)`, in multi-row inserts of
/// power-of-two sizes (see [`batch::insert_chunks`]).
async fn insert_status_rows(
    tx: &mut Tx,
    rows: &[(&NewRequest<'_>, i64, &str)],
) -> Result<(), sqlx::Error> {
    for chunk in batch::insert_chunks(rows) {
        let mut qb: QueryBuilder<MySql> = QueryBuilder::new(
            "insert into sms_status (request_id, user_id, sms_identifier, recipient, status, \
             sms_type, segments, created_at) ",
        );
        qb.push_values(chunk, |mut b, (req, request_id, recipient)| {
            b.push_bind(*request_id)
                .push_bind(req.customer_id)
                .push_bind(req.sms_identifier)
                .push_bind(*recipient)
                .push("'PENDING'")
                .push_bind(req.sms_type)
                .push_bind(req.segments)
                .push_bind(req.created_at);
        });
        qb.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Filters of `GET /sms/history`, already validated and normalized.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub status: Option<&'static str>,
    pub sms_type: Option<&'static str>,
    pub sms_identifier: Option<String>,
    pub recipient: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only rows with an id below this (the cursor).
    pub before_id: Option<i64>,
}

/// One row of the history.
#[derive(Debug, Clone, FromRow)]
pub struct StatusRow {
    pub id: i64,
    pub sms_identifier: String,
    pub recipient: String,
    pub status: SmsStatus,
    pub sms_type: SmsType,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub failure_reason: Option<String>,
    pub segments: i32,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The columns of [`StatusRow`], as a literal so queries can be built with `concat!`.
macro_rules! status_columns {
    () => {
        "id, sms_identifier, recipient, status, sms_type, provider, provider_message_id, \
         failure_reason, segments, attempts, created_at, updated_at"
    };
}
const STATUS_COLUMNS: &str = status_columns!();

/// A customer's status rows, newest first, at most `limit`.
pub async fn history(
    pool: &MySqlPool,
    customer_id: i64,
    filter: &HistoryFilter,
    limit: u32,
) -> Result<Vec<StatusRow>, sqlx::Error> {
    let mut qb: QueryBuilder<MySql> = QueryBuilder::new("select ");
    qb.push(STATUS_COLUMNS)
        .push(" from sms_status where user_id = ")
        .push_bind(customer_id);
    if let Some(status) = filter.status {
        qb.push(" and status = ").push_bind(status);
    }
    if let Some(sms_type) = filter.sms_type {
        qb.push(" and sms_type = ").push_bind(sms_type);
    }
    if let Some(id) = &filter.sms_identifier {
        qb.push(" and sms_identifier = ").push_bind(id.as_str());
    }
    if let Some(recipient) = &filter.recipient {
        qb.push(" and recipient = ").push_bind(recipient.as_str());
    }
    if let Some(from) = filter.from {
        qb.push(" and created_at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        qb.push(" and created_at < ").push_bind(to);
    }
    if let Some(before) = filter.before_id {
        qb.push(" and id < ").push_bind(before);
    }
    qb.push(" order by id desc limit ").push_bind(limit);
    qb.build_query_as().fetch_all(pool).await
}

/// An accepted request: what `GET /sms/{sms_identifier}` shows and what a worker delivers.
#[derive(Debug, Clone, FromRow)]
pub struct RequestRow {
    pub id: i64,
    pub sms_identifier: String,
    #[sqlx(rename = "user_id")]
    pub customer_id: i64,
    pub sms_type: SmsType,
    pub body: String,
    pub encoding: Encoding,
    pub segments: i32,
    pub recipients: i32,
    pub price_per_segment: i64,
    pub cost: i64,
    /// Comma-separated operator preference; see [`RequestRow::operator_preference`].
    pub operators: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl RequestRow {
    /// The requested operator order; empty means the lane's configured order.
    pub fn operator_preference(&self) -> Vec<String> {
        self.operators
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// The columns of [`RequestRow`], as a literal so queries can be built with `concat!`.
macro_rules! request_columns {
    () => {
        "id, sms_identifier, user_id, sms_type, body, encoding, segments, recipients, \
         price_per_segment, cost, operators, expires_at, created_at"
    };
}
pub(crate) use request_columns;

/// The request with this identifier, if it belongs to `customer_id`.
pub async fn find_request(
    pool: &MySqlPool,
    customer_id: i64,
    sms_identifier: &str,
) -> Result<Option<RequestRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        request_columns!(),
        " from sms_requests where sms_identifier = ? and user_id = ?"
    ))
    .bind(sms_identifier)
    .bind(customer_id)
    .fetch_optional(pool)
    .await
}

/// The request with this id (workers: the queue message names it).
pub async fn request_by_id(
    pool: &MySqlPool,
    request_id: i64,
) -> Result<Option<RequestRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        request_columns!(),
        " from sms_requests where id = ?"
    ))
    .bind(request_id)
    .fetch_optional(pool)
    .await
}

/// How many of a request's recipients are in each state: one grouped read of its status rows
/// (at most its recipients, through `uq_sms_status_request_recipient`).
pub async fn counts_of_request(
    pool: &MySqlPool,
    request_id: i64,
) -> Result<Vec<(SmsStatus, i64)>, sqlx::Error> {
    sqlx::query_as("select status, count(*) from sms_status where request_id = ? group by status")
        .bind(request_id)
        .fetch_all(pool)
        .await
}

/// At most `limit` status rows of a request in id order, from `from_id` on. The index
/// `idx_sms_status_identifier` is `(sms_identifier, id)` (InnoDB appends the primary key), so
/// this is a range scan that stops after `limit` rows, without a filesort; it is forced
/// because `id >= ?` also fits the primary key, whose range holds every newer row of the table.
pub async fn statuses_page(
    pool: &MySqlPool,
    sms_identifier: &str,
    from_id: Option<i64>,
    limit: u32,
) -> Result<Vec<StatusRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        status_columns!(),
        " from sms_status force index (idx_sms_status_identifier) \
         where sms_identifier = ? and id >= ? order by id limit ?"
    ))
    .bind(sms_identifier)
    .bind(from_id.unwrap_or(0))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The status row of one recipient of a request (`uq_sms_status_request_recipient`).
pub async fn status_of_recipient(
    pool: &MySqlPool,
    request_id: i64,
    recipient: &str,
) -> Result<Option<StatusRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        status_columns!(),
        " from sms_status where request_id = ? and recipient = ?"
    ))
    .bind(request_id)
    .bind(recipient)
    .fetch_optional(pool)
    .await
}
