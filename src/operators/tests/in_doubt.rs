//! Sends whose outcome is in doubt go back to the same operator (lookup, then one resend)
//! before any other; [`OperatorRegistry::lookup`] asks the routed operators with a
//! `status_url`.

use wiremock::matchers::query_param;

use super::*;

/// Requests of `method` that `s` received.
async fn received_of(s: &MockServer, method: &str) -> usize {
    let requests = s.received_requests().await.unwrap();
    requests
        .iter()
        .filter(|r| r.method.as_str() == method)
        .count()
}

/// An operator config of `s` with `status_url` = `{s}/status`, timing out after 200 ms.
fn with_status(name: &str, s: &MockServer) -> OperatorConfig {
    let mut c = config(name, s);
    c.timeout_ms = 200;
    c.status_url = Some(format!("{}/status", s.uri()));
    c
}

/// `s` answers its first send after 1 s (past any timeout here), later ones at once with
/// `{name}-1`.
async fn slow_first(s: &MockServer, name: &str) {
    Mock::given(method("POST"))
        .and(path("/send"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"message_id": format!("{name}-1")}))
                .set_delay(Duration::from_secs(1)),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(s)
        .await;
    Mock::given(method("POST"))
        .and(path("/send"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"message_id": format!("{name}-1")})),
        )
        .with_priority(2)
        .mount(s)
        .await;
}

/// `s` answers lookups of `reference` with `status` (200: the message `id`).
async fn status_answers(s: &MockServer, reference: &str, status: u16, id: &str) {
    let mut t = ResponseTemplate::new(status);
    if status == 200 {
        t = t.set_body_json(json!({"message_id": id, "status": "ACCEPTD"}));
    }
    Mock::given(method("GET"))
        .and(path("/status"))
        .and(query_param("reference", reference))
        .respond_with(t)
        .mount(s)
        .await;
}

fn sent_by(outcome: SendOutcome) -> (String, String) {
    match outcome {
        SendOutcome::Sent {
            operator,
            message_id,
        } => (operator, message_id),
        other => panic!("expected Sent, got {other:?}"),
    }
}

#[tokio::test]
async fn a_timeout_without_status_url_sends_again_to_the_same_operator_first() {
    let (sa, sb) = (MockServer::start().await, server("opB", 200).await);
    slow_first(&sa, "opA").await;
    let mut a = config("opA", &sa);
    a.timeout_ms = 200;
    let reg = OperatorRegistry::from_config(&[a, config("opB", &sb)], &[]).unwrap();
    let outcome = reg.send(SmsType::Normal, &[], &sms()).await;
    assert_eq!(sent_by(outcome), ("opA".into(), "opA-1".into()));
    assert_eq!(
        (received_of(&sa, "POST").await, received(&sb).await),
        (2, 0)
    );
    let posted: Vec<serde_json::Value> = sa
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.body_json().unwrap())
        .collect();
    assert_eq!(posted[0], posted[1], "the same message, same reference");
    let st = reg.get("opA").unwrap().status();
    assert_eq!((st.calls, st.transient_failures, st.sent), (2, 1, 1));
}

#[tokio::test]
async fn a_timeout_is_looked_up_and_a_found_message_is_not_sent_again() {
    let (sa, sb) = (MockServer::start().await, server("opB", 200).await);
    slow_first(&sa, "opA").await;
    status_answers(&sa, "7", 200, "opA-first").await;
    let reg =
        OperatorRegistry::from_config(&[with_status("opA", &sa), config("opB", &sb)], &[]).unwrap();
    let outcome = reg.send(SmsType::Normal, &[], &sms()).await;
    assert_eq!(sent_by(outcome), ("opA".into(), "opA-first".into()));
    assert_eq!(received_of(&sa, "POST").await, 1, "no second send");
    assert_eq!(received_of(&sa, "GET").await, 1);
    assert_eq!(received(&sb).await, 0);
}

#[tokio::test]
async fn a_lookup_that_finds_nothing_or_fails_is_followed_by_one_resend() {
    for status in [404, 503] {
        let (sa, sb) = (MockServer::start().await, server("opB", 200).await);
        slow_first(&sa, "opA").await;
        status_answers(&sa, "7", status, "").await;
        let reg =
            OperatorRegistry::from_config(&[with_status("opA", &sa), config("opB", &sb)], &[])
                .unwrap();
        let outcome = reg.send(SmsType::Normal, &[], &sms()).await;
        assert_eq!(sent_by(outcome), ("opA".into(), "opA-1".into()), "{status}");
        assert_eq!(
            (
                received_of(&sa, "GET").await,
                received_of(&sa, "POST").await
            ),
            (1, 2),
            "{status}"
        );
        assert_eq!(received(&sb).await, 0, "{status}");
    }
}

