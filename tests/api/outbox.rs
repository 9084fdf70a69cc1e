//! The outbox publisher pool against the real broker.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use sms_gateway::db::outbox as repo;
use sms_gateway::domain::SmsType;
use sms_gateway::outbox::{QueueBody, QueueMessage};

use crate::helpers::spawn_app_with_broker;

/// The slices the queue messages carry, in order.
fn slices(msgs: &[lapin::message::BasicGetMessage]) -> Vec<QueueMessage> {
    msgs.iter()
        .flat_map(|m| QueueBody::parse(&m.delivery.data).expect("a queue message"))
        .collect()
}

#[tokio::test]
async fn accepted_requests_reach_their_lane_queue_persistently() {
    let app = spawn_app_with_broker(&[]).await;
    let (_, key) = app.create_customer("acme", 100).await;
    let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let mut normal_ids = HashSet::new();
    for i in 0..3 {
        let r = app
            .post_with(
                "/sms/send",
                Some(&key),
                &[("traceparent", tp)],
                &json!({"text": "hi", "recipients": [format!("+98912123456{i}"), "+989127654321"]}),
            )
            .await;
        r.assert_status(202);
        normal_ids.insert(r.sms_identifier());
    }
    let express = app
        .send(
            &key,
            json!({"text": "otp", "recipients": ["+989121234567"], "type": "express"}),
        )
        .await;
    express.assert_status(202);

    app.spawn_publishers();
    app.wait_for_empty_outbox().await;

    let cfg = &app.state.config.amqp;
    let normal = app.drain_queue(&cfg.queue_normal).await;
    let express_msgs = app.drain_queue(&cfg.queue_express).await;
    // One slice per request, not per recipient; small requests claimed together share a
    // message.
    assert_eq!(normal.len(), 1, "the three small requests share a message");
    assert_eq!(express_msgs.len(), 1);
    let normal_slices = slices(&normal);
    assert_eq!(normal_slices.len(), 3);
    let got: HashSet<String> = normal_slices
        .iter()
        .map(|m| m.sms_identifier.clone())
        .collect();
    assert_eq!(got, normal_ids);
    // Each slice is in its own request's trace.
    for m in &normal_slices[1..] {
        let own = m
            .traceparent
            .as_deref()
            .expect("a shared slice has its trace context");
        assert_eq!(own.split('-').nth(1), tp.split('-').nth(1));
    }
    let props = &normal[0].delivery.properties;
    assert_eq!(props.delivery_mode(), &Some(2), "persistent");
    let headers = props.headers().as_ref().expect("headers");
    let carried = headers
        .inner()
        .get("traceparent")
        .expect("traceparent header");
    let lapin::types::AMQPValue::LongString(carried) = carried else {
        panic!("traceparent is not a string: {carried:?}");
    };
    // Same trace as the caller's; the parent is the caller's span or the gateway's own.
    assert_eq!(carried.to_string().split('-').nth(1), tp.split('-').nth(1));
    let m: QueueMessage = serde_json::from_slice(&express_msgs[0].delivery.data).unwrap();
    assert_eq!(m.sms_identifier, express.sms_identifier());
    app.finish().await;
}

#[tokio::test]
async fn concurrent_claims_never_hand_out_a_row_twice() {
    let app = spawn_app_with_broker(&[]).await;
    let (_, key) = app.create_customer("acme", 1_000).await;
    for i in 0..60 {
        let kind = if i % 3 == 0 { "express" } else { "normal" };
        app.send(
            &key,
            json!({"text": "hi", "recipients": [format!("+98912{:07}", i)], "type": kind}),
        )
        .await
        .assert_status(202);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..6 {
        let db = app.db.clone();
        tasks.spawn(async move {
            let priority = if w % 2 == 0 {
                SmsType::Express
            } else {
                SmsType::Normal
            }
            .priority();
            let mut mine = Vec::new();
            loop {
                let rows = repo::claim(&db, priority, 7, &format!("w{w}"))
                    .await
                    .unwrap();
                if rows.is_empty() {
                    return (priority, mine);
                }
                assert!(
                    rows.iter().all(|r| r.priority == priority),
                    "lanes are claimed separately"
                );
                mine.extend(rows.into_iter().map(|r| r.id));
            }
        });
    }
    let mut all = Vec::new();
    while let Some(r) = tasks.join_next().await {
        all.extend(r.unwrap().1);
    }
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 60, "every row claimed");
    assert_eq!(unique.len(), 60, "no row claimed twice");
    // The six claimers took every row and publish none.
    app.expect_claimed_outbox_rows(60);
    app.finish().await;
}

