//! A mock SMS operator speaking the contract's wire protocol ([`crate::operators::wire`]):
//! `POST /send` with `{"to", "text", "reference", "from"}` and a bearer key answers `{"message_id"}`
//! after a configurable latency, fails transiently (503) or rejects permanently (400) at
//! configurable rates, and posts delivery reports back after a delay. `GET /stats` returns
//! what it received. With [`MockOperatorConfig::max_rps`] it limits its own rate as operators
//! do: a send beyond that many in the current second is answered 429 with `Retry-After: 1`
//! (`rate_limit.rs`).
//!
//! It honours the gateway's idempotency key: a send whose `reference` it has taken before is
//! answered 200 with the first message id and neither delivered nor reported again (counted
//! in `repeated`). `GET /status?reference=` answers `{"message_id", "status"}` for a
//! reference it has taken (with the `from` it came with), 404 otherwise. It remembers at most
//! [`MockOperatorConfig::remember`] references (1,000,000 by default, about 200 MB at most),
//! forgetting the oldest first (`memory.rs`); a reference forgotten is a new message again.
//! A message is taken when its send arrives, before the latency: a send the gateway gave up
//! waiting for is still delivered, once, and its lookup finds it.
//!
//! A delivery report answered with anything but 2xx (the gateway may answer 503, or be down)
//! is posted again with backoff, up to [`MockOperatorConfig::dlr_tries`] tries (8 tries over
//! about 2 minutes by default), in a task of its own that never holds up a send and stops at
//! shutdown; reports abandoned are counted in `reports_given_up` (`reports.rs`).
//!
//! Used by `sms-gateway mock-operator`, by the gateway itself when no operator is configured,
//! and by tests and load tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::operators::wire::{MessageStatus, OperatorAccepted, OperatorSend, StatusQuery};

mod memory;
mod rate_limit;
mod reports;

use memory::Memory;
use rate_limit::RateLimit;

/// References a mock remembers by default (see [`MockOperatorConfig::remember`]).
pub const REMEMBERED_REFERENCES: usize = 1_000_000;

/// Behaviour of a mock operator.
#[derive(Debug, Clone)]
pub struct MockOperatorConfig {
    /// Name used in logs and message ids.
    pub name: String,
    /// Bearer key the gateway must send; `None` accepts any.
    pub api_key: Option<String>,
    /// Delay before answering a send.
    pub latency: Duration,
    /// Share of sends answered 503 (transient), 0.0-1.0.
    pub fail_rate: f64,
    /// Share of sends answered 400 (permanent rejection), 0.0-1.0.
    pub reject_rate: f64,
    /// Where delivery reports go (the gateway's `POST /dlr/{operator}`); `None` sends none.
    pub dlr_url: Option<String>,
    /// Bearer key of the delivery reports.
    pub dlr_key: Option<String>,
    /// Delay between answering a message and reporting it.
    pub dlr_delay: Duration,
    /// Share of reports that say UNDELIV instead of DELIVRD, 0.0-1.0.
    pub undeliverable_rate: f64,
    /// Tries of one delivery report, the first included (at least 1).
    pub dlr_tries: u32,
    /// Wait before the second try of a report (2 s); it doubles per try up to 16 times this,
    /// each wait jittered down by up to half (the one [`crate::backoff::Backoff`]).
    pub dlr_retry_delay: Duration,
    /// References remembered for deduplication and `GET /status`, oldest forgotten first;
    /// 0 remembers none (every send is a new message).
    pub remember: usize,
    /// Sends answered per second (fixed one-second windows); the ones beyond are answered
    /// 429 with `Retry-After: 1` and not taken. `None`: no limit.
    pub max_rps: Option<u32>,
}

impl Default for MockOperatorConfig {
    fn default() -> Self {
        Self {
            name: "mock".into(),
            api_key: None,
            latency: Duration::from_millis(5),
            fail_rate: 0.0,
            reject_rate: 0.0,
            dlr_url: None,
            dlr_key: None,
            dlr_delay: Duration::from_millis(500),
            undeliverable_rate: 0.0,
            dlr_tries: 8,
            dlr_retry_delay: Duration::from_secs(2),
            remember: REMEMBERED_REFERENCES,
            max_rps: None,
        }
    }
}

