//! Upstream operators: each behind its own circuit breaker, tried in the lane's order with
//! failover.
//!
//! - [`SmsOperator`] (`sms_operator.rs`): one upstream provider, the message it is handed and
//!   how a call fails; [`HttpOperator`] (`http.rs`) speaks the [`wire`] protocol.
//! - [`GuardedOperator`] (`guarded.rs`): an operator with its limits ([`Throttle`],
//!   `throttle/`: the `max_rps` cap and the slowdown after a 429), its [`CircuitBreaker`]
//!   (`circuit_breaker.rs`), counters, call metrics and the key its delivery reports must carry.
//! - [`OperatorRegistry`] (`registry.rs`): the configured operators and the order of each
//!   lane. An operator listed in both lanes is one [`GuardedOperator`] (one breaker, one set of
//!   counters). [`OperatorRegistry::send`] fails over on transient errors (after asking the
//!   same operator again when its answer is in doubt) and stops on a permanent one;
//!   [`OperatorRegistry::lookup`] asks operators with a `status_url` for a message by its
//!   reference.

pub mod circuit_breaker;
mod guarded;
pub mod http;
mod registry;
mod sms_operator;
pub mod throttle;
pub mod wire;

pub use circuit_breaker::{BreakerSettings, CircuitBreaker, CircuitState};
pub use guarded::{GuardedOperator, OperatorStatus};
pub use http::HttpOperator;
pub use registry::{OperatorRegistry, SendOutcome};
pub use sms_operator::{LookupFuture, OperatorError, OutboundSms, SendFuture, SmsOperator};
pub use throttle::{Throttle, ThrottleSettings};

#[cfg(test)]
mod tests;
