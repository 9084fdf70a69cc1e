//! The HTTP API: router, middleware (request ids, tracing, timeout, body limit, panic
//! catching) and one module per resource.

pub mod admin;
pub mod balance;
pub mod callbacks;
pub mod caller;
pub mod console;
pub mod customer_limits;
pub mod customer_list;
pub mod customers;
pub mod dead_letters;
pub mod dlr;
pub mod error;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod openapi;
pub mod pagination;
pub mod reports;
pub mod responses;
pub mod senders;
pub mod session;
pub mod session_auth;
pub mod sms;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::Serialize;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use self::error::ApiError;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Serializes `body` as a JSON response.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut resp = (status, bytes).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => ApiError::Internal(e.into()).into_response(),
    }
}

/// The complete router with its middleware.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.http.max_body_bytes;
    let api = Router::new()
        .route(
            "/admin/customers",
            get(customer_list::list_customers).post(customers::create_customer),
        )
        .route(
            "/admin/customers/{customer_id}",
            get(customer_list::get_customer),
        )
        .route(
            "/admin/customers/{customer_id}/limits",
            get(customer_limits::get_limits).put(customer_limits::put_limits),
        )
        .route(
            "/admin/customers/{customer_id}/api-key",
            post(customers::rotate_api_key),
        )
        .route(
            "/admin/customers/{customer_id}/sessions",
            delete(session::revoke_customer_sessions),
        )
        .route(
            "/admin/customers/{customer_id}/senders",
            get(senders::list_senders).post(senders::add_sender),
        )
        .route(
            "/admin/customers/{customer_id}/senders/{sender}",
            delete(senders::remove_sender),
        )
        .route(
            "/admin/customers/{customer_id}/senders/{sender}/default",
            put(senders::set_default_sender),
        )
        .route("/senders", get(senders::own_senders))
        .route("/api-key", post(customers::rotate_own_api_key))
        .route(
            "/session",
            post(session::sign_in)
                .get(session::get_session)
                .delete(session::sign_out),
        )
        .route("/admin/dispatch/pause", post(admin::pause))
        .route("/admin/dispatch/resume", post(admin::resume))
        .route("/admin/operators", get(admin::operators))
        .route("/admin/lanes", get(admin::lanes))
        .route("/admin/dead-letters", get(dead_letters::list))
        .route("/admin/dead-letters/replay", post(dead_letters::replay))
        .route(
            "/callbacks/settings",
            get(callbacks::get_settings).put(callbacks::put_settings),
        )
        .route(
            "/callbacks/settings/rotate-secret",
            post(callbacks::rotate_secret),
        )
        .route(
            "/callbacks/deliveries",
            get(callbacks::deliveries::list_deliveries),
        )
        .route("/callbacks/parked", get(callbacks::deliveries::list_parked))
        .route("/callbacks/replay", post(callbacks::deliveries::replay))
        .route("/balance/add", post(balance::add_balance))
        .route("/balance", get(balance::get_balance))
        .route("/dlr/{operator}", post(dlr::receive))
        .route("/reports/daily", get(reports::daily_report))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(sms::router())
        .merge(console::router())
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);

    Router::new()
        .merge(
            SwaggerUi::new("/swagger-ui").url("/api-docs/openapi.json", openapi::ApiDoc::openapi()),
        )
        .merge(api)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|req: &Request| {
                            let route = req
                                .extensions()
                                .get::<MatchedPath>()
                                .map(|p| p.as_str().to_owned())
                                .unwrap_or_else(|| "unmatched".into());
                            let request_id = req
                                .headers()
                                .get(REQUEST_ID)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("");
                            let span = tracing::info_span!(
                                "http.request",
                                otel.name = %format_args!("{} {}", req.method(), route),
                                otel.kind = "server",
                                http.method = %req.method(),
                                http.route = %route,
                                request.id = %request_id,
                            );
                            // A caller's W3C trace context makes this request part of its trace.
                            let parent = req
                                .headers()
                                .get("traceparent")
                                .and_then(|v| v.to_str().ok());
                            crate::telemetry::set_parent(&span, parent);
                            span
                        })
                        // A 5xx is logged where it is decided: 500s at ERROR by `ApiError`, answers
                        // that refuse on purpose (503 with Retry-After: overload, a stop, a database
                        // away, nothing charged) at WARN. The layer's own line is a WARN too, not a
                        // second ERROR for a refusal the service made by design.
                        .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)),
                )
                .layer(middleware::from_fn(record_metrics))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(|_| {
                    tracing::error!("handler panicked");
                    ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
                }))
                .layer(DefaultBodyLimit::max(max_body)),
        )
}

/// The router of the roles without the API (publisher, worker): health and metrics only.
pub fn ops_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(not_found)
        .with_state(state)
        .layer(middleware::from_fn(record_metrics))
}

/// Counts every answered request and its latency by method, route template and status; for
/// `POST /sms/send`, a refusal also counts as an intake rejection with its reason.
async fn record_metrics(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let method = req.method().clone();
    let resp = next.run(req).await;
    let status = resp.status();
    // Unknown paths share one label so a scanner cannot blow up the series count.
    let route = route.as_deref().unwrap_or("unmatched");
    crate::metrics::http_request(method.as_str(), route, status.as_u16(), started.elapsed());
    if route == "/sms/send" && !status.is_success() {
        crate::metrics::intake_rejected(rejection_reason(status));
    }
    resp
}

/// The intake rejection reason of an error status of `POST /sms/send`.
fn rejection_reason(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_request",
        401 => "unauthorized",
        402 => "insufficient_balance",
        403 => "forbidden",
        404 => "unknown_customer",
        409 => "idempotency_conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        429 => "rate_limited",
        503 => "unavailable",
        500..=599 => "internal_error",
        _ => "other",
    }
}

/// Answers 503 with a problem document when a request runs longer than `REQUEST_TIMEOUT_MS`.
/// Dropping the handler's future rolls its open transaction back.
async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit: Duration = state.config.http.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Unavailable(format!(
            "the request did not complete within {} ms; if it carried an Idempotency-Key, retry it with the same key",
            limit.as_millis()
        ))
        .into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint; see /swagger-ui/".into())
}

async fn method_not_allowed() -> Response {
    let problem = error::Problem {
        problem_type: "/problems/method-not-allowed".into(),
        title: "Method not allowed".into(),
        status: 405,
        detail: "this endpoint does not accept that method; see /swagger-ui/".into(),
        errors: None,
        balance: None,
        required: None,
        limit: None,
        limit_per_second: None,
        retry_after_ms: None,
    };
    error::problem_response(&problem)
}
