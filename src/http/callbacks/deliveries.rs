//! `GET /callbacks/deliveries` (the recent POSTs), `GET /callbacks/parked` (events whose
//! retries ran out) and `POST /callbacks/replay` (parked events pending again).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::CustomerQuery;
use crate::db::callbacks::{self as repo, log};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ForCustomer, NamesCustomer};
use crate::http::pagination::PageRequest;
use crate::http::responses::{JsonWriteErrors, LookupErrors};
use crate::state::AppState;

/// Query of the two lists.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The customer (admin token only; a key may name only its own).
    #[serde(rename = "user_id")]
    #[param(rename = "user_id")]
    pub customer_id: Option<i64>,
    /// Rows per page, 1-100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl NamesCustomer for ListQuery {
    fn customer_id(&self) -> Option<i64> {
        self.customer_id
    }
}

/// One callback POST.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallbackDelivery {
    pub url: String,
    /// Events it carried.
    pub events: i32,
    /// `delivered` (2xx), `failed` (another status), `unreachable` (no answer: connection,
    /// TLS, timeout) or `refused` (a private, loopback or link-local target).
    #[schema(example = "delivered")]
    pub outcome: String,
    pub http_status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
    pub at: DateTime<Utc>,
}

/// A page of POSTs, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallbackDeliveryPage {
    pub items: Vec<CallbackDelivery>,
    pub next_cursor: Option<String>,
}

/// A parked event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ParkedEvent {
    #[schema(example = "evt_1024")]
    pub event_id: String,
    pub status: String,
    pub sms_identifier: String,
    pub recipient: String,
    pub occurred_at: DateTime<Utc>,
    /// POSTs tried.
    pub attempts: i32,
    pub last_error: Option<String>,
    pub parked_at: DateTime<Utc>,
}

/// A page of parked events, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ParkedPage {
    pub items: Vec<ParkedEvent>,
    pub next_cursor: Option<String>,
}

/// Body of `POST /callbacks/replay`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// The parked events to replay (`evt_...`, at most 1,000); absent: all of them.
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub event_ids: Option<Vec<String>>,
}

/// What a replay did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReplayResult {
    /// Parked events made pending again (due now, with a fresh retry period).
    pub replayed: u64,
}

/// The customer's recent callback POSTs (kept `CALLBACK_LOG_DAYS`), newest first.
#[utoipa::path(
    get, path = "/callbacks/deliveries", tag = "callbacks",
    security(("api_key" = []), ("admin_token" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of POSTs", body = CallbackDeliveryPage),
        LookupErrors,
    )
)]
pub async fn list_deliveries(
    State(state): State<AppState>,
    ForCustomer { customer_id, query }: ForCustomer<ListQuery>,
) -> Result<Response, ApiError> {
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let rows = log::recent(&state.db, customer_id, page.before, page.fetch()).await?;
    let (rows, next_cursor) = page.split(rows, |r| r.id);
    let items = rows
        .into_iter()
        .map(|r| CallbackDelivery {
            url: r.url,
            events: r.events,
            outcome: r.outcome,
            http_status: r.http_status,
            error: r.error,
            duration_ms: r.duration_ms,
            at: r.created_at,
        })
        .collect();
    Ok(crate::http::json_response(
        StatusCode::OK,
        &CallbackDeliveryPage { items, next_cursor },
    ))
}

/// The customer's parked events: their retries (`CALLBACK_RETRY_PERIOD_SECS`) ran out.
#[utoipa::path(
    get, path = "/callbacks/parked", tag = "callbacks",
    security(("api_key" = []), ("admin_token" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of parked events", body = ParkedPage),
        LookupErrors,
    )
)]
pub async fn list_parked(
    State(state): State<AppState>,
    ForCustomer { customer_id, query }: ForCustomer<ListQuery>,
) -> Result<Response, ApiError> {
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let rows = repo::parked(&state.db, customer_id, page.before, page.fetch()).await?;
    let (rows, next_cursor) = page.split(rows, |r| r.id);
    let items = rows
        .into_iter()
        .map(|r| ParkedEvent {
            event_id: format!("evt_{}", r.id),
            status: r.status,
            sms_identifier: r.sms_identifier,
            recipient: r.recipient,
            occurred_at: r.occurred_at,
            attempts: r.attempts,
            last_error: r.last_error,
            parked_at: r.parked_at,
        })
        .collect();
    Ok(crate::http::json_response(
        StatusCode::OK,
        &ParkedPage { items, next_cursor },
    ))
}

/// Makes parked events pending again: all of the customer's, or those named. Each is
/// delivered (or retried, and parked again) as a new event would be, under its own
/// `event_id`.
#[utoipa::path(
    post, path = "/callbacks/replay", tag = "callbacks",
    security(("api_key" = []), ("admin_token" = [])),
    params(CustomerQuery),
    request_body = ReplayRequest,
    responses(
        (status = 200, description = "Replayed", body = ReplayResult),
        JsonWriteErrors,
    )
)]
pub async fn replay(
    State(state): State<AppState>,
    ForCustomer { customer_id, .. }: ForCustomer<CustomerQuery>,
    ApiJson(req): ApiJson<ReplayRequest>,
) -> Result<Response, ApiError> {
    let ids = match &req.event_ids {
        None => None,
        Some(ids) if ids.len() > 1_000 => {
            return Err(ApiError::field("event_ids", "at most 1,000"));
        }
        Some(ids) => Some(
            ids.iter()
                .map(|id| {
                    id.strip_prefix("evt_")
                        .and_then(|n| n.parse::<i64>().ok())
                        .ok_or_else(|| {
                            ApiError::field(
                                "event_ids",
                                format!("{id:?} is not an event id (evt_<number>)"),
                            )
                        })
                })
                .collect::<Result<Vec<i64>, ApiError>>()?,
        ),
    };
    let replayed = repo::replay(&state.db, customer_id, ids.as_deref()).await?;
    tracing::info!(
        customer.id = customer_id,
        replayed,
        "parked callbacks replayed"
    );
    Ok(crate::http::json_response(
        StatusCode::OK,
        &ReplayResult { replayed },
    ))
}
