//! The registry's routing and failover, and the guarded call's breaker, against wiremock
//! operators; `in_doubt.rs`: sends in doubt and lookups by reference; `limits.rs`: the cap,
//! 429s and `Retry-After`.

mod in_doubt;
mod limits;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::config::OperatorConfig;
use crate::domain::SmsType;

fn sms() -> OutboundSms {
    OutboundSms {
        to: "+989121234567".into(),
        text: "hello".into(),
        reference: "7".into(),
        from: None,
    }
}

/// A wiremock operator answering `status` (200 with an id named after the operator).
async fn server(name: &str, status: u16) -> MockServer {
    let s = MockServer::start().await;
    answer(&s, name, status, Duration::ZERO).await;
    s
}

async fn answer(s: &MockServer, name: &str, status: u16, delay: Duration) {
    s.reset().await;
    let mut t = ResponseTemplate::new(status).set_delay(delay);
    if status == 200 {
        t = t.set_body_json(json!({"message_id": format!("{name}-1")}));
    } else {
        t = t.set_body_string("nope");
    }
    Mock::given(method("POST"))
        .and(path("/send"))
        .respond_with(t)
        .mount(s)
        .await;
}

async fn received(s: &MockServer) -> usize {
    s.received_requests().await.unwrap().len()
}

fn config(name: &str, s: &MockServer) -> OperatorConfig {
    serde_json::from_value(json!({
        "name": name,
        "url": format!("{}/send", s.uri()),
        "api_key": format!("key-{name}"),
        "timeout_ms": 1_000,
    }))
    .unwrap()
}

fn http(name: &str, s: &MockServer) -> Arc<dyn SmsOperator> {
    Arc::new(HttpOperator::new(
        &config(name, s),
        HttpOperator::shared_client().unwrap(),
    ))
}

fn names(ops: &[Arc<GuardedOperator>]) -> Vec<&str> {
    ops.iter().map(|g| g.name()).collect()
}

fn prefs(p: &[&str]) -> Vec<String> {
    p.iter().map(|s| s.to_string()).collect()
}

async fn two(a: u16, b: u16) -> (OperatorRegistry, MockServer, MockServer) {
    let (sa, sb) = (server("opA", a).await, server("opB", b).await);
    let reg =
        OperatorRegistry::from_config(&[config("opA", &sa), config("opB", &sb)], &[]).unwrap();
    (reg, sa, sb)
}

#[tokio::test]
async fn fails_over_to_the_next_operator() {
    let (reg, sa, sb) = two(503, 200).await;
    match reg.send(SmsType::Normal, &[], &sms()).await {
        SendOutcome::Sent {
            operator,
            message_id,
        } => assert_eq!((operator.as_str(), message_id.as_str()), ("opB", "opB-1")),
        other => panic!("{other:?}"),
    }
    assert_eq!((received(&sa).await, received(&sb).await), (1, 1));
    let a = reg.get("opA").unwrap().status();
    assert_eq!((a.calls, a.transient_failures, a.sent), (1, 1, 0));
    assert_eq!(reg.get("opB").unwrap().status().sent, 1);
}

