//! `GET` and `PUT /admin/customers/{customer_id}/limits`: a customer's share of the lanes
//! (its weight in the fair order) and its rate limits (admin only).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::{Admin, ApiJson, ApiPath};
use super::responses::{JsonWriteErrors, LookupErrors, NotFound};
use crate::db::fair_share::{self as repo, Shares};
use crate::domain::FieldErrors;
use crate::domain::fair_share::{DEFAULT_WEIGHT, WEIGHTS};
use crate::state::AppState;

/// Largest limit an admin may set, per second.
pub const MAX_LIMIT: i32 = 100_000_000;

/// Body of `PUT /admin/customers/{customer_id}/limits`: replaces all three settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerLimitsRequest {
    /// Share of each lane while several customers have a backlog: a customer of weight 200
    /// drains twice as fast as one of 100. 1-10,000, default 100.
    #[serde(default = "default_weight")]
    #[schema(example = 100, minimum = 1, maximum = 10_000)]
    pub weight: i32,
    /// Requests a second; `null` or absent: `CUSTOMER_MAX_REQUESTS_PER_SEC`; 0: unlimited.
    #[schema(example = 50, minimum = 0, maximum = 100_000_000)]
    pub max_requests_per_sec: Option<i32>,
    /// Recipients a second; `null` or absent: `CUSTOMER_MAX_RECIPIENTS_PER_SEC`; 0: unlimited.
    #[schema(example = 5_000, minimum = 0, maximum = 100_000_000)]
    pub max_recipients_per_sec: Option<i32>,
}

fn default_weight() -> i32 {
    DEFAULT_WEIGHT
}

/// A customer's weight and limits: as set, and in effect (0: unlimited).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerLimits {
    pub customer_id: i64,
    pub weight: i32,
    /// As set (`null`: the configured default).
    pub max_requests_per_sec: Option<i32>,
    pub max_recipients_per_sec: Option<i32>,
    /// In effect.
    pub requests_per_sec: u32,
    pub recipients_per_sec: u32,
}

pub(super) fn view(state: &AppState, customer_id: i64, s: Shares) -> CustomerLimits {
    let intake = &state.config.intake;
    let effective = |own: Option<i32>, default: u32| own.map_or(default, |v| v.max(0) as u32);
    CustomerLimits {
        customer_id,
        weight: s.weight,
        max_requests_per_sec: s.max_requests_per_sec,
        max_recipients_per_sec: s.max_recipients_per_sec,
        requests_per_sec: effective(s.max_requests_per_sec, intake.customer_requests_per_sec),
        recipients_per_sec: effective(s.max_recipients_per_sec, intake.customer_recipients_per_sec),
    }
}

/// A customer's weight and rate limits.
#[utoipa::path(
    get, path = "/admin/customers/{customer_id}/limits", tag = "admin",
    security(("admin_token" = [])),
    params(("customer_id" = i64, Path, description = "The customer")),
    responses(
        (status = 200, description = "Its weight and limits", body = CustomerLimits),
        LookupErrors,
    )
)]
pub async fn get_limits(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(customer_id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let shares = repo::shares(&state.db, customer_id)
        .await?
        .ok_or_else(|| ApiError::unknown_customer(customer_id))?;
    Ok(super::json_response(
        StatusCode::OK,
        &view(&state, customer_id, shares),
    ))
}

/// Sets a customer's weight and rate limits. They apply to its next request, in every api
/// process (acceptance reads them in its transaction).
#[utoipa::path(
    put, path = "/admin/customers/{customer_id}/limits", tag = "admin",
    security(("admin_token" = [])),
    params(("customer_id" = i64, Path, description = "The customer")),
    request_body = CustomerLimitsRequest,
    responses(
        (status = 200, description = "Set", body = CustomerLimits),
        NotFound, JsonWriteErrors,
    )
)]
pub async fn put_limits(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(customer_id): ApiPath<i64>,
    ApiJson(req): ApiJson<CustomerLimitsRequest>,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::new();
    if !WEIGHTS.contains(&req.weight) {
        errors.add("weight", "must be between 1 and 10000");
    }
    for (field, value) in [
        ("max_requests_per_sec", req.max_requests_per_sec),
        ("max_recipients_per_sec", req.max_recipients_per_sec),
    ] {
        if value.is_some_and(|v| !(0..=MAX_LIMIT).contains(&v)) {
            errors.add(
                field,
                "must be between 0 (unlimited) and 100000000, or null",
            );
        }
    }
    errors.finish()?;
    let shares = Shares {
        weight: req.weight,
        max_requests_per_sec: req.max_requests_per_sec,
        max_recipients_per_sec: req.max_recipients_per_sec,
    };
    if !repo::set_shares(&state.db, customer_id, &shares).await? {
        return Err(ApiError::unknown_customer(customer_id));
    }
    tracing::info!(
        customer.id = customer_id,
        weight = shares.weight,
        max_requests_per_sec = shares.max_requests_per_sec,
        max_recipients_per_sec = shares.max_recipients_per_sec,
        "customer limits set"
    );
    Ok(super::json_response(
        StatusCode::OK,
        &view(&state, customer_id, shares),
    ))
}
