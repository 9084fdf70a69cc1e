//! The report of a run: built from HDR histograms and counters, written as JSON (`--out`) and
//! printed as a table. Also the pieces of analysis that are pure functions: latency summaries,
//! the backlog trend, and histograms read from the gateway's Prometheus text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// A new latency histogram in microseconds, 1 µs to 1 hour, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds")
}

/// Percentiles of a latency histogram, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// From a histogram of microseconds; `None` when it is empty.
    pub fn from_histogram(h: &Histogram<u64>) -> Option<Self> {
        if h.is_empty() {
            return None;
        }
        let ms = |us: u64| (us as f64 / 1_000.0 * 1_000.0).round() / 1_000.0;
        Some(Self {
            count: h.len(),
            mean_ms: (h.mean() / 1_000.0 * 1_000.0).round() / 1_000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        })
    }
}

/// What the run was asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    pub base_url: String,
    /// "open" (`--rate`) or "closed" (`--concurrency`).
    pub mode: String,
    pub rate: Option<f64>,
    pub concurrency: Option<usize>,
    pub connections: usize,
    pub duration_s: f64,
    pub recipients: usize,
    pub express_ratio: f64,
    pub customers: usize,
    pub hot: bool,
    pub text: String,
    pub e2e: bool,
    pub operator_latency_ms: Option<u64>,
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
    pub accepted_per_s: f64,
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
    pub latency_by_type: BTreeMap<String, Latency>,
}

/// Acceptance to SENT from the gateway's `smsgw_delivery_accept_to_sent_seconds{type}`, the
/// difference between a scrape before and one after the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AcceptToSent {
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
    pub count: f64,
    pub mean_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// One sample per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the start.
    pub t: f64,
    pub accepted: u64,
    pub accepted_recipients: u64,
    pub arrivals: u64,
    pub in_flight: u64,
}

/// CPU used by the load tester itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cpu {
    pub user_s: f64,
    pub sys_s: f64,
    pub wall_s: f64,
    /// (user + sys) / wall: 1.0 is one core busy.
    pub cores: f64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub tool: String,
    pub run_id: String,
    pub started_at: String,
    pub config: RunConfig,
    /// Seconds the load ran (until the last answer).
    pub load_s: f64,
    pub intake: Intake,
    pub e2e: Option<EndToEnd>,
    pub accept_to_sent: Option<AcceptToSent>,
    pub loadtest_cpu: Cpu,
    pub timeline: Vec<Sample>,
}

/// Least-squares slope of `y` over `t`; 0 with fewer than two points.
pub fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mt = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let cov: f64 = points.iter().map(|p| (p.0 - mt) * (p.1 - my)).sum();
    let var: f64 = points.iter().map(|p| (p.0 - mt).powi(2)).sum();
    if var == 0.0 { 0.0 } else { cov / var }
}

/// The steady-state figures over the second half of the load phase (samples with `t` in
/// `[load_s / 2, load_s + 0.5]`, or the whole load phase when that holds fewer than two):
/// (arrivals/s, accepted recipients/s, backlog slope, flat?).
pub fn steady_state(timeline: &[Sample], load_s: f64) -> (f64, f64, f64, bool) {
    let end = load_s + 0.5;
    let mut window: Vec<&Sample> = timeline
        .iter()
        .filter(|s| s.t >= load_s / 2.0 - 1e-9 && s.t <= end)
        .collect();
    if window.len() < 2 {
        window = timeline.iter().filter(|s| s.t <= end).collect();
    }
    let (Some(first), Some(last)) = (window.first(), window.last()) else {
        return (0.0, 0.0, 0.0, false);
    };
    let span = last.t - first.t;
    if span <= 0.0 {
        return (0.0, 0.0, 0.0, false);
    }
    let arrivals = (last.arrivals - first.arrivals) as f64 / span;
    let accepted = (last.accepted_recipients - first.accepted_recipients) as f64 / span;
    let growth = slope(
        &window
            .iter()
            .map(|s| (s.t, s.accepted_recipients as f64 - s.arrivals as f64))
            .collect::<Vec<_>>(),
    );
    let flat = growth <= (0.02 * accepted).max(10.0);
    (arrivals, accepted, growth, flat)
}

/// A histogram read from Prometheus text: per value of `label`, cumulative buckets
/// (upper bound, count), and the sum and count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromHistogram {
    pub buckets: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: f64,
}

