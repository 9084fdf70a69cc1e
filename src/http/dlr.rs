//! `POST /dlr/{operator}`: delivery reports, authenticated by the operator's own key.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, bearer};
use super::responses::{
    BadRequest, NotFound, PayloadTooLarge, Unauthorized, Unavailable, UnsupportedMediaType,
};
use crate::db::held_reports;
use crate::db::reports::{self, ReportOutcome};
use crate::domain::FieldErrors;
use crate::domain::final_state;
use crate::metrics::HeldOutcome;
use crate::state::AppState;

/// A delivery report. Unknown fields are ignored (operators add their own).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryReport {
    /// The id the operator returned when it accepted the message.
    #[schema(min_length = 1, max_length = 128)]
    pub message_id: String,
    /// SMPP-style state: DELIVRD; UNDELIV, REJECTD, EXPIRED, DELETED; or an intermediate
    /// state such as ACCEPTD or ENROUTE (recorded in the timeline only).
    #[schema(example = "DELIVRD")]
    pub status: String,
}

/// What the gateway did with a report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryReportAck {
    /// `applied` (the message moved to DELIVERED or UNDELIVERED), `recorded` (timeline only:
    /// intermediate, duplicate or late report) or, with 202, `held` (no message has this id
    /// yet: the report is applied once the operator's answer to the send is recorded, or
    /// dropped after `DLR_HOLD_SECS`).
    pub result: String,
}

/// Holds a report for a message id no message has yet; 503 (retry later) when
/// `DLR_HOLD_MAX` reports are held already.
async fn hold(
    state: &AppState,
    operator: &str,
    message_id: &str,
    status: &str,
) -> Result<(), ApiError> {
    if held_reports::count(&state.db).await? >= state.config.reports.hold_max {
        return Err(ApiError::Unavailable(format!(
            "no message has id {message_id:?} yet and too many such reports are held; retry later"
        )));
    }
    held_reports::hold(&state.db, operator, message_id, status).await?;
    crate::metrics::dlr_held(operator, HeldOutcome::Held);
    Ok(())
}

/// Receives an operator's delivery report.
#[utoipa::path(
    post, path = "/dlr/{operator}", tag = "delivery reports",
    security(("operator_key" = [])),
    params(("operator" = String, Path, description = "The operator's configured name")),
    request_body = DeliveryReport,
    responses(
        (status = 200, description = "Applied or recorded", body = DeliveryReportAck),
        (status = 202, description = "Held: no message has this id yet", body = DeliveryReportAck),
        BadRequest, Unauthorized, NotFound, PayloadTooLarge, UnsupportedMediaType, Unavailable,
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    ApiPath(operator): ApiPath<String>,
    headers: HeaderMap,
    body: Result<ApiJson<DeliveryReport>, ApiError>,
) -> Result<Response, ApiError> {
    let op = state
        .operators
        .as_ref()
        .and_then(|r| r.get(&operator))
        .ok_or_else(|| ApiError::NotFound(format!("no operator named {operator:?}")))?;
    // Authenticate before looking at the body: a stranger gets 401, not a parse error.
    if !op.verify_key(bearer(&headers)?) {
        return Err(ApiError::Unauthorized("wrong operator key"));
    }
    let ApiJson(report) = body?;
    let status = report.status.trim().to_ascii_uppercase();
    let mut errors = FieldErrors::default();
    errors.check(
        report.message_id.is_empty() || report.message_id.len() > 128,
        "message_id",
        "must be 1-128 characters",
    );
    let status_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    errors.check(
        status.is_empty() || status.len() > 16 || !status.bytes().all(status_word),
        "status",
        "must be 1-16 letters, digits or '_'",
    );
    errors.finish()?;
    let outcome = reports::apply_report(
        &state.db,
        &operator,
        &report.message_id,
        &status,
        final_state(&status),
    )
    .await?;
    let (code, result) = match outcome {
        // Not known (yet): the operator may report before the gateway has recorded its
        // answer to the send. Held, and applied once the message id is recorded.
        ReportOutcome::UnknownMessage => {
            hold(&state, &operator, &report.message_id, &status).await?;
            (StatusCode::ACCEPTED, "held")
        }
        ReportOutcome::Applied => (StatusCode::OK, "applied"),
        ReportOutcome::Recorded => (StatusCode::OK, "recorded"),
    };
    crate::metrics::dlr_report(&operator, &status);
    tracing::info!(operator.name = %operator, report = %status, result, "delivery report");
    Ok(super::json_response(
        code,
        &DeliveryReportAck {
            result: result.into(),
        },
    ))
}