#[tokio::test]
async fn an_operator_in_doubt_twice_fails_over_to_the_next() {
    let (sa, sb) = (MockServer::start().await, server("opB", 200).await);
    answer(&sa, "opA", 200, Duration::from_secs(1)).await;
    let mut a = config("opA", &sa);
    a.timeout_ms = 200;
    let reg = OperatorRegistry::from_config(&[a, config("opB", &sb)], &[]).unwrap();
    let outcome = reg.send(SmsType::Normal, &[], &sms()).await;
    assert_eq!(sent_by(outcome), ("opB".into(), "opB-1".into()));
    assert_eq!((received(&sa).await, received(&sb).await), (2, 1));

    // and when nobody takes it, each try is listed
    answer(&sb, "opB", 503, Duration::ZERO).await;
    match reg.send(SmsType::Normal, &[], &sms()).await {
        SendOutcome::AllFailed { attempts } => {
            let listed: Vec<(&str, &str)> = attempts
                .iter()
                .map(|(o, r)| (o.as_str(), r.as_str()))
                .collect();
            assert_eq!(
                listed,
                [
                    ("opA", "transient: timed out after 200 ms"),
                    ("opA", "transient: timed out after 200 ms"),
                    ("opB", "transient: 503 Service Unavailable: nope"),
                ]
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_failure_that_is_not_in_doubt_is_neither_looked_up_nor_resent() {
    let (sa, sb) = (server("opA", 503).await, server("opB", 200).await);
    status_answers(&sa, "7", 200, "opA-ghost").await;
    let reg =
        OperatorRegistry::from_config(&[with_status("opA", &sa), config("opB", &sb)], &[]).unwrap();
    let outcome = reg.send(SmsType::Normal, &[], &sms()).await;
    assert_eq!(sent_by(outcome), ("opB".into(), "opB-1".into()));
    assert_eq!(
        (
            received_of(&sa, "POST").await,
            received_of(&sa, "GET").await
        ),
        (1, 0)
    );
}

#[tokio::test]
async fn lookup_asks_routed_operators_with_a_status_url_in_order() {
    let (sa, sb, sc, sd) = (
        MockServer::start().await,
        MockServer::start().await,
        MockServer::start().await,
        MockServer::start().await,
    );
    status_answers(&sa, "r1", 503, "").await; // an error: counted as not known
    status_answers(&sb, "r1", 404, "").await; // a miss
    // sc has no status_url: never asked
    status_answers(&sd, "r1", 200, "opD-9").await;
    status_answers(&sd, "r2", 404, "").await;
    let reg = OperatorRegistry::from_config(
        &[
            with_status("opA", &sa),
            with_status("opB", &sb),
            config("opC", &sc),
            with_status("opD", &sd),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        reg.lookup(SmsType::Normal, &[], "r1").await,
        Some(("opD".to_string(), "opD-9".to_string()))
    );
    assert_eq!(reg.lookup(SmsType::Normal, &[], "r2").await, None);
    let asked = (
        received(&sa).await,
        received(&sb).await,
        received(&sc).await,
        received(&sd).await,
    );
    assert_eq!(asked, (2, 2, 0, 2));
    // a preference limits and orders whom it asks; nothing was sent
    assert_eq!(
        reg.lookup(SmsType::Normal, &prefs(&["opB"]), "r1").await,
        None
    );
    assert_eq!(received(&sd).await, 2);
    assert!(reg.statuses().iter().all(|s| s.calls == 0));
}

#[tokio::test]
async fn lookup_skips_an_operator_whose_breaker_is_open() {
    let s = server("opA", 503).await;
    status_answers(&s, "7", 200, "opA-1").await;
    let reg = OperatorRegistry::from_operators(
        vec![(
            Arc::new(HttpOperator::new(
                &with_status("opA", &s),
                HttpOperator::shared_client().unwrap(),
            )) as Arc<dyn SmsOperator>,
            BreakerSettings {
                failures: 1,
                open: Duration::from_secs(60),
                max_open: Duration::from_secs(60),
            },
            "k".into(),
        )],
        &[],
    );
    assert_eq!(
        reg.lookup(SmsType::Normal, &[], "7").await,
        Some(("opA".to_string(), "opA-1".to_string()))
    );
    let _ = reg.send(SmsType::Normal, &[], &sms()).await;
    assert_eq!(reg.get("opA").unwrap().status().circuit, "open");
    assert_eq!(reg.lookup(SmsType::Normal, &[], "7").await, None);
    assert_eq!(received_of(&s, "GET").await, 1);
}
