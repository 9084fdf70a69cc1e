//! `spawn_app()`: a gateway router on a fresh, migrated database of its own, with request
//! helpers, named looks into its database, and the end-of-test checks (`finish()`), which a
//! test cannot skip: a `TestApp` dropped without `finish()` fails its test. The database
//! server comes from `DATABASE_URL` (and the broker from `AMQP_URL`); only when they are
//! unset do the tests start MariaDB / RabbitMQ containers with testcontainers.
//!
//! - `http`: requests, decoded answers, and the shared API steps (customer, send, wait).
//! - `db`: every SQL statement the tests need, as named `TestApp` methods.
//! - `invariants`: the checks `finish()` runs.
//! - `broker`, `pipeline`: queues, mock operators, publishers and workers.
//! - `services`: where the database and broker servers are.

mod broker;
mod db;
mod http;
mod invariants;
pub mod own_services;
mod pipeline;
mod services;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use sms_gateway::config::Config;
use sms_gateway::state::{App, AppState};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::{Executor, MySqlPool};
use tokio_util::sync::CancellationToken;

pub use db::{add_attempt, database_exists};
pub use http::TestResponse;
pub use invariants::DailyCounts;
use invariants::OutboxAtFinish;
pub use pipeline::{
    Mock, app_with_operators, delivering_app, mock, operators_json, spawn_mock_operator,
};
pub use services::{Services, services};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A gateway on its own database. End every test with `finish().await`.
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub db: MySqlPool,
    pub services: Arc<Services>,
    pub stop: CancellationToken,
    /// The test that spawned it (its thread's name), for the message of a missing finish().
    test_name: String,
    db_name: String,
    /// Exchange and queues of this test (removed at the end), when it uses the broker.
    amqp_names: Option<[String; 3]>,
    outbox_at_finish: Mutex<OutboxAtFinish>,
    /// Whether `finish()` compares the daily counters with a recount of the rows.
    daily_counts_tracked: Mutex<bool>,
    cleaned: bool,
}

/// Starts an app with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts an app with extra environment variables.
pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    spawn_app_on(services::services().await, vars).await
}

/// Starts an app on these services (an outage test's own servers) with extra variables.
pub async fn spawn_app_on(services: Services, vars: &[(&str, &str)]) -> TestApp {
    let services = Arc::new(services);
    let db_name = format!("smsgw_t_{}", uuid::Uuid::new_v4().simple());
    let admin = MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&services.database_server_url)
        .await
        .expect("connect to the database server");
    admin
        .execute(sqlx::AssertSqlSafe(format!("create database `{db_name}`")))
        .await
        .expect("create test database");
    admin.close().await;

    let mut env: HashMap<String, String> = HashMap::from([
        ("ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
        (
            "DATABASE_URL".into(),
            format!("{}/{db_name}", services.database_server_url),
        ),
        ("AMQP_URL".into(), services.amqp_url.clone()),
        ("DB_MAX_CONNECTIONS".into(), "10".into()),
        ("DEFAULT_COUNTRY_CODE".into(), "98".into()),
        ("LOG_FORMAT".into(), "pretty".into()),
    ]);
    for (k, v) in vars {
        env.insert(k.to_string(), v.to_string());
    }
    let config = Config::from_lookup(&|k| env.get(k).cloned()).expect("test config");
    let pool = sms_gateway::db::pool(&config.database).expect("pool");
    sms_gateway::db::migrate(&pool).await.expect("migrations");
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing::subscriber::set_global_default(sms_gateway::telemetry::subscriber(
            &config.telemetry,
        ));
    }
    let broker = sms_gateway::queue::Broker::new(&config.amqp, "sms-gateway-test");
    let mut app = App::new(config.clone(), pool.clone(), broker);
    if !config.operators.uses_builtin_mocks() {
        let registry = sms_gateway::operators::OperatorRegistry::from_config(
            &config.operators.normal.clone().unwrap_or_default(),
            &config.operators.express.clone().unwrap_or_default(),
        )
        .expect("operator registry");
        app = app.with_operators(Arc::new(registry));
    }
    let state = AppState(Arc::new(app));
    TestApp {
        router: sms_gateway::http::router(state.clone()),
        state,
        db: pool,
        services,
        stop: CancellationToken::new(),
        test_name: std::thread::current()
            .name()
            .unwrap_or("an unnamed test")
            .to_string(),
        db_name,
        amqp_names: None,
        outbox_at_finish: Mutex::new(OutboxAtFinish::Claimed(0)),
        daily_counts_tracked: Mutex::new(true),
        cleaned: false,
    }
}