/// Reads histogram `name` from Prometheus exposition text, keyed by the value of `label`.
pub fn parse_prom_histogram(
    text: &str,
    name: &str,
    label: &str,
) -> BTreeMap<String, PromHistogram> {
    let mut out: BTreeMap<String, PromHistogram> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (suffix, rest) = match rest.find(['{', ' ']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => continue,
        };
        let (labels, value) = match rest.strip_prefix('{') {
            Some(r) => match r.split_once('}') {
                Some((l, v)) => (l, v.trim()),
                None => continue,
            },
            None => ("", rest.trim()),
        };
        let Ok(value) = value.split_whitespace().next().unwrap_or("").parse::<f64>() else {
            continue;
        };
        let get = |key: &str| {
            labels.split(',').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
            })
        };
        let key = get(label).unwrap_or_default();
        let h = out.entry(key).or_default();
        match suffix {
            "_bucket" => {
                let le = match get("le").as_deref() {
                    Some("+Inf") => f64::INFINITY,
                    Some(v) => match v.parse() {
                        Ok(v) => v,
                        Err(_) => continue,
                    },
                    None => continue,
                };
                h.buckets.push((le, value));
            }
            "_sum" => h.sum = value,
            "_count" => h.count = value,
            _ => {}
        }
    }
    for h in out.values_mut() {
        h.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// `after - before`, bucket by bucket.
pub fn histogram_delta(after: &PromHistogram, before: Option<&PromHistogram>) -> PromHistogram {
    let Some(before) = before else {
        return after.clone();
    };
    PromHistogram {
        buckets: after
            .buckets
            .iter()
            .map(|(le, c)| {
                let prev = before
                    .buckets
                    .iter()
                    .find(|(l, _)| l == le)
                    .map_or(0.0, |b| b.1);
                (*le, c - prev)
            })
            .collect(),
        sum: after.sum - before.sum,
        count: after.count - before.count,
    }
}

/// The `q` quantile of cumulative buckets (in the buckets' unit), interpolated linearly
/// within the bucket it falls in; `None` when empty or when it falls in the +Inf bucket.
pub fn bucket_quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(le, cum) in buckets {
        if cum >= rank {
            if le.is_infinite() {
                return None;
            }
            let in_bucket = cum - lower.1;
            let frac = if in_bucket > 0.0 {
                (rank - lower.1) / in_bucket
            } else {
                1.0
            };
            return Some(lower.0 + (le - lower.0) * frac);
        }
        lower = (le, cum);
    }
    None
}

impl BucketLatency {
    /// From a histogram in seconds.
    pub fn from_seconds(h: &PromHistogram) -> Self {
        let ms = |s: f64| (s * 1_000_000.0).round() / 1_000.0;
        Self {
            count: h.count,
            mean_ms: (h.count > 0.0).then(|| ms(h.sum / h.count)),
            p50_ms: bucket_quantile(&h.buckets, 0.5).map(ms),
            p99_ms: bucket_quantile(&h.buckets, 0.99).map(ms),
        }
    }
}

fn fmt_latency(l: Option<&Latency>) -> String {
    match l {
        Some(l) => format!(
            "p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  p99.9 {:.1} ms  max {:.1} ms  (n={})",
            l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms, l.count
        ),
        None => "-".into(),
    }
}

