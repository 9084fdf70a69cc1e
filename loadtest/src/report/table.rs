//! The human table `run` prints at the end: one line per figure of the [`Report`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{AcceptToSent, Latency, Report};

/// One latency summary on a line: percentiles, max and count, or "-" when there is none.
fn fmt_latency(l: Option<&Latency>) -> String {
    match l {
        Some(l) => format!(
            "p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  p99.9 {:.1} ms  max {:.1} ms  (n={})",
            l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms, l.count
        ),
        None => "-".into(),
    }
}

/// A latency line headed `heading` (14 columns), then one indented line per type.
fn write_latencies(
    s: &mut String,
    heading: &str,
    all: Option<&Latency>,
    by_type: &BTreeMap<String, Latency>,
) {
    let _ = writeln!(s, "  {heading:<14}{}", fmt_latency(all));
    for (t, l) in by_type {
        let _ = writeln!(s, "    {t:<11} {}", fmt_latency(Some(l)));
    }
}

/// The acceptance-to-SENT lines: one per type, or why the figure is not available.
fn write_accept_to_sent(s: &mut String, a: &AcceptToSent) {
    if !a.available {
        let _ = writeln!(
            s,
            "  accept->SENT  not available: {}",
            a.note.as_deref().unwrap_or("?")
        );
        return;
    }
    let f = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1} ms"));
    for (t, l) in &a.by_type {
        let _ = writeln!(
            s,
            "  accept->SENT  {t:<9} n={} mean {} p50 {} p99 {} (gateway buckets)",
            l.count,
            f(l.mean_ms),
            f(l.p50_ms),
            f(l.p99_ms)
        );
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
        write_latencies(&mut s, "intake", i.latency.as_ref(), &i.latency_by_type);
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
            write_latencies(&mut s, "accept->op", e.latency.as_ref(), &e.latency_by_type);
        }
        if let Some(a) = &self.accept_to_sent {
            write_accept_to_sent(&mut s, a);
        }
        if let Some(c) = &self.callbacks {
            let _ = writeln!(
                s,
                "  callbacks     {} of {} events ({}), {} duplicates, {} POSTs, {} bad signatures; drain {:.1} s",
                c.events,
                c.expected,
                if c.complete { "complete" } else { "incomplete" },
                c.duplicates,
                c.posts,
                c.bad_signatures,
                c.drain_s
            );
            if let Some(l) = &c.lag {
                let _ = writeln!(
                    s,
                    "  callback lag  p50 {:.1} / p99 {:.1} / max {:.1} ms",
                    l.p50_ms, l.p99_ms, l.max_ms
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
