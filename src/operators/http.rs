//! An operator reached over the contract's wire protocol: `POST {url}` with
//! `{"to", "text", "reference"}` and `Authorization: Bearer <api_key>`, answered by
//! `200 {"message_id"}`.
//!
//! Answers are classified for failover: 2xx with a usable id is a success; 401, 403, 408, 5xx, timeouts,
//! connection errors and a 2xx without a usable id are [`OperatorError::Retryable`]; 429 is
//! [`OperatorError::RateLimited`]; any other 4xx is [`OperatorError::Permanent`]. Neither the
//! text nor the phone number is ever logged or put in an error.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::wire::OperatorAccepted;
use super::{OperatorError, OutboundSms, SendFuture, SmsOperator};
use crate::config::OperatorConfig;

/// Characters of an error answer's body kept in a rejection reason.
const REASON_BODY_CHARS: usize = 200;

/// The wire protocol's send request, borrowed (same shape as [`super::wire::OperatorSend`]).
#[derive(Serialize)]
struct WireSend<'a> {
    to: &'a str,
    text: &'a str,
    reference: &'a str,
}

/// One operator over HTTP. Cheap to hold many: they share one pooled client.
pub struct HttpOperator {
    name: String,
    url: String,
    api_key: SecretString,
    timeout: Duration,
    client: reqwest::Client,
}

impl HttpOperator {
    /// An operator from its configuration, calling through the shared `client`; every request
    /// gets the operator's own `timeout_ms` (connecting through reading the whole answer).
    pub fn new(config: &OperatorConfig, client: reqwest::Client) -> Self {
        Self {
            name: config.name.clone(),
            url: config.url.clone(),
            api_key: config.api_key.clone(),
            timeout: Duration::from_millis(config.timeout_ms.max(1)),
            client,
        }
    }

    /// The client all operators should share: connection pooling, no overall timeout (each
    /// request sets its own).
    pub fn shared_client() -> anyhow::Result<reqwest::Client> {
        Ok(reqwest::Client::builder()
            .user_agent(concat!("sms-gateway/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()?)
    }

    async fn post(&self, sms: &OutboundSms) -> Result<String, OperatorError> {
        let mut request = self
            .client
            .post(&self.url)
            .bearer_auth(self.api_key.expose_secret())
            .timeout(self.timeout)
            .json(&WireSend {
                to: &sms.to,
                text: &sms.text,
                reference: &sms.reference,
            });
        // An operator that traces can continue the message's trace.
        if let Some(tp) = crate::telemetry::traceparent(&tracing::Span::current()) {
            request = request.header("traceparent", tp);
        }
        let response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(e))?;
        if status.is_success() {
            return match serde_json::from_slice::<OperatorAccepted>(&body) {
                Ok(a) if !a.message_id.trim().is_empty() => Ok(a.message_id),
                Ok(_) => Err(OperatorError::Retryable(format!(
                    "{status} with an empty message_id"
                ))),
                Err(e) => Err(OperatorError::Retryable(format!(
                    "{status} with an unreadable body: {e}"
                ))),
            };
        }
        let reason = format!("{status}: {}", snippet(&body));
        Err(match status.as_u16() {
            // 401/403: our key for this operator is wrong or revoked. That says nothing about
            // the message, so it fails over (and trips this operator's breaker).
            401 | 403 | 408 => OperatorError::Retryable(reason),
            429 => OperatorError::RateLimited(reason),
            400..=499 => OperatorError::Permanent(reason),
            _ => OperatorError::Retryable(reason),
        })
    }

    /// A failure before or while reading the answer: always retryable. The URL is dropped
    /// from the message in case it carries credentials.
    fn transport_error(&self, e: reqwest::Error) -> OperatorError {
        let what = if e.is_timeout() {
            return OperatorError::Retryable(format!(
                "timed out after {} ms",
                self.timeout.as_millis()
            ));
        } else if e.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        OperatorError::Retryable(format!("{what}: {}", root_cause(&e.without_url())))
    }
}

impl SmsOperator for HttpOperator {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, sms: &'a OutboundSms) -> SendFuture<'a> {
        Box::pin(self.post(sms))
    }
}

/// The innermost error of a chain (e.g. "Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The first characters of an answer's body, on one line.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let cut: String = text.trim().chars().take(REASON_BODY_CHARS).collect();
    let cut = cut.replace(['\r', '\n'], " ");
    if cut.is_empty() {
        "(empty body)".into()
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
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
            Err(OperatorError::RateLimited(_))
        ));
        let (op, _s) = operator_answering(ResponseTemplate::new(408), 2_000).await;
        assert!(matches!(
            op.send(&sms()).await,
            Err(OperatorError::Retryable(_))
        ));
    }

    #[tokio::test]
    async fn unusable_success_bodies_are_retryable() {
        for template in [
            ResponseTemplate::new(200).set_body_string("not json"),
            ResponseTemplate::new(200).set_body_json(json!({"message_id": ""})),
            ResponseTemplate::new(200).set_body_json(json!({"id": "m-1"})),
        ] {
            let (op, _s) = operator_answering(template, 2_000).await;
            assert!(matches!(
                op.send(&sms()).await,
                Err(OperatorError::Retryable(_))
            ));
        }
    }

    #[tokio::test]
    async fn a_slow_answer_times_out_as_retryable() {
        let (op, _s) = operator_answering(
            ResponseTemplate::new(200)
                .set_body_json(json!({"message_id": "late"}))
                .set_delay(Duration::from_millis(1_000)),
            100,
        )
        .await;
        let started = std::time::Instant::now();
        match op.send(&sms()).await {
            Err(OperatorError::Retryable(reason)) => {
                assert!(reason.contains("timed out"), "{reason}")
            }
            other => panic!("expected a timeout, got {other:?}"),
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
            Err(OperatorError::Retryable(reason)) => {
                assert!(!reason.contains(&addr.to_string()), "no URL: {reason}");
                assert!(reason.starts_with("connection failed: "), "{reason}");
            }
            other => panic!("expected Retryable, got {other:?}"),
        }
    }
}
