//! `GET /sms/history`: the caller's messages, one row per recipient, filtered and paginated.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::messages::{self as repo, HistoryFilter};
use crate::domain::{PhoneNumber, SmsStatus, SmsType};
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Caller};
use crate::http::pagination::PageRequest;
use crate::http::responses::{BadRequest, Forbidden, NotFound, Unauthorized, Unavailable};
use crate::state::AppState;

/// Filters of `GET /sms/history`; all optional and case-insensitive.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// PENDING, SENDING, SENT, DELIVERED, UNDELIVERED or FAILED; empty means any.
    #[param(
        pattern = r"^\s*([Pp][Ee][Nn][Dd][Ii][Nn][Gg]|[Ss][Ee][Nn][Dd][Ii][Nn][Gg]|[Ss][Ee][Nn][Tt]|[Dd][Ee][Ll][Ii][Vv][Ee][Rr][Ee][Dd]|[Uu][Nn][Dd][Ee][Ll][Ii][Vv][Ee][Rr][Ee][Dd]|[Ff][Aa][Ii][Ll][Ee][Dd])?\s*$"
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

fn parse_time(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| ApiError::field(field, "must be an RFC 3339 timestamp"))
        })
        .transpose()
}

/// The caller's messages, one row per recipient, newest first.
#[utoipa::path(
    get, path = "/sms/history", tag = "sms",
    security(("api_key" = []), ("admin_token" = [])),
    params(HistoryQuery),
    responses(
        (status = 200, description = "A page of history", body = HistoryResponse),
        BadRequest, Unauthorized, Forbidden, NotFound, Unavailable,
    )
)]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Response, ApiError> {
    let customer_id = caller.target(&state, q.customer_id, "user_id").await?;
    let mut errors = BTreeMap::new();
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match s.parse::<SmsStatus>() {
            Ok(st) => Some(st.as_str()),
            Err(e) => {
                errors.insert("status".to_string(), e);
                None
            }
        },
    };
    let sms_type = match q.sms_type.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match s.parse::<SmsType>() {
            Ok(t) => Some(t.as_str()),
            Err(e) => {
                errors.insert("type".to_string(), e);
                None
            }
        },
    };
    let sms_identifier = match q.sms_identifier.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match Uuid::try_parse(s.trim()) {
            Ok(u) => Some(u.to_string()),
            Err(_) => {
                errors.insert("sms_identifier".to_string(), "must be a UUID".to_string());
                None
            }
        },
    };
    let recipient = match q.recipient.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match PhoneNumber::parse(s, state.config.intake.default_country.as_ref()) {
            Ok(p) => Some(p.into_string()),
            Err(e) => {
                errors.insert("recipient".to_string(), e.to_string());
                None
            }
        },
    };
    let from = parse_time("from", q.from.as_deref()).unwrap_or_else(|e| {
        errors.insert("from".to_string(), problem_message(e));
        None
    });
    let to = parse_time("to", q.to.as_deref()).unwrap_or_else(|e| {
        errors.insert("to".to_string(), problem_message(e));
        None
    });
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let filter = HistoryFilter {
        status,
        sms_type,
        sms_identifier,
        recipient,
        from,
        to,
        before_id: page.before,
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
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                })
                .collect(),
            next_cursor,
        },
    ))
}

fn problem_message(e: ApiError) -> String {
    match e {
        ApiError::Validation { errors, .. } => errors.into_values().next().unwrap_or_default(),
        other => other.to_string(),
    }
}
