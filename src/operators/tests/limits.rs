//! Operators' own limits against wiremock operators: a 429 slows the operator and fails the
//! message over without opening its breaker, `Retry-After` holds it, the cap holds under
//! concurrent sends, and a send that would wait too long goes to the next operator.

use std::time::Instant;

use super::*;

/// `name`'s config at `s`, with a breaker opening after 2 transient failures, and these
/// limits.
fn limited(name: &str, s: &MockServer, max_rps: Option<u32>, max_wait_ms: u64) -> OperatorConfig {
    let mut c = config(name, s);
    c.breaker_failures = 2;
    c.max_rps = max_rps;
    c.max_wait_ms_given = Some(max_wait_ms);
    c
}

async fn answer_429(s: &MockServer, retry_after: Option<&str>) {
    s.reset().await;
    let mut t = ResponseTemplate::new(429).set_body_string("too many requests");
    if let Some(secs) = retry_after {
        t = t.insert_header("Retry-After", secs);
    }
    Mock::given(method("POST"))
        .and(path("/send"))
        .respond_with(t)
        .mount(s)
        .await;
}

fn sent_by(outcome: &SendOutcome) -> &str {
    match outcome {
        SendOutcome::Sent { operator, .. } => operator,
        other => panic!("expected Sent, got {other:?}"),
    }
}

#[tokio::test]
async fn a_429_slows_the_operator_and_fails_over_without_opening_its_breaker() {
    let (sa, sb) = (MockServer::start().await, server("opB", 200).await);
    answer_429(&sa, None).await;
    let reg = OperatorRegistry::from_config(
        &[
            limited("opA", &sa, None, 500),
            limited("opB", &sb, None, 500),
        ],
        &[],
    )
    .unwrap();
    for _ in 0..10 {
        assert_eq!(
            sent_by(&reg.send(SmsType::Normal, &[], &sms()).await),
            "opB"
        );
    }
    // Its next token (1/s): called again, 429 again; two would open a breaker counting them.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        sent_by(&reg.send(SmsType::Normal, &[], &sms()).await),
        "opB"
    );
    let a = reg.get("opA").unwrap().status();
    assert_eq!(a.circuit, "closed", "a 429 is no breaker failure: {a:?}");
    assert_eq!(a.transient_failures, 0);
    assert!(a.throttled, "{a:?}");
    assert!(a.effective_rps.is_some_and(|r| r <= 1.0), "{a:?}");
    // Slowed to 1/s with sends at most 500 ms apart: after the first 429 the next sends skip
    // it without a call, until its token comes.
    let calls = received(&sa).await as u64;
    assert!((2..11).contains(&calls), "{calls} calls to opA: {a:?}");
    assert_eq!(a.rate_limited, calls);
    assert_eq!(a.throttle_skips, 11 - calls);
    assert_eq!(a.calls, a.rate_limited + a.throttle_skips);
    assert_eq!(reg.get("opB").unwrap().status().sent, 11);
    // Once it answers again, the breaker never having opened, it takes traffic at its
    // slower rate.
    answer(&sa, "opA", 200, Duration::ZERO).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        sent_by(&reg.send(SmsType::Normal, &[], &sms()).await),
        "opA"
    );
}

