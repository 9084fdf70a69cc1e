//! An operator reached over the contract's wire protocol: `POST {url}` with
//! `{"to", "text", "reference"}` and `Authorization: Bearer <api_key>`, answered by
//! `200 {"message_id"}`; and, when it declares a `status_url`, `GET {status_url}?reference=`
//! (`lookup.rs`).
//!
//! Answers are classified for failover: 2xx with a usable id is a success; 401, 403, 408, 5xx
//! and refused connections are [`OperatorError::Retryable`]; a timeout, a connection lost once
//! the request was on its way, and a 2xx without a usable id are [`OperatorError::InDoubt`]
//! (the operator may have the message); 429 is [`OperatorError::RateLimited`], with its
//! `Retry-After` when given in seconds ([`retry_after`]); any other 4xx is
//! [`OperatorError::Permanent`]. Neither the text nor the phone number is ever logged or
//! put in an error.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::wire::OperatorAccepted;
use super::{LookupFuture, OperatorError, OutboundSms, SendFuture, SmsOperator};
use crate::config::OperatorConfig;

mod lookup;

/// Characters of an error answer's body kept in a rejection reason.
const REASON_BODY_CHARS: usize = 200;

/// The wire protocol's send request, borrowed (same shape as [`super::wire::OperatorSend`]).
#[derive(Serialize)]
struct WireSend<'a> {
    to: &'a str,
    text: &'a str,
    reference: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
}

/// One operator over HTTP. Cheap to hold many: they share one pooled client.
pub struct HttpOperator {
    name: String,
    url: String,
    status_url: Option<String>,
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
            status_url: config.status_url.clone(),
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
                from: sms.from.as_deref(),
            });
        // An operator that traces can continue the message's trace.
        if let Some(tp) = crate::telemetry::traceparent(&tracing::Span::current()) {
            request = request.header("traceparent", tp);
        }
        let response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response.bytes().await.map_err(|e| {
            // The operator answered: unless it said 2xx, it did not take the message.
            let e = self.transport_error(e);
            match e {
                OperatorError::InDoubt(reason) if !status.is_success() => {
                    OperatorError::Retryable(reason)
                }
                e => e,
            }
        })?;
        if status.is_success() {
            // It took something; without an id we cannot tell what, so it is in doubt.
            return match serde_json::from_slice::<OperatorAccepted>(&body) {
                Ok(a) if !a.message_id.trim().is_empty() => Ok(a.message_id),
                Ok(_) => Err(OperatorError::InDoubt(format!(
                    "{status} with an empty message_id"
                ))),
                Err(e) => Err(OperatorError::InDoubt(format!(
                    "{status} with an unreadable body: {e}"
                ))),
            };
        }
        Err(classify(status, retry_after, &body))
    }

    /// A failure before or while reading the answer. A refused or failed connection means the
    /// request never left ([`OperatorError::Retryable`]); a timeout or any later failure may
    /// come after the operator read the request ([`OperatorError::InDoubt`]). The URL is
    /// dropped from the message in case it carries credentials.
    fn transport_error(&self, e: reqwest::Error) -> OperatorError {
        let connect = e.is_connect();
        let reason = if e.is_timeout() {
            format!("timed out after {} ms", self.timeout.as_millis())
        } else if e.is_connect() {
            format!("connection failed: {}", root_cause(&e.without_url()))
        } else {
            format!("request failed: {}", root_cause(&e.without_url()))
        };
        if connect {
            OperatorError::Retryable(reason)
        } else {
            OperatorError::InDoubt(reason)
        }
    }
}

/// The `Retry-After` of an answer in seconds (`Retry-After: 3`), bounded by
/// [`super::throttle::RETRY_AFTER_LIMIT`]; the HTTP-date form and anything unreadable count as
/// none (the operator is slowed all the same).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(super::throttle::RETRY_AFTER_LIMIT))
}

/// A non-2xx answer (to a send or a lookup), with its `Retry-After` ([`retry_after`]).
fn classify(
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> OperatorError {
    let reason = format!("{status}: {}", snippet(body));
    match status.as_u16() {
        // 401/403: our key for this operator is wrong or revoked. That says nothing about
        // the message, so it fails over (and trips this operator's breaker).
        401 | 403 | 408 => OperatorError::Retryable(reason),
        429 => OperatorError::RateLimited {
            reason,
            retry_after,
        },
        400..=499 => OperatorError::Permanent(reason),
        _ => OperatorError::Retryable(reason),
    }
}

impl SmsOperator for HttpOperator {
    fn name(&self) -> &str {
        &self.name
    }

    fn send<'a>(&'a self, sms: &'a OutboundSms) -> SendFuture<'a> {
        Box::pin(self.post(sms))
    }

    fn lookup<'a>(&'a self, reference: &'a str) -> LookupFuture<'a> {
        Box::pin(self.look_up(reference))
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
mod tests;
