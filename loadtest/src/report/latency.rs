//! Latencies measured by the load tester itself: HDR histograms in microseconds, kept for all
//! messages and per message type, and their percentile summaries in milliseconds.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// A new latency histogram in microseconds, 1 µs to 1 hour, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds")
}

/// The name of a message type in reports: "express" or "normal".
pub fn type_name(express: bool) -> &'static str {
    if express { "express" } else { "normal" }
}

/// Percentiles of a latency histogram, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Samples recorded.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest sample.
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

/// One latency measured for all messages and per type (normal, express).
pub struct TypedHistograms {
    /// Every message.
    all: Histogram<u64>,
    /// Indexed by `express as usize`.
    by_type: [Histogram<u64>; 2],
}

impl TypedHistograms {
    /// Empty histograms.
    pub fn new() -> Self {
        Self {
            all: new_histogram(),
            by_type: [new_histogram(), new_histogram()],
        }
    }

    /// Records `us` microseconds for a message of the given type (saturating at the bounds).
    pub fn record(&mut self, us: u64, express: bool) {
        self.all.saturating_record(us);
        self.by_type[express as usize].saturating_record(us);
    }

    /// The summary of all messages.
    pub fn latency(&self) -> Option<Latency> {
        Latency::from_histogram(&self.all)
    }

    /// The summaries per type name, leaving out types without a sample.
    pub fn latency_by_type(&self) -> BTreeMap<String, Latency> {
        [false, true]
            .into_iter()
            .filter_map(|express| {
                Latency::from_histogram(&self.by_type[express as usize])
                    .map(|l| (type_name(express).to_string(), l))
            })
            .collect()
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

    #[test]
    fn typed_histograms_summarise_all_and_each_type_seen() {
        let mut h = TypedHistograms::new();
        assert!(h.latency().is_none());
        assert!(h.latency_by_type().is_empty());
        h.record(1_000, false);
        h.record(3_000, false);
        let by_type = h.latency_by_type();
        assert_eq!(by_type.keys().collect::<Vec<_>>(), ["normal"]);
        assert_eq!(by_type["normal"].count, 2);
        h.record(5_000, true);
        assert_eq!(h.latency().unwrap().count, 3);
        assert_eq!(h.latency_by_type()["express"].count, 1);
        assert!((h.latency_by_type()["express"].max_ms - 5.0).abs() < 0.01);
    }
}
