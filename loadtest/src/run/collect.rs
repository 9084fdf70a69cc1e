//! Collects the outcomes of a run's requests: intake latency histograms, rejections and
//! errors by kind, and the acceptance time of each request for matching with arrivals.

use std::collections::BTreeMap;

use super::send::{Answer, Outcome};
use crate::report::TypedHistograms;

/// One acceptance, kept for matching with arrivals.
#[derive(Debug, Clone, Copy)]
pub struct Accept {
    /// When the 202 came, µs since the Unix epoch.
    pub at_us: u64,
    /// Sent as express.
    pub express: bool,
}

/// The outcomes of a run, added up.
pub struct Collector {
    /// Intake latency of accepted requests.
    pub latency: TypedHistograms,
    /// Non-202 answers by status.
    pub rejections: BTreeMap<u16, u64>,
    /// Requests without an answer, by kind.
    pub errors: BTreeMap<String, u64>,
    /// Indexed by sequence number: the acceptance, if the request was accepted.
    pub accepts: Vec<Option<Accept>>,
    /// When the last answer came, µs since the Unix epoch (0 before any).
    pub last_answer_us: u64,
}

impl Collector {
    /// Nothing collected yet.
    pub fn new() -> Self {
        Self {
            latency: TypedHistograms::new(),
            rejections: BTreeMap::new(),
            errors: BTreeMap::new(),
            accepts: Vec::new(),
            last_answer_us: 0,
        }
    }

    /// Adds one outcome.
    pub fn add(&mut self, o: Outcome) {
        self.last_answer_us = self.last_answer_us.max(o.answered_us);
        match o.result {
            Ok(Answer::Accepted { .. }) => {
                let us = o.answered_us.saturating_sub(o.started_us).max(1);
                self.latency.record(us, o.express);
                let i = o.seq as usize;
                if self.accepts.len() <= i {
                    self.accepts.resize(i + 1, None);
                }
                self.accepts[i] = Some(Accept {
                    at_us: o.answered_us,
                    express: o.express,
                });
            }
            Ok(Answer::Status(s)) => *self.rejections.entry(s).or_default() += 1,
            Err(kind) => *self.errors.entry(kind.to_string()).or_default() += 1,
        }
    }

    /// 5xx answers among the rejections.
    pub fn status_5xx(&self) -> u64 {
        self.rejections
            .iter()
            .filter(|(s, _)| **s >= 500)
            .map(|(_, n)| n)
            .sum()
    }
}
