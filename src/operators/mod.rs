//! Upstream operators: each behind its own circuit breaker, tried in the lane's order with
//! failover.
//!
//! - [`SmsOperator`]: one upstream provider; [`http::HttpOperator`] speaks the wire protocol.
//! - [`GuardedOperator`]: an operator with its [`circuit_breaker::CircuitBreaker`], counters and
//!   the key its delivery reports must carry.
//! - [`OperatorRegistry`]: the configured operators and the order of each lane. An operator
//!   listed in both lanes is one [`GuardedOperator`] (one breaker, one set of counters).
//!   [`OperatorRegistry::send`] fails over on transient errors and stops on a permanent one.

pub mod circuit_breaker;
mod guarded;
pub mod http;
mod registry;
mod sms_operator;
pub mod wire;

pub use circuit_breaker::{BreakerSettings, CircuitBreaker, CircuitState};
pub use guarded::{GuardedOperator, OperatorStatus};
pub use http::HttpOperator;
pub use registry::{OperatorRegistry, SendOutcome};
pub use sms_operator::{OperatorError, OutboundSms, SendFuture, SmsOperator};

#[cfg(test)]
mod tests;
