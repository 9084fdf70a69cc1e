//! API keys without a database round trip for unknown keys (docs/DESIGN.md, "API keys"): a
//! refused key is refused again from the negative cache, a key made valid by another process
//! is accepted within a poll, a rotation is seen everywhere at once, and a flood of random
//! keys goes through the lookup gate without taking the pool from a valid customer.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use secrecy::ExposeSecret;
use serde_json::json;
use sms_gateway::hashing::sha256;
use sms_gateway::state::{App, AppState};
use sqlx::{Connection, Executor};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app, spawn_app_with};

fn random_key() -> String {
    format!("sk_{}", uuid::Uuid::new_v4().simple())
}

fn send_body() -> serde_json::Value {
    json!({"text": "hi", "recipients": ["+989121234567"]})
}

/// The status of a request through `router` (another process's, or the test app's).
async fn status(router: &Router, method: &str, path: &str, key: &str) -> StatusCode {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"));
    let body = if method == "POST" {
        req = req.header("content-type", "application/json");
        Body::from(send_body().to_string())
    } else {
        Body::empty()
    };
    router
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap()
        .status()
}

/// Statements the pool's only connection has executed so far.
async fn executed(app: &TestApp) -> i64 {
    let (_, value): (String, String) =
        sqlx::query_as("show session status like 'Com_stmt_execute'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    value.parse().unwrap()
}

/// A second gateway process on the same database: its own caches, its own router.
fn second_process(app: &TestApp) -> Router {
    let config = app.state.config.clone();
    let pool = sms_gateway::db::pool(&config.database).unwrap();
    let broker = sms_gateway::queue::Broker::new(&config.amqp, "sms-gateway-test-2");
    sms_gateway::http::router(AppState(Arc::new(App::new(config, pool, broker))))
}

/// Polls the key generation for `app`, as `serve` does for an API process.
fn poll_key_generation(app: &TestApp) {
    let tracker = tokio_util::task::TaskTracker::new();
    sms_gateway::startup::spawn_key_generation_poll(app.state.clone(), &tracker, app.stop.clone());
}

#[tokio::test]
async fn a_refused_key_is_refused_again_without_a_query() {
    sms_gateway::metrics::install();
    // One connection: its session counters see every statement of the gateway.
    let app = spawn_app_with(&[("DB_MAX_CONNECTIONS", "1")]).await;
    let key = random_key();
    let one_read = {
        let before = executed(&app).await;
        executed(&app).await - before
    };

    assert_eq!(status(&app.router, "GET", "/balance", &key).await, 401);
    let before = executed(&app).await;
    for (method, path) in [
        ("GET", "/balance"),
        ("GET", "/sms/history"),
        ("POST", "/sms/send"),
        ("GET", "/balance"),
        ("POST", "/sms/send"),
    ] {
        assert_eq!(status(&app.router, method, path, &key).await, 401, "{path}");
    }
    assert_eq!(
        executed(&app).await - before,
        one_read,
        "a key refused before was looked up again"
    );
    assert_eq!(app.state.key_cache.refused_len(), 1);
    let hits = sms_gateway::metrics::render().lines().find_map(|l| {
        l.strip_prefix("smsgw_api_key_negative_cache_hits_total ")?
            .parse()
            .ok()
    });
    assert_eq!(hits, Some(5.0));
    app.finish().await;
}

#[tokio::test]
async fn a_key_made_valid_by_another_process_is_accepted_within_a_second() {
    let app = spawn_app().await;
    poll_key_generation(&app);
    // The first poll empties the refused keys (whatever changed before it): wait for it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.state.key_cache.observed_generation().is_none() {
        assert!(
            Instant::now() < deadline,
            "the key generation is never polled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let key = random_key();
    assert_eq!(status(&app.router, "GET", "/balance", &key).await, 401);

    // Another process creates a customer with this key: its row, then its generation bump.
    let mut tx = app.db.begin().await.unwrap();
    let id = sqlx::query(
        "insert into customers (name, api_key_hash, api_key_hint) values ('elsewhere', ?, 'sk_')",
    )
    .bind(&sha256(key.as_bytes())[..])
    .execute(&mut *tx)
    .await
    .unwrap()
    .last_insert_id();
    sqlx::query("insert into user_balances (user_id, balance) values (?, 0)")
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // The row alone is not seen: the refusal is remembered until the generation moves.
    assert_eq!(status(&app.router, "GET", "/balance", &key).await, 401);

    sqlx::query("update api_key_generation set generation = generation + 1 where id = 1")
        .execute(&app.db)
        .await
        .unwrap();
    let bumped = Instant::now();
    while status(&app.router, "GET", "/balance", &key).await != 200 {
        assert!(
            bumped.elapsed() < Duration::from_secs(1),
            "a key made valid elsewhere is still refused a second after the generation moved"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Sending works too (402: the new customer has no credit).
    assert_eq!(status(&app.router, "POST", "/sms/send", &key).await, 402);
    app.finish().await;
}

#[tokio::test]
async fn a_rotated_key_is_refused_everywhere_at_once_and_its_successor_works() {
    let app = spawn_app().await;
    let other = second_process(&app);
    let (id, old) = app.create_customer("rotating", 10).await;
    // Both processes have seen the key valid (the send caches it).
    for router in [&app.router, &other] {
        assert_eq!(status(router, "POST", "/sms/send", &old).await, 202);
        assert_eq!(status(router, "GET", "/balance", &old).await, 200);
    }
    let created = app.count("customers").await;

    let r = app
        .post(
            &format!("/admin/customers/{id}/api-key"),
            Some(ADMIN_TOKEN),
            &json!({}),
        )
        .await;
    r.assert_status(200);
    let new = r.body["api_key"].as_str().unwrap().to_string();
    let generation: u64 =
        sqlx::query_scalar("select generation from api_key_generation where id = 1")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        generation as i64,
        created + 1,
        "every creation and rotation bumps the key generation"
    );

    for router in [&app.router, &other] {
        // The endpoints that check a cached key with a query first: a send would forget it.
        for (method, path) in [
            ("GET", "/balance"),
            ("GET", "/sms/history"),
            ("POST", "/sms/send"),
            ("GET", "/balance"),
        ] {
            assert_eq!(status(router, method, path, &old).await, 401, "{path}");
        }
        assert_eq!(status(router, "GET", "/balance", &new).await, 200);
        assert_eq!(status(router, "POST", "/sms/send", &new).await, 202);
    }
    app.finish().await;
}

/// `smsgw_api_key_lookups_waiting` now.
fn lookups_waiting() -> Option<f64> {
    sms_gateway::metrics::render().lines().find_map(|l| {
        l.strip_prefix("smsgw_api_key_lookups_waiting ")?
            .parse()
            .ok()
    })
}

/// Key lookups of `app` that the server is running (or holding at a lock) right now.
async fn lookups_on_the_server(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "select count(*) from information_schema.processlist \
         where db = ? and info like 'select id from customers where api_key_hash%'",
    )
    .bind(app.db_name())
    .fetch_one(&app.db)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_random_keys_holds_at_most_the_gate_and_a_valid_customer_is_served() {
    sms_gateway::metrics::install();
    let app = spawn_app_with(&[
        ("DB_MAX_CONNECTIONS", "10"),
        ("KEY_LOOKUP_CONCURRENCY", "4"),
    ])
    .await;
    let (_, key) = app.create_customer("steady", 100).await;
    assert_eq!(status(&app.router, "GET", "/balance", &key).await, 200);

    // Lookups are made to wait (a table lock) so that those in flight can be counted.
    let mut lock = sqlx::MySqlConnection::connect(app.state.config.database.url.expose_secret())
        .await
        .unwrap();
    lock.execute("lock tables customers write").await.unwrap();
    let flood: Vec<_> = (0..200)
        .map(|i| {
            let router = app.router.clone();
            tokio::spawn(async move {
                let (method, path) = if i % 2 == 0 {
                    ("GET", "/balance")
                } else {
                    ("POST", "/sms/send")
                };
                status(&router, method, path, &random_key()).await
            })
        })
        .collect();
    // Once every other lookup waits at the gate, no more can reach the server.
    let deadline = Instant::now() + Duration::from_secs(5);
    while lookups_waiting() != Some(196.0) {
        assert!(
            Instant::now() < deadline,
            "the flood never queued at the gate: {:?} waiting, {} on the server",
            lookups_waiting(),
            lookups_on_the_server(&app).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The four through the gate may still be on their way to the server (a loaded machine):
    // wait for them, then check that no more come.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut on_server = lookups_on_the_server(&app).await;
    while on_server < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        on_server = lookups_on_the_server(&app).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        lookups_on_the_server(&app).await,
        4,
        "more (or fewer) lookups than KEY_LOOKUP_CONCURRENCY hold connections"
    );
    // The rest of the pool is free for everything else.
    let mut free = Vec::new();
    for _ in 0..5 {
        let conn = tokio::time::timeout(Duration::from_secs(2), app.db.acquire()).await;
        free.push(
            conn.expect("the flood took the pool")
                .expect("a pool connection"),
        );
    }
    drop(free);

    // The lock gone (it held the valid customer's key check too), the flood still going:
    // the valid customer's requests are served.
    lock.execute("unlock tables").await.unwrap();
    for _ in 0..10 {
        let started = Instant::now();
        assert_eq!(status(&app.router, "GET", "/balance", &key).await, 200);
        assert_eq!(status(&app.router, "POST", "/sms/send", &key).await, 202);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    for refused in flood {
        assert_eq!(refused.await.unwrap(), 401);
    }
    assert_eq!(app.state.key_cache.refused_len(), 200);
    assert_eq!(
        lookups_waiting(),
        Some(0.0),
        "no lookup is left counted as waiting"
    );
    app.finish().await;
}
