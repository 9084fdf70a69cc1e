//! The report of a run: what `run` writes as JSON (`--out`, read by the bench scripts) and
//! prints as a table. The figures come from the submodules: latency summaries of HDR histograms
//! ([`latency`]), the backlog trend ([`trend`]) and histograms read from the gateway's
//! Prometheus text ([`prometheus`]); [`table`] renders the whole.

mod latency;
mod prometheus;
mod table;
mod trend;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use latency::{Latency, TypedHistograms, new_histogram, type_name};
pub use prometheus::{histogram_delta, parse_histograms};
pub use trend::steady_state;

/// `v` rounded to one decimal.
pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// `v` rounded to two decimals.
pub fn round2(v: f64) -> f64 {
    round1(v * 10.0) / 10.0
}

/// What the run was asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    /// The gateway (`--url`), without a trailing slash.
    pub base_url: String,
    /// "gateway" or "kannel" (`--target`).
    pub target: String,
    /// "open" (`--rate`) or "closed" (`--concurrency`).
    pub mode: String,
    /// Open loop: requests per second (`--rate`).
    pub rate: Option<f64>,
    /// Closed loop: requests in flight (`--concurrency`).
    pub concurrency: Option<usize>,
    /// Connections to the gateway (the most requests in flight).
    pub connections: usize,
    /// Seconds of load asked for (`--duration`).
    pub duration_s: f64,
    /// Recipients per request.
    pub recipients: usize,
    /// Share of express requests, 0-1.
    pub express_ratio: f64,
    /// Keys used (1 with `--hot`).
    pub customers: usize,
    /// Everything sent as the first customer (`--hot`).
    pub hot: bool,
    /// The text mix (`--text`).
    pub text: String,
    /// Acceptance to operator arrival was measured (`--e2e`).
    pub e2e: bool,
    /// The embedded operator's answer delay; `None` without one.
    pub operator_latency_ms: Option<u64>,
    /// Seed of the per-request choices (`--seed`).
    pub seed: u64,
}

/// Intake as the client saw it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Intake {
    /// Requests sent (answered or not).
    pub requests: u64,
    /// 202 answers.
    pub accepted: u64,
    /// Recipients in the 202 answers.
    pub accepted_recipients: u64,
    /// `accepted` per second of load.
    pub accepted_per_s: f64,
    /// `accepted_recipients` per second of load.
    pub recipients_per_s: f64,
    /// Non-202 answers by status code.
    pub rejections: BTreeMap<u16, u64>,
    /// 5xx answers (also in `rejections`).
    pub status_5xx: u64,
    /// Requests without an answer: "timeout", "connect", "other".
    pub errors: BTreeMap<String, u64>,
    /// Of accepted requests: open loop from the due time, closed loop from the send.
    pub latency: Option<Latency>,
    /// The same per message type.
    pub latency_by_type: BTreeMap<String, Latency>,
    /// Requests still waiting for a connection when their due time came (open loop only):
    /// how far the client ran behind the schedule at worst, in ms.
    pub max_schedule_lag_ms: f64,
}

/// Acceptance to arrival at the load tester's operator.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EndToEnd {
    /// Arrivals of this run's messages (duplicates included).
    pub arrivals: u64,
    /// Arrivals matched with an acceptance of this run.
    pub matched: u64,
    /// Messages arriving more than once (same gateway `reference`).
    pub duplicates: u64,
    /// Accepted recipients that had not arrived when the drain ended.
    pub missing: u64,
    /// Arrivals that belonged to no request of this run (another run's backlog, untagged).
    pub foreign: u64,
    /// Arrivals timed before the client saw the 202 (commit, then the answer travels): counted
    /// as 0 ms.
    pub before_acceptance: u64,
    /// Seconds waited after the load for the remaining messages.
    pub drain_s: f64,
    /// Operator arrivals per second over the second half of the load phase.
    pub steady_arrivals_per_s: f64,
    /// Accepted recipients per second over the same window.
    pub steady_accepted_per_s: f64,
    /// Slope of (accepted - arrived) over that window, recipients per second.
    pub backlog_growth_per_s: f64,
    /// Backlog at the end of the load phase.
    pub backlog_at_end: i64,
    /// The backlog grew by less than 2 % of the accepted rate (or 10/s) over that window.
    pub backlog_flat: bool,
    /// Acceptance (202 received) to operator arrival, all types.
    pub latency: Option<Latency>,
    /// The same per message type.
    pub latency_by_type: BTreeMap<String, Latency>,
}

