//! One circuit breaker per operator, built on `failsafe`, with its state kept for status pages
//! and metrics.
//!
//! Policy: `consecutive_failures(failures, open intervals)`. After `failures` consecutive
//! transient failures ([`OperatorError::Retryable`], [`OperatorError::InDoubt`]) the breaker
//! opens for `open`; the interval doubles on every re-open up to `max_open` and starts over once
//! a call succeeds. A permanent rejection counts as a success: the operator answered, the
//! message was bad. So does a 429 ([`OperatorError::RateLimited`]): the operator is up and
//! asks to be called less often, which its [`super::throttle::Throttle`] sees to; counted as
//! a failure, a burst of 429s would open the breaker and push the whole load onto the next
//! operator. When the interval has passed, the next call finds the breaker half open and
//! goes through (failsafe lets every call through while half open, not only one probe); a
//! success closes it, a transient failure re-opens it.
//!
//! failsafe's own `backoff::exponential` asserts intervals of at least one second, so the
//! doubling interval is the gateway's one [`Backoff`] schedule ([`open_intervals`]).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use failsafe::futures::CircuitBreaker as _;
use failsafe::{Instrument, StateMachine, failure_policy};

use super::OperatorError;
use crate::backoff::{Backoff, Jitter};
use crate::config::OperatorConfig;

/// Thresholds of one operator's breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive transient failures that open the breaker (at least 1).
    pub failures: u32,
    /// First open interval.
    pub open: Duration,
    /// Longest open interval; each re-open doubles the interval up to this.
    pub max_open: Duration,
}

impl Default for BreakerSettings {
    /// The configuration defaults: 5 failures, 1 s, at most 30 s.
    fn default() -> Self {
        Self {
            failures: 5,
            open: Duration::from_secs(1),
            max_open: Duration::from_secs(30),
        }
    }
}

impl From<&OperatorConfig> for BreakerSettings {
    fn from(c: &OperatorConfig) -> Self {
        Self {
            failures: c.breaker_failures,
            open: Duration::from_millis(c.breaker_open_ms),
            max_open: Duration::from_millis(c.breaker_max_open_ms),
        }
    }
}

/// State of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Calls go through.
    Closed,
    /// Calls are refused without reaching the operator.
    Open,
    /// The open interval passed; calls go through and the next result decides.
    HalfOpen,
}

impl CircuitState {
    /// `"closed"`, `"open"` or `"half_open"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    /// Value of the `smsgw_operator_circuit_state` gauge: 0 closed, 1 half open, 2 open.
    pub fn gauge_value(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen => 1.0,
            Self::Open => 2.0,
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::HalfOpen,
            2 => Self::Open,
            _ => Self::Closed,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Self::Closed => 0,
            Self::HalfOpen => 1,
            Self::Open => 2,
        }
    }
}

/// Open intervals: `open` (at least 1 ms), doubling per re-open, never above `max_open` (at
/// least `open`), without jitter: the shared [`Backoff`] schedule. failsafe's own
/// `backoff::exponential` asserts intervals of at least one second, and tests (and operators
/// with short outages) open breakers for less.
pub fn open_intervals(open: Duration, max_open: Duration) -> Backoff {
    let open = open.max(Duration::from_millis(1));
    Backoff::new(open, max_open.max(open)).with_jitter(Jitter::NONE)
}

/// What the failsafe hooks record.
#[derive(Debug)]
struct Observed {
    operator: String,
    state: AtomicU8,
    rejected: AtomicU64,
}

/// failsafe `Instrument` writing into [`Observed`], logs and the state gauge.
#[derive(Debug, Clone)]
struct Hooks(Arc<Observed>);

impl Hooks {
    fn set(&self, state: CircuitState) {
        let previous = CircuitState::from_u8(self.0.state.swap(state.to_u8(), Ordering::SeqCst));
        crate::metrics::circuit_state(&self.0.operator, state.gauge_value());
        if previous == state {
            return;
        }
        let operator = self.0.operator.as_str();
        match state {
            CircuitState::Open => tracing::warn!(operator, "operator circuit opened"),
            CircuitState::HalfOpen => tracing::info!(operator, "operator circuit half open"),
            CircuitState::Closed => tracing::info!(operator, "operator circuit closed"),
        }
    }
}

impl Instrument for Hooks {
    fn on_call_rejected(&self) {
        self.0.rejected.fetch_add(1, Ordering::Relaxed);
        crate::metrics::circuit_rejected(&self.0.operator);
    }

    fn on_open(&self) {
        self.set(CircuitState::Open);
    }

