//! [`Throttle`]: an operator's own limits, kept by each worker process for its own calls.
//!
//! - **The cap** (`max_rps`): a token bucket refilled at `max_rps` tokens per second holding at
//!   most [`burst`] tokens (`max(1, rate / 10)`: a tenth of a second's worth). A send takes a
//!   token; when none is left it waits for the next one, unless that wait would pass
//!   `max_wait_ms`: then the send is refused at once ([`Busy`]) and the registry moves on to
//!   the lane's next operator, as for an open breaker. Waiters reserve their tokens (the
//!   bucket goes below zero), so concurrent sends queue in order and the cap holds for all.
//! - **429** ([`Throttle::on_rate_limited`]): the operator asks to slow down. The rate halves
//!   (from the lower of the current rate and the calls of the last second), never below
//!   [`FLOOR_RPS`]; only once per round of calls (a 429 to a call admitted before the last
//!   decrease says nothing new). A `Retry-After` of N seconds (at most
//!   [`RETRY_AFTER_LIMIT`]) holds every send for that long. An operator without a cap gets
//!   one while it is slowed, its ceiling being the rate it was called at when the first 429
//!   came.
//! - **Recovery** ([`Throttle::on_success`]): additive; successful calls add back a tenth of
//!   the ceiling per second they span (from half to the full rate in about 5 s of
//!   successes), until the rate is back at the cap (or the limit is lifted for an operator
//!   without one).
//!
//! None of this counts against the operator's breaker: a busy operator is not a broken one.
//! Time is tokio's ([`tokio::time::Instant`]), so tests run it paused.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::OperatorConfig;

/// The slowest rate a 429 brings an operator down to, in sends per second.
pub const FLOOR_RPS: f64 = 1.0;
/// The longest `Retry-After` honoured; an operator asking for more is asked again then.
pub const RETRY_AFTER_LIMIT: Duration = Duration::from_secs(60);
/// Share of the ceiling a second of successful calls adds back to a slowed rate.
const RECOVERY_PER_SEC: f64 = 0.1;

/// The tokens a bucket of `rate` sends per second holds at most: a tenth of a second's worth,
/// at least one.
pub fn burst(rate: f64) -> f64 {
    (rate / 10.0).floor().max(1.0)
}

/// One operator's limits, from its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// `max_rps`: sends per second at most; `None`: no cap.
    pub max_rps: Option<u32>,
    /// `max_wait_ms`: the longest a send waits for its token.
    pub max_wait: Duration,
}

impl Default for ThrottleSettings {
    /// No cap and no wait, as configured for an operator without `max_rps` or `max_wait_ms`.
    fn default() -> Self {
        Self {
            max_rps: None,
            max_wait: Duration::ZERO,
        }
    }
}

impl From<&OperatorConfig> for ThrottleSettings {
    fn from(c: &OperatorConfig) -> Self {
        Self {
            max_rps: c.max_rps,
            max_wait: Duration::from_millis(c.max_wait_ms()),
        }
    }
}

/// A send may go: when it was admitted in the throttle's rounds of decrease, and whether it
/// waited for its token.
#[derive(Debug, Clone, Copy)]
pub struct Permit {
    round: u64,
    /// Whether the send waited for its token (or for a `Retry-After`).
    pub waited: bool,
}

/// A send refused: its token would come later than `max_wait_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Busy {
    /// How long it would have had to wait.
    pub wait: Duration,
}

/// A slowed rate (after a 429) and how it recovers.
#[derive(Debug, Clone, Copy)]
struct Slowdown {
    /// Current sends per second.
    rate: f64,
    /// The rate it recovers to: the cap, or for an operator without one the rate it was
    /// called at when the first 429 came.
    ceiling: f64,
    /// Until when successes have been credited to the recovery.
    credited_to: Instant,
}

/// Calls admitted per second, roughly: the last full second's count, or this second's so far.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
    previous: f64,
}

