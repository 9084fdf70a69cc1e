//! The one backoff schedule of the gateway, and the one way to wait: every wait a long-running
//! loop makes ends early when the stop token fires.
//!
//! A [`Backoff`] starts at `base`, doubles per attempt and never exceeds `max`; each delay is
//! that ceiling scaled by a random factor in `[low, high]` (its [`Jitter`]), so processes that
//! failed together do not retry together. Used by the broker connection, the publishers, the
//! workers, the migrations at start-up, the outbox retries of a message
//! ([`Backoff::delay_for`]), the circuit breakers' open intervals (an [`Iterator`], as
//! failsafe wants) and the retries of transient database errors.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The random factor applied to each delay: uniform in `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jitter {
    low: f64,
    high: f64,
}

impl Jitter {
    /// No randomness: every delay is its ceiling.
    pub const NONE: Jitter = Jitter {
        low: 1.0,
        high: 1.0,
    };
    /// Uniform in `[ceiling / 2, ceiling]`: the default.
    pub const HALF: Jitter = Jitter {
        low: 0.5,
        high: 1.0,
    };

    /// A factor uniform in `[low, high]` (both at least 0, `low <= high`).
    pub fn between(low: f64, high: f64) -> Self {
        assert!(
            0.0 <= low && low <= high,
            "jitter [{low}, {high}] is not a range of non-negative factors"
        );
        Self { low, high }
    }

    fn apply(self, ceiling: Duration) -> Duration {
        if self.low == self.high {
            return ceiling.mul_f64(self.low);
        }
        ceiling.mul_f64(self.low + (self.high - self.low) * rand::random::<f64>())
    }
}

/// Exponential backoff; see the module documentation.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    jitter: Jitter,
    attempt: u32,
}

impl Backoff {
    /// Starts at `base`, doubles per attempt, never above `max`, with [`Jitter::HALF`].
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            jitter: Jitter::HALF,
            attempt: 0,
        }
    }

    /// The same schedule with another jitter.
    pub fn with_jitter(self, jitter: Jitter) -> Self {
        Self { jitter, ..self }
    }

    /// A schedule that never grows: `delay` (jittered) every time.
    pub fn constant(delay: Duration) -> Self {
        Self::new(delay, delay)
    }

    /// Back to the first delay.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The ceiling of attempt `n` (0-based): `base * 2^n`, at most `max`.
    fn ceiling(&self, n: u32) -> Duration {
        self.base.saturating_mul(1u32 << n.min(20)).min(self.max)
    }

    /// The delay before attempt `n` (1-based, as an attempt counter stored in a row), without
    /// changing this schedule: attempt 1 waits about `base`.
    pub fn delay_for(&self, n: u32) -> Duration {
        self.jitter.apply(self.ceiling(n.saturating_sub(1)))
    }

    /// The next delay of this schedule.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.jitter.apply(self.ceiling(self.attempt));
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Waits [`Backoff::next_delay`], or until `stop` fires: true when it fired.
    pub async fn wait(&mut self, stop: &CancellationToken) -> bool {
        sleep_or_stop(self.next_delay(), stop).await
    }
}

/// Endless, as failsafe's backoff iterators are.
impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(self.next_delay())
    }
}

/// Sleeps `delay`, or until `stop` fires: true when it fired (at once if it already had).
pub async fn sleep_or_stop(delay: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(delay) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        for _ in 0..30 {
            assert!(b.next_delay() <= Duration::from_secs(1));
        }
        let late = b.next_delay();
        assert!(late >= Duration::from_millis(500));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn without_jitter_it_doubles_up_to_the_cap() {
        let got: Vec<_> = Backoff::new(Duration::from_millis(100), Duration::from_millis(350))
            .with_jitter(Jitter::NONE)
            .take(4)
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(got, [100, 200, 350, 350]);
    }

    #[test]
    fn delay_for_counts_attempts_from_one() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
            .with_jitter(Jitter::between(0.8, 1.2));
        assert!(b.delay_for(1) <= Duration::from_millis(1_200));
        assert!(b.delay_for(1) >= Duration::from_millis(800));
        assert!(b.delay_for(3) >= Duration::from_millis(3_200));
        assert!(b.delay_for(50) <= Duration::from_secs(72));
        assert!(b.delay_for(50) >= Duration::from_secs(48));
    }

    #[test]
    fn a_constant_schedule_stays_in_its_jitter() {
        let mut b =
            Backoff::constant(Duration::from_secs(2)).with_jitter(Jitter::between(0.25, 1.0));
        for _ in 0..50 {
            let d = b.next_delay();
            assert!(
                d >= Duration::from_millis(500) && d <= Duration::from_secs(2),
                "{d:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_wait_ends_when_the_stop_token_fires() {
        let stop = CancellationToken::new();
        assert!(!sleep_or_stop(Duration::from_millis(10), &stop).await);
        let cancel = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            cancel.cancel();
        });
        let started = std::time::Instant::now();
        assert!(sleep_or_stop(Duration::from_secs(3_600), &stop).await);
        assert!(started.elapsed() < Duration::from_secs(60));
        assert!(Backoff::constant(Duration::from_secs(60)).wait(&stop).await);
    }
}
