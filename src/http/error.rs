//! `ApiError`: every failure of the HTTP API, rendered as RFC 9457 `application/problem+json`.
//!
//! Database and internal errors become a 500 (or a 503 when the pool is exhausted) that is
//! logged with its cause chain but never shown to the caller.

use crate::domain::FieldErrors;
use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Media type of error bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/validation-error",
    "title": "Invalid request",
    "status": 400,
    "detail": "2 fields are invalid",
    "errors": {"recipients[1]": "not a valid phone number for its country"}
}))]
pub struct Problem {
    /// URI reference identifying the problem type (see docs/API.md, "Problem types").
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// Validation failures: field (JSON path such as `recipients[2]`) -> message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, String>>,
    /// Current balance (insufficient balance only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<i64>,
    /// Credits the request needed (insufficient balance only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<i64>,
    /// Which limit refused the request: `requests` or `recipients` (429 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// The limit, per second (429 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_per_second: Option<u32>,
    /// Milliseconds until the same request would be accepted (429, and 503 for a backlog);
    /// `Retry-After` says the same in whole seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// Every error the API returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: some fields are invalid.
    #[error("invalid request")]
    Validation {
        detail: String,
        errors: BTreeMap<String, String>,
    },
    /// 400: the request is malformed (bad JSON, bad query string).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401: no or unknown credentials.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// 403: valid credentials that may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 403: a send's `from` is not one of the customer's sender ids; nothing was charged.
    #[error("unknown sender")]
    UnknownSender(String),
    /// 404.
    #[error("not found: {0}")]
    NotFound(String),
    /// 409: conflicts with existing state (idempotency key reuse, duplicate name).
    #[error("conflict: {0}")]
    Conflict(String),
    /// 402: the balance does not cover the request; nothing was charged.
    #[error("insufficient balance")]
    InsufficientBalance { balance: i64, required: i64 },
    /// 413: the body is larger than `MAX_BODY_BYTES`.
    #[error("payload too large")]
    PayloadTooLarge(String),
    /// 415: the body is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 503: the request took longer than `REQUEST_TIMEOUT_MS`, or a dependency is down.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 429: the customer is over one of its rate limits; nothing was charged.
    #[error("rate limited")]
    RateLimited {
        limit: &'static str,
        per_second: u32,
        retry_after: std::time::Duration,
    },
    /// 503: the lane's backlog is over its bound; nothing was charged. Retry later.
    #[error("backlogged: {detail}")]
    Backlogged {
        detail: String,
        retry_after: std::time::Duration,
    },
    /// 500 from the database.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// 500 from anything else.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A validation error from a field map.
    pub fn validation(errors: impl Into<BTreeMap<String, String>>) -> Self {
        let errors = errors.into();
        let detail = match errors.len() {
            1 => {
                let (field, msg) = errors.iter().next().expect("one entry");
                format!("{field}: {msg}")
            }
            n => format!("{n} fields are invalid"),
        };
        Self::Validation { detail, errors }
    }

    /// A validation error on one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(BTreeMap::from([(field.to_string(), message.into())]))
    }

    /// 404 for a customer id that names no customer.
    pub fn unknown_customer(customer_id: i64) -> Self {
        Self::NotFound(format!("customer {customer_id} does not exist"))
    }

    /// How long the caller should wait before the same request, when this error says.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Backlogged { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// The status code of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation { .. } | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::UnknownSender(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::InsufficientBalance { .. } => StatusCode::PAYMENT_REQUIRED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) | Self::Backlogged { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Database(e) if is_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let (slug, title) = match self {
            Self::Validation { .. } => ("validation-error", "Invalid request"),
            Self::BadRequest(_) => ("bad-request", "Malformed request"),
            Self::Unauthorized(_) => ("unauthorized", "Missing or unknown credentials"),
            Self::Forbidden(_) => ("forbidden", "Not allowed"),
            Self::UnknownSender(_) => ("unknown-sender", "Sender not allowed"),
            Self::NotFound(_) => ("not-found", "Not found"),
            Self::Conflict(_) => ("conflict", "Conflict"),
            Self::InsufficientBalance { .. } => ("insufficient-balance", "Insufficient balance"),
            Self::PayloadTooLarge(_) => ("payload-too-large", "Request body too large"),
            Self::UnsupportedMediaType => ("unsupported-media-type", "Unsupported media type"),
            Self::Unavailable(_) => ("unavailable", "Service unavailable"),
            Self::RateLimited { .. } => ("rate-limited", "Too many requests"),
            Self::Backlogged { .. } => ("backlogged", "Backlog over its bound"),
            Self::Database(_) | Self::Internal(_) if status == StatusCode::SERVICE_UNAVAILABLE => {
                ("unavailable", "Service unavailable")
            }
            Self::Database(_) | Self::Internal(_) => ("internal-error", "Internal server error"),
        };
        let detail = match self {
            Self::Validation { detail, .. } => detail.clone(),
            Self::BadRequest(d)
            | Self::Forbidden(d)
            | Self::NotFound(d)
            | Self::Conflict(d)
            | Self::PayloadTooLarge(d)
            | Self::Unavailable(d)
            | Self::Backlogged { detail: d, .. } => d.clone(),
            Self::RateLimited {
                limit, per_second, ..
            } => format!(
                "over this customer's limit of {per_second} {limit} a second; nothing was charged"
            ),
            Self::Unauthorized(d) => (*d).to_string(),
            Self::UnknownSender(s) => format!(
                "{s:?} is not one of this customer's sender ids (GET /senders); nothing was charged"
            ),
            Self::InsufficientBalance { balance, required } => format!(
                "this request costs {required} credits but the balance is {balance}; nothing was charged"
            ),
            Self::UnsupportedMediaType => {
                "send the body as JSON with Content-Type: application/json".into()
            }
            Self::Database(_) if status == StatusCode::SERVICE_UNAVAILABLE => {
                "the database is busy or unreachable; retry later".into()
            }
            Self::Database(_) | Self::Internal(_) => {
                "an internal error occurred; it has been logged".into()
            }
        };
        let (balance, required) = match self {
            Self::InsufficientBalance { balance, required } => (Some(*balance), Some(*required)),
            _ => (None, None),
        };
        let (limit, limit_per_second) = match self {
            Self::RateLimited {
                limit, per_second, ..
            } => (Some((*limit).to_string()), Some(*per_second)),
            _ => (None, None),
        };
        Problem {
            limit,
            limit_per_second,
            retry_after_ms: self.retry_after().map(|d| d.as_millis() as u64),
            problem_type: format!("/problems/{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            errors: match self {
                Self::Validation { errors, .. } => Some(errors.clone()),
                _ => None,
            },
            balance,
            required,
        }
    }
}

