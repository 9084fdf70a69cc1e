//! One callback POST: through the guarded client (public targets only, see
//! [`super::guard`]), no redirects, no proxy, `CALLBACK_TIMEOUT_MS` for all of it and at most
//! `CALLBACK_MAX_RESPONSE_BYTES` of the answer read.

use std::time::Duration;

use reqwest::Url;

use super::guard::{Guard, Refused, Unusable};
use super::signing::SIGNATURE_HEADER;
use crate::config::CallbacksConfig;

/// What came of a POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    /// A 2xx answer.
    Delivered(u16),
    /// Another answer (redirects included: they are not followed).
    Failed(u16),
    /// No answer: connection refused or reset, TLS, timeout.
    Unreachable(String),
    /// A target that may not be reached (private, loopback, link-local).
    Refused(String),
}

impl PostOutcome {
    /// Its name in the delivery log and the metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Delivered(_) => "delivered",
            Self::Failed(_) => "failed",
            Self::Unreachable(_) => "unreachable",
            Self::Refused(_) => "refused",
        }
    }

    /// The HTTP status answered, if any.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Delivered(s) | Self::Failed(s) => Some(*s),
            _ => None,
        }
    }

    /// Why it failed (for the log and the events' `last_error`).
    pub fn error(&self) -> Option<String> {
        match self {
            Self::Delivered(_) => None,
            Self::Failed(s) => Some(format!("answered {s}")),
            Self::Unreachable(e) | Self::Refused(e) => Some(e.clone()),
        }
    }
}

/// The dispatcher's HTTP client.
#[derive(Debug, Clone)]
pub struct Poster {
    client: reqwest::Client,
    guard: Guard,
    max_response_bytes: usize,
}

impl Poster {
    /// A client with the configured timeouts and target check.
    pub fn new(config: &CallbacksConfig) -> anyhow::Result<Self> {
        let guard = Guard::new(config.allowed.clone());
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(3)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(config.concurrency)
            .user_agent(concat!("sms-gateway-callbacks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(std::sync::Arc::new(guard.clone()))
            .build()?;
        Ok(Self {
            client,
            guard,
            max_response_bytes: config.max_response_bytes,
        })
    }

    /// The target check this client applies.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// POSTs `body` (JSON) to `url` with the signature header.
    pub async fn post(&self, url: &str, signature: &str, body: Vec<u8>) -> PostOutcome {
        let url = match crate::domain::callback_url::parse(url) {
            Ok(u) => u,
            Err(e) => return PostOutcome::Refused(format!("the URL {e}")),
        };
        if let Err(Refused(why)) = self.guard.check_literal(&url) {
            return PostOutcome::Refused(why);
        }
        self.send(url, signature, body).await
    }

    async fn send(&self, url: Url, signature: &str, body: Vec<u8>) -> PostOutcome {
        let sent = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await;
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => return classify(&e),
        };
        let status = resp.status().as_u16();
        // Read (and drop) at most the allowed bytes of the answer; beyond that the
        // connection is dropped with the rest.
        let mut read = 0usize;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    read += chunk.len();
                    if read > self.max_response_bytes {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) if resp.status().is_success() && e.is_timeout() => {
                    return PostOutcome::Unreachable("timed out reading the answer".into());
                }
                Err(_) => break,
            }
        }
        if (200..300).contains(&status) {
            PostOutcome::Delivered(status)
        } else {
            PostOutcome::Failed(status)
        }
    }
}

/// A client error as an outcome: a refusal by the guard's resolver, or unreachable.
fn classify(e: &reqwest::Error) -> PostOutcome {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(Refused(why)) = s.downcast_ref::<Refused>() {
            return PostOutcome::Refused(why.clone());
        }
        match s.downcast_ref::<Unusable>() {
            Some(Unusable::Refused(Refused(why))) => return PostOutcome::Refused(why.clone()),
            Some(Unusable::Unresolved(why)) => return PostOutcome::Unreachable(why.clone()),
            None => {}
        }
        source = s.source();
    }
    let what = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        format!("cannot connect: {}", root_cause(e))
    } else {
        root_cause(e)
    };
    PostOutcome::Unreachable(what)
}

fn root_cause(e: &reqwest::Error) -> String {
    let mut last: &(dyn std::error::Error + 'static) = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}
