//! Delivery end to end: outbox -> RabbitMQ -> worker -> operator (HTTP mock operators) ->
//! delivery report, with refunds. Real MariaDB, RabbitMQ and HTTP.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sms_gateway::mock_operator::{MockOperator, MockOperatorConfig, MockStats};
use sms_gateway::outbox::PublisherPool;
use sms_gateway::worker::WorkerPool;
use tokio_util::task::TaskTracker;

use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app_with_broker};

pub struct Mock {
    pub url: String,
    pub key: String,
    pub stats: Arc<MockStats>,
}

pub async fn mock(name: &str, fail_rate: f64, reject_rate: f64) -> Mock {
    let key = format!("{name}-key-0123456789");
    let op = MockOperator::new(MockOperatorConfig {
        name: name.into(),
        api_key: Some(key.clone()),
        latency: Duration::from_millis(2),
        fail_rate,
        reject_rate,
        ..Default::default()
    });
    let stats = op.stats();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(op.serve(listener, tokio_util::sync::CancellationToken::new()));
    Mock { url, key, stats }
}

fn operators_json(ops: &[(&str, &Mock)]) -> String {
    let list: Vec<Value> = ops
        .iter()
        .map(|(name, m)| {
            json!({"name": name, "url": m.url, "api_key": m.key, "timeout_ms": 1000,
                   "breaker_failures": 100, "breaker_open_ms": 100})
        })
        .collect();
    Value::Array(list).to_string()
}

/// An app on its own database and queues, with these operators, publishing and delivering.
pub async fn delivering_app(ops: &[(&str, &Mock)]) -> TestApp {
    let app = spawn_app_with_broker(&[("OPERATORS", &operators_json(ops))]).await;
    run_pipeline(&app);
    app
}

/// Runs publishers and workers of the app until it finishes.
pub fn run_pipeline(app: &TestApp) {
    let tracker = TaskTracker::new();
    let cfg = &app.state.config;
    PublisherPool::new(
        app.db.clone(),
        app.state.broker.clone(),
        cfg.amqp.clone(),
        cfg.delivery.clone(),
    )
    .spawn(&tracker, &app.stop);
    WorkerPool::new(
        app.db.clone(),
        app.state.operators.clone().expect("operators"),
        app.state.broker.clone(),
        cfg.amqp.clone(),
        cfg.delivery.clone(),
    )
    .spawn(&tracker, &app.stop);
}

async fn statuses(app: &TestApp, key: &str, sms_id: &str) -> Value {
    let r = app.get(&format!("/sms/{sms_id}"), Some(key)).await;
    r.assert_status(200);
    r.body
}

/// Waits until every recipient of the request is in `wanted`.
pub async fn wait_for(app: &TestApp, key: &str, sms_id: &str, wanted: &[&str]) -> Value {
    for _ in 0..300 {
        let body = statuses(app, key, sms_id).await;
        if body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| wanted.contains(&m["status"].as_str().unwrap()))
        {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{sms_id} never reached {wanted:?}: {}",
        statuses(app, key, sms_id).await
    );
}