/// Acceptance to SENT from the gateway's `smsgw_delivery_accept_to_sent_seconds{type}`, the
/// difference between a scrape before and one after the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AcceptToSent {
    /// The gateway exports the histogram and both scrapes succeeded.
    pub available: bool,
    /// Why not, when not.
    pub note: Option<String>,
    /// Per type: count, mean and bucket-interpolated percentiles (ms).
    pub by_type: BTreeMap<String, BucketLatency>,
}

/// Percentiles estimated from Prometheus buckets (linear within a bucket, like
/// `histogram_quantile`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketLatency {
    /// Observations during the run.
    pub count: f64,
    /// Mean, from the sum and count.
    pub mean_ms: Option<f64>,
    /// Median; `None` when it falls in the +Inf bucket.
    pub p50_ms: Option<f64>,
    /// 99th percentile; `None` when it falls in the +Inf bucket.
    pub p99_ms: Option<f64>,
}

/// One sample per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the start.
    pub t: f64,
    /// 202 answers so far.
    pub accepted: u64,
    /// Recipients in those answers.
    pub accepted_recipients: u64,
    /// Arrivals of this run's messages at the operator so far.
    pub arrivals: u64,
    /// Requests waiting for an answer.
    pub in_flight: u64,
}

/// CPU used by the load tester itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cpu {
    /// User CPU seconds.
    pub user_s: f64,
    /// System CPU seconds.
    pub sys_s: f64,
    /// Wall-clock seconds of the run.
    pub wall_s: f64,
    /// (user + sys) / wall: 1.0 is one core busy.
    pub cores: f64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// `sms-loadtest <version>`.
    pub tool: String,
    /// The run id (8 hex digits), also in every text's tag.
    pub run_id: String,
    /// When the load started, RFC 3339 UTC.
    pub started_at: String,
    /// What the run was asked to do.
    pub config: RunConfig,
    /// Seconds the load ran (until the last answer).
    pub load_s: f64,
    /// Intake as the client saw it.
    pub intake: Intake,
    /// With `--e2e`: acceptance to operator arrival.
    pub e2e: Option<EndToEnd>,
    /// With `--e2e`: acceptance to SENT from the gateway's histogram.
    pub accept_to_sent: Option<AcceptToSent>,
    /// With `--callbacks-listen`: the delivery-status callbacks received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callbacks: Option<CallbacksReport>,
    /// CPU used by the load tester.
    pub loadtest_cpu: Cpu,
    /// One sample per second of the run.
    pub timeline: Vec<Sample>,
}

#[cfg(test)]
mod tests;

/// What the receiver saw, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbacksReport {
    /// Events expected: one per accepted recipient (its SENT, or its FAILED).
    pub expected: u64,
    /// Distinct events received.
    pub events: u64,
    /// Events received again (the same `event_id`).
    pub duplicates: u64,
    /// POSTs received.
    pub posts: u64,
    /// POSTs whose signature did not verify (answered 400, their events not counted).
    pub bad_signatures: u64,
    /// Distinct events by status.
    pub by_status: BTreeMap<String, u64>,
    /// Whether every expected event arrived.
    pub complete: bool,
    /// Seconds waited after the load for the last ones.
    pub drain_s: f64,
    /// From each state change to its arrival (the gateway's clock against this machine's).
    pub lag: Option<Latency>,
}
