//! `spawn_app()`: a gateway router on a fresh, migrated database of its own, with request
//! helpers and the end-of-test checks (ledger invariant). The database server comes from
//! `DATABASE_URL` (and the broker from `AMQP_URL`); only when they are unset do the tests
//! start MariaDB / RabbitMQ containers with testcontainers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sms_gateway::config::Config;
use sms_gateway::db;
use sms_gateway::queue::Broker;
use sms_gateway::state::{App, AppState};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::{Executor, MySqlPool};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// Where the database and broker servers are; containers kept alive while a test runs.
pub struct Services {
    pub database_server_url: String,
    pub amqp_url: String,
    _containers: Vec<Box<dyn std::any::Any + Send + Sync>>,
}

fn server_url(database_url: &str) -> String {
    // Strip the database name (and any query) from mysql://user:pw@host:port/db?x
    let without_query = database_url.split('?').next().unwrap_or(database_url);
    match without_query.rfind('/') {
        Some(i) if i > "mysql://".len() => without_query[..i].to_string(),
        _ => without_query.to_string(),
    }
}

/// The services named by the environment, or containers when unset.
pub async fn services() -> Services {
    let _ = dotenvy::dotenv();
    let mut containers: Vec<Box<dyn std::any::Any + Send + Sync>> = Vec::new();
    let database_server_url = match std::env::var("DATABASE_URL") {
        Ok(url) => server_url(&url),
        Err(_) => {
            let (url, c) = containers::mariadb().await;
            containers.push(c);
            url
        }
    };
    let amqp_url = match std::env::var("AMQP_URL") {
        Ok(url) => url,
        Err(_) => {
            let (url, c) = containers::rabbitmq().await;
            containers.push(c);
            url
        }
    };
    Services {
        database_server_url,
        amqp_url,
        _containers: containers,
    }
}

mod containers {
    use testcontainers::core::{IntoContainerPort, WaitFor};
    use testcontainers::runners::AsyncRunner;
    use testcontainers::{GenericImage, ImageExt};

    pub async fn mariadb() -> (String, Box<dyn std::any::Any + Send + Sync>) {
        let c = GenericImage::new("mariadb", "10.11")
            .with_exposed_port(3306.tcp())
            .with_wait_for(WaitFor::message_on_stderr("ready for connections"))
            .with_env_var("MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "1")
            .with_env_var("MARIADB_ROOT_HOST", "%")
            .start()
            .await
            .expect("DATABASE_URL is unset and a MariaDB container could not start (is Docker running?)");
        let port = c.get_host_port_ipv4(3306).await.expect("mapped port");
        (format!("mysql://root@127.0.0.1:{port}"), Box::new(c))
    }

    pub async fn rabbitmq() -> (String, Box<dyn std::any::Any + Send + Sync>) {
        let c = GenericImage::new("rabbitmq", "3.13-management")
            .with_exposed_port(5672.tcp())
            .with_wait_for(WaitFor::message_on_stdout("Server startup complete"))
            .start()
            .await
            .expect(
                "AMQP_URL is unset and a RabbitMQ container could not start (is Docker running?)",
            );
        let port = c.get_host_port_ipv4(5672).await.expect("mapped port");
        (
            format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
            Box::new(c),
        )
    }
}

/// A gateway on its own database.
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub db: MySqlPool,
    pub services: Arc<Services>,
    pub stop: CancellationToken,
    db_name: String,
    /// Exchange and queues of this test (removed at the end), when it uses the broker.
    amqp_names: Option<[String; 3]>,
    cleaned: bool,
}

/// A response, decoded.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestResponse {
    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn assert_status(&self, expected: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts a problem+json error with this status.
    #[track_caller]
    pub fn assert_problem(&self, expected: u16) -> &Value {
        self.assert_status(expected);
        assert_eq!(
            self.headers["content-type"], "application/problem+json",
            "errors are problem+json: {}",
            self.text
        );
        assert_eq!(self.body["status"], expected);
        assert!(
            self.body["type"]
                .as_str()
                .unwrap()
                .starts_with("/problems/")
        );
        assert!(self.body["title"].is_string());
        assert!(self.body["detail"].is_string());
        &self.body
    }
}

/// Starts an app with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts an app with extra environment variables.
pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    let services = Arc::new(services().await);
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
    let pool = db::pool(&config.database).expect("pool");
    db::migrate(&pool).await.expect("migrations");
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing::subscriber::set_global_default(sms_gateway::telemetry::subscriber(
            &config.telemetry,
        ));
    }
    let broker = Broker::new(&config.amqp, "sms-gateway-test");
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
        db_name,
        amqp_names: None,
        cleaned: false,
    }
}

/// An app with its own exchange and queues on the real broker, connected.
pub async fn spawn_app_with_broker(vars: &[(&str, &str)]) -> TestApp {
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
    let mut app = spawn_app_with(&all).await;
    app.amqp_names = Some([exchange.clone(), normal.clone(), express.clone()]);
    tokio::spawn(app.state.broker.clone().run_until_stopped(app.stop.clone()));
    app
}

impl TestApp {
    /// A channel of its own on the test broker.
    pub async fn amqp_channel(&self) -> lapin::Channel {
        let conn = lapin::Connection::connect(&self.services.amqp_url, Default::default())
            .await
            .expect("connect to RabbitMQ");
        conn.create_channel().await.expect("channel")
    }

    /// How many messages wait in a queue.
    pub async fn queue_depth(&self, queue: &str) -> u32 {
        self.try_queue_depth(queue)
            .await
            .expect("passive queue.declare")
    }

