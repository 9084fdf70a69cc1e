//! HttpOperator against wiremock: the answers' classification, timeouts, lookups.

use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

fn config(url: String, timeout_ms: u64) -> OperatorConfig {
    serde_json::from_value(json!({
        "name": "op",
        "url": url,
        "api_key": "secret-key",
        "timeout_ms": timeout_ms,
    }))
    .unwrap()
}

fn sms() -> OutboundSms {
    OutboundSms {
        to: "+989121234567".into(),
        text: "hello".into(),
        reference: "42".into(),
        from: None,
    }
}

async fn operator_answering(
    response: ResponseTemplate,
    timeout_ms: u64,
) -> (HttpOperator, MockServer) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/send"))
        .respond_with(response)
        .mount(&server)
        .await;
    let op = HttpOperator::new(
        &config(format!("{}/send", server.uri()), timeout_ms),
        HttpOperator::shared_client().unwrap(),
    );
    (op, server)
}

#[tokio::test]
async fn ok_returns_the_message_id_and_sends_key_and_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/send"))
        .and(header("authorization", "Bearer secret-key"))
        .and(body_json(
            json!({"to": "+989121234567", "text": "hello", "reference": "42"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"message_id": "m-1"})))
        .expect(1)
        .mount(&server)
        .await;
    let op = HttpOperator::new(
        &config(format!("{}/send", server.uri()), 2_000),
        HttpOperator::shared_client().unwrap(),
    );
    assert_eq!(op.name(), "op");
    assert_eq!(op.send(&sms()).await.unwrap(), "m-1");
    server.verify().await;
}

