//! Writing accepted requests: the request row and one PENDING status row per recipient.

use chrono::{DateTime, Utc};
use sqlx::{MySql, QueryBuilder};

use crate::db::{Tx, batch};

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
    /// The sender id it goes out from (`from`), if any.
    pub sender: Option<&'a str>,
    /// The customer's reference of the request (`reference`), if any.
    pub client_reference: Option<&'a str>,
    /// Personalized bulk: each recipient's own text, at the recipient's index; empty when
    /// every recipient gets `body` (its status rows then store no text).
    pub personal: &'a [RecipientText<'a>],
    /// When it was accepted (the database's clock, read by the acceptance): the request's
    /// and its status rows' `created_at`, so both fall on the same UTC day, the day its
    /// daily counters (`db::daily`) use.
    pub created_at: DateTime<Utc>,
    /// When it is due (scheduled sending); `None`: at once. Its validity counts from it.
    pub send_at: Option<DateTime<Utc>>,
    /// Its own callback URL, if any.
    pub callback_url: Option<&'a str>,
}

/// A recipient's own text in a personalized request.
#[derive(Debug, Clone, Copy)]
pub struct RecipientText<'a> {
    pub body: &'a str,
    pub segments: u32,
    /// Its own reference; `None`: the request's.
    pub client_reference: Option<&'a str>,
}

/// One status row to write: its request, the request's id, the recipient and its own text.
type StatusRowOf<'r, 'a> = (
    &'r NewRequest<'a>,
    i64,
    &'r str,
    Option<&'r RecipientText<'a>>,
);

/// Writes the request row and one PENDING status row per recipient; returns the request id.
pub async fn insert_request(tx: &mut Tx, req: &NewRequest<'_>) -> Result<i64, sqlx::Error> {
    let id = sqlx::query(
        "insert into sms_requests (sms_identifier, user_id, sms_type, body, encoding, segments, \
         recipients, price_per_segment, cost, operators, expires_at, traceparent, sender, \
         client_reference, created_at, send_at, callback_url) \
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
         case when ? is null then null else coalesce(?, now(6)) + interval ? second end, \
         ?, ?, ?, ?, ?, ?)",
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
    .bind(req.send_at)
    .bind(req.validity_seconds)
    .bind(req.traceparent)
    .bind(req.sender)
    .bind(req.client_reference)
    .bind(req.created_at)
    .bind(req.send_at)
    .bind(req.callback_url)
    .execute(&mut **tx)
    .await?
    .last_insert_id();
    let request_id = i64::try_from(id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;

    let rows: Vec<StatusRowOf<'_, '_>> = req
        .recipients
        .iter()
        .enumerate()
        .map(|(i, r)| (req, request_id, r.as_str(), req.personal.get(i)))
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
             recipients, price_per_segment, cost, operators, expires_at, traceparent, sender, \
             client_reference, created_at, send_at, callback_url) ",
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
                // One text whether or not a row has a validity or a send_at (see `batch`);
                // the validity counts from send_at.
                .push("case when ")
                .push_bind_unseparated(req.validity_seconds)
                .push_unseparated(" is null then null else coalesce(")
                .push_bind_unseparated(req.send_at)
                .push_unseparated(", now(6)) + interval ")
                .push_bind_unseparated(req.validity_seconds)
                .push_unseparated(" second end")
                .push_bind(req.traceparent)
                .push_bind(req.sender)
                .push_bind(req.client_reference)
                .push_bind(req.created_at)
                .push_bind(req.send_at)
                .push_bind(req.callback_url);
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

    let rows: Vec<StatusRowOf<'_, '_>> = reqs
        .iter()
        .zip(&ids)
        .flat_map(|(req, id)| {
            req.recipients
                .iter()
                .enumerate()
                .map(move |(i, r)| (req, *id, r.as_str(), req.personal.get(i)))
        })
        .collect();
    insert_status_rows(tx, &rows).await?;
    Ok(ids)
}

/// One PENDING status row per `(request, request id, recipient)`, in multi-row inserts of
/// power-of-two sizes (see [`batch::insert_chunks`]).
async fn insert_status_rows(tx: &mut Tx, rows: &[StatusRowOf<'_, '_>]) -> Result<(), sqlx::Error> {
    for chunk in batch::insert_chunks(rows) {
        let mut qb: QueryBuilder<MySql> = QueryBuilder::new(
            "insert into sms_status (request_id, user_id, sms_identifier, recipient, status, \
             sms_type, segments, sender, client_reference, body, created_at, send_at) ",
        );
        qb.push_values(chunk, |mut b, (req, request_id, recipient, own)| {
            b.push_bind(*request_id)
                .push_bind(req.customer_id)
                .push_bind(req.sms_identifier)
                .push_bind(*recipient)
                .push("'PENDING'")
                .push_bind(req.sms_type)
                .push_bind(own.map_or(req.segments, |o| o.segments))
                .push_bind(req.sender)
                .push_bind(
                    own.and_then(|o| o.client_reference)
                        .or(req.client_reference),
                )
                .push_bind(own.map(|o| o.body))
                .push_bind(req.created_at)
                .push_bind(req.send_at);
        });
        qb.build().execute(&mut **tx).await?;
    }
    Ok(())
}
