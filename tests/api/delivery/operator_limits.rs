//! Operators' own limits end to end: a mock operator that answers 429 above its rate, behind
//! the gateway's `max_rps` cap for it, or without one (the 429s slow it, and its breaker
//! stays closed). Every recipient ends SENT, once, with nothing refunded.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sms_gateway::mock_operator::MockOperatorConfig;

use crate::helpers::{ADMIN_TOKEN, Mock, TestApp, spawn_app_with_broker, spawn_mock_operator};

/// A fast mock operator answering 429 (`Retry-After: 1`) beyond `max_rps` sends a second.
async fn limited_mock(name: &str, max_rps: Option<u32>) -> Mock {
    spawn_mock_operator(MockOperatorConfig {
        name: name.into(),
        api_key: Some(format!("{name}-key-0123456789")),
        latency: Duration::from_millis(2),
        max_rps,
        ..Default::default()
    })
    .await
}

/// Sends `requests` requests of `per_request` recipients each, as one customer.
async fn send_many(app: &TestApp, requests: usize, per_request: usize) -> i64 {
    let (customer, key) = app.create_customer("acme", 10_000).await;
    for r in 0..requests {
        let recipients: Vec<String> = (0..per_request)
            .map(|i| format!("+98912{:07}", r * per_request + i))
            .collect();
        app.send_ok(&key, json!({"text": "hi", "recipients": recipients}))
            .await;
    }
    customer
}

async fn operator_view(app: &TestApp, name: &str) -> Value {
    let view = app.get("/admin/operators", Some(ADMIN_TOKEN)).await;
    view.assert_status(200);
    view.body["operators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap()
        .clone()
}

#[tokio::test]
async fn the_cap_keeps_an_operator_under_its_own_limit_and_every_message_is_sent() {
    // The operator refuses above 60/s; the gateway caps it at 50/s (burst 5): at most 55 in
    // any of its one-second windows.
    let a = limited_mock("opA", Some(60)).await;
    let ops = json!([{"name": "opA", "url": a.url, "api_key": a.key, "timeout_ms": 1000,
                      "max_rps": 50, "max_wait_ms": 2000}]);
    let app = spawn_app_with_broker(&[("OPERATORS", &ops.to_string())]).await;
    app.run_pipeline();
    let started = Instant::now();
    let customer = send_many(&app, 3, 50).await;
    app.wait_until_every_recipient_is_sent(Duration::from_secs(30), "sending 150 recipients")
        .await;
    let took = started.elapsed();

    let s = a.stats.snapshot();
    assert_eq!(s.rate_limited, 0, "the operator never had to refuse: {s:?}");
    assert_eq!((s.received, s.accepted), (150, 150), "one call each: {s:?}");
    // 150 sends at 50/s after a burst of 5: at least 2.9 s.
    assert!(took >= Duration::from_millis(2_900), "{took:?}");
    assert_eq!(app.refund_count().await, 0);
    assert_eq!(app.balance_of(customer).await, 10_000 - 150);

    let op = operator_view(&app, "opA").await;
    assert_eq!(op["max_rps"], 50, "{op}");
    assert_eq!(op["max_wait_ms"], 2000, "{op}");
    assert_eq!(op["effective_rps"], 50.0, "{op}");
    assert_eq!(op["throttled"], false, "{op}");
    assert_eq!(op["rate_limited"], 0, "{op}");
    assert!(op["throttle_waits"].as_u64().unwrap() > 0, "{op}");
    assert_eq!(op["sent"], 150, "{op}");
    assert_eq!(op["circuit"], "closed", "{op}");
    app.finish().await;
}

#[tokio::test]
async fn an_operator_answering_429_is_slowed_not_broken_and_nothing_is_lost() {
    // opA takes 20/s and says 429 beyond; the gateway has no cap for it. A breaker that
    // counted 429s would open after 3 and stay open for a minute.
    let a = limited_mock("opA", Some(20)).await;
    let b = limited_mock("opB", None).await;
    let ops = json!([
        {"name": "opA", "url": a.url, "api_key": a.key, "timeout_ms": 1000,
         "breaker_failures": 3, "breaker_open_ms": 60000, "breaker_max_open_ms": 60000},
        {"name": "opB", "url": b.url, "api_key": b.key, "timeout_ms": 1000}
    ]);
    let app = spawn_app_with_broker(&[("OPERATORS", &ops.to_string())]).await;
    app.run_pipeline();
    let customer = send_many(&app, 4, 50).await;
    app.wait_until_every_recipient_is_sent(Duration::from_secs(30), "sending 200 recipients")
        .await;

    let (sa, sb) = (a.stats.snapshot(), b.stats.snapshot());
    assert!(sa.rate_limited > 0, "opA was pushed past its limit: {sa:?}");
    assert_eq!(
        sa.accepted + sb.accepted,
        200,
        "each recipient sent once: {sa:?} {sb:?}"
    );
    assert!(sb.accepted > 0, "the overflow went to opB: {sb:?}");
    assert_eq!(app.refund_count().await, 0);
    assert_eq!(app.balance_of(customer).await, 10_000 - 200);

    let op = operator_view(&app, "opA").await;
    assert_eq!(
        op["circuit"], "closed",
        "429s do not open the breaker: {op}"
    );
    assert_eq!(op["transient_failures"], 0, "{op}");
    assert_eq!(op["rate_limited"], sa.rate_limited, "{op}");
    assert_eq!(op["max_rps"], Value::Null, "{op}");
    // Still slowed (or recovered, if the rest went fast): it kept taking traffic.
    assert_eq!(op["sent"], sa.accepted, "{op}");
    assert!(sa.accepted >= 20, "opA kept its share: {sa:?}");
    app.finish().await;
}
