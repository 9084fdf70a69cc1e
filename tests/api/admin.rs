use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, spawn_app};

#[tokio::test]
async fn admin_creates_a_customer_whose_key_is_stored_hashed() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/admin/customers",
            Some(ADMIN_TOKEN),
            &json!({"name": "acme", "balance": 5}),
        )
        .await;
    r.assert_status(201);
    let key = r.body["api_key"].as_str().unwrap().to_string();
    assert_eq!(r.body["name"], "acme");
    assert_eq!(r.body["balance"], 5);
    let id = r.body["customer_id"].as_i64().unwrap();

    let stored = app.stored_key_hash(id).await;
    assert_eq!(stored.len(), 32);
    assert_ne!(stored, key.as_bytes());

    // The key works and the initial balance is in the ledger.
    let b = app.get("/balance", Some(&key)).await;
    b.assert_status(200);
    assert_eq!(b.body["balance"], 5);
    assert_eq!(b.body["transactions"][0]["transaction_type"], "initial");
    app.finish().await;
}

#[tokio::test]
async fn admin_routes_refuse_customers_and_strangers() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 0).await;
    let body = json!({"name": "other"});
    app.post("/admin/customers", Some(&key), &body)
        .await
        .assert_problem(403);
    app.post("/admin/customers", None, &body)
        .await
        .assert_problem(401);
    let r = app.post("/admin/customers", Some("nope"), &body).await;
    r.assert_problem(401);
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    app.post(
        "/balance/add",
        Some(&key),
        &json!({"user_id": id, "balance": 10}),
    )
    .await
    .assert_problem(403);
    app.post(
        &format!("/admin/customers/{id}/api-key"),
        Some(&key),
        &json!({}),
    )
    .await
    .assert_problem(403);
    assert_eq!(app.balance_of(id).await, 0);
    app.finish().await;
}

#[tokio::test]
async fn bad_customer_input_is_rejected() {
    let app = spawn_app().await;
    app.create_customer("acme", 0).await;
    let r = app
        .post(
            "/admin/customers",
            Some(ADMIN_TOKEN),
            &json!({"name": "acme"}),
        )
        .await;
    r.assert_problem(409);
    let r = app
        .post(
            "/admin/customers",
            Some(ADMIN_TOKEN),
            &json!({"name": " ", "balance": -1}),
        )
        .await;
    let p = r.assert_problem(400);
    assert!(p["errors"]["name"].is_string());
    assert!(p["errors"]["balance"].is_string());
    let r = app
        .post(
            "/admin/customers",
            Some(ADMIN_TOKEN),
            &json!({"name": "x", "color": "red"}),
        )
        .await;
    assert!(
        r.assert_problem(400)["detail"]
            .as_str()
            .unwrap()
            .contains("color")
    );
    assert_eq!(app.count("customers").await, 1);
    app.finish().await;
}

#[tokio::test]
async fn rotating_a_key_invalidates_the_old_one() {
    let app = spawn_app().await;
    let (id, old) = app.create_customer("acme", 0).await;
    let r = app
        .post(
            &format!("/admin/customers/{id}/api-key"),
            Some(ADMIN_TOKEN),
            &json!({}),
        )
        .await;
    r.assert_status(200);
    let new = r.body["api_key"].as_str().unwrap();
    app.get("/balance", Some(&old)).await.assert_problem(401);
    app.get("/balance", Some(new)).await.assert_status(200);
    app.post(
        "/admin/customers/999999/api-key",
        Some(ADMIN_TOKEN),
        &json!({}),
    )
    .await
    .assert_problem(404);
    // A path segment that is not a customer id is a problem document too.
    for bad in ["not-a-number", "99999999999999999999"] {
        let body = app
            .post(
                &format!("/admin/customers/{bad}/api-key"),
                Some(ADMIN_TOKEN),
                &json!({}),
            )
            .await
            .assert_problem(400)
            .clone();
        assert_eq!(body["type"], "/problems/bad-request");
    }
    app.finish().await;
}

#[tokio::test]
async fn health_and_unknown_routes() {
    let app = spawn_app().await;
    let r = app.get("/healthz", None).await;
    r.assert_status(200);
    assert_eq!(r.body["status"], "ok");
    // The broker of this test app is not connected: the API (intake goes on into the
    // outbox) is ready and says the broker is down.
    let r = app.get("/readyz", None).await;
    r.assert_status(200);
    assert_eq!(r.body["database"], "up");
    assert_eq!(r.body["broker"], "down");
    assert_eq!(r.body["broker_required"], false);
    app.get("/nope", None).await.assert_problem(404);
    app.request("DELETE", "/sms/send", None, &[], None)
        .await
        .assert_problem(405);
    app.finish().await;
}

#[tokio::test]
async fn readiness_follows_the_broker_and_draining() {
    let app = spawn_app().await;
    tokio::spawn(app.state.broker.clone().run_until_stopped(app.stop.clone()));
    let mut ready = false;
    for _ in 0..100 {
        if app.get("/readyz", None).await.status == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "readyz never became ready with a running broker");
    app.state.start_draining();
    let r = app.get("/readyz", None).await;
    r.assert_status(503);
    assert_eq!(r.body["status"], "draining");
    app.finish().await;
}

/// Readiness by role: a process that publishes or delivers (readiness gated by the broker) is
/// not ready without the broker; any process is not ready while the database cannot commit
/// a write (here: the probe row is locked, so the probe's upsert cannot finish in 2 s).
#[tokio::test]
async fn readiness_needs_a_database_that_commits_and_the_broker_only_where_used() {
    use sms_gateway::state::{App, AppState};
    let app = spawn_app().await;
    let s = &app.state;
    let worker = AppState(std::sync::Arc::new(
        App::new(s.config.clone(), s.db.clone(), s.broker.clone())
            .with_broker_gating_readiness(true),
    ));
    let worker_router = sms_gateway::http::ops_router(worker);
    let req = || {
        axum::http::Request::get("/readyz")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let r = tower::ServiceExt::oneshot(worker_router.clone(), req())
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "a worker without its broker is not ready");

    app.get("/readyz", None).await.assert_status(200);
    let held = app.hold_row("readiness_probe", "id", 1).await;
    let started = std::time::Instant::now();
    let r = app.get("/readyz", None).await;
    r.assert_status(503);
    assert_eq!(r.body["database"], "down");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "the probe is bounded"
    );
    held.rollback().await.unwrap();
    app.get("/readyz", None).await.assert_status(200);
    app.finish().await;
}
