//! What an operator is: the [`SmsOperator`] trait, the message it is handed
//! ([`OutboundSms`]) and how a call fails ([`OperatorError`]).

use std::future::Future;
use std::pin::Pin;

/// What an operator is asked to deliver.
#[derive(Debug, Clone)]
pub struct OutboundSms {
    /// Recipient in E.164.
    pub to: String,
    /// The text.
    pub text: String,
    /// Our idempotency key of the recipient ([`super::wire::reference`]).
    pub reference: String,
}

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OperatorError {
    /// 5xx, timeout, connection error: try the next operator / later.
    #[error("transient: {0}")]
    Retryable(String),
    /// 4xx (except 408 and 429): the operator refuses this message for good; no failover.
    #[error("permanent: {0}")]
    Permanent(String),
    /// 429: treat as transient.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// The operator's circuit breaker is open; not called.
    #[error("circuit open")]
    CircuitOpen,
}

/// The future of [`SmsOperator::send`]: the operator's message id, or why not.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<String, OperatorError>> + Send + 'a>>;

/// One upstream provider.
pub trait SmsOperator: Send + Sync {
    /// Its unique name (configuration, preferences, history, `POST /dlr/{name}`).
    fn name(&self) -> &str;
    /// Hands one message over; resolves to the operator's message id.
    fn send<'a>(&'a self, sms: &'a OutboundSms) -> SendFuture<'a>;
}
