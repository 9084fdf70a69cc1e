//! A mock SMS operator speaking the contract's wire protocol ([`crate::operators::wire`]):
//! `POST /send` with `{"to", "text", "reference"}` and a bearer key answers `{"message_id"}`
//! after a configurable latency, fails transiently (503) or rejects permanently (400) at configurable rates, and
//! posts delivery reports back after a delay. `GET /stats` returns what it received.
//!
//! Used by `sms-gateway mock-operator`, by the gateway itself when no operator is configured,
//! and by tests and load tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::operators::wire::{DeliveryReportBody, OperatorAccepted, OperatorSend};

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
    /// Delay between accepting a message and reporting it.
    pub dlr_delay: Duration,
    /// Share of reports that say UNDELIV instead of DELIVRD, 0.0-1.0.
    pub undeliverable_rate: f64,
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
        }
    }
}

/// Counters of a mock operator (`GET /stats`).
#[derive(Debug, Default)]
pub struct MockStats {
    pub received: AtomicU64,
    pub accepted: AtomicU64,
    pub failed: AtomicU64,
    pub rejected: AtomicU64,
    pub unauthorized: AtomicU64,
    pub reports_sent: AtomicU64,
    pub reports_failed: AtomicU64,
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
        }
    }
}

/// A running (or runnable) mock operator.
#[derive(Clone)]
pub struct MockOperator {
    config: Arc<MockOperatorConfig>,
    stats: Arc<MockStats>,
    http: reqwest::Client,
}

impl MockOperator {
    /// A mock with this behaviour.
    pub fn new(config: MockOperatorConfig) -> Self {
        Self {
            config: Arc::new(config),
            stats: Arc::new(MockStats::default()),
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

    /// Its routes: `POST /send`, `GET /stats`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/send", post(send))
            .route("/stats", get(stats))
            .layer(DefaultBodyLimit::max(64 * 1024))
            .with_state(self.clone())
    }

    /// Serves on `listener` until `stop` fires.
    pub async fn serve(
        self,
        listener: TcpListener,
        stop: CancellationToken,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    }
}

async fn stats(State(op): State<MockOperator>) -> Json<MockStatsSnapshot> {
    Json(op.stats.snapshot())
}

async fn send(
    State(op): State<MockOperator>,
    headers: HeaderMap,
    body: Result<Json<OperatorSend>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let stats = &op.stats;
    stats.received.fetch_add(1, Ordering::Relaxed);
    if let Some(expected) = &op.config.api_key {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(expected.as_str()) {
            stats.unauthorized.fetch_add(1, Ordering::Relaxed);
            return (StatusCode::UNAUTHORIZED, "bad operator key").into_response();
        }
    }
    let Ok(Json(msg)) = body else {
        stats.rejected.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::BAD_REQUEST, "malformed message").into_response();
    };
    if !op.config.latency.is_zero() {
        tokio::time::sleep(op.config.latency).await;
    }
    let roll: f64 = rand::random();
    if roll < op.config.fail_rate {
        stats.failed.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response();
    }
    if roll < op.config.fail_rate + op.config.reject_rate {
        stats.rejected.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::BAD_REQUEST, "rejected: invalid destination").into_response();
    }
    stats.accepted.fetch_add(1, Ordering::Relaxed);
    let message_id = format!("{}-{}", op.config.name, uuid::Uuid::new_v4().simple());
    tracing::debug!(operator = %op.config.name, reference = %msg.reference, %message_id, "mock operator accepted");
    if let Some(url) = op.config.dlr_url.clone() {
        let op = op.clone();
        let message_id = message_id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(op.config.dlr_delay).await;
            let status = if rand::random::<f64>() < op.config.undeliverable_rate {
                "UNDELIV"
            } else {
                "DELIVRD"
            };
            let mut req = op.http.post(&url).json(&DeliveryReportBody {
                message_id,
                status: status.into(),
            });
            if let Some(key) = &op.config.dlr_key {
                req = req.bearer_auth(key);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => {
                    op.stats.reports_sent.fetch_add(1, Ordering::Relaxed);
                }
                Ok(r) => {
                    op.stats.reports_failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(status = %r.status(), "delivery report refused");
                }
                Err(e) => {
                    op.stats.reports_failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "delivery report failed");
                }
            }
        });
    }
    (StatusCode::OK, Json(OperatorAccepted { message_id })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn start(config: MockOperatorConfig) -> (String, Arc<MockStats>, CancellationToken) {
        let op = MockOperator::new(config);
        let stats = op.stats();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        tokio::spawn(op.serve(listener, stop.clone()));
        (url, stats, stop)
    }

    fn msg() -> OperatorSend {
        OperatorSend {
            to: "+989121234567".into(),
            text: "hi".into(),
            reference: "r1".into(),
        }
    }

    #[tokio::test]
    async fn accepts_with_an_id_and_checks_the_key() {
        let (url, stats, stop) = start(MockOperatorConfig {
            api_key: Some("k1".into()),
            latency: Duration::ZERO,
            ..Default::default()
        })
        .await;
        let http = reqwest::Client::new();
        let ok = http
            .post(format!("{url}/send"))
            .bearer_auth("k1")
            .json(&msg())
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        let body: OperatorAccepted = ok.json().await.unwrap();
        assert!(body.message_id.starts_with("mock-"));
        let bad = http
            .post(format!("{url}/send"))
            .bearer_auth("nope")
            .json(&msg())
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 401);
        let s = stats.snapshot();
        assert_eq!((s.received, s.accepted, s.unauthorized), (2, 1, 1));
        stop.cancel();
    }

    #[tokio::test]
    async fn failure_rates_answer_5xx_and_4xx() {
        let http = reqwest::Client::new();
        for (fail, reject, expected) in [(1.0, 0.0, 503), (0.0, 1.0, 400)] {
            let (url, stats, stop) = start(MockOperatorConfig {
                latency: Duration::ZERO,
                fail_rate: fail,
                reject_rate: reject,
                ..Default::default()
            })
            .await;
            let r = http
                .post(format!("{url}/send"))
                .json(&msg())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), expected);
            assert_eq!(stats.snapshot().accepted, 0);
            stop.cancel();
        }
    }

    #[tokio::test]
    async fn reports_delivery_back() {
        let receiver = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dlr_url = format!("http://{}/dlr/mock", receiver.local_addr().unwrap());
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(Option<String>, DeliveryReportBody)>(1);
        let app = Router::new().route(
            "/dlr/mock",
            post(
                move |headers: HeaderMap, Json(b): Json<DeliveryReportBody>| {
                    let tx = tx.clone();
                    async move {
                        let auth = headers
                            .get("authorization")
                            .map(|v| v.to_str().unwrap().to_string());
                        tx.send((auth, b)).await.unwrap();
                        StatusCode::OK
                    }
                },
            ),
        );
        tokio::spawn(async move { axum::serve(receiver, app).await });
        let (url, stats, stop) = start(MockOperatorConfig {
            latency: Duration::ZERO,
            dlr_url: Some(dlr_url),
            dlr_key: Some("dk".into()),
            dlr_delay: Duration::from_millis(10),
            ..Default::default()
        })
        .await;
        let accepted: OperatorAccepted = reqwest::Client::new()
            .post(format!("{url}/send"))
            .json(&msg())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (auth, report) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(auth.as_deref(), Some("Bearer dk"));
        assert_eq!(report.message_id, accepted.message_id);
        assert_eq!(report.status, "DELIVRD");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(stats.snapshot().reports_sent, 1);
        stop.cancel();
    }
}
