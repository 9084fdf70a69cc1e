//! A failing endpoint: retried with backoff, parked when the retry period is over, visible,
//! and replayed; a dead endpoint of one customer delays no other.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio_util::task::TaskTracker;
use wiremock::matchers::method;
use wiremock::{Mock as WireMock, MockServer, ResponseTemplate};

use super::{callback_app, events_received};
use crate::helpers::mock;

async fn answering(status: u16) -> MockServer {
    let server = MockServer::start().await;
    WireMock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_then_parked_then_replayed() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = callback_app(&[("opA", &a)], &[("CALLBACK_RETRY_PERIOD_SECS", "1")]).await;
    let (_, key) = app.create_customer("acme", 10).await;
    let hook = answering(500).await;
    app.put_callback_url(&key, Some(&hook.uri()))
        .await
        .assert_status(200);
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    app.wait_for_status(&key, &sms_id, &["SENT"]).await;
    let dispatcher = app.dispatcher();

    // First try: 500, pending again with a backoff.
    dispatcher.run_once().await.unwrap();
    let first = events_received(&hook).await;
    assert_eq!(first.len(), 1);
    let event_id = first[0]["event_id"].as_str().unwrap().to_string();
    let (state, attempts): (String, i32) =
        sqlx::query_as("select state, attempts from callback_events")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts), ("pending", 1));

    // After the retry period, the next failure parks it.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    dispatcher.run_once().await.unwrap();
    let second = events_received(&hook).await;
    assert_eq!(second.len(), 2, "retried once");
    assert_eq!(
        second[1]["event_id"],
        event_id.as_str(),
        "the same event id"
    );
    assert_eq!(second[1]["attempt"], 2);
    let parked = app.get("/callbacks/parked", Some(&key)).await;
    parked.assert_status(200);
    let items = parked.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", parked.body);
    assert_eq!(items[0]["event_id"], event_id.as_str());
    assert_eq!(items[0]["attempts"], 2);
    assert_eq!(items[0]["last_error"], "answered 500");
    assert_eq!(
        app.metric("smsgw_callback_events_total{outcome=\"parked\"}")
            .await,
        1.0
    );
    assert!(
        app.metric("smsgw_callback_posts_total{outcome=\"failed\"}")
            .await
            >= 2.0
    );

    // Parked: not tried again.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    dispatcher.run_once().await.unwrap();
    assert_eq!(events_received(&hook).await.len(), 2);

    // The endpoint is fixed; the replay delivers it under the same id.
    hook.reset().await;
    WireMock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&hook)
        .await;
    let replayed = app
        .post(
            "/callbacks/replay",
            Some(&key),
            &json!({"event_ids": [event_id]}),
        )
        .await;
    replayed.assert_status(200);
    assert_eq!(replayed.body["replayed"], 1);
    let events = app.dispatch_until(&hook, 1).await;
    assert_eq!(events[0]["event_id"], event_id.as_str());
    assert_eq!(events[0]["attempt"], 1);
    assert_eq!(app.count("callback_events").await, 0);
    let log = app.get("/callbacks/deliveries", Some(&key)).await;
    let outcomes: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["delivered", "failed", "failed"]);
    // A replay of nothing parked replays nothing.
    let none = app.post("/callbacks/replay", Some(&key), &json!({})).await;
    assert_eq!(none.body["replayed"], 0);
    app.finish().await;
}

#[tokio::test]
async fn a_dead_endpoint_of_one_customer_delays_no_other_customer() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = callback_app(
        &[("opA", &a)],
        &[("CALLBACK_TIMEOUT_MS", "3000"), ("CALLBACK_POLL_MS", "20")],
    )
    .await;
    let (_, slow_key) = app.create_customer("slow", 10).await;
    let (_, fast_key) = app.create_customer("fast", 10).await;
    let slow = MockServer::start().await;
    WireMock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
        .mount(&slow)
        .await;
    let fast = answering(200).await;
    app.put_callback_url(&slow_key, Some(&slow.uri()))
        .await
        .assert_status(200);
    app.put_callback_url(&fast_key, Some(&fast.uri()))
        .await
        .assert_status(200);
    let dispatcher = app.dispatcher();
    dispatcher.spawn(&TaskTracker::new(), &app.stop);

    let slow_sms = app
        .send_ok(
            &slow_key,
            json!({"text": "hi", "recipients": ["+989121234567"]}),
        )
        .await;
    app.wait_for_status(&slow_key, &slow_sms, &["SENT"]).await;
    // The slow endpoint has its POST and hangs on it.
    let hung = Instant::now();
    while slow.received_requests().await.unwrap().is_empty() {
        assert!(
            hung.elapsed() < Duration::from_secs(5),
            "the slow endpoint got no POST"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent_at = Instant::now();
    let fast_sms = app
        .send_ok(
            &fast_key,
            json!({"text": "hi", "recipients": ["+989127654321"]}),
        )
        .await;
    app.wait_for_status(&fast_key, &fast_sms, &["SENT"]).await;
    while events_received(&fast).await.is_empty() {
        assert!(
            sent_at.elapsed() < Duration::from_millis(2_500),
            "the other customer's callback waited behind the slow endpoint"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        hung.elapsed() < Duration::from_secs(3),
        "measured while the slow POST was still hanging"
    );
    // The slow one times out and backs off alone.
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let log = app.get("/callbacks/deliveries", Some(&slow_key)).await;
        if let Some(first) = log.body["items"].as_array().unwrap().first() {
            assert_eq!(first["outcome"], "unreachable", "{first}");
            break;
        }
        assert!(Instant::now() < deadline, "the slow POST never timed out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop.cancel();
    app.finish().await;
}