#[tokio::test]
async fn rows_of_a_dead_publisher_are_reaped_and_published() {
    let app = spawn_app_with_broker(&[("OUTBOX_LEASE_SECS", "1")]).await;
    let (_, key) = app.create_customer("acme", 100).await;
    for i in 0..5 {
        app.send(
            &key,
            json!({"text": "hi", "recipients": [format!("+98912123456{i}")]}),
        )
        .await
        .assert_status(202);
    }
    // A publisher claims everything and dies before publishing.
    let claimed = repo::claim(&app.db, 0, 100, "dead-publisher")
        .await
        .unwrap();
    assert_eq!(claimed.len(), 5);
    // Nothing is claimable while the lease runs ...
    assert!(
        repo::claim(&app.db, 0, 100, "other")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(repo::reap_expired(&app.db, 1, 100).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // ... and after it expired, a live pool (with its reaper) publishes them.
    app.spawn_publishers();
    app.wait_for_empty_outbox().await;
    let msgs = app.drain_queue(&app.state.config.amqp.queue_normal).await;
    assert_eq!(slices(&msgs).len(), 5);
    // The dead publisher waking up cannot delete rows it no longer owns.
    let ids: Vec<i64> = claimed.iter().map(|r| r.id).collect();
    assert_eq!(
        repo::delete_published(&app.db, &ids, "dead-publisher")
            .await
            .unwrap(),
        0
    );
    app.finish().await;
}

#[tokio::test]
async fn a_publish_round_stops_cleanly_with_nothing_left_claimed() {
    let app = spawn_app_with_broker(&[]).await;
    let (_, key) = app.create_customer("acme", 100).await;
    for i in 0..4 {
        app.send(
            &key,
            json!({"text": "hi", "recipients": [format!("+98912123456{i}")], "type": "express"}),
        )
        .await
        .assert_status(202);
    }
    let pool = app.publisher_pool();
    let channel = pool.open_channel(&app.stop).await.expect("channel");
    let round = pool.publish_once(&channel, SmsType::Express).await.unwrap();
    assert_eq!((round.claimed, round.published, round.released), (4, 4, 0));
    let empty = pool.publish_once(&channel, SmsType::Express).await.unwrap();
    assert_eq!(empty.claimed, 0);
    assert_eq!(app.claimed_outbox_rows().await, 0);
    let msgs = app.drain_queue(&app.state.config.amqp.queue_express).await;
    assert_eq!(msgs.len(), 1, "one message for the four small requests");
    assert_eq!(slices(&msgs).len(), 4);
    app.finish().await;
}

#[tokio::test]
async fn a_retry_queued_while_the_first_publish_awaits_its_confirm_is_kept() {
    let app = spawn_app_with_broker(&[]).await;
    let (_, key) = app.create_customer("acme", 100).await;
    app.send_ok(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    // A publisher claimed the row and is waiting for the broker's confirm ...
    let claimed = repo::claim(&app.db, 0, 10, "publisher-1").await.unwrap();
    assert_eq!(claimed.len(), 1);
    // ... while a worker already got the message, failed, and re-queued the request.
    let mut conn = app.db.acquire().await.unwrap();
    sms_gateway::db::delivery::requeue(
        &mut conn,
        claimed[0].request_id,
        &claimed[0].sms_identifier,
        0,
        0,
    )
    .await
    .unwrap();
    drop(conn);
    // The confirm arrives: the publisher's delete must not take the retry with it.
    let deleted = repo::delete_published(&app.db, &[claimed[0].id], "publisher-1")
        .await
        .unwrap();
    assert_eq!(deleted, 0);
    assert_eq!(app.outbox_statuses().await, ["waiting"]);
    repo::promote_due(&app.db, 0, 0, 10).await.unwrap();
    assert_eq!(
        repo::claim(&app.db, 0, 10, "publisher-2")
            .await
            .unwrap()
            .len(),
        1
    );
    // publisher-2 holds the retry it claimed: nothing publishes it in this test.
    app.expect_claimed_outbox_rows(1);
    app.finish().await;
}

#[tokio::test]
async fn a_poison_message_goes_to_the_dead_letter_queue() {
    use lapin::BasicProperties;
    use lapin::options::BasicPublishOptions;

    let app = spawn_app_with_broker(&[(
        "OPERATORS",
        r#"[{"name":"opA","url":"http://127.0.0.1:9/send","api_key":"k"}]"#,
    )])
    .await;
    let channel = app.amqp_channel().await;
    let cfg = app.state.config.amqp.clone();
    sms_gateway::queue::topology::declare(&channel, &cfg)
        .await
        .unwrap();
    channel
        .basic_publish(
            cfg.exchange.as_str().into(),
            "express".into(),
            BasicPublishOptions::default(),
            b"not json",
            BasicProperties::default(),
        )
        .await
        .unwrap();
    app.spawn_workers();
    let dead = sms_gateway::queue::topology::dead_letter_queue(&cfg);
    let mut got = Vec::new();
    for _ in 0..100 {
        got = app.drain_queue(&dead).await;
        if !got.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(got.len(), 1, "the poison message was dead-lettered");
    assert_eq!(got[0].delivery.data, b"not json");
    app.finish().await;
}

#[tokio::test]
async fn quorum_queues_can_be_declared_and_used() {
    let app = spawn_app_with_broker(&[("AMQP_QUORUM_QUEUES", "true")]).await;
    let (_, key) = app.create_customer("acme", 100).await;
    app.send_ok(
        &key,
        json!({"text": "hi", "recipients": ["+989121234567"], "type": "express"}),
    )
    .await;
    let pool = app.publisher_pool();
    let channel = pool.open_channel(&app.stop).await.expect("channel");
    let round = pool.publish_once(&channel, SmsType::Express).await.unwrap();
    assert_eq!(round.published, 1);
    let queue = app.state.config.amqp.queue_express.clone();
    assert_eq!(app.queue_depth(&queue).await, 1);
    assert_eq!(app.drain_queue(&queue).await.len(), 1);
    // It really is a quorum queue: declaring it as a classic one is refused as inequivalent.
    let classic = app
        .amqp_channel()
        .await
        .queue_declare(
            queue.as_str().into(),
            lapin::options::QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await;
    let err = classic.expect_err("a classic re-declaration must be refused");
    assert!(
        err.to_string().contains("x-queue-type") || err.to_string().contains("PRECONDITION"),
        "{err}"
    );
    app.finish().await;
}
