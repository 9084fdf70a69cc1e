//! The callback receiver (`run --callbacks-listen`): sets every customer's webhook URL to
//! itself (`PUT /callbacks/settings`, one path per customer, keeping the secret each answer
//! carries), verifies every POST's `X-Signature` with the gateway's own `signing::verify`,
//! counts the events once each by `event_id` (delivery is at least once) and records the
//! lag from each state change (`occurred_at`) to its arrival.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hdrhistogram::Histogram;
use sms_gateway::callbacks::payload::CallbackBatch;
use sms_gateway::callbacks::signing;
use tokio_util::sync::CancellationToken;

use crate::keys::CustomerKey;
use crate::report::{CallbacksReport, Latency, new_histogram};

/// The receiver.
pub struct Receiver {
    secrets: Mutex<Vec<String>>,
    seen: Mutex<HashSet<String>>,
    by_status: Mutex<BTreeMap<String, u64>>,
    lag: Mutex<Histogram<u64>>,
    events: AtomicU64,
    duplicates: AtomicU64,
    posts: AtomicU64,
    bad_signatures: AtomicU64,
}

impl Receiver {
    /// Listens on `listen` until `stop`.
    pub async fn start(listen: SocketAddr, stop: CancellationToken) -> anyhow::Result<Arc<Self>> {
        let me = Arc::new(Self {
            secrets: Mutex::new(Vec::new()),
            seen: Mutex::new(HashSet::new()),
            by_status: Mutex::new(BTreeMap::new()),
            lag: Mutex::new(new_histogram()),
            events: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            posts: AtomicU64::new(0),
            bad_signatures: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding the callback receiver on {listen}"))?;
        let app = Router::new()
            .route("/cb/{customer}", post(receive))
            .with_state(me.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        Ok(me)
    }

    /// Points every customer's webhook at `http://<listen>/cb/<index>` and keeps its secret.
    pub async fn register(
        &self,
        client: &reqwest::Client,
        base: &str,
        keys: &[CustomerKey],
        listen: SocketAddr,
    ) -> anyhow::Result<()> {
        let mut secrets = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            let r = client
                .put(format!("{base}/callbacks/settings"))
                .bearer_auth(&key.api_key)
                .json(&serde_json::json!({ "url": format!("http://{listen}/cb/{i}") }))
                .send()
                .await?;
            let status = r.status();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            if !status.is_success() {
                bail!(
                    "PUT /callbacks/settings answered {status}: {body} (the gateway needs CALLBACK_ALLOWED_HOSTS={} to reach the receiver)",
                    listen.ip()
                );
            }
            let secret = body["secret"]
                .as_str()
                .context("no secret in the settings")?;
            secrets.push(secret.to_string());
        }
        *self.secrets.lock().unwrap() = secrets;
        Ok(())
    }

    /// Waits until `expected` distinct events arrived or `timeout` passed; returns the
    /// seconds waited.
    pub async fn drain(&self, expected: u64, timeout: Duration) -> f64 {
        let start = Instant::now();
        while self.events.load(Ordering::Relaxed) < expected && start.elapsed() < timeout {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        start.elapsed().as_secs_f64()
    }

    /// The report's section.
    pub fn report(&self, expected: u64, drain_s: f64) -> CallbacksReport {
        let events = self.events.load(Ordering::Relaxed);
        CallbacksReport {
            expected,
            events,
            duplicates: self.duplicates.load(Ordering::Relaxed),
            posts: self.posts.load(Ordering::Relaxed),
            bad_signatures: self.bad_signatures.load(Ordering::Relaxed),
            by_status: self.by_status.lock().unwrap().clone(),
            complete: events >= expected,
            drain_s: (drain_s * 100.0).round() / 100.0,
            lag: Latency::from_histogram(&self.lag.lock().unwrap()),
        }
    }
}

async fn receive(
    State(me): State<Arc<Receiver>>,
    Path(customer): Path<usize>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    me.posts.fetch_add(1, Ordering::Relaxed);
    let now = chrono::Utc::now();
    let secret = me.secrets.lock().unwrap().get(customer).cloned();
    let header = headers
        .get(signing::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let valid = secret.is_some_and(|s| signing::verify(header, &body, &s, now.timestamp(), 300));
    let batch: Option<CallbackBatch> = serde_json::from_slice(&body).ok();
    let (true, Some(batch)) = (valid, batch) else {
        me.bad_signatures.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST;
    };
    let mut seen = me.seen.lock().unwrap();
    let mut by_status = me.by_status.lock().unwrap();
    let mut lag = me.lag.lock().unwrap();
    for e in batch.events {
        if !seen.insert(e.event_id) {
            me.duplicates.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        me.events.fetch_add(1, Ordering::Relaxed);
        *by_status.entry(e.status).or_default() += 1;
        if let Ok(d) = (now - e.occurred_at).to_std() {
            let _ = lag.record((d.as_micros() as u64).max(1));
        }
    }
    StatusCode::NO_CONTENT
}
