//! Delivery-status callbacks against a real database and broker, with wiremock as the
//! customers' endpoints: every state change reaches the endpoint signed, failures are retried
//! and parked, parked events are replayed, customers are isolated, private targets refused.

mod claim;
mod delivery;
mod retries;
mod safety;
mod story;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use serde_json::{Value, json};
use sms_gateway::callbacks::Dispatcher;
use sms_gateway::callbacks::signing;
use wiremock::{MockServer, Request};

use crate::helpers::{
    ADMIN_TOKEN, Mock, TestApp, TestResponse, operators_json, spawn_app_with_broker,
};

/// An app delivering through these operators, its callbacks allowed to reach 127.0.0.1
/// (wiremock), with `vars` on top.
pub async fn callback_app(ops: &[(&str, &Mock)], vars: &[(&str, &str)]) -> TestApp {
    sms_gateway::metrics::install();
    let operators = operators_json(ops);
    let mut all: Vec<(&str, &str)> = vec![
        ("OPERATORS", &operators),
        ("CALLBACK_ALLOWED_HOSTS", "127.0.0.1/32"),
        ("CALLBACK_RETRY_BASE_MS", "10"),
        ("CALLBACK_RETRY_MAX_SECS", "1"),
        ("CALLBACK_TIMEOUT_MS", "2000"),
    ];
    all.extend_from_slice(vars);
    let app = spawn_app_with_broker(&all).await;
    app.run_pipeline();
    app
}

impl TestApp {
    /// A callback dispatcher of this app (not started).
    pub fn dispatcher(&self) -> Arc<Dispatcher> {
        Dispatcher::new(self.db.clone(), self.state.config.callbacks.clone()).unwrap()
    }

    /// `PUT /callbacks/settings` as the customer whose key `token` is.
    pub async fn put_callback_url(&self, token: &str, url: Option<&str>) -> TestResponse {
        self.request(
            "PUT",
            "/callbacks/settings",
            Some(token),
            &[],
            Some(Body::from(json!({ "url": url }).to_string())),
        )
        .await
    }

    /// The customer's signing secret (`GET /callbacks/settings`).
    pub async fn callback_secret(&self, key: &str) -> String {
        let r = self.get("/callbacks/settings", Some(key)).await;
        r.assert_status(200);
        r.body["secret"].as_str().expect("a secret").to_string()
    }

    /// Posts a delivery report for the operator's message id of every recipient of `sms_id`.
    pub async fn report_all(
        &self,
        key: &str,
        op: &Mock,
        operator: &str,
        sms_id: &str,
        status: &str,
    ) {
        let detail = self.wait_for_status(key, sms_id, &["SENT"]).await;
        for m in detail["messages"].as_array().unwrap() {
            let message_id = m["provider_message_id"].as_str().unwrap();
            self.post(
                &format!("/dlr/{operator}"),
                Some(&op.key),
                &json!({"message_id": message_id, "status": status}),
            )
            .await
            .assert_status(200);
        }
    }

    /// Runs dispatcher rounds until `n` events reached `server` (within 10 s).
    pub async fn dispatch_until(&self, server: &MockServer, n: usize) -> Vec<Value> {
        let dispatcher = self.dispatcher();
        for _ in 0..200 {
            dispatcher.run_once().await.unwrap();
            let events = events_received(server).await;
            if events.len() >= n {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "fewer than {n} events arrived: {:?}",
            events_received(server).await
        );
    }

    /// A counter of the metrics page.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.get("/metrics", None).await.text;
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {series} in the metrics"))
    }
}

/// Every event of every POST `server` received, in order.
pub async fn events_received(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .flat_map(|r| {
            let body: Value = serde_json::from_slice(&r.body).expect("a JSON body");
            body["events"].as_array().cloned().unwrap_or_default()
        })
        .collect()
}

/// Whether a POST's `X-Signature` verifies under `secret`.
pub fn signed_with(request: &Request, secret: &str) -> bool {
    let header = request
        .headers
        .get("x-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    signing::verify(
        header,
        &request.body,
        secret,
        chrono::Utc::now().timestamp(),
        300,
    )
}

/// The admin token, for tests acting for a customer.
pub const ADMIN: &str = ADMIN_TOKEN;