/// An app with its own exchange and queues on the real broker, connected.
pub async fn spawn_app_with_broker(vars: &[(&str, &str)]) -> TestApp {
    spawn_app_with_broker_on(services::services().await, vars).await
}

/// [`spawn_app_with_broker`] on these services.
pub async fn spawn_app_with_broker_on(services: Services, vars: &[(&str, &str)]) -> TestApp {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let exchange = format!("t.{suffix}");
    let normal = format!("t.{suffix}.normal");
    let express = format!("t.{suffix}.express");
    let mut all: Vec<(&str, &str)> = vec![
        ("AMQP_EXCHANGE", &exchange),
        ("AMQP_QUEUE_NORMAL", &normal),
        ("AMQP_QUEUE_EXPRESS", &express),
    ];
    all.extend_from_slice(vars);
    let mut app = spawn_app_on(services, &all).await;
    app.amqp_names = Some([exchange.clone(), normal.clone(), express.clone()]);
    tokio::spawn(app.state.broker.clone().run_until_stopped(app.stop.clone()));
    app
}

impl TestApp {
    /// The name of this test's database.
    pub fn db_name(&self) -> &str {
        &self.db_name
    }

    /// End-of-test checks (outbox, ledger invariant, states and refunds, daily counters),
    /// then drops the
    /// database and the test's queues.
    pub async fn finish(mut self) {
        self.assert_outbox_as_expected().await;
        self.assert_ledger_invariant().await;
        self.assert_states_allowed().await;
        self.assert_daily_counts_match().await;
        self.assert_scheduled_counts_match().await;
        self.stop.cancel();
        self.db.close().await;
        drop_database(&self.services.database_server_url, &self.db_name).await;
        if let Some(names) = &self.amqp_names {
            broker::delete_amqp(&self.services.amqp_url, names).await;
        }
        self.cleaned = true;
    }
}

async fn drop_database(server: &str, name: &str) {
    if let Ok(pool) = MySqlPoolOptions::new()
        .max_connections(1)
        .connect(server)
        .await
    {
        // Sessions of a test that panicked may still hold transactions on this database (its
        // runtime is blocked in this drop, so they never end): end them, or the drop waits
        // for their metadata locks until the test runner kills the test.
        let sessions: Vec<i64> = sqlx::query_scalar(
            "select cast(id as signed) from information_schema.processlist \
             where db = ? and id <> connection_id()",
        )
        .bind(name)
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
        for id in sessions {
            let _ = pool
                .execute(sqlx::AssertSqlSafe(format!("kill connection {id}")))
                .await;
        }
        let _ = pool
            .execute(sqlx::AssertSqlSafe(format!(
                "drop database if exists `{name}`"
            )))
            .await;
        pool.close().await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        // A failed test, or one that forgot finish(), still removes its database.
        self.stop.cancel();
        let server = self.services.database_server_url.clone();
        let amqp_url = self.services.amqp_url.clone();
        let name = self.db_name.clone();
        let amqp_names = self.amqp_names.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                drop_database(&server, &name).await;
                if let Some(names) = &amqp_names {
                    broker::delete_amqp(&amqp_url, names).await;
                }
            });
        })
        .join();
        // A test that already fails needs no second panic; one that passed without its
        // end-of-test checks must not pass.
        if !std::thread::panicking() {
            panic!(
                "{} dropped its TestApp (database {}) without calling finish(): the \
                 end-of-test checks (outbox, ledger invariant, allowed states, refunds one to \
                 one with FAILED) never ran; end the test with `app.finish().await`",
                self.test_name, self.db_name
            );
        }
    }
}
