//! Histograms read from the gateway's Prometheus text (parsed by `prometheus-parse`): the
//! difference between two scrapes and percentiles interpolated within buckets, the way
//! Prometheus' `histogram_quantile` does.

use std::collections::BTreeMap;

use prometheus_parse::{Scrape, Value};

use super::BucketLatency;

/// One histogram series: cumulative buckets (upper bound, count) in ascending order, and the
/// sum and count of the observations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromHistogram {
    /// (`le`, cumulative count), `+Inf` last.
    pub buckets: Vec<(f64, f64)>,
    /// `<name>_sum`.
    pub sum: f64,
    /// `<name>_count`.
    pub count: f64,
}

impl PromHistogram {
    /// Adds `count` to the bucket `le`, creating it if needed.
    fn add_bucket(&mut self, le: f64, count: f64) {
        match self.buckets.iter_mut().find(|(l, _)| *l == le) {
            Some(bucket) => bucket.1 += count,
            None => self.buckets.push((le, count)),
        }
    }
}

/// Reads histogram `name` from Prometheus exposition text, keyed by the value of `label`
/// (series without it are keyed by ""; series sharing a value are added up). The text must
/// declare the metric with `# TYPE <name> histogram`, as the gateway's exporter does: without
/// that line its buckets are not read as a histogram.
pub fn parse_histograms(text: &str, name: &str, label: &str) -> BTreeMap<String, PromHistogram> {
    // Lines of a `&str` cannot fail to read, so the parse cannot fail either.
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("reading lines from a string does not fail");
    let sum_name = format!("{name}_sum");
    let count_name = format!("{name}_count");
    let mut out: BTreeMap<String, PromHistogram> = BTreeMap::new();
    for sample in scrape.samples {
        let key = || sample.labels.get(label).unwrap_or_default().to_string();
        match sample.value {
            Value::Histogram(buckets) if sample.metric == name => {
                let h = out.entry(key()).or_default();
                for b in buckets {
                    h.add_bucket(b.less_than, b.count);
                }
            }
            Value::Untyped(v) | Value::Counter(v) | Value::Gauge(v) => {
                if sample.metric == sum_name {
                    out.entry(key()).or_default().sum += v;
                } else if sample.metric == count_name {
                    out.entry(key()).or_default().count += v;
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "smsgw_delivery_accept_to_sent_seconds";

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
        let h = parse_histograms(PROM, NAME, "type");
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
        let express = &h["express"];
        assert_eq!(express.buckets, [(0.1, 4.0), (f64::INFINITY, 4.0)]);
        assert_eq!((express.sum, express.count), (0.0, 4.0));

        let mut before = normal.clone();
        before.buckets = vec![(0.01, 10.0), (0.1, 10.0), (f64::INFINITY, 10.0)];
        before.count = 10.0;
        let d = histogram_delta(normal, Some(&before));
        assert_eq!(d.buckets[0].1, 0.0);
        assert_eq!(d.count, 90.0);
        assert!(parse_histograms("", "x", "type").is_empty());
    }

    #[test]
    fn buckets_are_sorted_and_other_metrics_ignored() {
        let text = format!(
            "# TYPE {NAME} histogram\n\
             {NAME}_bucket{{type=\"normal\",le=\"+Inf\"}} 3\n\
             {NAME}_bucket{{type=\"normal\",le=\"0.5\"}} 2\n\
             {NAME}_bucket{{type=\"normal\",le=\"0.05\"}} 1\n\
             {NAME}_count{{type=\"normal\"}} 3\n\
             # TYPE {NAME}_other histogram\n\
             {NAME}_other_bucket{{type=\"normal\",le=\"+Inf\"}} 9\n\
             # TYPE smsgw_http_request_duration_seconds histogram\n\
             smsgw_http_request_duration_seconds_bucket{{route=\"/sms/{{sms_identifier}}\",le=\"+Inf\"}} 5\n"
        );
        let h = parse_histograms(&text, NAME, "type");
        assert_eq!(h.keys().collect::<Vec<_>>(), ["normal"]);
        assert_eq!(
            h["normal"].buckets,
            [(0.05, 1.0), (0.5, 2.0), (f64::INFINITY, 3.0)]
        );
        assert_eq!(h["normal"].count, 3.0);
    }
}
