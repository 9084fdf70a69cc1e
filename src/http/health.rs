//! `GET /healthz` (the process answers) and `GET /readyz` (the database can commit, the broker
//! is reachable where the role needs it, not draining).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db;
use crate::state::AppState;

/// Liveness answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

/// Readiness answer: each dependency `up` or `down`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// `ready`, `not_ready` or `draining`.
    pub status: String,
    /// `up` when the database committed a small write within 2 s.
    pub database: String,
    /// `up` while the RabbitMQ connection is open.
    pub broker: String,
    /// Whether this process's readiness needs the broker: false for the roles that serve
    /// intake (`api`, `all`; the outbox holds accepted messages during a broker outage), true
    /// for `publisher` and `worker`.
    pub broker_required: bool,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// The process can serve: the database commits a write, the broker is connected (for the
/// roles that need it: see `broker_required`), and it is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "A dependency is down, or the process is draining", body = Readiness),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = db::can_commit(&state.db, Duration::from_secs(2)).await;
    let broker = state.broker.is_connected();
    let draining = state.is_draining();
    let up = |b: bool| if b { "up" } else { "down" }.to_string();
    let broker_required = state.broker_gates_readiness;
    let ready = database && (broker || !broker_required) && !draining;
    let body = Readiness {
        status: if draining {
            "draining"
        } else if ready {
            "ready"
        } else {
            "not_ready"
        }
        .into(),
        database: up(database),
        broker: up(broker),
        broker_required,
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// Prometheus metrics of this process (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(),
    )
        .into_response()
}
