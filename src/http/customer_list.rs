//! `GET /admin/customers`: the admin's list of customers, searchable by name (the console's
//! customers page).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use super::extract::{Admin, ApiQuery};
use super::pagination::PageRequest;
use super::responses::{BadRequest, Forbidden, Unauthorized, Unavailable};
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
    let items = rows
        .into_iter()
        .map(|r| CustomerSummary {
            customer_id: r.id,
            name: r.name,
            api_key_hint: r.api_key_hint,
            balance: r.balance,
            weight: r.weight,
            created_at: r.created_at,
        })
        .collect();
    Ok(super::json_response(
        StatusCode::OK,
        &CustomerList { items, next_cursor },
    ))
}