#[tokio::test]
async fn status_codes_are_classified() {
    let long_body = "x".repeat(500);
    let (op, _s) =
        operator_answering(ResponseTemplate::new(400).set_body_string(long_body), 2_000).await;
    match op.send(&sms()).await {
        Err(OperatorError::Permanent(reason)) => {
            assert!(reason.starts_with("400 Bad Request: x"), "{reason}");
            assert!(reason.len() < 240, "body is cut: {}", reason.len());
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    let (op, _s) = operator_answering(ResponseTemplate::new(503), 2_000).await;
    assert!(matches!(
        op.send(&sms()).await,
        Err(OperatorError::Retryable(_))
    ));
    let (op, _s) = operator_answering(ResponseTemplate::new(429), 2_000).await;
    assert!(matches!(
        op.send(&sms()).await,
        Err(OperatorError::RateLimited {
            retry_after: None,
            ..
        })
    ));
    // Retry-After in seconds is kept, bounded; the date form counts as none.
    for (header, expected) in [
        ("3", Some(Duration::from_secs(3))),
        ("86400", Some(Duration::from_secs(60))),
        ("Wed, 21 Oct 2026 07:28:00 GMT", None),
    ] {
        let answer = ResponseTemplate::new(429).insert_header("Retry-After", header);
        let (op, _s) = operator_answering(answer, 2_000).await;
        match op.send(&sms()).await {
            Err(OperatorError::RateLimited { retry_after, .. }) => {
                assert_eq!(retry_after, expected, "{header}")
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
    }
    let (op, _s) = operator_answering(ResponseTemplate::new(408), 2_000).await;
    assert!(matches!(
        op.send(&sms()).await,
        Err(OperatorError::Retryable(_))
    ));
}

#[tokio::test]
async fn unusable_success_bodies_are_in_doubt() {
    for template in [
        ResponseTemplate::new(200).set_body_string("not json"),
        ResponseTemplate::new(200).set_body_json(json!({"message_id": ""})),
        ResponseTemplate::new(200).set_body_json(json!({"id": "m-1"})),
    ] {
        let (op, _s) = operator_answering(template, 2_000).await;
        match op.send(&sms()).await {
            Err(e @ OperatorError::InDoubt(_)) => {
                assert!(e.to_string().starts_with("transient: 200 OK with "), "{e}")
            }
            other => panic!("expected InDoubt, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_slow_answer_times_out_in_doubt() {
    let (op, _s) = operator_answering(
        ResponseTemplate::new(200)
            .set_body_json(json!({"message_id": "late"}))
            .set_delay(Duration::from_millis(1_000)),
        100,
    )
    .await;
    let started = std::time::Instant::now();
    match op.send(&sms()).await {
        Err(e @ OperatorError::InDoubt(_)) => {
            assert_eq!(e.to_string(), "transient: timed out after 100 ms");
            assert!(e.is_in_doubt());
        }
        other => panic!("expected a timeout in doubt, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_millis(900));
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let op = HttpOperator::new(
        &config(format!("http://{addr}/send"), 2_000),
        HttpOperator::shared_client().unwrap(),
    );
    match op.send(&sms()).await {
        Err(e @ OperatorError::Retryable(_)) => {
            assert!(!e.is_in_doubt());
            let reason = e.to_string();
            assert!(!reason.contains(&addr.to_string()), "no URL: {reason}");
            assert!(
                reason.starts_with("transient: connection failed: "),
                "{reason}"
            );
        }
        other => panic!("expected Retryable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_connection_closed_after_the_request_was_read_is_in_doubt() {
    // An operator that reads the whole request, then drops the connection without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let mut seen = Vec::new();
            while !String::from_utf8_lossy(&seen).contains("\"reference\"") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            drop(socket);
        }
    });
    let op = HttpOperator::new(
        &config(format!("http://{addr}/send"), 2_000),
        HttpOperator::shared_client().unwrap(),
    );
    match op.send(&sms()).await {
        Err(e @ OperatorError::InDoubt(_)) => {
            assert!(
                e.to_string().starts_with("transient: request failed: "),
                "{e}"
            )
        }
        other => panic!("expected InDoubt, got {other:?}"),
    }
}

#[tokio::test]
async fn errors_that_say_the_message_was_not_taken_are_not_in_doubt() {
    for status in [500, 503, 401, 408, 429, 400] {
        let (op, _s) = operator_answering(ResponseTemplate::new(status), 2_000).await;
        let e = op.send(&sms()).await.unwrap_err();
        assert!(!e.is_in_doubt(), "{status}: {e}");
    }
}

fn config_with_status(url: &str, status_url: Option<String>, timeout_ms: u64) -> OperatorConfig {
    let mut c = config(url.to_string(), timeout_ms);
    c.status_url = status_url;
    c
}

#[tokio::test]
async fn lookup_finds_misses_and_fails() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/status"))
        .and(wiremock::matchers::query_param("reference", "sms-1:42"))
        .and(header("authorization", "Bearer secret-key"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"message_id": "m-7", "status": "ACCEPTD"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/status"))
        .and(wiremock::matchers::query_param("reference", "sms-1:43"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/status"))
        .and(wiremock::matchers::query_param("reference", "sms-1:44"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/status"))
        .and(wiremock::matchers::query_param("reference", "sms-1:45"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"message_id": "late", "status": "ACCEPTD"}))
                .set_delay(Duration::from_millis(1_000)),
        )
        .mount(&server)
        .await;
    let client = HttpOperator::shared_client().unwrap();
    let op = HttpOperator::new(
        &config_with_status(
            &format!("{}/send", server.uri()),
            Some(format!("{}/status", server.uri())),
            200,
        ),
        client.clone(),
    );
    assert_eq!(op.lookup("sms-1:42").await.unwrap().as_deref(), Some("m-7"));
    assert_eq!(op.lookup("sms-1:43").await.unwrap(), None);
    assert!(matches!(
        op.lookup("sms-1:44").await,
        Err(OperatorError::Retryable(_))
    ));
    let started = std::time::Instant::now();
    match op.lookup("sms-1:45").await {
        Err(OperatorError::Retryable(reason)) => {
            assert!(reason.contains("timed out after 200 ms"), "{reason}")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_millis(900));

    let without = HttpOperator::new(&config(format!("{}/send", server.uri()), 200), client);
    assert!(matches!(
        without.lookup("sms-1:42").await,
        Err(OperatorError::NoStatusUrl)
    ));
}