    fn on_half_open(&self) {
        self.set(CircuitState::HalfOpen);
    }

    fn on_closed(&self) {
        self.set(CircuitState::Closed);
    }
}

type Machine = StateMachine<failure_policy::ConsecutiveFailures<Backoff>, Hooks>;

/// The breaker of one operator.
pub struct CircuitBreaker {
    machine: Machine,
    observed: Arc<Observed>,
}

impl CircuitBreaker {
    /// A closed breaker for `operator` (the name labels logs and metrics).
    pub fn new(operator: &str, settings: &BreakerSettings) -> Self {
        let observed = Arc::new(Observed {
            operator: operator.to_string(),
            state: AtomicU8::new(CircuitState::Closed.to_u8()),
            rejected: AtomicU64::new(0),
        });
        // The series exists (closed) before the first transition.
        crate::metrics::circuit_state(operator, CircuitState::Closed.gauge_value());
        let policy = failure_policy::consecutive_failures(
            settings.failures.max(1),
            open_intervals(settings.open, settings.max_open),
        );
        let machine = failsafe::Config::new()
            .failure_policy(policy)
            .instrument(Hooks(observed.clone()))
            .build();
        Self { machine, observed }
    }

    /// Runs `call` unless the breaker is open ([`OperatorError::CircuitOpen`], `call` is never
    /// polled). Retryable and in-doubt errors count as failures; success, permanent and
    /// rate-limited errors count as successes.
    pub async fn call<T, F>(&self, call: F) -> Result<T, OperatorError>
    where
        F: Future<Output = Result<T, OperatorError>>,
    {
        match self.machine.call_with(trips_breaker, call).await {
            Ok(v) => Ok(v),
            Err(failsafe::Error::Inner(e)) => Err(e),
            Err(failsafe::Error::Rejected) => Err(OperatorError::CircuitOpen),
        }
    }

    /// The state as of the last call. An open breaker whose interval has passed still reads
    /// `Open` until the next call finds it half open.
    pub fn state(&self) -> CircuitState {
        CircuitState::from_u8(self.observed.state.load(Ordering::SeqCst))
    }

    /// Calls refused because the breaker was open.
    pub fn rejected(&self) -> u64 {
        self.observed.rejected.load(Ordering::Relaxed)
    }
}

/// Whether an error counts against the operator's health.
fn trips_breaker(e: &OperatorError) -> bool {
    matches!(e, OperatorError::Retryable(_) | OperatorError::InDoubt(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_intervals_double_up_to_the_cap() {
        let intervals = open_intervals(Duration::from_millis(100), Duration::from_millis(350));
        let millis: Vec<_> = intervals.take(4).map(|d| d.as_millis()).collect();
        assert_eq!(millis, [100, 200, 350, 350]);
    }

    #[test]
    fn settings_come_from_the_operator_config() {
        let c: OperatorConfig = serde_json::from_str(
            r#"{"name":"a","url":"http://x","api_key":"k","breaker_failures":3,"breaker_open_ms":250}"#,
        )
        .unwrap();
        let s = BreakerSettings::from(&c);
        assert_eq!(s.failures, 3);
        assert_eq!(s.open, Duration::from_millis(250));
        assert_eq!(s.max_open, Duration::from_secs(30));
    }

    #[tokio::test]
    async fn only_transient_errors_trip_it() {
        let b = CircuitBreaker::new(
            "t",
            &BreakerSettings {
                failures: 2,
                open: Duration::from_secs(60),
                max_open: Duration::from_secs(60),
            },
        );
        for _ in 0..5 {
            let r: Result<(), _> = b
                .call(async { Err(OperatorError::Permanent("bad".into())) })
                .await;
            assert!(matches!(r, Err(OperatorError::Permanent(_))));
        }
        for _ in 0..5 {
            let r: Result<(), _> = b
                .call(async {
                    Err(OperatorError::RateLimited {
                        reason: "slow down".into(),
                        retry_after: None,
                    })
                })
                .await;
            assert!(matches!(r, Err(OperatorError::RateLimited { .. })));
        }
        assert_eq!(b.state(), CircuitState::Closed);
        for _ in 0..2 {
            let r: Result<(), _> = b
                .call(async { Err(OperatorError::Retryable("503".into())) })
                .await;
            assert!(matches!(r, Err(OperatorError::Retryable(_))));
        }
        assert_eq!(b.state(), CircuitState::Open);
        let r = b.call(async { Ok::<_, OperatorError>(1) }).await;
        assert!(matches!(r, Err(OperatorError::CircuitOpen)));
        assert_eq!(b.rejected(), 1);
    }
}
