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
    /// The sender id it goes out from; `None`: the operator's own.
    pub from: Option<String>,
}

/// Why a call failed.
///
/// A failed send is either known not to have reached the operator (or refused by it), or
/// *in doubt* ([`OperatorError::InDoubt`], [`OperatorError::is_in_doubt`]): the request may
/// have been taken, so [`super::OperatorRegistry::send`] asks that operator again (by lookup or
/// by resending the same reference) before any other operator gets the message.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OperatorError {
    /// 5xx, 401/403/408, a refused connection: the operator did not take the message; try the
    /// next operator / later.
    #[error("transient: {0}")]
    Retryable(String),
    /// Transient, and the operator may have the message all the same: a timeout, the
    /// connection lost after the request was written, a 2xx whose body names no message id.
    /// Shown, counted and breaker-counted as [`OperatorError::Retryable`].
    #[error("transient: {0}")]
    InDoubt(String),
    /// 4xx (except 401, 403, 408 and 429): the operator refuses this message for good; no
    /// failover.
    #[error("permanent: {0}")]
    Permanent(String),
    /// 429: the operator did not take the message and asks to be called less often. Fails
    /// over like [`OperatorError::Retryable`], but slows the operator down
    /// ([`super::throttle::Throttle::on_rate_limited`]) instead of counting against its
    /// breaker.
    #[error("rate limited: {reason}")]
    RateLimited {
        /// The answer.
        reason: String,
        /// Its `Retry-After`, when it gave one in seconds.
        retry_after: Option<std::time::Duration>,
    },
    /// The operator's circuit breaker is open; not called.
    #[error("circuit open")]
    CircuitOpen,
    /// Not called: the send's token under the operator's limits (`max_rps`, or the slower
    /// rate after a 429) would have come later than its `max_wait_ms`.
    #[error("throttled: {0}")]
    Throttled(String),
    /// A lookup was asked of an operator that declares no `status_url`.
    #[error("no status_url")]
    NoStatusUrl,
}

impl OperatorError {
    /// Whether the operator may have taken the message although the call failed.
    pub fn is_in_doubt(&self) -> bool {
        matches!(self, Self::InDoubt(_))
    }
}

/// The future of [`SmsOperator::send`]: the operator's message id, or why not.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<String, OperatorError>> + Send + 'a>>;

/// The future of [`SmsOperator::lookup`]: the operator's message id for a reference
/// (`Some`), `None` when it has no message with that reference, or why it could not say.
pub type LookupFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<String>, OperatorError>> + Send + 'a>>;

/// One upstream provider.
pub trait SmsOperator: Send + Sync {
    /// Its unique name (configuration, preferences, history, `POST /dlr/{name}`).
    fn name(&self) -> &str;
    /// Hands one message over; resolves to the operator's message id.
    fn send<'a>(&'a self, sms: &'a OutboundSms) -> SendFuture<'a>;
    /// Asks the operator whether it has a message with this `reference` (its `status_url`).
    /// By default an operator has none: [`OperatorError::NoStatusUrl`].
    fn lookup<'a>(&'a self, reference: &'a str) -> LookupFuture<'a> {
        let _ = reference;
        Box::pin(async { Err(OperatorError::NoStatusUrl) })
    }
}
