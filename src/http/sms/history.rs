//! `GET /sms/history`: the caller's messages, one row per recipient, filtered and paginated.
//! Its filters ([`FilterParams`], [`parse_filter`]) are also those of `GET /sms/history.csv`
//! (`history_csv`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::messages::{self as repo, HistoryFilter};
use crate::domain::FieldErrors;
use crate::domain::{PhoneNumber, SmsStatus, SmsType};
use crate::http::error::ApiError;
use crate::http::extract::{ForCustomer, NamesCustomer};
use crate::http::pagination::PageRequest;
use crate::http::responses::LookupErrors;
use crate::state::AppState;

/// Filters of `GET /sms/history`; all optional and case-insensitive.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
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
    /// Rows per page, 1-100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// The customer (admin token only; a key may name only its own).
    #[serde(rename = "user_id")]
    #[param(rename = "user_id")]
    pub customer_id: Option<i64>,
}

impl NamesCustomer for HistoryQuery {
    fn customer_id(&self) -> Option<i64> {
        self.customer_id
    }
}

/// One recipient's message in the history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HistoryItem {
    pub sms_identifier: String,
    pub recipient: String,
    pub status: SmsStatus,
    #[serde(rename = "type")]
    pub sms_type: SmsType,
    /// The operator that took it, once one did.
    pub provider: Option<String>,
    pub segments: i32,
    /// The sender id it went out from (absent: none, the operator's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The caller's reference: the recipient's own, or its request's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// When its request is (or was) due (`send_at`); absent when sent at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A page of history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HistoryResponse {
    /// Newest first.
    pub items: Vec<HistoryItem>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// The filters of the history as given in the query string (of the list or the CSV).
#[derive(Debug, Clone, Copy, Default)]
pub struct FilterParams<'a> {
    pub status: Option<&'a str>,
    pub sms_type: Option<&'a str>,
    pub sms_identifier: Option<&'a str>,
    pub recipient: Option<&'a str>,
    pub reference: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
}

impl HistoryQuery {
    fn filter_params(&self) -> FilterParams<'_> {
        FilterParams {
            status: self.status.as_deref(),
            sms_type: self.sms_type.as_deref(),
            sms_identifier: self.sms_identifier.as_deref(),
            recipient: self.recipient.as_deref(),
            reference: self.reference.as_deref(),
            from: self.from.as_deref(),
            to: self.to.as_deref(),
        }
    }
}

/// An empty filter is no filter.
fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// Validates and normalizes the history's filters (400 naming every bad one); the result
/// starts at the newest row (`before_id` unset).
pub fn parse_filter(state: &AppState, q: FilterParams<'_>) -> Result<HistoryFilter, ApiError> {
    let mut errors = FieldErrors::default();
    let status = errors.parse("status", non_empty(q.status), |s| {
        s.parse::<SmsStatus>().map(SmsStatus::as_str)
    });
    let sms_type = errors.parse("type", non_empty(q.sms_type), |s| {
        s.parse::<SmsType>().map(SmsType::as_str)
    });
    let sms_identifier = errors.parse("sms_identifier", non_empty(q.sms_identifier), |s| {
        Uuid::try_parse(s.trim())
            .map(|u| u.to_string())
            .map_err(|_| "must be a UUID".to_string())
    });
    let country = state.config.intake.default_country.as_ref();
    let recipient = errors.parse("recipient", non_empty(q.recipient), |s| {
        PhoneNumber::parse(s, country)
            .map(PhoneNumber::into_string)
            .map_err(|e| e.to_string())
    });
    let reference = errors.parse("reference", non_empty(q.reference), |s| {
        crate::domain::sender_id::check_reference(s).map(|()| s.to_string())
    });
    let from = errors.parse("from", q.from, parse_time);
    let to = errors.parse("to", q.to, parse_time);
    errors.finish()?;
    Ok(HistoryFilter {
        status,
        sms_type,
        sms_identifier,
        recipient,
        reference,
        from,
        to,
        before_id: None,
    })
}

fn parse_time(value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| "must be an RFC 3339 timestamp".to_string())
}

/// The caller's messages, one row per recipient, newest first.
#[utoipa::path(
    get, path = "/sms/history", tag = "sms",
    security(("api_key" = []), ("admin_token" = [])),
    params(HistoryQuery),
    responses(
        (status = 200, description = "A page of history", body = HistoryResponse),
        LookupErrors,
    )
)]
pub async fn history(
    State(state): State<AppState>,
    ForCustomer {
        customer_id,
        query: q,
    }: ForCustomer<HistoryQuery>,
) -> Result<Response, ApiError> {
    let filter = parse_filter(&state, q.filter_params())?;
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let filter = HistoryFilter {
        before_id: page.before,
        ..filter
    };
    let rows = repo::history(&state.db, customer_id, &filter, page.fetch()).await?;
    let (rows, next_cursor) = page.split(rows, |r| r.id);
    Ok(crate::http::json_response(
        StatusCode::OK,
        &HistoryResponse {
            items: rows
                .iter()
                .map(|r| HistoryItem {
                    sms_identifier: r.sms_identifier.clone(),
                    recipient: r.recipient.clone(),
                    status: r.status,
                    sms_type: r.sms_type,
                    provider: r.provider.clone(),
                    segments: r.segments,
                    from: r.sender.clone(),
                    reference: r.client_reference.clone(),
                    send_at: r.send_at,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                })
                .collect(),
            next_cursor,
        },
    ))
}
