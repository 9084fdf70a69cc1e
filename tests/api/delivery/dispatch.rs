//! Dispatch control by the admin: pausing and resuming, and the operators view.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{
    ADMIN_TOKEN, app_with_operators, delivering_app, mock, spawn_app_with_broker,
};

#[tokio::test]
async fn nothing_is_sent_while_paused_and_nothing_is_lost() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = app_with_operators(&[("opA", &a)]).await;
    let (_, key) = app.create_customer("acme", 100).await;
    app.post("/admin/dispatch/pause", Some(&key), &json!({}))
        .await
        .assert_problem(403);
    let r = app
        .post("/admin/dispatch/pause", Some(ADMIN_TOKEN), &json!({}))
        .await;
    r.assert_status(200);
    assert_eq!(r.body["paused"], true);
    app.run_pipeline();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            app.send_ok(
                &key,
                json!({"text": "hi", "recipients": [format!("+98912123456{i}")]}),
            )
            .await,
        );
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(a.stats.snapshot().received, 0, "nothing sent while paused");
    for id in &ids {
        assert_eq!(
            app.sms_detail(&key, id).await["messages"][0]["status"],
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
        app.wait_for_status(&key, id, &["SENT"]).await;
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
    app.wait_for_status(&key, &first, &["SENT"]).await;
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
            app.sms_detail(&key, id).await["messages"][0]["status"],
            "PENDING"
        );
    }
    app.post("/admin/dispatch/resume", Some(ADMIN_TOKEN), &json!({}))
        .await
        .assert_status(200);
    for id in &held {
        app.wait_for_status(&key, id, &["SENT"]).await;
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
    app.run_pipeline();
    let (_, key) = app.create_customer("acme", 100).await;
    for i in 0..4 {
        let id = app
            .send_ok(
                &key,
                json!({"text": "hi", "recipients": [format!("+98912123456{i}")]}),
            )
            .await;
        app.wait_for_status(&key, &id, &["SENT"]).await;
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
