//! `GET /admin/customers`: the admin's list of customers, searchable by name (the console's
//! customers page), and `GET /admin/customers/{customer_id}`: one of them (its page).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use super::extract::{Admin, ApiPath, ApiQuery};
use super::pagination::PageRequest;
use super::responses::{BadRequest, Forbidden, LookupErrors, Unauthorized, Unavailable};
use crate::db;
use crate::state::AppState;

/// Longest `search`: a customer's name is at most 100 characters.
const MAX_SEARCH: usize = 100;

/// Query of `GET /admin/customers`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerListQuery {
    /// Only customers whose name contains this (case-insensitive).
    #[param(max_length = 100)]
    pub search: Option<String>,
    /// Page size, 1-100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A customer in the list. The API key itself is never shown again: only its hint.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerSummary {
    pub customer_id: i64,
    pub name: String,
    /// The first characters of its API key.
    pub api_key_hint: String,
    pub balance: i64,
    /// Its share of delivery while customers wait (see `PUT .../limits`).
    pub weight: i32,
    pub created_at: DateTime<Utc>,
}

impl From<db::customers::Listed> for CustomerSummary {
    fn from(r: db::customers::Listed) -> Self {
        Self {
            customer_id: r.id,
            name: r.name,
            api_key_hint: r.api_key_hint,
            balance: r.balance,
            weight: r.weight,
            created_at: r.created_at,
        }
    }
}

/// A page of customers, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerList {
    pub items: Vec<CustomerSummary>,
    /// Cursor of the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// Lists customers, newest first, optionally those whose name contains `search`.
#[utoipa::path(
    get, path = "/admin/customers", tag = "admin",
    security(("admin_token" = [])),
    params(CustomerListQuery),
    responses(
        (status = 200, description = "A page of customers", body = CustomerList),
        BadRequest, Unauthorized, Forbidden, Unavailable,
    )
)]
pub async fn list_customers(
    State(state): State<AppState>,
    _: Admin,
    ApiQuery(query): ApiQuery<CustomerListQuery>,
) -> Result<Response, ApiError> {
    let page = PageRequest::parse(query.limit, query.cursor.as_deref())?;
    let search = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.chars().count() > MAX_SEARCH) {
        return Err(ApiError::field(
            "search",
            format!("at most {MAX_SEARCH} characters (a name is at most 100)"),
        ));
    }
    let rows = db::customers::list(&state.db, search, page.before, page.fetch()).await?;
    let (rows, next_cursor) = page.split(rows, |r| r.id);
    let items = rows.into_iter().map(CustomerSummary::from).collect();
    Ok(super::json_response(
        StatusCode::OK,
        &CustomerList { items, next_cursor },
    ))
}

/// One customer, as its page in the console shows it. The API key itself is never shown
/// again: only its hint.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerDetail {
    /// What the list shows of it.
    #[serde(flatten)]
    pub summary: CustomerSummary,
    /// Its own rate limits as set (`null`: the configured default; 0: unlimited).
    pub max_requests_per_sec: Option<i32>,
    pub max_recipients_per_sec: Option<i32>,
    /// The rate limits in effect (0: unlimited).
    pub requests_per_sec: u32,
    pub recipients_per_sec: u32,
    /// How many sender ids it may send from (`GET .../senders` lists them).
    pub senders: i64,
    /// Its default sender id, if it has one.
    pub default_sender: Option<String>,
    /// Its webhook for delivery-status callbacks, if set.
    pub callback_url: Option<String>,
    /// Its live console sessions (opened with its current key, neither expired nor idle).
    pub console_sessions: i64,
    /// Its callback events parked after their retries (`GET /callbacks/parked?user_id=`
    /// lists them, `POST /callbacks/replay?user_id=` replays them), counted up to 10,000.
    pub parked_callbacks: i64,
}

/// One customer: what the list shows, plus its limits, sender ids, webhook, sessions and
/// parked callbacks.
#[utoipa::path(
    get, path = "/admin/customers/{customer_id}", tag = "admin",
    security(("admin_token" = [])),
    params(("customer_id" = i64, Path, description = "The customer")),
    responses(
        (status = 200, description = "The customer", body = CustomerDetail),
        LookupErrors,
    )
)]
pub async fn get_customer(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(customer_id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let at = super::session_auth::cutoffs(&state, Utc::now());
    let c = db::customers::detail(&state.db, customer_id, at)
        .await?
        .ok_or_else(|| ApiError::unknown_customer(customer_id))?;
    let limits = super::customer_limits::view(
        &state,
        c.listed.id,
        db::fair_share::Shares {
            weight: c.listed.weight,
            max_requests_per_sec: c.max_requests_per_sec,
            max_recipients_per_sec: c.max_recipients_per_sec,
        },
    );
    Ok(super::json_response(
        StatusCode::OK,
        &CustomerDetail {
            summary: c.listed.into(),
            max_requests_per_sec: c.max_requests_per_sec,
            max_recipients_per_sec: c.max_recipients_per_sec,
            requests_per_sec: limits.requests_per_sec,
            recipients_per_sec: limits.recipients_per_sec,
            senders: c.senders,
            default_sender: c.default_sender,
            callback_url: c.callback_url,
            console_sessions: c.console_sessions,
            parked_callbacks: c.parked_callbacks,
        },
    ))
}
