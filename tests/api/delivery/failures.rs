//! Failures on the way to the operator: failover, expiry and rejection with their refunds,
//! redelivered queue messages and recipients stranded by a dead worker.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{app_with_operators, delivering_app, mock};

#[tokio::test]
async fn traffic_fails_over_from_a_failing_operator() {
    let a = mock("opA", 1.0, 0.0).await;
    let b = mock("opB", 0.0, 0.0).await;
    let app = delivering_app(&[("opA", &a), ("opB", &b)]).await;
    let (_, key) = app.create_customer("acme", 10).await;
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    let body = app.wait_for_status(&key, &sms_id, &["SENT"]).await;
    assert_eq!(body["messages"][0]["provider"], "opB");
    assert!(a.stats.snapshot().failed >= 1);

    // A preference for opA alone is honoured: it cannot go to B and keeps retrying.
    let sms_id = app.send_ok(&key, json!({"text": "hi", "recipients": ["+989121234568"], "operators": ["opA"], "validity_seconds": 1})).await;
    let body = app.wait_for_status(&key, &sms_id, &["FAILED"]).await;
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
    let sms_id = r.sms_identifier();
    let body = app.wait_for_status(&key, &sms_id, &["FAILED"]).await;
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
    assert_eq!(app.refund_count().await, 2, "one refund per recipient");
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
    let body = app.wait_for_status(&key, &sms_id, &["FAILED"]).await;
    assert!(
        body["messages"][0]["failure_reason"]
            .as_str()
            .unwrap()
            .contains("rejected by opA")
    );
    assert_eq!(body["messages"][0]["provider"], "opA");
    assert_eq!(b.stats.snapshot().received, 0, "no failover after a 4xx");
    assert_eq!(app.balance_of(id).await, 10);
    assert_eq!(app.refund_count().await, 1);
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
    app.wait_for_status(&key, &sms_id, &["SENT"]).await;
    let request_id = app.request_id(&sms_id).await;
    // The same queue message again (a redelivery, or a duplicate publish).
    let ctx = sms_gateway::worker::DeliveryContext::new(
        app.db.clone(),
        app.state.operators.clone().unwrap(),
        Duration::from_secs(60),
        Duration::from_secs(60),
        4,
        2,
        30,
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
    let id_of_status = app.status_ids(&sms_id).await[0];
    let taken = sms_gateway::db::delivery::Taken {
        id: id_of_status,
        attempt: 1,
    };
    assert!(
        sms_gateway::db::delivery::fail_and_refund(&app.db, &request, taken, "x", None)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(app.refund_count().await, 0);
    assert_eq!(app.balance_of(id).await, 9);
    app.finish().await;
}

#[tokio::test]
async fn a_recipient_held_by_a_dead_worker_is_sent_after_its_lease() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = app_with_operators(&[("opA", &a)]).await;
    let (_, key) = app.create_customer("acme", 10).await;
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    // A worker took the recipient and died (its lease ran out), and its queue message was
    // acknowledged by a duplicate: only the sweeper can bring it back.
    app.strand_every_recipient_with_a_dead_worker().await;
    app.delete_outbox_rows().await;
    app.run_pipeline();
    let body = app.wait_for_status(&key, &sms_id, &["SENT"]).await;
    assert_eq!(body["messages"][0]["provider"], "opA");
    assert_eq!(a.stats.snapshot().accepted, 1);
    app.finish().await;
}

#[tokio::test]
async fn a_recipient_taken_again_is_looked_up_at_its_operator_before_a_second_send() {
    let a = mock("opA", 0.0, 0.0).await;
    let operators = json!([{"name": "opA", "url": a.url, "api_key": a.key, "timeout_ms": 1000,
        "status_url": a.url.replace("/send", "/status")}])
    .to_string();
    let app = crate::helpers::spawn_app_with_broker(&[("OPERATORS", &operators)]).await;
    let (id, key) = app.create_customer("acme", 10).await;
    let sms_id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989121234568"]}),
        )
        .await;
    let ids = app.status_ids(&sms_id).await;
    // The first recipient's call reached the operator, then its worker died before recording
    // it; the second one's worker died before its call.
    let reached: serde_json::Value = reqwest::Client::new()
        .post(&a.url)
        .bearer_auth(&a.key)
        .json(&json!({"to": "+989121234567", "text": "hi", "reference": format!("{sms_id}:{}", ids[0])}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    app.strand_every_recipient_with_a_dead_worker().await;
    app.delete_outbox_rows().await;
    app.run_pipeline();
    let body = app.wait_for_status(&key, &sms_id, &["SENT"]).await;
    let first = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["recipient"] == "+989121234567")
        .unwrap();
    assert_eq!(first["provider"], "opA");
    assert_eq!(first["provider_message_id"], reached["message_id"]);
    let stats = a.stats.snapshot();
    assert_eq!(
        stats.repeated, 0,
        "a message the operator had was sent again"
    );
    assert_eq!(stats.accepted, 2, "the one it did not have was sent once");
    assert_eq!((stats.lookups, stats.lookups_found), (2, 1));
    assert_eq!(app.balance_of(id).await, 8, "nothing refunded");
    app.finish().await;
}
