//! [`GuardedOperator`]: one operator behind its circuit breaker, with its outcome counters,
//! its call metrics and the digest of the key its delivery reports must carry.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use utoipa::ToSchema;

use super::{
    BreakerSettings, CircuitBreaker, CircuitState, OperatorError, OutboundSms, SmsOperator,
};
use crate::domain::SmsType;
use crate::hashing;

/// Outcome counters of one operator.
#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    sent: AtomicU64,
    transient_failures: AtomicU64,
    permanent_failures: AtomicU64,
}

/// An operator behind its circuit breaker, with counters.
pub struct GuardedOperator {
    operator: Arc<dyn SmsOperator>,
    breaker: CircuitBreaker,
    dlr_key_hash: [u8; 32],
    lanes: Vec<SmsType>,
    counters: Counters,
}

impl GuardedOperator {
    pub(super) fn new(
        operator: Arc<dyn SmsOperator>,
        settings: &BreakerSettings,
        dlr_key: &SecretString,
        lanes: Vec<SmsType>,
    ) -> Self {
        Self {
            breaker: CircuitBreaker::new(operator.name(), settings),
            operator,
            dlr_key_hash: hashing::sha256(dlr_key.expose_secret().as_bytes()),
            lanes,
            counters: Counters::default(),
        }
    }

    /// The operator's name.
    pub fn name(&self) -> &str {
        self.operator.name()
    }

    /// Sends through the breaker: [`OperatorError::CircuitOpen`] without calling the operator
    /// while it is open.
    pub async fn send(&self, sms: &OutboundSms) -> Result<String, OperatorError> {
        let span = tracing::info_span!(
            "operator.send",
            otel.kind = "client",
            operator.name = %self.name(),
            outcome = tracing::field::Empty,
        );
        async {
            let c = &self.counters;
            c.calls.fetch_add(1, Ordering::Relaxed);
            let started = std::time::Instant::now();
            let result = self.breaker.call(self.operator.send(sms)).await;
            let took = started.elapsed();
            let (counter, outcome) = match &result {
                Ok(_) => (Some(&c.sent), "success"),
                // In doubt is transient with one more thing to do; outcomes stay as they were.
                Err(OperatorError::Retryable(_) | OperatorError::InDoubt(_)) => {
                    (Some(&c.transient_failures), "retryable")
                }
                Err(OperatorError::RateLimited(_)) => (Some(&c.transient_failures), "rate_limited"),
                Err(OperatorError::Permanent(_)) => (Some(&c.permanent_failures), "permanent"),
                // counted by the breaker's hook
                Err(OperatorError::CircuitOpen) => (None, "circuit_open"),
                // not an answer to a send
                Err(OperatorError::NoStatusUrl) => (None, "retryable"),
            };
            if let Some(counter) = counter {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            tracing::Span::current().record("outcome", outcome);
            crate::metrics::operator_call(self.name(), outcome, counter.is_some().then_some(took));
            result
        }
        .instrument(span)
        .await
    }

    /// Asks the operator for its message under `reference` ([`SmsOperator::lookup`]), bounded
    /// by its timeout. Not through the breaker (a lookup is no send and does not count for or
    /// against the operator's health), but never while the breaker is open
    /// ([`OperatorError::CircuitOpen`]): the operator is failing, and a lookup would wait for
    /// it.
    pub async fn lookup(&self, reference: &str) -> Result<Option<String>, OperatorError> {
        if self.breaker.state() == CircuitState::Open {
            return Err(OperatorError::CircuitOpen);
        }
        let span = tracing::info_span!(
            "operator.lookup",
            otel.kind = "client",
            operator.name = %self.name(),
            outcome = tracing::field::Empty,
        );
        async {
            let result = self.operator.lookup(reference).await;
            let outcome = match &result {
                Ok(Some(_)) => "found",
                Ok(None) => "not_found",
                Err(OperatorError::NoStatusUrl) => return result,
                Err(_) => "error",
            };
            tracing::Span::current().record("outcome", outcome);
            crate::metrics::operator_lookup(self.name(), outcome);
            result
        }
        .instrument(span)
        .await
    }

    /// Whether `key` is this operator's key (delivery reports carry it as a bearer token).
    /// Constant time: compares SHA-256 digests.
    pub fn verify_key(&self, key: &str) -> bool {
        hashing::matches_digest(key, &self.dlr_key_hash)
    }

    /// Its breaker's state.
    pub fn circuit(&self) -> CircuitState {
        self.breaker.state()
    }

    /// The lanes that list it.
    pub fn lanes(&self) -> &[SmsType] {
        &self.lanes
    }

    /// Counters and breaker state.
    pub fn status(&self) -> OperatorStatus {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let c = &self.counters;
        OperatorStatus {
            name: self.name().to_string(),
            circuit: self.breaker.state().as_str().to_string(),
            calls: g(&c.calls),
            sent: g(&c.sent),
            transient_failures: g(&c.transient_failures),
            permanent_failures: g(&c.permanent_failures),
            rejected_by_circuit: self.breaker.rejected(),
            lanes: self.lanes.clone(),
        }
    }
}

/// An operator's health, for `GET /admin/operators` and tests.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OperatorStatus {
    /// Operator name.
    pub name: String,
    /// `"closed"` | `"open"` | `"half_open"`.
    pub circuit: String,
    /// Sends asked of it, including those its open breaker refused
    /// (`sent + transient_failures + permanent_failures + rejected_by_circuit`, once finished).
    pub calls: u64,
    /// Accepted by the operator.
    pub sent: u64,
    /// 5xx, 408, 429, timeouts, connection errors, unusable answers.
    pub transient_failures: u64,
    /// Other 4xx: the message was refused.
    pub permanent_failures: u64,
    /// Refused by the open breaker without a call.
    pub rejected_by_circuit: u64,
    /// The lanes that list it.
    pub lanes: Vec<SmsType>,
}
