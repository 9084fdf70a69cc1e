//! `GET /sms/history.csv`: the history with the filters of `GET /sms/history`, all of it, as
//! CSV streamed while it is read: keyset pages of [`PAGE`] rows (newest first, `id <` the
//! last page's smallest), each read only when the client has taken the previous one, so the
//! memory a download holds is one page whatever its size, and a client that goes away ends
//! it (the body stream is dropped and no further page is read).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use chrono::SecondsFormat;
use futures::StreamExt as _;
use serde::Deserialize;
use sqlx::MySqlPool;
use utoipa::IntoParams;

use super::history::{FilterParams, parse_filter};
use crate::db::messages::{self as repo, HistoryFilter, StatusRow};
use crate::http::error::ApiError;
use crate::http::extract::{ForCustomer, NamesCustomer};
use crate::http::responses::LookupErrors;
use crate::state::AppState;

/// Rows per database read.
pub const PAGE: u32 = 1_000;

/// The columns, in order (the fields of a `GET /sms/history` item).
const HEADER: [&str; 11] = [
    "sms_identifier",
    "recipient",
    "status",
    "type",
    "provider",
    "segments",
    "from",
    "reference",
    "created_at",
    "updated_at",
    "send_at",
];

/// Filters of `GET /sms/history.csv`: those of `GET /sms/history`, without its paging.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryCsvQuery {
    /// PENDING, SENDING, SENT, DELIVERED, UNDELIVERED, FAILED or CANCELLED; empty means any.
    #[param(
        pattern = r"^\s*([Pp][Ee][Nn][Dd][Ii][Nn][Gg]|[Ss][Ee][Nn][Dd][Ii][Nn][Gg]|[Ss][Ee][Nn][Tt]|[Dd][Ee][Ll][Ii][Vv][Ee][Rr][Ee][Dd]|[Uu][Nn][Dd][Ee][Ll][Ii][Vv][Ee][Rr][Ee][Dd]|[Ff][Aa][Ii][Ll][Ee][Dd]|[Cc][Aa][Nn][Cc][Ee][Ll][Ll][Ee][Dd])?\s*$"
    )]
    pub status: Option<String>,
    /// normal or express; empty means any.
    #[serde(rename = "type")]
    #[param(
        rename = "type",
        pattern = r"^\s*([Nn][Oo][Rr][Mm][Aa][Ll]|[Ee][Xx][Pp][Rr][Ee][Ss][Ss])?\s*$"
    )]
    pub sms_type: Option<String>,
    /// One request's rows (a UUID); empty means any.
    pub sms_identifier: Option<String>,
    /// One recipient (any accepted form; normalized like `recipients`).
    pub recipient: Option<String>,
    /// The caller's `reference` (exact match: the recipient's own, or its request's when it
    /// has none); empty means any.
    #[param(max_length = 64)]
    pub reference: Option<String>,
    /// Created at or after (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Created before (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// The customer (admin token only; a key may name only its own).
    #[serde(rename = "user_id")]
    #[param(rename = "user_id")]
    pub customer_id: Option<i64>,
}

impl NamesCustomer for HistoryCsvQuery {
    fn customer_id(&self) -> Option<i64> {
        self.customer_id
    }
}

/// The caller's whole history, newest first, as CSV (RFC 4180: a header row, CRLF line
/// ends, fields with a comma, quote or line break quoted). Streamed: a download of any size
/// holds one page of rows in memory.
#[utoipa::path(
    get, path = "/sms/history.csv", tag = "sms",
    security(("api_key" = []), ("admin_token" = [])),
    params(HistoryCsvQuery),
    responses(
        (status = 200, description = "The history as CSV, newest first: sms_identifier, \
            recipient, status, type, provider, segments, from, reference, created_at, updated_at, \
            send_at",
            content_type = "text/csv", body = String),
        LookupErrors,
    )
)]
pub async fn history_csv(
    State(state): State<AppState>,
    ForCustomer {
        customer_id,
        query: q,
    }: ForCustomer<HistoryCsvQuery>,
) -> Result<Response, ApiError> {
    let filter = parse_filter(
        &state,
        FilterParams {
            status: q.status.as_deref(),
            sms_type: q.sms_type.as_deref(),
            sms_identifier: q.sms_identifier.as_deref(),
            recipient: q.recipient.as_deref(),
            reference: q.reference.as_deref(),
            from: q.from.as_deref(),
            to: q.to.as_deref(),
        },
    )?;
    // The first page is read before the answer starts, so that a database that fails now
    // gets a problem document; a failure later cuts the body off (the client sees an
    // incomplete chunked body, never a short file that looks whole).
    let first = repo::history(&state.db, customer_id, &filter, PAGE).await?;
    let mut head = String::new();
    push_record(&mut head, HEADER);
    let pages = Pages {
        db: state.db.clone(),
        customer_id,
        filter,
        next: Some(first),
    };
    let body = futures::stream::once(async move { Ok::<_, sqlx::Error>(Bytes::from(head)) })
        .chain(futures::stream::try_unfold(pages, Pages::next_chunk));
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"sms-history.csv\"",
        )
        .body(Body::from_stream(body))
        .expect("a valid response"))
}

/// The state of a download between pages.
struct Pages {
    db: MySqlPool,
    customer_id: i64,
    filter: HistoryFilter,
    /// The page to write next (read ahead: the first one by the handler), or `None` when
    /// the last one was written.
    next: Option<Vec<StatusRow>>,
}

impl Pages {
    /// The CSV of the next page, reading the one after it when this one was full.
    async fn next_chunk(mut self) -> Result<Option<(Bytes, Self)>, sqlx::Error> {
        let Some(rows) = self.next.take() else {
            return Ok(None);
        };
        if rows.is_empty() {
            return Ok(None);
        }
        let mut out = String::with_capacity(rows.len() * 128);
        for r in &rows {
            let segments = r.segments.to_string();
            let created = r.created_at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
            let updated = r.updated_at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
            let send_at = r
                .send_at
                .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
                .unwrap_or_default();
            push_record(
                &mut out,
                [
                    r.sms_identifier.as_str(),
                    r.recipient.as_str(),
                    r.status.as_str(),
                    r.sms_type.as_str(),
                    r.provider.as_deref().unwrap_or(""),
                    &segments,
                    r.sender.as_deref().unwrap_or(""),
                    r.client_reference.as_deref().unwrap_or(""),
                    &created,
                    &updated,
                    &send_at,
                ],
            );
        }
        if rows.len() == PAGE as usize {
            self.filter.before_id = rows.last().map(|r| r.id);
            let next = repo::history(&self.db, self.customer_id, &self.filter, PAGE).await;
            match next {
                Ok(next) => self.next = Some(next),
                Err(e) => {
                    tracing::error!(error = %e, "a history download lost its database; its body is cut off");
                    return Err(e);
                }
            }
        }
        Ok(Some((Bytes::from(out), self)))
    }
}

/// Appends one CSV record (RFC 4180) and its CRLF.
fn push_record<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::push_record;

    fn record(fields: &[&str]) -> String {
        let mut out = String::new();
        push_record(&mut out, fields.iter().copied());
        out
    }

    #[test]
    fn plain_fields_are_written_as_they_are() {
        assert_eq!(record(&["a", "+98912", "", "1"]), "a,+98912,,1\r\n");
    }

    #[test]
    fn commas_quotes_and_line_breaks_are_quoted_with_quotes_doubled() {
        assert_eq!(
            record(&["op, \"x\"", "a\nb", "c\rd", "e"]),
            "\"op, \"\"x\"\"\",\"a\nb\",\"c\rd\",e\r\n"
        );
    }
}
