//! The lanes and the operators behind them: express ahead of a normal backlog, and the
//! built-in mock operators when none are configured.

use std::time::Duration;

use serde_json::json;
use tokio_util::task::TaskTracker;

use crate::helpers::{mock, operators_json, spawn_app, spawn_app_with_broker};

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
    let bulk_id = app
        .send_ok(
            &key,
            json!({"text": "bulk", "recipients": ["+989120000000"]}),
        )
        .await;
    let request_id = app.request_id(&bulk_id).await;
    app.delete_outbox_rows().await;
    let channel = app.amqp_channel().await;
    sms_gateway::queue::topology::declare(&channel, &app.state.config.amqp)
        .await
        .unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let body = serde_json::to_vec(&sms_gateway::outbox::QueueMessage::first(
        bulk_id.clone(),
        request_id,
    ))
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

    app.run_pipeline();
    let mut worst = Duration::ZERO;
    for i in 0..10 {
        let started = std::time::Instant::now();
        let id = app
            .send_ok(&key, json!({"text": "otp", "recipients": [format!("+98912123457{i}")], "type": "express"}))
            .await;
        app.wait_for_status(&key, &id, &["SENT"]).await;
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
    let app = spawn_app().await;
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
        from: None,
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