#[tokio::test]
async fn a_permanent_rejection_stops_failover() {
    let (reg, _sa, sb) = two(400, 200).await;
    match reg.send(SmsType::Normal, &[], &sms()).await {
        SendOutcome::Rejected { operator, reason } => {
            assert_eq!(operator, "opA");
            assert!(reason.contains("400"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(received(&sb).await, 0);
    assert_eq!(reg.get("opA").unwrap().status().permanent_failures, 1);
}

#[tokio::test]
async fn all_failing_lists_every_attempt() {
    let (reg, _sa, _sb) = two(503, 503).await;
    match reg.send(SmsType::Normal, &[], &sms()).await {
        SendOutcome::AllFailed { attempts } => {
            let ops: Vec<_> = attempts.iter().map(|(o, _)| o.as_str()).collect();
            assert_eq!(ops, ["opA", "opB"]);
            assert!(attempts[0].1.starts_with("transient: 503"), "{attempts:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn preferences_choose_and_order_operators() {
    let (reg, sa, sb) = two(200, 200).await;
    match reg.send(SmsType::Normal, &prefs(&["opB"]), &sms()).await {
        SendOutcome::Sent { operator, .. } => assert_eq!(operator, "opB"),
        other => panic!("{other:?}"),
    }
    assert_eq!((received(&sa).await, received(&sb).await), (0, 1));
    assert_eq!(
        names(&reg.route(SmsType::Normal, &prefs(&["opB"]))),
        ["opB"]
    );
    assert_eq!(
        names(&reg.route(SmsType::Normal, &prefs(&["opB", "opA"]))),
        ["opB", "opA"]
    );
    assert_eq!(
        names(&reg.route(SmsType::Normal, &prefs(&["ghost", "opB", "opB"]))),
        ["opB"]
    );
    assert_eq!(names(&reg.route(SmsType::Normal, &[])), ["opA", "opB"]);

    // with ["opB", "opA"] and B failing, A is the fallback
    answer(&sb, "opB", 503, Duration::ZERO).await;
    match reg
        .send(SmsType::Normal, &prefs(&["opB", "opA"]), &sms())
        .await
    {
        SendOutcome::Sent { operator, .. } => assert_eq!(operator, "opA"),
        other => panic!("{other:?}"),
    }
    assert_eq!((received(&sa).await, received(&sb).await), (1, 1));
}

#[tokio::test]
async fn express_lane_has_its_own_order_and_shares_breakers() {
    let (sa, sb, sc) = (
        server("opA", 200).await,
        server("opB", 200).await,
        server("opC", 200).await,
    );
    let reg = OperatorRegistry::from_config(
        &[config("opA", &sa), config("opB", &sb)],
        &[config("opC", &sc), config("opB", &sb), config("opA", &sa)],
    )
    .unwrap();
    assert_eq!(names(reg.lane(SmsType::Normal)), ["opA", "opB"]);
    assert_eq!(
        names(&reg.route(SmsType::Express, &[])),
        ["opC", "opB", "opA"]
    );
    assert!(Arc::ptr_eq(
        &reg.lane(SmsType::Normal)[1],
        &reg.lane(SmsType::Express)[1]
    ));
    // opC is express-only: a normal preference for it routes nowhere
    assert!(reg.route(SmsType::Normal, &prefs(&["opC"])).is_empty());
    match reg.send(SmsType::Express, &[], &sms()).await {
        SendOutcome::Sent { operator, .. } => assert_eq!(operator, "opC"),
        other => panic!("{other:?}"),
    }
    let statuses = reg.statuses();
    let summary: Vec<_> = statuses
        .iter()
        .map(|s| (s.name.as_str(), s.lanes.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("opA", vec![SmsType::Normal, SmsType::Express]),
            ("opB", vec![SmsType::Normal, SmsType::Express]),
            ("opC", vec![SmsType::Express]),
        ]
    );
    assert!(statuses.iter().all(|s| s.circuit == "closed"));
}

#[tokio::test]
async fn config_lists_are_checked() {
    let sa = server("opA", 200).await;
    assert!(OperatorRegistry::from_config(&[], &[]).is_err());
    let reg = OperatorRegistry::from_config(&[], &[config("opA", &sa)]).unwrap();
    assert_eq!(names(reg.lane(SmsType::Normal)), ["opA"]);
    let mut other = config("opA", &sa);
    other.timeout_ms = 5;
    assert!(OperatorRegistry::from_config(&[config("opA", &sa)], &[other]).is_err());
    assert!(OperatorRegistry::from_config(&[config("opA", &sa), config("opA", &sa)], &[]).is_err());
}

#[tokio::test]
async fn from_operators_builds_lanes_and_checks_keys() {
    let (sa, sb) = (server("opA", 200).await, server("opB", 200).await);
    let reg = OperatorRegistry::from_operators(
        vec![
            (http("opA", &sa), BreakerSettings::default(), "dlr-a".into()),
            (http("opB", &sb), BreakerSettings::default(), "dlr-b".into()),
        ],
        &["opB"],
    );
    assert_eq!(names(reg.lane(SmsType::Normal)), ["opA", "opB"]);
    assert_eq!(names(reg.lane(SmsType::Express)), ["opB"]);
    let a = reg.get("opA").unwrap();
    assert!(a.verify_key("dlr-a"));
    assert!(!a.verify_key("dlr-b"));
    assert!(!a.verify_key(""));
    assert!(reg.get("nope").is_none());
}

fn breaker_registry(s: &MockServer, failures: u32) -> OperatorRegistry {
    OperatorRegistry::from_operators(
        vec![(
            http("opA", s),
            BreakerSettings {
                failures,
                open: Duration::from_millis(200),
                max_open: Duration::from_secs(2),
            },
            "k".into(),
        )],
        &[],
    )
}

#[tokio::test]
async fn breaker_opens_probes_closes_and_reopens() {
    let s = server("opA", 503).await;
    let reg = breaker_registry(&s, 2);
    let op = reg.get("opA").unwrap().clone();

    // two transient failures open it
    for _ in 0..2 {
        assert!(matches!(
            op.send(&sms()).await,
            Err(OperatorError::Retryable(_))
        ));
    }
    assert_eq!(op.status().circuit, "open");
    assert_eq!(received(&s).await, 2);

    // while open: refused without an HTTP call
    assert!(matches!(
        op.send(&sms()).await,
        Err(OperatorError::CircuitOpen)
    ));
    match reg.send(SmsType::Normal, &[], &sms()).await {
        SendOutcome::AllFailed { attempts } => {
            assert_eq!(attempts, [("opA".to_string(), "circuit open".to_string())])
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(received(&s).await, 2);
    let st = op.status();
    assert_eq!(
        (st.calls, st.transient_failures, st.rejected_by_circuit),
        (4, 2, 2)
    );

    // after the interval a probe goes through (half open); its success closes it
    tokio::time::sleep(Duration::from_millis(250)).await;
    answer(&s, "opA", 200, Duration::from_millis(300)).await;
    let probe = tokio::spawn({
        let op = op.clone();
        async move { op.send(&sms()).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(op.status().circuit, "half_open");
    assert_eq!(probe.await.unwrap().unwrap(), "opA-1");
    assert_eq!(op.status().circuit, "closed");
    assert_eq!(received(&s).await, 1);

    // open it again; a failing probe re-opens it, for twice as long (400 ms)
    answer(&s, "opA", 503, Duration::ZERO).await;
    for _ in 0..2 {
        assert!(op.send(&sms()).await.is_err());
    }
    assert_eq!(op.status().circuit, "open");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(matches!(
        op.send(&sms()).await,
        Err(OperatorError::Retryable(_))
    ));
    assert_eq!(op.status().circuit, "open");
    assert_eq!(received(&s).await, 3);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(matches!(
        op.send(&sms()).await,
        Err(OperatorError::CircuitOpen)
    ));
    assert_eq!(received(&s).await, 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    answer(&s, "opA", 200, Duration::ZERO).await;
    assert!(op.send(&sms()).await.is_ok());
    assert_eq!(op.status().circuit, "closed");
}

#[tokio::test]
async fn permanent_rejections_do_not_open_the_breaker() {
    let s = server("opA", 400).await;
    let reg = breaker_registry(&s, 2);
    for _ in 0..5 {
        assert!(matches!(
            reg.send(SmsType::Normal, &[], &sms()).await,
            SendOutcome::Rejected { .. }
        ));
    }
    let st = reg.get("opA").unwrap().status();
    assert_eq!(st.circuit, "closed");
    assert_eq!(
        (st.calls, st.permanent_failures, st.rejected_by_circuit),
        (5, 5, 0)
    );
    assert_eq!(received(&s).await, 5);
}
