//! Operations endpoints of the admin: dispatch pause/resume, the operators' state and the
//! lanes' backlog and throughput.

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
    /// Recipients taken before the switch and not settled when it was committed. After a
    /// pause, no recipient is taken by any process; of these, those whose operator call had
    /// not started when their worker saw the pause (within ~250 ms) are given back unsent,
    /// the others finish.
    pub in_flight: u64,
}

/// Operators and dispatch.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OperatorsView {
    pub dispatch_paused: bool,
    /// In the normal lane's order, then express-only operators. Counters, and the limits'
    /// state (`effective_rps`, `throttled`), are this process's: each worker process keeps
    /// its own.
    pub operators: Vec<OperatorStatus>,
}

async fn set(state: &AppState, paused: bool) -> Result<Response, ApiError> {
    let in_flight = db::dispatch::set_paused(&state.db, paused).await?;
    tracing::warn!(paused, in_flight, "dispatch switch changed");
    Ok(super::json_response(
        StatusCode::OK,
        &DispatchState { paused, in_flight },
    ))
}

/// Stops sending. Once this answers, no recipient is taken by any worker process (the take
/// transaction reads the switch); `in_flight` recipients were taken before it and are
/// settled or given back; nothing is lost, and resume goes on where it stopped.
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

/// Each operator's circuit state, its limits (`max_rps`, the rate allowed now, whether a 429
/// has it slowed) and counters, and whether dispatch is paused.
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

/// Outbox rows counted at most per lane by `GET /admin/lanes` (each has at least one
/// recipient): bounds the index scan of one look.
const LANE_SCAN_CAP: u64 = 1_000_000;

/// The window of a lane's throughput, in seconds.
pub const THROUGHPUT_WINDOW_SECS: u32 = 60;

/// One lane's backlog and throughput.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LaneBacklog {
    pub lane: crate::domain::SmsType,
    /// Recipients of the lane's work in the outbox not yet all published (the backlog that
    /// `NORMAL_BACKLOG_LIMIT` bounds), counted over at most 1,000,000 outbox rows.
    pub waiting_recipients: u64,
    /// Recipients of the lane recorded SENT in the last 60 s, by every worker process (each
    /// adds its count once a second, so the last second may be missing).
    pub sent_last_minute: u64,
    /// `sent_last_minute` / 60, to two decimals.
    pub sent_per_sec: f64,
}

/// The lanes and whether dispatch is paused.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LanesView {
    pub dispatch_paused: bool,
    pub lanes: Vec<LaneBacklog>,
}

/// Each lane's backlog in the outbox (what `/metrics` samples as `smsgw_outbox_*`) and its
/// throughput over the last minute (recipients recorded SENT by every worker process), for
/// the console's lanes view.
#[utoipa::path(get, path = "/admin/lanes", tag = "admin",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Lanes", body = LanesView),
        Unauthorized, Forbidden, Unavailable,
    ))]
pub async fn lanes(State(state): State<AppState>, _: Admin) -> Result<Response, ApiError> {
    use crate::domain::SmsType;
    let dispatch_paused = db::dispatch::is_paused(&state.db).await?;
    let mut lanes = Vec::new();
    for lane in [SmsType::Express, SmsType::Normal] {
        let waiting_recipients =
            db::outbox::waiting_recipients(&state.db, lane.priority(), LANE_SCAN_CAP).await?;
        let sent_last_minute =
            db::lane_sent::sent_since(&state.db, lane, THROUGHPUT_WINDOW_SECS).await?;
        let per_sec = sent_last_minute as f64 / f64::from(THROUGHPUT_WINDOW_SECS);
        lanes.push(LaneBacklog {
            lane,
            waiting_recipients,
            sent_last_minute,
            sent_per_sec: (per_sec * 100.0).round() / 100.0,
        });
    }
    Ok(super::json_response(
        StatusCode::OK,
        &LanesView {
            dispatch_paused,
            lanes,
        },
    ))
}