impl Window {
    fn note(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.start);
        if elapsed >= Duration::from_secs(1) {
            self.previous = f64::from(self.count) / elapsed.as_secs_f64();
            self.start = now;
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
    }

    fn rate(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.start);
        if elapsed >= Duration::from_secs(1) {
            f64::from(self.count) / elapsed.as_secs_f64()
        } else {
            self.previous.max(f64::from(self.count))
        }
    }
}

#[derive(Debug)]
struct State {
    /// Tokens in the bucket; below zero when waiters have reserved tokens not yet refilled.
    tokens: f64,
    refilled: Instant,
    slowed: Option<Slowdown>,
    /// No send before this (`Retry-After`).
    held_until: Option<Instant>,
    /// Rounds of decrease so far ([`Permit::round`]).
    round: u64,
    window: Window,
    rate_limited: u64,
    waits: u64,
    skips: u64,
}

/// What [`Throttle::status`] reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleStatus {
    /// The configured cap.
    pub max_rps: Option<u32>,
    /// The configured longest wait.
    pub max_wait: Duration,
    /// Sends per second allowed now; `None`: unlimited.
    pub effective_rps: Option<f64>,
    /// Whether a 429 slowed it and it has not recovered yet (or a `Retry-After` holds it).
    pub throttled: bool,
    /// 429 answers.
    pub rate_limited: u64,
    /// Sends that waited for their token.
    pub waits: u64,
    /// Sends refused because their token would have come too late.
    pub skips: u64,
}

/// One operator's limits in this process.
#[derive(Debug)]
pub struct Throttle {
    operator: String,
    settings: ThrottleSettings,
    state: Mutex<State>,
}

