//! Lost queue messages: one purged from its queue after the publish is found by the
//! stranded-message sweeper and delivered once; dead letters are listed and replayed by the
//! admin endpoints. On the shared broker, with this test's own exchange and queues.

use std::time::{Duration, Instant};

use lapin::options::{BasicGetOptions, BasicPublishOptions, BasicRejectOptions};
use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, TestApp, mock, operators_json, spawn_app_with_broker};

async fn app_with(op: &crate::helpers::Mock) -> TestApp {
    spawn_app_with_broker(&[
        ("OPERATORS", &operators_json(&[("opA", op)])),
        ("STRANDED_AFTER_SECS", "1"),
    ])
    .await
}

/// Waits until the lane's queue holds `n` messages (it may not be declared yet: the
/// publishers declare it when they start).
async fn wait_for_depth(app: &TestApp, queue: &str, n: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.try_queue_depth(queue).await.ok() != Some(n) {
        assert!(Instant::now() < deadline, "{queue} never held {n} messages");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_message_purged_after_its_publish_is_requeued_and_delivered_once() {
    let op = mock("opA", 0.0, 0.0).await;
    let app = app_with(&op).await;
    let (_, key) = app.create_customer("acme", 100).await;
    app.spawn_publishers();
    let recipients = ["+989121234567", "+989121234568", "+989121234569"];
    let sms = app
        .send_ok(&key, json!({"text": "hi", "recipients": recipients}))
        .await;
    app.wait_for_empty_outbox().await;
    let queue = app.state.config.amqp.queue_normal.clone();
    wait_for_depth(&app, &queue, 1).await;
    // The broker loses it: taken and acknowledged by nobody that delivers.
    assert_eq!(app.drain_queue(&queue).await.len(), 1);

    app.spawn_workers();
    app.wait_for_status(&key, &sms, &["SENT"]).await;
    // Two more sweeps change nothing: delivered once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(op.stats.snapshot().accepted, recipients.len() as u64);
    assert_eq!(app.sent_recipients_of(&sms).await, recipients.len() as i64);
    app.finish().await;
}

#[tokio::test]
async fn a_slice_purged_while_its_request_waits_for_it_is_requeued_and_delivered_once() {
    let op = mock("opA", 0.0, 0.0).await;
    let app = app_with(&op).await;
    let (_, key) = app.create_customer("acme", 1_000).await;
    app.spawn_publishers();
    // Two slices: while the first is out, the request's row is kept ("published").
    let recipients: Vec<String> = (0..100).map(|i| format!("+98912{i:07}")).collect();
    let sms = app
        .send_ok(&key, json!({"text": "hi", "recipients": recipients}))
        .await;
    let queue = app.state.config.amqp.queue_normal.clone();
    wait_for_depth(&app, &queue, 1).await;
    assert_eq!(app.outbox_statuses().await, ["published"]);
    // The broker loses the first slice: the kept row alone must not hide the request.
    assert_eq!(app.drain_queue(&queue).await.len(), 1);

    app.spawn_workers();
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.sent_recipients_of(&sms).await < 100 {
        assert!(
            Instant::now() < deadline,
            "the request was never delivered whole"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        op.stats.snapshot().accepted,
        100,
        "each recipient sent once"
    );
    app.finish().await;
}

#[tokio::test]
async fn dead_letters_are_listed_and_replayed_through_the_outbox() {
    let op = mock("opA", 0.0, 0.0).await;
    let app = app_with(&op).await;
    let (_, key) = app.create_customer("acme", 100).await;
    // Two small requests, claimed together: they share one queue message.
    let sms = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989121234568"]}),
        )
        .await;
    let sms2 = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234569"]}))
        .await;
    app.spawn_publishers();
    app.wait_for_empty_outbox().await;
    let cfg = app.state.config.amqp.clone();
    // An unreadable message too.
    let channel = app.amqp_channel().await;
    channel
        .basic_publish(
            cfg.exchange.as_str().into(),
            "normal".into(),
            BasicPublishOptions::default(),
            b"not json",
            lapin::BasicProperties::default(),
        )
        .await
        .unwrap();
    wait_for_depth(&app, &cfg.queue_normal, 2).await;
    // Both rejected without requeue: dead-lettered by the broker.
    for _ in 0..2 {
        let m = channel
            .basic_get(
                cfg.queue_normal.as_str().into(),
                BasicGetOptions { no_ack: false },
            )
            .await
            .unwrap()
            .expect("a message");
        m.delivery
            .acker
            .reject(BasicRejectOptions { requeue: false })
            .await
            .unwrap();
    }
    wait_for_depth(&app, &format!("{}.dead", cfg.exchange), 2).await;

    app.get("/admin/dead-letters", None)
        .await
        .assert_problem(401);
    let listed = app.get("/admin/dead-letters", Some(ADMIN_TOKEN)).await;
    listed.assert_status(200);
    assert_eq!(listed.body["total"], 2, "{}", listed.text);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["sms_identifier"], sms.as_str());
    assert_eq!(
        items[0]["sms_identifiers"],
        json!([sms.as_str(), sms2.as_str()])
    );
    assert_eq!(items[0]["reason"], "rejected");
    assert_eq!(items[0]["queue"], cfg.queue_normal.as_str());
    assert!(items[1]["sms_identifier"].is_null());
    assert_eq!(items[1]["body"], "not json");
    // Listing leaves them there.
    assert_eq!(
        app.get("/admin/dead-letters?limit=1", Some(ADMIN_TOKEN))
            .await
            .body["total"],
        2
    );

    let replay = app
        .post("/admin/dead-letters/replay", Some(ADMIN_TOKEN), &json!({}))
        .await;
    replay.assert_status(200);
    assert_eq!(replay.body["replayed"], 1, "{}", replay.text);
    assert_eq!(replay.body["skipped"], 1);
    let left = app.get("/admin/dead-letters", Some(ADMIN_TOKEN)).await;
    assert_eq!(left.body["total"], 1);
    assert!(left.body["items"][0]["sms_identifier"].is_null());

    app.spawn_workers();
    app.wait_for_status(&key, &sms, &["SENT"]).await;
    app.wait_for_status(&key, &sms2, &["SENT"]).await;
    assert_eq!(
        op.stats.snapshot().accepted,
        3,
        "both replayed requests were sent once"
    );
    app.finish().await;
}
