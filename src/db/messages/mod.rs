//! SMS requests and their per-recipient status rows; the recipients' event timelines are
//! read in `timeline`.

mod insert;
mod timeline;

pub use self::insert::{NewRequest, RecipientText, insert_request, insert_requests};
pub use self::timeline::{EventRow, events_page, last_event_up_to, newest_events};

use chrono::{DateTime, Utc};
use sqlx::{FromRow, MySql, MySqlPool, QueryBuilder};

use crate::domain::{Encoding, SmsStatus, SmsType};

/// Filters of `GET /sms/history`, already validated and normalized.
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub status: Option<&'static str>,
    pub sms_type: Option<&'static str>,
    pub sms_identifier: Option<String>,
    pub recipient: Option<String>,
    /// The customer's reference (`idx_sms_status_user_reference`).
    pub reference: Option<String>,
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
    /// The sender id it went out from.
    pub sender: Option<String>,
    /// The customer's reference of the recipient, or of its request.
    pub client_reference: Option<String>,
    /// Its own text (personalized bulk); `None`: the request's.
    pub body: Option<String>,
    /// When its request is due (scheduled sending); `None`: at once.
    pub send_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its first take (SENDING in the timeline); `None` before it, or recorded as an event row.
    pub taken_at: Option<DateTime<Utc>>,
    /// The operator's acceptance with its id (SENT in the timeline); `None` before it, or
    /// recorded as an event row.
    pub sent_at: Option<DateTime<Utc>>,
}

/// The columns of [`StatusRow`], as a literal so queries can be built with `concat!`.
macro_rules! status_columns {
    () => {
        "id, sms_identifier, recipient, status, sms_type, provider, provider_message_id, \
         failure_reason, segments, attempts, sender, client_reference, body, send_at, \
         created_at, updated_at, taken_at, sent_at"
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
    if let Some(reference) = &filter.reference {
        qb.push(" and client_reference = ")
            .push_bind(reference.as_str());
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
    /// The sender id it goes out from (`from` towards the operators).
    pub sender: Option<String>,
    /// The customer's reference of the request.
    pub client_reference: Option<String>,
    /// When it is due (scheduled sending); `None`: at once.
    pub send_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Its own callback URL (`callback_url`), if any.
    pub callback_url: Option<String>,
    /// Whether its recipients' state changes are queued as callback events (it has a
    /// callback URL, or its customer has one), as read with the request: the worker's SENT
    /// then writes its events without a query more, and writes none for the others.
    pub callbacks: bool,
}

impl RequestRow {
    /// When it was due: `send_at`, or its acceptance. Its default validity and its delivery
    /// latencies count from here.
    pub fn due_at(&self) -> DateTime<Utc> {
        self.send_at.unwrap_or(self.created_at)
    }

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
         price_per_segment, cost, operators, expires_at, sender, client_reference, send_at, \
         created_at, callback_url, (callback_url is not null or exists (select 1 from customers \
         cb where cb.id = sms_requests.user_id and cb.callback_url is not null)) as callbacks"
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
