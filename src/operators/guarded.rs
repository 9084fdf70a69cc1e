//! [`GuardedOperator`]: one operator behind its limits ([`Throttle`]) and its circuit breaker,
//! with its outcome counters, its call metrics and the digest of the key its delivery reports
//! must carry.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use utoipa::ToSchema;

use super::throttle::{Throttle, ThrottleSettings};
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

/// An operator behind its limits and its circuit breaker, with counters.
pub struct GuardedOperator {
    operator: Arc<dyn SmsOperator>,
    throttle: Throttle,
    breaker: CircuitBreaker,
    dlr_key_hash: [u8; 32],
    lanes: Vec<SmsType>,
    counters: Counters,
}

impl GuardedOperator {
    pub(super) fn new(
        operator: Arc<dyn SmsOperator>,
        settings: &BreakerSettings,
        limits: &ThrottleSettings,
        dlr_key: &SecretString,
        lanes: Vec<SmsType>,
    ) -> Self {
        Self {
            throttle: Throttle::new(operator.name(), limits),
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

    /// Sends within the operator's limits and through its breaker. First the send's token
    /// ([`Throttle::acquire`]): [`OperatorError::Throttled`] without a call when it would come
    /// later than `max_wait_ms`. Then [`OperatorError::CircuitOpen`] without a call while the
    /// breaker is open (the token is given back). A 429 slows the operator down, a success
    /// lets a slowed one recover; neither is a breaker failure.
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
            let permit = match self.throttle.acquire().await {
                Ok(permit) => permit,
                Err(busy) => {
                    // counted by the throttle
                    tracing::Span::current().record("outcome", "throttled");
                    crate::metrics::operator_call(self.name(), "throttled", None);
                    return Err(OperatorError::Throttled(format!(
                        "its next send is {} ms away, over its max_wait_ms",
                        busy.wait.as_millis()
                    )));
                }
            };
            let started = std::time::Instant::now();
            let result = self.breaker.call(self.operator.send(sms)).await;
            let took = started.elapsed();
            match &result {
                Ok(_) => self.throttle.on_success(),
                Err(OperatorError::RateLimited { retry_after, .. }) => {
                    self.throttle.on_rate_limited(permit, *retry_after)
                }
                Err(OperatorError::CircuitOpen) => self.throttle.give_back(permit),
                Err(_) => {}
            }
            let (counter, outcome) = match &result {
                Ok(_) => (Some(&c.sent), "success"),
                // In doubt is transient with one more thing to do; outcomes stay as they were.
                Err(OperatorError::Retryable(_) | OperatorError::InDoubt(_)) => {
                    (Some(&c.transient_failures), "retryable")
                }
                // counted by the throttle
                Err(OperatorError::RateLimited { .. }) => (None, "rate_limited"),
                Err(OperatorError::Permanent(_)) => (Some(&c.permanent_failures), "permanent"),
                // counted by the breaker's hook
                Err(OperatorError::CircuitOpen) => (None, "circuit_open"),
                // not answers to a send
                Err(OperatorError::Throttled(_) | OperatorError::NoStatusUrl) => {
                    (None, "retryable")
                }
            };
            if let Some(counter) = counter {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            tracing::Span::current().record("outcome", outcome);
            let answered = counter.is_some() || outcome == "rate_limited";
            crate::metrics::operator_call(self.name(), outcome, answered.then_some(took));
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

    /// Counters, limits and breaker state.
    pub fn status(&self) -> OperatorStatus {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let c = &self.counters;
        let limits = self.throttle.status();
        OperatorStatus {
            name: self.name().to_string(),
            circuit: self.breaker.state().as_str().to_string(),
            calls: g(&c.calls),
            sent: g(&c.sent),
            transient_failures: g(&c.transient_failures),
            permanent_failures: g(&c.permanent_failures),
            rejected_by_circuit: self.breaker.rejected(),
            lanes: self.lanes.clone(),
            max_rps: limits.max_rps,
            max_wait_ms: limits.max_wait.as_millis() as u64,
            effective_rps: limits.effective_rps,
            throttled: limits.throttled,
            rate_limited: limits.rate_limited,
            throttle_waits: limits.waits,
            throttle_skips: limits.skips,
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
    /// Sends asked of it, including those its limits or its open breaker refused
    /// (`sent + transient_failures + rate_limited + permanent_failures + rejected_by_circuit +
    /// throttle_skips`, once finished).
    pub calls: u64,
    /// Accepted by the operator.
    pub sent: u64,
    /// 5xx, 401, 403, 408, timeouts, connection errors, unusable answers (429s are
    /// `rate_limited`).
    pub transient_failures: u64,
    /// Other 4xx: the message was refused.
    pub permanent_failures: u64,
    /// Refused by the open breaker without a call.
    pub rejected_by_circuit: u64,
    /// The lanes that list it.
    pub lanes: Vec<SmsType>,
    /// Its configured cap, sends per second per worker process; `null`: none.
    pub max_rps: Option<u32>,
    /// Longest wait of a send for its token before the next operator is tried.
    pub max_wait_ms: u64,
    /// Sends per second this process allows it now: `max_rps`, or less after a 429;
    /// `null`: unlimited.
    pub effective_rps: Option<f64>,
    /// True while a 429 has it slowed below its full rate (or its `Retry-After` holds it).
    pub throttled: bool,
    /// Sends it answered 429 (not counted against its breaker).
    pub rate_limited: u64,
    /// Sends that waited for their token.
    pub throttle_waits: u64,
    /// Sends not made because their token would have come after `max_wait_ms` (the next
    /// operator was tried).
    pub throttle_skips: u64,
}
