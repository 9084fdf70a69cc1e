//! What to send and when: the open-loop rate schedule, and the per-request choices (customer,
//! type, text, recipients) derived from the request's sequence number, so no random generator
//! is shared between tasks and a run is reproducible with `--seed`.

use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::text::{TextKind, TextMix};

/// Open loop: request `i` (from 0) is due at `i / rate` seconds after the start, whatever
/// happened to earlier requests. Latency is measured from the due time, so a gateway that
/// slows down is charged for the queueing it causes (no coordinated omission).
#[derive(Debug, Clone, Copy)]
pub struct RateSchedule {
    /// Requests per second (> 0).
    pub rate: f64,
}

impl RateSchedule {
    /// When request `i` is due, after the start.
    pub fn due(&self, i: u64) -> Duration {
        Duration::from_secs_f64(i as f64 / self.rate)
    }

    /// How many requests are due `elapsed` after the start (requests 0..n).
    pub fn due_by(&self, elapsed: Duration) -> u64 {
        (elapsed.as_secs_f64() * self.rate).floor() as u64 + 1
    }

    /// Requests in a run of `duration`.
    pub fn total(&self, duration: Duration) -> u64 {
        (duration.as_secs_f64() * self.rate).ceil() as u64
    }
}

/// The choices for each request of a run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `--seed`.
    pub seed: u64,
    /// Keys used (1 with `--hot`).
    pub customers: usize,
    /// Share of express requests, 0-1.
    pub express_ratio: f64,
    /// The text mix.
    pub text: TextMix,
    /// Recipients per request.
    pub recipients: usize,
}

/// One request's choices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pick {
    /// Index into the keys.
    pub customer: usize,
    /// Sent as express.
    pub express: bool,
    /// The text.
    pub kind: TextKind,
}

impl Plan {
    /// The choices of request `seq`: drawn from ChaCha8 keyed by the seed, on stream `seq`
    /// (a portable generator, so a seed gives the same choices on every machine).
    pub fn pick(&self, seq: u64) -> Pick {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(seq);
        Pick {
            customer: rng.random_range(0..self.customers.max(1)),
            express: rng.random::<f64>() < self.express_ratio,
            kind: self.text.pick(rng.random()),
        }
    }

    /// The recipients of request `seq`: `+98912` and seven digits, distinct within a request
    /// (and across the first 10^7 / recipients requests).
    pub fn recipients_of(&self, seq: u64) -> Vec<String> {
        let base = seq.wrapping_mul(self.recipients as u64);
        (0..self.recipients as u64)
            .map(|j| format!("+98912{:07}", (base + j) % 10_000_000))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_schedule_spaces_requests_evenly() {
        let s = RateSchedule { rate: 200.0 };
        assert_eq!(s.due(0), Duration::ZERO);
        assert_eq!(s.due(1), Duration::from_millis(5));
        assert_eq!(s.due(200), Duration::from_secs(1));
        assert_eq!(s.due_by(Duration::ZERO), 1);
        assert_eq!(s.due_by(Duration::from_micros(4_999)), 1);
        assert_eq!(s.due_by(Duration::from_millis(5)), 2);
        assert_eq!(s.due_by(Duration::from_secs(1)), 201);
        assert_eq!(s.total(Duration::from_secs(30)), 6_000);
        let slow = RateSchedule { rate: 0.5 };
        assert_eq!(slow.due(3), Duration::from_secs(6));
        assert_eq!(slow.total(Duration::from_secs(5)), 3);
    }

    #[test]
    fn picks_follow_the_ratios_and_are_reproducible() {
        let plan = Plan {
            seed: 42,
            customers: 1_000,
            express_ratio: 0.1,
            text: TextMix::Mix,
            recipients: 1,
        };
        let picks: Vec<Pick> = (0..100_000).map(|i| plan.pick(i)).collect();
        let express = picks.iter().filter(|p| p.express).count();
        assert!((9_000..11_000).contains(&express), "{express}");
        let gsm = picks.iter().filter(|p| p.kind == TextKind::Gsm).count();
        assert!((68_500..71_500).contains(&gsm), "{gsm}");
        let customers: HashSet<usize> = picks.iter().map(|p| p.customer).collect();
        assert_eq!(customers.len(), 1_000);
        assert!(customers.iter().all(|&c| c < 1_000));
        assert_eq!(plan.pick(77), plan.pick(77));
        let other = Plan {
            seed: 43,
            ..plan.clone()
        };
        assert!((0..100).any(|i| other.pick(i) != plan.pick(i)));

        let hot = Plan {
            customers: 1,
            ..plan
        };
        assert!((0..1_000).all(|i| hot.pick(i).customer == 0));
    }

    #[test]
    fn recipients_are_distinct_and_valid_numbers() {
        let plan = Plan {
            seed: 1,
            customers: 1,
            express_ratio: 0.0,
            text: TextMix::Mix,
            recipients: 1_000,
        };
        let r = plan.recipients_of(9_999);
        assert_eq!(r.len(), 1_000);
        assert_eq!(r.iter().collect::<HashSet<_>>().len(), 1_000);
        let country: sms_gateway::domain::DefaultCountry = "98".parse().unwrap();
        for n in [&r[0], &r[999], &plan.recipients_of(0)[0]] {
            let parsed = sms_gateway::domain::PhoneNumber::parse(n, Some(&country)).unwrap();
            assert_eq!(parsed.as_str(), n.as_str());
        }
    }
}
