//! `GET /admin/dead-letters` and `POST /admin/dead-letters/replay`: the dead-letter queue,
//! listed and replayed through the outbox (`crate::outbox::dead_letters`).

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use lapin::Channel;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use super::extract::{Admin, ApiQuery};
use super::responses::{BadRequest, Forbidden, Unauthorized, Unavailable};
use crate::outbox::dead_letters::{self, DeadLetter, MAX_LIMIT, ReplayReport};
use crate::state::AppState;

/// How many dead letters a call looks at.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// 1-1000 (default 100), from the head of the queue.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl DeadLetterQuery {
    fn limit(&self) -> Result<u32, ApiError> {
        match self.limit.unwrap_or(100) {
            n @ 1..=MAX_LIMIT => Ok(n),
            _ => Err(ApiError::field("limit", "must be between 1 and 1000")),
        }
    }
}

/// The head of the dead-letter queue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadLetters {
    /// Messages in the dead-letter queue.
    pub total: u32,
    /// Up to `limit` of them, oldest first; they stay in the queue.
    pub items: Vec<DeadLetter>,
}

/// A channel on the broker connection, or 503 when the broker is unreachable.
async fn channel(state: &AppState) -> Result<Channel, ApiError> {
    let unavailable = || ApiError::Unavailable("the broker is unreachable; retry later".into());
    let never = CancellationToken::new();
    let wait = state.broker.connection(&never);
    let conn = tokio::time::timeout(Duration::from_secs(2), wait)
        .await
        .ok()
        .flatten()
        .ok_or_else(unavailable)?;
    let channel = conn.create_channel().await.map_err(|_| unavailable())?;
    crate::queue::topology::declare(&channel, &state.config.amqp)
        .await
        .map_err(|_| unavailable())?;
    Ok(channel)
}

/// Runs `op` on a channel of its own, closed afterwards; a broker that is unreachable or
/// fails the operation is a 503.
async fn on_a_channel<T, E, F, Fut>(state: &AppState, op: F) -> Result<T, ApiError>
where
    E: std::fmt::Display,
    F: FnOnce(Channel) -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let channel = channel(state).await?;
    let result = op(channel.clone()).await;
    let _ = channel.close(200, "done".into()).await;
    result.map_err(|e| {
        tracing::warn!(error = %e, "dead-letter queue operation failed");
        ApiError::Unavailable("the broker operation failed; retry later".into())
    })
}

/// Lists messages of the dead-letter queue (they stay in it).
#[utoipa::path(get, path = "/admin/dead-letters", tag = "admin",
    security(("admin_token" = [])),
    params(DeadLetterQuery),
    responses(
        (status = 200, description = "The head of the dead-letter queue", body = DeadLetters),
        BadRequest, Unauthorized, Forbidden, Unavailable,
    ))]
pub async fn list(
    State(state): State<AppState>,
    _: Admin,
    ApiQuery(query): ApiQuery<DeadLetterQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit()?;
    let amqp = &state.config.amqp;
    let body = on_a_channel(&state, |channel| async move {
        let total = crate::queue::topology::dead_letter_depth(&channel, amqp).await?;
        let items = dead_letters::list(&channel, amqp, limit).await?;
        Ok::<_, lapin::Error>(DeadLetters { total, items })
    })
    .await?;
    Ok(super::json_response(StatusCode::OK, &body))
}

/// Replays dead letters: each one naming a request puts it back into the outbox (open
/// recipients are sent once; finished ones are not sent again) and leaves the queue; the
/// others stay.
#[utoipa::path(post, path = "/admin/dead-letters/replay", tag = "admin",
    security(("admin_token" = [])),
    params(DeadLetterQuery),
    responses(
        (status = 200, description = "What was replayed", body = ReplayReport),
        BadRequest, Unauthorized, Forbidden, Unavailable,
    ))]
pub async fn replay(
    State(state): State<AppState>,
    _: Admin,
    ApiQuery(query): ApiQuery<DeadLetterQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit()?;
    let (db, amqp) = (&state.db, &state.config.amqp);
    let report = on_a_channel(&state, |channel| async move {
        dead_letters::replay(&channel, db, amqp, limit).await
    })
    .await?;
    tracing::warn!(
        replayed = report.replayed,
        skipped = report.skipped,
        "dead letters replayed"
    );
    Ok(super::json_response(StatusCode::OK, &report))
}