/// Counters of a mock operator (`GET /stats`).
#[derive(Debug, Default)]
pub struct MockStats {
    /// Sends received.
    pub received: AtomicU64,
    /// Sends taken as new messages.
    pub accepted: AtomicU64,
    /// Sends answered 503.
    pub failed: AtomicU64,
    /// Sends answered 400 (malformed, or rejected by `reject_rate`).
    pub rejected: AtomicU64,
    /// Sends and lookups with a wrong key.
    pub unauthorized: AtomicU64,
    /// Delivery reports the gateway answered with 2xx.
    pub reports_sent: AtomicU64,
    /// Tries of delivery reports that failed or were answered with non-2xx.
    pub reports_failed: AtomicU64,
    /// Sends of a reference already taken: answered with the first id, not delivered again.
    pub repeated: AtomicU64,
    /// `GET /status` lookups answered.
    pub lookups: AtomicU64,
    /// Lookups that found the reference.
    pub lookups_found: AtomicU64,
    /// Delivery reports abandoned: every try failed, or the mock stopped first.
    pub reports_given_up: AtomicU64,
    /// Sends answered 429 (over `max_rps`).
    pub rate_limited: AtomicU64,
}

/// Snapshot of [`MockStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockStatsSnapshot {
    pub received: u64,
    pub accepted: u64,
    pub failed: u64,
    pub rejected: u64,
    pub unauthorized: u64,
    pub reports_sent: u64,
    pub reports_failed: u64,
    #[serde(default)]
    pub repeated: u64,
    #[serde(default)]
    pub lookups: u64,
    #[serde(default)]
    pub lookups_found: u64,
    #[serde(default)]
    pub reports_given_up: u64,
    #[serde(default)]
    pub rate_limited: u64,
}

impl MockStats {
    /// Current values.
    pub fn snapshot(&self) -> MockStatsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MockStatsSnapshot {
            received: g(&self.received),
            accepted: g(&self.accepted),
            failed: g(&self.failed),
            rejected: g(&self.rejected),
            unauthorized: g(&self.unauthorized),
            reports_sent: g(&self.reports_sent),
            reports_failed: g(&self.reports_failed),
            repeated: g(&self.repeated),
            lookups: g(&self.lookups),
            lookups_found: g(&self.lookups_found),
            reports_given_up: g(&self.reports_given_up),
            rate_limited: g(&self.rate_limited),
        }
    }
}

/// A running (or runnable) mock operator.
#[derive(Clone)]
pub struct MockOperator {
    config: Arc<MockOperatorConfig>,
    stats: Arc<MockStats>,
    memory: Arc<Mutex<Memory>>,
    rate_limit: Option<Arc<RateLimit>>,
    /// Fired when [`MockOperator::serve`]'s `stop` fires: pending reports are abandoned.
    stopped: CancellationToken,
    http: reqwest::Client,
}

impl MockOperator {
    /// A mock with this behaviour.
    pub fn new(config: MockOperatorConfig) -> Self {
        Self {
            memory: Arc::new(Mutex::new(Memory::new(config.remember))),
            rate_limit: config.max_rps.map(|n| Arc::new(RateLimit::new(n))),
            config: Arc::new(config),
            stats: Arc::new(MockStats::default()),
            stopped: CancellationToken::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("HTTP client"),
        }
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<MockStats> {
        self.stats.clone()
    }

    /// Its routes: `POST /send`, `GET /status`, `GET /stats`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/send", post(send))
            .route("/status", get(status))
            .route("/stats", get(stats))
            .layer(DefaultBodyLimit::max(64 * 1024))
            .with_state(self.clone())
    }

    /// Serves on `listener` until `stop` fires; delivery reports still waiting are abandoned
    /// then.
    pub async fn serve(
        self,
        listener: TcpListener,
        stop: CancellationToken,
    ) -> std::io::Result<()> {
        let stopped = self.stopped.clone();
        axum::serve(listener, self.router())
            .with_graceful_shutdown(async move {
                stop.cancelled().await;
                stopped.cancel();
            })
            .await
    }