impl From<crate::intake::AcceptError> for ApiError {
    /// Every failure of an acceptance is a 503: nothing was charged, or (when the database
    /// could not tell within `INTAKE_RESOLVE_TIMEOUT_MS`) the answer names the request id to
    /// look up. Never a 500 that leaves the client to guess.
    fn from(e: crate::intake::AcceptError) -> Self {
        use crate::intake::AcceptError;
        match e {
            AcceptError::Database(e) => {
                tracing::warn!(error = %e, "acceptance failed before its commit; nothing charged");
                Self::nothing_charged()
            }
            AcceptError::NotCommitted => {
                tracing::warn!(
                    "acceptance not committed (queued past its bound, or its commit looked up and found rolled back); nothing charged"
                );
                Self::nothing_charged()
            }
            AcceptError::CommitFailed {
                sms_identifier,
                error,
            } => {
                tracing::error!(sms.id = %sms_identifier, error = %error, "acceptance commit of unknown outcome");
                Self::Unavailable(format!(
                    "the database did not confirm whether request {sms_identifier} was accepted; \
                     GET /sms/{sms_identifier} tells (404: nothing was charged)"
                ))
            }
            AcceptError::Stopped => {
                Self::Unavailable("the service is stopping; nothing charged; retry later".into())
            }
        }
    }
}

impl ApiError {
    /// 503 for a write that certainly did not happen.
    pub fn nothing_charged() -> Self {
        Self::Unavailable(
            "the database could not complete the request in time; nothing charged; retry later"
                .into(),
        )
    }
}

/// Errors worth a retry by the client (503 with `Retry-After`): the pool or the server is
/// out of connections or unreachable, or InnoDB gave up on a lock (deadlock 1213, lock wait
/// timeout 1205, too many connections 1040). Nothing was committed in any of these.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(d) => crate::db::is_transient(d.as_ref()),
        _ => false,
    }
}

/// Writes a problem document with its status and media type.
pub fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Database(e) => tracing::error!(error = %e, error.debug = ?e, "database error"),
            Self::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
            _ => {}
        }
        let mut resp = problem_response(&self.problem());
        match status {
            StatusCode::UNAUTHORIZED => {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => {
                // Whole seconds, rounded up: never earlier than the limit allows.
                let secs = self
                    .retry_after()
                    .map_or(1, |d| d.as_micros().div_ceil(1_000_000).max(1));
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs as u64));
            }
            _ => {}
        }
        resp
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self::validation(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_contract() {
        assert_eq!(ApiError::field("text", "x").status(), 400);
        assert_eq!(ApiError::Unauthorized("x").status(), 401);
        assert_eq!(
            ApiError::InsufficientBalance {
                balance: 1,
                required: 2
            }
            .status(),
            402
        );
        assert_eq!(ApiError::Forbidden("x".into()).status(), 403);
        assert_eq!(ApiError::Conflict("x".into()).status(), 409);
        assert_eq!(ApiError::Database(sqlx::Error::PoolTimedOut).status(), 503);
        assert_eq!(ApiError::Database(sqlx::Error::RowNotFound).status(), 500);
    }

    #[test]
    fn internal_details_are_not_exposed() {
        let p = ApiError::Internal(anyhow::anyhow!("secret table name")).problem();
        assert!(!p.detail.contains("secret"));
        assert_eq!(p.status, 500);
    }

    #[test]
    fn validation_problem_lists_fields() {
        let p = ApiError::field("recipients[0]", "bad").problem();
        assert_eq!(p.problem_type, "/problems/validation-error");
        assert_eq!(p.detail, "recipients[0]: bad");
        assert_eq!(p.errors.unwrap()["recipients[0]"], "bad");
    }
}