impl Throttle {
    /// A throttle for `operator` (the name labels logs and metrics), its bucket full.
    pub fn new(operator: &str, settings: &ThrottleSettings) -> Self {
        let now = Instant::now();
        let cap = settings.max_rps.map(f64::from);
        let throttle = Self {
            operator: operator.to_string(),
            settings: *settings,
            state: Mutex::new(State {
                tokens: cap.map_or(1.0, burst),
                refilled: now,
                slowed: None,
                held_until: None,
                round: 0,
                window: Window {
                    start: now,
                    count: 0,
                    previous: 0.0,
                },
                rate_limited: 0,
                waits: 0,
                skips: 0,
            }),
        };
        crate::metrics::operator_effective_rate(operator, cap);
        throttle
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cap(&self) -> Option<f64> {
        self.settings.max_rps.map(f64::from)
    }

    fn rate(&self, s: &State) -> Option<f64> {
        s.slowed.map(|sl| sl.rate).or(self.cap())
    }

    /// Adds the tokens earned since the last refill at the current rate.
    fn refill(&self, s: &mut State, now: Instant) {
        if let Some(rate) = self.rate(s) {
            let earned = rate * now.saturating_duration_since(s.refilled).as_secs_f64();
            s.tokens = (s.tokens + earned).min(burst(rate));
        }
        s.refilled = now;
    }

    /// Waits for a send's token (and any `Retry-After`), or refuses at once when that would
    /// take longer than `max_wait_ms`.
    pub async fn acquire(&self) -> Result<Permit, Busy> {
        let (wait, round) = {
            let now = Instant::now();
            let mut s = self.lock();
            self.refill(&mut s, now);
            let held = s
                .held_until
                .map_or(Duration::ZERO, |until| until.saturating_duration_since(now));
            let token = match self.rate(&s) {
                Some(rate) if s.tokens < 1.0 => Duration::from_secs_f64((1.0 - s.tokens) / rate),
                _ => Duration::ZERO,
            };
            let wait = held.max(token);
            if wait > self.settings.max_wait {
                s.skips += 1;
                drop(s);
                crate::metrics::operator_throttled(&self.operator, "skipped");
                return Err(Busy { wait });
            }
            if self.rate(&s).is_some() {
                s.tokens -= 1.0;
            }
            s.window.note(now + wait);
            if !wait.is_zero() {
                s.waits += 1;
            }
            (wait, s.round)
        };
        if wait.is_zero() {
            return Ok(Permit {
                round,
                waited: false,
            });
        }
        crate::metrics::operator_throttled(&self.operator, "waited");
        tokio::time::sleep(wait).await;
        Ok(Permit {
            round,
            waited: true,
        })
    }

    /// The send of `permit` was not made after all (its breaker was open): its token goes
    /// back to the bucket.
    pub fn give_back(&self, permit: Permit) {
        let _ = permit;
        let mut s = self.lock();
        if self.rate(&s).is_some() {
            s.tokens += 1.0;
        }
    }

    /// The operator answered 429 to the send of `permit`: slow down (once per round of calls)
    /// and hold every send for `retry_after` (bounded by [`RETRY_AFTER_LIMIT`]).
    pub fn on_rate_limited(&self, permit: Permit, retry_after: Option<Duration>) {
        let now = Instant::now();
        let mut s = self.lock();
        s.rate_limited += 1;
        if let Some(after) = retry_after {
            let until = now + after.min(RETRY_AFTER_LIMIT);
            s.held_until = Some(s.held_until.map_or(until, |h| h.max(until)));
        }
        if permit.round < s.round {
            return;
        }
        self.refill(&mut s, now);
        let observed = s.window.rate(now).max(FLOOR_RPS);
        let current = self.rate(&s);
        let base = current.map_or(observed, |r| r.min(observed));
        let rate = (base / 2.0).max(FLOOR_RPS);
        let ceiling = self
            .cap()
            .or(s.slowed.map(|sl| sl.ceiling))
            .unwrap_or(observed);
        if current.is_none() {
            // Unlimited until now: the bucket starts empty at the slower rate.
            s.tokens = 0.0;
        }
        s.tokens = s.tokens.min(burst(rate));
        let credited_to = s.held_until.map_or(now, |h| h.max(now));
        s.slowed = Some(Slowdown {
            rate,
            ceiling,
            credited_to,
        });
        s.round += 1;
        drop(s);
        tracing::warn!(operator = %self.operator, rps = rate, retry_after_s = retry_after.map(|d| d.as_secs()), "operator asked to slow down (429); rate lowered");
        crate::metrics::operator_effective_rate(&self.operator, Some(rate));
    }

    /// A send went through: a slowed rate gains back a tenth of its ceiling per second since
    /// the last credit (at most one second's worth), up to the ceiling, where the slowdown
    /// ends.
    pub fn on_success(&self) {
        let now = Instant::now();
        let mut s = self.lock();
        let Some(slowed) = s.slowed else {
            return;
        };
        if now <= slowed.credited_to {
            return;
        }
        self.refill(&mut s, now);
        let span = (now - slowed.credited_to).min(Duration::from_secs(1));
        let rate = slowed.rate + slowed.ceiling * RECOVERY_PER_SEC * span.as_secs_f64();
        let recovered = rate >= slowed.ceiling;
        s.slowed = (!recovered).then_some(Slowdown {
            rate,
            credited_to: now,
            ..slowed
        });
        let effective = self.rate(&s);
        drop(s);
        if recovered {
            tracing::info!(operator = %self.operator, "operator back to its full rate");
        }
        crate::metrics::operator_effective_rate(&self.operator, effective);
    }

    /// Settings, the rate now and the counters.
    pub fn status(&self) -> ThrottleStatus {
        let now = Instant::now();
        let s = self.lock();
        ThrottleStatus {
            max_rps: self.settings.max_rps,
            max_wait: self.settings.max_wait,
            effective_rps: self.rate(&s),
            throttled: s.slowed.is_some() || s.held_until.is_some_and(|h| h > now),
            rate_limited: s.rate_limited,
            waits: s.waits,
            skips: s.skips,
        }
    }
}

#[cfg(test)]
mod tests;