async fn refunds(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from user_transactions where transaction_type = 'refund'")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_message_is_sent_then_delivered_by_report() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = delivering_app(&[("opA", &a)]).await;
    let (id, key) = app.create_customer("acme", 10).await;
    let sms_id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989127654321"]}),
        )
        .await;
    let body = wait_for(&app, &key, &sms_id, &["SENT"]).await;
    let msg = &body["messages"][0];
    assert_eq!(msg["provider"], "opA");
    let message_id = msg["provider_message_id"].as_str().unwrap().to_string();
    let events: Vec<&str> = msg["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["PENDING", "SENDING", "SENT"]);
    assert_eq!(a.stats.snapshot().accepted, 2);

    // Reports: wrong key, unknown id, intermediate, final, duplicate.
    let dlr = |status: &str| json!({"message_id": message_id, "status": status});
    // A stranger is refused before the body is even read.
    app.request(
        "POST",
        "/dlr/opA",
        Some("wrong"),
        &[],
        Some(axum::body::Body::from("{")),
    )
    .await
    .assert_problem(401);
    app.request(
        "POST",
        "/dlr/opA",
        None,
        &[],
        Some(axum::body::Body::from("{")),
    )
    .await
    .assert_problem(401);
    // The operator's own key with a malformed body is a 400.
    app.request(
        "POST",
        "/dlr/opA",
        Some(&a.key),
        &[],
        Some(axum::body::Body::from("{")),
    )
    .await
    .assert_problem(400);
    app.post("/dlr/opA", Some("wrong"), &dlr("DELIVRD"))
        .await
        .assert_problem(401);
    app.post("/dlr/nope", Some(&a.key), &dlr("DELIVRD"))
        .await
        .assert_problem(404);
    app.post(
        "/dlr/opA",
        Some(&a.key),
        &json!({"message_id": "x", "status": "DELIVRD"}),
    )
    .await
    .assert_problem(404);
    let r = app.post("/dlr/opA", Some(&a.key), &dlr("ENROUTE")).await;
    r.assert_status(200);
    assert_eq!(r.body["result"], "recorded");
    let r = app.post("/dlr/opA", Some(&a.key), &dlr("DELIVRD")).await;
    assert_eq!(r.body["result"], "applied");
    let r = app.post("/dlr/opA", Some(&a.key), &dlr("UNDELIV")).await;
    assert_eq!(
        r.body["result"], "recorded",
        "a final state never moves again"
    );

    let body = statuses(&app, &key, &sms_id).await;
    assert_eq!(body["messages"][0]["status"], "DELIVERED");
    assert_eq!(body["messages"][1]["status"], "SENT");
    let r = app.get("/sms/history?status=delivered", Some(&key)).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.balance_of(id).await,
        8,
        "a delivered message is not refunded"
    );
    app.finish().await;
}

#[tokio::test]
async fn traffic_fails_over_from_a_failing_operator() {
    let a = mock("opA", 1.0, 0.0).await;
    let b = mock("opB", 0.0, 0.0).await;
    let app = delivering_app(&[("opA", &a), ("opB", &b)]).await;
    let (_, key) = app.create_customer("acme", 10).await;
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    let body = wait_for(&app, &key, &sms_id, &["SENT"]).await;
    assert_eq!(body["messages"][0]["provider"], "opB");
    assert!(a.stats.snapshot().failed >= 1);

    // A preference for opA alone is honoured: it cannot go to B and keeps retrying.
    let sms_id = app.send_ok(&key, json!({"text": "hi", "recipients": ["+989121234568"], "operators": ["opA"], "validity_seconds": 1})).await;
    let body = wait_for(&app, &key, &sms_id, &["FAILED"]).await;
    assert_eq!(body["operators"], json!(["opA"]));
    assert!(
        body["messages"][0]["failure_reason"]
            .as_str()
            .unwrap()
            .starts_with("expired")
    );
    assert_eq!(b.stats.snapshot().accepted, 1);
    app.finish().await;
}

#[tokio::test]
async fn when_every_operator_fails_the_message_expires_and_is_refunded_once() {
    let a = mock("opA", 1.0, 0.0).await;
    let b = mock("opB", 1.0, 0.0).await;
    let app = delivering_app(&[("opA", &a), ("opB", &b)]).await;
    let (id, key) = app.create_customer("acme", 10).await;
    let r = app
        .send(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989127654321"],
                            "type": "express", "validity_seconds": 2}),
        )
        .await;
    r.assert_status(202);
    assert_eq!(app.balance_of(id).await, 6);
    let sms_id = r.body["sms_identifier"].as_str().unwrap().to_string();
    let body = wait_for(&app, &key, &sms_id, &["FAILED"]).await;
    let events: Vec<&str> = body["messages"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert!(
        events.contains(&"RETRY"),
        "retried before giving up: {events:?}"
    );
    assert_eq!(events.last(), Some(&"FAILED"));
    assert_eq!(
        events.iter().filter(|e| **e == "SENDING").count(),
        1,
        "taking it again for a retry is not a new SENDING transition: {events:?}"
    );
    assert!(a.stats.snapshot().received >= 2 && b.stats.snapshot().received >= 2);
    assert_eq!(app.balance_of(id).await, 10, "back to the credit");
    assert_eq!(refunds(&app).await, 2, "one refund per recipient");
    // Nothing is left to publish or retry.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.count("outbox_events").await, 0);
    app.finish().await;
}