    /// How many messages wait in a queue; an error when there is no such queue (a passive
    /// declare, on a channel of its own since the failure closes it).
    pub async fn try_queue_depth(&self, queue: &str) -> Result<u32, lapin::Error> {
        let queue = self
            .amqp_channel()
            .await
            .queue_declare(
                queue.into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await?;
        Ok(queue.message_count())
    }

    /// Takes every message waiting in a queue (acknowledging them).
    pub async fn drain_queue(&self, queue: &str) -> Vec<lapin::message::BasicGetMessage> {
        let channel = self.amqp_channel().await;
        let mut out = Vec::new();
        while let Some(m) = channel
            .basic_get(
                queue.into(),
                lapin::options::BasicGetOptions { no_ack: true },
            )
            .await
            .expect("basic.get")
        {
            out.push(m);
        }
        out
    }
}

async fn delete_amqp(url: &str, names: &[String; 3]) {
    let Ok(conn) = lapin::Connection::connect(url, Default::default()).await else {
        return;
    };
    let Ok(ch) = conn.create_channel().await else {
        return;
    };
    for q in [&names[1], &names[2], &format!("{}.dead", names[0])] {
        let _ = ch
            .queue_delete(
                q.as_str().into(),
                lapin::options::QueueDeleteOptions::default(),
            )
            .await;
    }
    for e in [names[0].clone(), format!("{}.dlx", names[0])] {
        let _ = ch
            .exchange_delete(
                e.as_str().into(),
                lapin::options::ExchangeDeleteOptions::default(),
            )
            .await;
    }
    let _ = conn.close(200, "bye".into()).await;
}

impl TestApp {
    /// Sends a request through the router (no socket).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Body>,
    ) -> TestResponse {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let has_body = body.is_some();
        if has_body
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(body.unwrap_or_else(Body::empty)).unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> TestResponse {
        self.request("POST", path, token, &[], Some(Body::from(body.to_string())))
            .await
    }

    pub async fn post_with(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> TestResponse {
        self.request(
            "POST",
            path,
            token,
            headers,
            Some(Body::from(body.to_string())),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.request("GET", path, token, &[], None).await
    }

    /// Creates a customer through the admin API; returns (id, api key).
    pub async fn create_customer(&self, name: &str, balance: i64) -> (i64, String) {
        let r = self
            .post(
                "/admin/customers",
                Some(ADMIN_TOKEN),
                &json!({"name": name, "balance": balance}),
            )
            .await;
        r.assert_status(201);
        (
            r.body["customer_id"].as_i64().unwrap(),
            r.body["api_key"].as_str().unwrap().to_string(),
        )
    }

    /// Sends an SMS as `key`.
    pub async fn send(&self, key: &str, body: Value) -> TestResponse {
        self.post("/sms/send", Some(key), &body).await
    }

    /// Sends an SMS as `key`, asserts the 202 and returns its `sms_identifier`.
    pub async fn send_ok(&self, key: &str, body: Value) -> String {
        let r = self.send(key, body).await;
        r.assert_status(202);
        r.body["sms_identifier"].as_str().unwrap().to_string()
    }

    /// A customer's balance straight from the database.
    pub async fn balance_of(&self, customer_id: i64) -> i64 {
        sqlx::query_scalar("select balance from user_balances where user_id = ?")
            .bind(customer_id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// Row count of a table.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// For every customer: balance = sum of its ledger, and balance >= 0.
    pub async fn assert_ledger_invariant(&self) {
        let broken: Vec<(i64, i64, i64)> = sqlx::query_as(
            "select b.user_id, b.balance, cast(coalesce(sum(t.amount), 0) as signed) \
             from user_balances b left join user_transactions t on t.user_id = b.user_id \
             group by b.user_id, b.balance \
             having b.balance <> cast(coalesce(sum(t.amount), 0) as signed) or b.balance < 0",
        )
        .fetch_all(&self.db)
        .await
        .unwrap();
        assert!(
            broken.is_empty(),
            "ledger invariant broken (user, balance, ledger sum): {broken:?}"
        );
    }

    /// Every status is one the contract allows, every FAILED recipient has exactly one
    /// refund, and nothing else was refunded.
    pub async fn assert_states_allowed(&self) {
        let bad: Vec<(i64, String)> = sqlx::query_as(
            "select id, status from sms_status where status not in \
             ('PENDING', 'SENDING', 'SENT', 'DELIVERED', 'UNDELIVERED', 'FAILED')",
        )
        .fetch_all(&self.db)
        .await
        .unwrap();
        assert!(bad.is_empty(), "states outside the contract: {bad:?}");
        let wrong_refunds: Vec<(i64, String, i64)> = sqlx::query_as(
            "select s.id, s.status, count(t.id) from sms_status s \
             left join user_transactions t on t.transaction_id = concat('refund:', s.id) \
             group by s.id, s.status \
             having (s.status = 'FAILED' and count(t.id) <> 1) \
                 or (s.status <> 'FAILED' and count(t.id) <> 0)",
        )
        .fetch_all(&self.db)
        .await
        .unwrap();
        assert!(
            wrong_refunds.is_empty(),
            "refunds must match FAILED recipients one to one (id, status, refunds): {wrong_refunds:?}"
        );
    }

    /// End-of-test checks, then drops the database.
    pub async fn finish(mut self) {
        self.assert_ledger_invariant().await;
        self.assert_states_allowed().await;
        self.stop.cancel();
        self.db.close().await;
        drop_database(&self.services.database_server_url, &self.db_name).await;
        if let Some(names) = &self.amqp_names {
            delete_amqp(&self.services.amqp_url, names).await;
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
        // A failed test still removes its database.
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
                    delete_amqp(&amqp_url, names).await;
                }
            });
        })
        .join();
    }
}