impl Report {
    /// The human table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let c = &self.config;
        let i = &self.intake;
        let load = match c.mode.as_str() {
            "open" => format!("open loop, {} req/s", c.rate.unwrap_or_default()),
            _ => format!(
                "closed loop, {} in flight",
                c.concurrency.unwrap_or_default()
            ),
        };
        let _ = writeln!(s, "sms-loadtest run {} against {}", self.run_id, c.base_url);
        let _ = writeln!(
            s,
            "  load          {load}, {:.1} s, {} recipient(s)/request, express {:.0} %, text {}, {} customer(s){}",
            self.load_s,
            c.recipients,
            c.express_ratio * 100.0,
            c.text,
            c.customers,
            if c.hot { " (hot)" } else { "" }
        );
        let _ = writeln!(
            s,
            "  requests      {} sent, {} accepted ({:.1}/s), {} recipients ({:.1}/s)",
            i.requests, i.accepted, i.accepted_per_s, i.accepted_recipients, i.recipients_per_s
        );
        let rejections = if i.rejections.is_empty() && i.errors.is_empty() {
            "none".to_string()
        } else {
            i.rejections
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .chain(i.errors.iter().map(|(k, v)| format!("{k}: {v}")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(s, "  rejections    {rejections} (5xx: {})", i.status_5xx);
        let _ = writeln!(s, "  intake        {}", fmt_latency(i.latency.as_ref()));
        for (t, l) in &i.latency_by_type {
            let _ = writeln!(s, "    {t:<11} {}", fmt_latency(Some(l)));
        }
        if c.mode == "open" {
            let _ = writeln!(s, "  schedule lag  max {:.1} ms", i.max_schedule_lag_ms);
        }
        if let Some(e) = &self.e2e {
            let _ = writeln!(
                s,
                "  operator      {} arrivals, {} matched, {} duplicates, {} missing, {} foreign; drain {:.1} s",
                e.arrivals, e.matched, e.duplicates, e.missing, e.foreign, e.drain_s
            );
            let _ = writeln!(
                s,
                "  steady state  {:.1} arrivals/s for {:.1} accepted/s; backlog {:+.1}/s, {} at the end ({})",
                e.steady_arrivals_per_s,
                e.steady_accepted_per_s,
                e.backlog_growth_per_s,
                e.backlog_at_end,
                if e.backlog_flat { "flat" } else { "growing" }
            );
            let _ = writeln!(s, "  accept->op    {}", fmt_latency(e.latency.as_ref()));
            for (t, l) in &e.latency_by_type {
                let _ = writeln!(s, "    {t:<11} {}", fmt_latency(Some(l)));
            }
        }
        if let Some(a) = &self.accept_to_sent {
            if a.available {
                for (t, l) in &a.by_type {
                    let f = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1} ms"));
                    let _ = writeln!(
                        s,
                        "  accept->SENT  {t:<9} n={} mean {} p50 {} p99 {} (gateway buckets)",
                        l.count,
                        f(l.mean_ms),
                        f(l.p50_ms),
                        f(l.p99_ms)
                    );
                }
            } else {
                let _ = writeln!(
                    s,
                    "  accept->SENT  not available: {}",
                    a.note.as_deref().unwrap_or("?")
                );
            }
        }
        let cpu = &self.loadtest_cpu;
        let _ = writeln!(
            s,
            "  loadtest CPU  {:.2} cores ({:.1} s user + {:.1} s sys over {:.1} s)",
            cpu.cores, cpu.user_s, cpu.sys_s, cpu.wall_s
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_summaries_come_from_the_histogram() {
        let mut h = new_histogram();
        assert!(Latency::from_histogram(&h).is_none());
        for us in 1..=1_000u64 {
            h.record(us * 1_000).unwrap();
        }
        let l = Latency::from_histogram(&h).unwrap();
        assert_eq!(l.count, 1_000);
        assert!((l.p50_ms - 500.0).abs() < 1.0, "{l:?}");
        assert!((l.p99_ms - 990.0).abs() < 1.0, "{l:?}");
        assert!((l.max_ms - 1_000.0).abs() < 1.0, "{l:?}");
        assert!((l.mean_ms - 500.5).abs() < 1.0, "{l:?}");
    }

    fn sample(t: f64, accepted_recipients: u64, arrivals: u64) -> Sample {
        Sample {
            t,
            accepted: accepted_recipients,
            accepted_recipients,
            arrivals,
            in_flight: 0,
        }
    }

    #[test]
    fn the_backlog_trend_tells_flat_from_growing() {
        // 1,000/s accepted, delivered 100 ms behind: flat.
        let flat: Vec<Sample> = (0..=20)
            .map(|t| sample(t as f64, t * 1_000, (t * 1_000).saturating_sub(100)))
            .collect();
        let (arr, acc, growth, is_flat) = steady_state(&flat, 20.0);
        assert!((arr - 1_000.0).abs() < 1e-6 && (acc - 1_000.0).abs() < 1e-6);
        assert!(growth.abs() < 1e-6);
        assert!(is_flat);
        // Delivered at 800/s: the backlog grows by 200/s.
        let growing: Vec<Sample> = (0..=20)
            .map(|t| sample(t as f64, t * 1_000, t * 800))
            .collect();
        let (arr, _, growth, is_flat) = steady_state(&growing, 20.0);
        assert!((arr - 800.0).abs() < 1e-6);
        assert!((growth - 200.0).abs() < 1e-6);
        assert!(!is_flat);
        assert_eq!(slope(&[(1.0, 5.0)]), 0.0);
        // A 3 s run sampled at 0, 1, 2 and 3.2 s: too few samples in the second half, so the
        // whole load phase is used.
        let short = [
            sample(0.0, 0, 0),
            sample(1.0, 100, 90),
            sample(2.0, 200, 190),
            sample(3.2, 300, 290),
        ];
        let (arr, acc, _, is_flat) = steady_state(&short, 2.6);
        assert!(
            (arr - 95.0).abs() < 1e-6 && (acc - 100.0).abs() < 1e-6,
            "{arr} {acc}"
        );
        assert!(is_flat);
    }

    const PROM: &str = r#"# HELP smsgw_delivery_accept_to_sent_seconds acceptance to SENT
# TYPE smsgw_delivery_accept_to_sent_seconds histogram
smsgw_delivery_accept_to_sent_seconds_bucket{type="normal",le="0.01"} 10
smsgw_delivery_accept_to_sent_seconds_bucket{type="normal",le="0.1"} 90
smsgw_delivery_accept_to_sent_seconds_bucket{type="normal",le="+Inf"} 100
smsgw_delivery_accept_to_sent_seconds_sum{type="normal"} 5
smsgw_delivery_accept_to_sent_seconds_count{type="normal"} 100
smsgw_delivery_accept_to_sent_seconds_bucket{le="0.1",type="express"} 4
smsgw_delivery_accept_to_sent_seconds_bucket{le="+Inf",type="express"} 4
smsgw_delivery_accept_to_sent_seconds_count{type="express"} 4
smsgw_http_requests_total{route="/sms/send"} 7
"#;

    #[test]
    fn prometheus_histograms_are_read_diffed_and_interpolated() {
        let h = parse_prom_histogram(PROM, "smsgw_delivery_accept_to_sent_seconds", "type");
        assert_eq!(h.len(), 2);
        let normal = &h["normal"];
        assert_eq!(normal.buckets.len(), 3);
        assert_eq!((normal.sum, normal.count), (5.0, 100.0));
        // Rank 50 falls in (0.01, 0.1] holding 80: 0.01 + 0.09 * 40/80.
        let p50 = bucket_quantile(&normal.buckets, 0.5).unwrap();
        assert!((p50 - 0.055).abs() < 1e-9, "{p50}");
        assert_eq!(bucket_quantile(&normal.buckets, 0.99), None);
        let l = BucketLatency::from_seconds(normal);
        assert_eq!(l.mean_ms, Some(50.0));

        let mut before = normal.clone();
        before.buckets = vec![(0.01, 10.0), (0.1, 10.0), (f64::INFINITY, 10.0)];
        before.count = 10.0;
        let d = histogram_delta(normal, Some(&before));
        assert_eq!(d.buckets[0].1, 0.0);
        assert_eq!(d.count, 90.0);
        assert!(parse_prom_histogram("", "x", "type").is_empty());
    }

    #[test]
    fn the_report_round_trips_and_renders() {
        let mut h = new_histogram();
        h.record(2_000).unwrap();
        let report = Report {
            tool: "sms-loadtest".into(),
            run_id: "0000abcd".into(),
            started_at: "2026-11-24T00:00:00Z".into(),
            config: RunConfig {
                base_url: "http://127.0.0.1:8080".into(),
                mode: "closed".into(),
                rate: None,
                concurrency: Some(8),
                connections: 8,
                duration_s: 5.0,
                recipients: 1,
                express_ratio: 0.1,
                customers: 5,
                hot: false,
                text: "mix".into(),
                e2e: true,
                operator_latency_ms: Some(2),
                seed: 1,
            },
            load_s: 5.0,
            intake: Intake {
                requests: 10,
                accepted: 9,
                accepted_recipients: 9,
                rejections: BTreeMap::from([(503, 1)]),
                status_5xx: 1,
                latency: Latency::from_histogram(&h),
                ..Default::default()
            },
            e2e: Some(EndToEnd {
                matched: 9,
                latency: Latency::from_histogram(&h),
                ..Default::default()
            }),
            accept_to_sent: Some(AcceptToSent {
                available: false,
                note: Some("GET /metrics answered 404".into()),
                by_type: BTreeMap::new(),
            }),
            loadtest_cpu: Cpu::default(),
            timeline: vec![sample(1.0, 9, 9)],
        };
        let json = serde_json::to_string(&report).unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back.intake.rejections[&503], 1);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["intake"]["status_5xx"], 1);
        assert_eq!(v["e2e"]["matched"], 9);
        let table = report.table();
        assert!(table.contains("503: 1"), "{table}");
        assert!(table.contains("closed loop, 8 in flight"), "{table}");
        assert!(table.contains("not available: GET /metrics answered 404"));
    }
}