#[tokio::test]
async fn a_permanent_rejection_fails_without_failover() {
    let a = mock("opA", 0.0, 1.0).await;
    let b = mock("opB", 0.0, 0.0).await;
    let app = delivering_app(&[("opA", &a), ("opB", &b)]).await;
    let (id, key) = app.create_customer("acme", 10).await;
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    let body = wait_for(&app, &key, &sms_id, &["FAILED"]).await;
    assert!(
        body["messages"][0]["failure_reason"]
            .as_str()
            .unwrap()
            .contains("rejected by opA")
    );
    assert_eq!(body["messages"][0]["provider"], "opA");
    assert_eq!(b.stats.snapshot().received, 0, "no failover after a 4xx");
    assert_eq!(app.balance_of(id).await, 10);
    assert_eq!(refunds(&app).await, 1);
    app.finish().await;
}

#[tokio::test]
async fn a_redelivered_request_is_neither_sent_nor_refunded_twice() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = delivering_app(&[("opA", &a)]).await;
    let (id, key) = app.create_customer("acme", 10).await;
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    wait_for(&app, &key, &sms_id, &["SENT"]).await;
    let request_id: i64 =
        sqlx::query_scalar("select id from sms_requests where sms_identifier = ?")
            .bind(&sms_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    // The same queue message again (a redelivery, or a duplicate publish).
    let ctx = sms_gateway::worker::DeliveryContext::new(
        app.db.clone(),
        app.state.operators.clone().unwrap(),
        Duration::from_secs(60),
        Duration::from_secs(60),
        4,
    );
    let summary = sms_gateway::worker::deliver_request(&ctx, request_id)
        .await
        .unwrap();
    assert_eq!(summary.sent, 0);
    assert_eq!(a.stats.snapshot().received, 1, "the operator got it once");

    // A refund cannot be booked twice for one recipient, nor for a SENT one.
    let request = sms_gateway::db::messages::request_by_id(&app.db, request_id)
        .await
        .unwrap()
        .unwrap();
    let status_id: i64 = sqlx::query_scalar("select id from sms_status where request_id = ?")
        .bind(request_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(
        sms_gateway::db::delivery::fail_and_refund(&app.db, &request, status_id, "x", None)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(refunds(&app).await, 0);
    assert_eq!(app.balance_of(id).await, 9);
    app.finish().await;
}

#[tokio::test]
async fn a_recipient_held_by_a_dead_worker_is_sent_after_its_lease() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = spawn_app_with_broker(&[("OPERATORS", &operators_json(&[("opA", &a)]))]).await;
    let (_, key) = app.create_customer("acme", 10).await;
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    // A worker took the recipient and died (its lease ran out), and its queue message was
    // acknowledged by a duplicate: only the sweeper can bring it back.
    sqlx::query("update sms_status set status = 'SENDING', attempts = 1, locked_until = now(6) - interval 1 second")
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("delete from outbox_events")
        .execute(&app.db)
        .await
        .unwrap();
    run_pipeline(&app);
    let body = wait_for(&app, &key, &sms_id, &["SENT"]).await;
    assert_eq!(body["messages"][0]["provider"], "opA");
    assert_eq!(a.stats.snapshot().accepted, 1);
    let _ = ADMIN_TOKEN;
    app.finish().await;
}

#[tokio::test]
async fn nothing_is_sent_while_paused_and_nothing_is_lost() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = spawn_app_with_broker(&[("OPERATORS", &operators_json(&[("opA", &a)]))]).await;
    let (_, key) = app.create_customer("acme", 100).await;
    app.post("/admin/dispatch/pause", Some(&key), &json!({}))
        .await
        .assert_problem(403);
    let r = app
        .post("/admin/dispatch/pause", Some(ADMIN_TOKEN), &json!({}))
        .await;
    r.assert_status(200);
    assert_eq!(r.body["paused"], true);
    run_pipeline(&app);
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = app
            .send(
                &key,
                json!({"text": "hi", "recipients": [format!("+98912123456{i}")]}),
            )
            .await;
        ids.push(r.body["sms_identifier"].as_str().unwrap().to_string());
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(a.stats.snapshot().received, 0, "nothing sent while paused");
    for id in &ids {
        assert_eq!(
            statuses(&app, &key, id).await["messages"][0]["status"],
            "PENDING"
        );
    }
    let view = app.get("/admin/operators", Some(ADMIN_TOKEN)).await;
    view.assert_status(200);
    assert_eq!(view.body["dispatch_paused"], true);

    let r = app
        .post("/admin/dispatch/resume", Some(ADMIN_TOKEN), &json!({}))
        .await;
    assert_eq!(r.body["paused"], false);
    for id in &ids {
        wait_for(&app, &key, id, &["SENT"]).await;
    }
    assert_eq!(
        a.stats.snapshot().accepted,
        5,
        "every message sent once after resuming"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_pause_holds_the_message_an_idle_worker_was_already_waiting_for() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = delivering_app(&[("opA", &a)]).await;
    let (_, key) = app.create_customer("acme", 100).await;
    // The workers run and sit idle, waiting on both lanes.
    let first = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234560"]}))
        .await;
    wait_for(&app, &key, &first, &["SENT"]).await;
    app.post("/admin/dispatch/pause", Some(ADMIN_TOKEN), &json!({}))
        .await
        .assert_status(200);
    // The workers' mirror of the switch refreshes every 250 ms.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut held = Vec::new();
    for (i, sms_type) in ["normal", "express"].iter().enumerate() {
        held.push(
            app.send_ok(
                &key,
                json!({"text": "hi", "recipients": [format!("+98912123457{i}")], "type": sms_type}),
            )
            .await,
        );
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(a.stats.snapshot().received, 1, "nothing sent while paused");
    for id in &held {
        assert_eq!(
            statuses(&app, &key, id).await["messages"][0]["status"],
            "PENDING"
        );
    }
    app.post("/admin/dispatch/resume", Some(ADMIN_TOKEN), &json!({}))
        .await
        .assert_status(200);
    for id in &held {
        wait_for(&app, &key, id, &["SENT"]).await;
    }
    assert_eq!(a.stats.snapshot().accepted, 3, "each message sent once");
    app.finish().await;
}

#[tokio::test]
async fn the_operators_view_shows_circuit_states_and_counters() {
    let a = mock("opA", 1.0, 0.0).await;
    let b = mock("opB", 0.0, 0.0).await;
    let ops = json!([
        {"name": "opA", "url": a.url, "api_key": a.key, "breaker_failures": 2, "breaker_open_ms": 60000},
        {"name": "opB", "url": b.url, "api_key": b.key}
    ]);
    let app = spawn_app_with_broker(&[("OPERATORS", &ops.to_string())]).await;
    run_pipeline(&app);
    let (_, key) = app.create_customer("acme", 100).await;
    for i in 0..4 {
        let r = app
            .send(
                &key,
                json!({"text": "hi", "recipients": [format!("+98912123456{i}")]}),
            )
            .await;
        let id = r.body["sms_identifier"].as_str().unwrap().to_string();
        wait_for(&app, &key, &id, &["SENT"]).await;
    }
    let view = app.get("/admin/operators", Some(ADMIN_TOKEN)).await;
    view.assert_status(200);
    let ops = view.body["operators"].as_array().unwrap();
    let op_a = ops.iter().find(|o| o["name"] == "opA").unwrap();
    let op_b = ops.iter().find(|o| o["name"] == "opB").unwrap();
    assert_eq!(
        op_a["circuit"], "open",
        "two failures opened A's breaker: {op_a}"
    );
    assert_eq!(op_a["transient_failures"], 2);
    assert!(op_a["rejected_by_circuit"].as_u64().unwrap() >= 2);
    assert_eq!(op_b["circuit"], "closed");
    assert_eq!(op_b["sent"], 4);
    assert_eq!(
        a.stats.snapshot().received,
        2,
        "an open breaker stops calls to A"
    );
    app.get("/admin/operators", Some(&key))
        .await
        .assert_problem(403);
    app.finish().await;
}

#[tokio::test]
async fn express_stays_fast_behind_a_50000_message_normal_backlog() {
    use lapin::BasicProperties;
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};

    let a = mock("opA", 0.0, 0.0).await;
    let app = spawn_app_with_broker(&[
        ("OPERATORS", &operators_json(&[("opA", &a)])),
        ("WORKERS_NORMAL", "4"),
        ("WORKERS_EXPRESS", "4"),
    ])
    .await;
    let (_, key) = app.create_customer("acme", 1_000).await;
    // The backlog: 50,000 normal queue messages (copies naming one real request, so each
    // costs a worker a database round trip), published straight to the normal queue.
    let r = app
        .send(
            &key,
            json!({"text": "bulk", "recipients": ["+989120000000"]}),
        )
        .await;
    let bulk_id = r.body["sms_identifier"].as_str().unwrap().to_string();
    let request_id: i64 =
        sqlx::query_scalar("select id from sms_requests where sms_identifier = ?")
            .bind(&bulk_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    sqlx::query("delete from outbox_events")
        .execute(&app.db)
        .await
        .unwrap();
    let channel = app.amqp_channel().await;
    sms_gateway::queue::topology::declare(&channel, &app.state.config.amqp)
        .await
        .unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let body = serde_json::to_vec(&sms_gateway::outbox::QueueMessage {
        sms_identifier: bulk_id.clone(),
        request_id,
    })
    .unwrap();
    for _ in 0..50_000 {
        // Confirms are awaited all at once below.
        let confirm = channel
            .basic_publish(
                app.state.config.amqp.exchange.as_str().into(),
                "normal".into(),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .unwrap();
        drop(confirm);
    }
    channel.wait_for_confirms().await.unwrap();

    run_pipeline(&app);
    let mut worst = Duration::ZERO;
    for i in 0..10 {
        let started = std::time::Instant::now();
        let r = app
            .send(&key, json!({"text": "otp", "recipients": [format!("+98912123457{i}")], "type": "express"}))
            .await;
        let id = r.body["sms_identifier"].as_str().unwrap().to_string();
        wait_for(&app, &key, &id, &["SENT"]).await;
        worst = worst.max(started.elapsed());
    }
    let queue = app.state.config.amqp.queue_normal.clone();
    let left = app.queue_depth(&queue).await;
    eprintln!("express acceptance-to-SENT worst of 10: {worst:?}; normal backlog left: {left}");
    assert!(
        left > 10_000,
        "the normal backlog must still be there to prove anything (left {left})"
    );
    assert!(
        worst < Duration::from_secs(2),
        "express took {worst:?} behind the backlog"
    );
    app.finish().await;
}

#[tokio::test]
async fn without_configured_operators_built_in_mocks_deliver() {
    let app = crate::helpers::spawn_app().await;
    assert!(app.state.config.operators.uses_builtin_mocks());
    let tracker = TaskTracker::new();
    let registry = sms_gateway::startup::build_operators(&app.state.config, &tracker, &app.stop)
        .await
        .unwrap();
    let names: Vec<String> = registry.statuses().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["mock-a", "mock-b"]);
    let sms = sms_gateway::operators::OutboundSms {
        to: "+989121234567".into(),
        text: "hi".into(),
        reference: "1".into(),
    };
    match registry
        .send(sms_gateway::domain::SmsType::Express, &[], &sms)
        .await
    {
        sms_gateway::operators::SendOutcome::Sent {
            operator,
            message_id,
        } => {
            assert_eq!(operator, "mock-a");
            assert!(message_id.starts_with("mock-a-"));
        }
        other => panic!("the built-in mock did not accept: {other:?}"),
    }
    app.finish().await;
}
