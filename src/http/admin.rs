//! Operations endpoints of the admin: dispatch pause/resume and the operators' state.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::Admin;
use super::responses::{Forbidden, Unauthorized, Unavailable};
use crate::db;
use crate::operators::OperatorStatus;
use crate::state::AppState;

/// The dispatch switch.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DispatchState {
    /// True while workers take no new message (nothing is lost: messages wait in the queues).
    pub paused: bool,
}

/// Operators and dispatch.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OperatorsView {
    pub dispatch_paused: bool,
    /// In the normal lane's order, then express-only operators. Counters are this process's.
    pub operators: Vec<OperatorStatus>,
}

async fn set(state: &AppState, paused: bool) -> Result<Response, ApiError> {
    db::dispatch::set_paused(&state.db, paused).await?;
    tracing::warn!(paused, "dispatch switch changed");
    Ok(super::json_response(
        StatusCode::OK,
        &DispatchState { paused },
    ))
}

/// Stops sending: workers take no new message until resumed (within ~250 ms on every
/// worker process); in-flight sends finish; nothing is lost.
#[utoipa::path(post, path = "/admin/dispatch/pause", tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Paused", body = DispatchState),
        Unauthorized, Forbidden, Unavailable,
    ))]
pub async fn pause(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    set(&state, true).await
}

/// Resumes sending.
#[utoipa::path(post, path = "/admin/dispatch/resume", tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Resumed", body = DispatchState),
        Unauthorized, Forbidden, Unavailable,
    ))]
pub async fn resume(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    set(&state, false).await
}

/// Each operator's circuit state and counters, and whether dispatch is paused.
#[utoipa::path(get, path = "/admin/operators", tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Operators", body = OperatorsView),
        Unauthorized, Forbidden, Unavailable,
    ))]
pub async fn operators(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    let dispatch_paused = db::dispatch::is_paused(&state.db).await?;
    let operators = state
        .operators
        .as_ref()
        .map(|r| r.statuses())
        .unwrap_or_default();
    Ok(super::json_response(
        StatusCode::OK,
        &OperatorsView {
            dispatch_paused,
            operators,
        },
    ))
}