    /// Whether the request carries the expected key (counted in `unauthorized` if not).
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.config.api_key else {
            return true;
        };
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let ok = given == Some(expected.as_str());
        if !ok {
            self.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }
}

async fn stats(State(op): State<MockOperator>) -> Json<MockStatsSnapshot> {
    Json(op.stats.snapshot())
}

/// What a send turned out to be, decided when it arrives.
enum Decision {
    /// A reference taken before: its first message id.
    Repeated(String),
    /// Answered 503.
    Fail,
    /// Answered 400.
    Reject,
    /// A new message, remembered under this id.
    Accept(String),
}

async fn send(
    State(op): State<MockOperator>,
    headers: HeaderMap,
    body: Result<Json<OperatorSend>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let stats = &op.stats;
    stats.received.fetch_add(1, Ordering::Relaxed);
    if !op.authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, "bad operator key").into_response();
    }
    if let Some(limit) = &op.rate_limit
        && !limit.admit()
    {
        stats.rate_limited.fetch_add(1, Ordering::Relaxed);
        let retry_after = [(axum::http::header::RETRY_AFTER, "1")];
        return (StatusCode::TOO_MANY_REQUESTS, retry_after, "slow down").into_response();
    }
    let Ok(Json(msg)) = body else {
        stats.rejected.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::BAD_REQUEST, "malformed message").into_response();
    };
    let roll: f64 = rand::random();
    let decision = {
        let mut memory = op.memory.lock().expect("mock memory");
        if let Some((message_id, _)) = memory.get(&msg.reference) {
            Decision::Repeated(message_id)
        } else if roll < op.config.fail_rate {
            Decision::Fail
        } else if roll < op.config.fail_rate + op.config.reject_rate {
            Decision::Reject
        } else {
            let message_id = format!("{}-{}", op.config.name, uuid::Uuid::new_v4().simple());
            memory.insert(&msg.reference, &message_id, msg.from.as_deref());
            Decision::Accept(message_id)
        }
    };
    if let Decision::Accept(message_id) = &decision {
        // Taken now: reported even if the gateway stops waiting for the answer.
        tracing::debug!(operator = %op.config.name, reference = %msg.reference, %message_id, "mock operator accepted");
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        if op.config.dlr_url.is_some() {
            tokio::spawn(reports::report(
                op.clone(),
                msg.reference.clone(),
                message_id.clone(),
            ));
        }
    }
    if !op.config.latency.is_zero() {
        tokio::time::sleep(op.config.latency).await;
    }
    match decision {
        Decision::Repeated(message_id) => {
            stats.repeated.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(operator = %op.config.name, reference = %msg.reference, %message_id, "mock operator: reference seen before");
            (StatusCode::OK, Json(OperatorAccepted { message_id })).into_response()
        }
        Decision::Fail => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response()
        }
        Decision::Reject => {
            stats.rejected.fetch_add(1, Ordering::Relaxed);
            (StatusCode::BAD_REQUEST, "rejected: invalid destination").into_response()
        }
        Decision::Accept(message_id) => {
            (StatusCode::OK, Json(OperatorAccepted { message_id })).into_response()
        }
    }
}

/// `GET /status?reference=`: the message taken under a reference.
async fn status(
    State(op): State<MockOperator>,
    headers: HeaderMap,
    query: Result<Query<StatusQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if !op.authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, "bad operator key").into_response();
    }
    let Ok(Query(q)) = query else {
        return (StatusCode::BAD_REQUEST, "reference is required").into_response();
    };
    op.stats.lookups.fetch_add(1, Ordering::Relaxed);
    let (found, from) = {
        let memory = op.memory.lock().expect("mock memory");
        (memory.get(&q.reference), memory.sender(&q.reference))
    };
    match found {
        Some((message_id, status)) => {
            op.stats.lookups_found.fetch_add(1, Ordering::Relaxed);
            let status = status.to_string();
            Json(MessageStatus {
                message_id,
                status,
                from,
            })
            .into_response()
        }
        None => (StatusCode::NOT_FOUND, "no message with that reference").into_response(),
    }
}

#[cfg(test)]
mod tests;
