//! The delivery side of a test app: HTTP mock operators, the publisher and worker pools, and
//! an app configured with operators that publishes and delivers.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sms_gateway::mock_operator::{MockOperator, MockOperatorConfig, MockStats};
use sms_gateway::outbox::PublisherPool;
use sms_gateway::worker::WorkerPool;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{TestApp, spawn_app_with_broker};

/// A mock operator serving on a port of its own.
pub struct Mock {
    pub url: String,
    pub key: String,
    pub stats: Arc<MockStats>,
}

/// Starts a mock operator with this configuration (its key is `config.api_key`).
pub async fn spawn_mock_operator(config: MockOperatorConfig) -> Mock {
    let key = config.api_key.clone().unwrap_or_default();
    let op = MockOperator::new(config);
    let stats = op.stats();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(op.serve(listener, CancellationToken::new()));
    Mock { url, key, stats }
}

/// A fast (2 ms) mock operator named `name` that fails transiently and rejects permanently
/// at these rates.
pub async fn mock(name: &str, fail_rate: f64, reject_rate: f64) -> Mock {
    spawn_mock_operator(MockOperatorConfig {
        name: name.into(),
        api_key: Some(format!("{name}-key-0123456789")),
        latency: Duration::from_millis(2),
        fail_rate,
        reject_rate,
        ..Default::default()
    })
    .await
}

/// `OPERATORS` naming these mocks, with a 1 s timeout and a breaker that rarely opens.
pub fn operators_json(ops: &[(&str, &Mock)]) -> String {
    let list: Vec<Value> = ops
        .iter()
        .map(|(name, m)| {
            json!({"name": name, "url": m.url, "api_key": m.key, "timeout_ms": 1000,
                   "breaker_failures": 100, "breaker_open_ms": 100})
        })
        .collect();
    Value::Array(list).to_string()
}

/// An app on its own database and queues with these operators (nothing running yet).
pub async fn app_with_operators(ops: &[(&str, &Mock)]) -> TestApp {
    spawn_app_with_broker(&[("OPERATORS", &operators_json(ops))]).await
}

/// An app on its own database and queues, with these operators, publishing and delivering.
pub async fn delivering_app(ops: &[(&str, &Mock)]) -> TestApp {
    let app = app_with_operators(ops).await;
    app.run_pipeline();
    app
}

impl TestApp {
    /// A publisher pool of this app (not started).
    pub fn publisher_pool(&self) -> Arc<PublisherPool> {
        let cfg = &self.state.config;
        PublisherPool::new(
            self.db.clone(),
            self.state.broker.clone(),
            cfg.amqp.clone(),
            cfg.delivery.clone(),
        )
    }

    /// Runs the app's publishers until it finishes; the outbox must then end empty.
    pub fn spawn_publishers(&self) {
        self.expect_outbox_drained();
        self.publisher_pool().spawn(&TaskTracker::new(), &self.stop);
    }

    /// Runs the app's delivery workers (and their lease sweeper) until it finishes.
    pub fn spawn_workers(&self) {
        let cfg = &self.state.config;
        WorkerPool::new(
            self.db.clone(),
            self.state.operators.clone().expect("operators"),
            self.state.broker.clone(),
            cfg.amqp.clone(),
            cfg.delivery.clone(),
        )
        .spawn(&TaskTracker::new(), &self.stop);
    }

    /// Waits (up to 10 s) until the publishers have emptied the outbox.
    pub async fn wait_for_empty_outbox(&self) {
        for _ in 0..200 {
            if self.count("outbox_events").await == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the outbox was not drained within 10 s");
    }

    /// Runs publishers and workers of the app until it finishes.
    pub fn run_pipeline(&self) {
        self.spawn_publishers();
        self.spawn_workers();
    }
}