#[tokio::test]
async fn retry_after_keeps_the_operator_uncalled_for_that_long() {
    let (sa, sb) = (MockServer::start().await, server("opB", 200).await);
    answer_429(&sa, Some("2")).await;
    let reg = OperatorRegistry::from_config(
        &[
            limited("opA", &sa, Some(1_000), 1_000),
            limited("opB", &sb, None, 500),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        sent_by(&reg.send(SmsType::Normal, &[], &sms()).await),
        "opB"
    );
    answer(&sa, "opA", 200, Duration::ZERO).await;
    // Held for 2 s, longer than its max_wait: every send goes to opB meanwhile.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(900) {
        assert_eq!(
            sent_by(&reg.send(SmsType::Normal, &[], &sms()).await),
            "opB"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(received(&sa).await, 0, "not called during its Retry-After");
    // Within max_wait of the end of the hold, a send waits for it and opA takes it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waited = Instant::now();
    assert_eq!(
        sent_by(&reg.send(SmsType::Normal, &[], &sms()).await),
        "opA"
    );
    assert!(waited.elapsed() >= Duration::from_millis(500));
    let a = reg.get("opA").unwrap().status();
    assert_eq!((a.circuit.as_str(), a.rate_limited), ("closed", 1));
    assert!(a.throttle_skips >= 1 && a.throttle_waits >= 1, "{a:?}");
}

#[tokio::test]
async fn the_cap_holds_for_concurrent_sends() {
    let sa = server("opA", 200).await;
    let reg = Arc::new(
        OperatorRegistry::from_config(&[limited("opA", &sa, Some(20), 5_000)], &[]).unwrap(),
    );
    // 22 sends at once at 20/s with a burst of 2: the last goes after 1 s.
    let started = Instant::now();
    let sends: Vec<_> = (0..22)
        .map(|_| {
            let reg = reg.clone();
            tokio::spawn(async move { reg.send(SmsType::Normal, &[], &sms()).await })
        })
        .collect();
    for send in sends {
        assert_eq!(sent_by(&send.await.unwrap()), "opA");
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(990), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(received(&sa).await, 22);
    let a = reg.get("opA").unwrap().status();
    assert_eq!((a.max_rps, a.max_wait_ms), (Some(20), 5_000));
    assert_eq!(a.effective_rps, Some(20.0));
    assert_eq!((a.throttle_waits, a.throttle_skips, a.sent), (20, 0, 22));
    assert!(
        !a.throttled,
        "waiting for the cap is not being throttled by the operator"
    );
}

#[tokio::test]
async fn a_send_that_would_wait_too_long_goes_to_the_next_operator() {
    let (sa, sb) = (server("opA", 200).await, server("opB", 200).await);
    let reg = OperatorRegistry::from_config(
        &[
            limited("opA", &sa, Some(1), 0),
            limited("opB", &sb, None, 500),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        sent_by(&reg.send(SmsType::Normal, &[], &sms()).await),
        "opA"
    );
    for _ in 0..4 {
        assert_eq!(
            sent_by(&reg.send(SmsType::Normal, &[], &sms()).await),
            "opB"
        );
    }
    // With opA alone, the message is not sent now and is retried later like any other
    // transient failure.
    match reg.send(SmsType::Normal, &prefs(&["opA"]), &sms()).await {
        SendOutcome::AllFailed { attempts } => {
            assert_eq!(attempts.len(), 1);
            assert!(attempts[0].1.starts_with("throttled: "), "{attempts:?}");
        }
        other => panic!("expected AllFailed, got {other:?}"),
    }
    assert_eq!(received(&sa).await, 1);
    let a = reg.get("opA").unwrap().status();
    assert_eq!(
        (a.circuit.as_str(), a.sent, a.throttle_skips, a.calls),
        ("closed", 1, 5, 6)
    );
}

#[tokio::test]
async fn a_send_in_doubt_whose_repeat_is_throttled_is_not_failed_over() {
    let (sa, sb) = (MockServer::start().await, server("opB", 200).await);
    // 2xx without a message id: in doubt.
    Mock::given(method("POST"))
        .and(path("/send"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&sa)
        .await;
    let reg = OperatorRegistry::from_config(
        &[
            limited("opA", &sa, Some(1), 0),
            limited("opB", &sb, None, 500),
        ],
        &[],
    )
    .unwrap();
    match reg.send(SmsType::Normal, &[], &sms()).await {
        SendOutcome::AllFailed { attempts } => {
            let ops: Vec<_> = attempts.iter().map(|(o, _)| o.as_str()).collect();
            assert_eq!(ops, ["opA", "opA"], "{attempts:?}");
            assert!(attempts[1].1.starts_with("throttled: "), "{attempts:?}");
        }
        other => panic!("expected AllFailed, got {other:?}"),
    }
    assert_eq!((received(&sa).await, received(&sb).await), (1, 0));
}
