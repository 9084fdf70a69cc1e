//! Prometheus metrics: the `metrics` facade with the `metrics-exporter-prometheus` recorder,
//! rendered at `GET /metrics`.
//!
//! - [`catalog`]: every metric declared once (name, kind, unit, help, labels, buckets); it is
//!   also `deploy/metrics.txt`, which a unit test keeps equal to it.
//! - [`record`]: the recorder functions the layers call where they know the event
//!   ([`limits`]: those of the HTTP connection limits and the API-key caches).
//!
//! Every name has the `smsgw_` prefix, counters end in `_total`, durations are in seconds;
//! docs/OPERATIONS.md says what to watch. Gauges that would cost a query per read (outbox
//! backlog, queue depth, pool use) are set by samplers in the start-up layer, never on the
//! scrape.

pub mod callbacks;
pub mod catalog;
mod family;
pub mod limits;
pub mod record;

use std::sync::OnceLock;

use metrics::{describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub use callbacks::*;
pub use limits::*;
pub use record::*;

use catalog::Kind;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder once per process (later calls return the same handle)
/// and describes every metric.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new();
            for family in catalog::families() {
                if let Kind::Histogram(buckets) = family.kind() {
                    builder = builder
                        .set_buckets_for_metric(Matcher::Full(family.name().into()), buckets)
                        .expect("bucket lists are not empty");
                }
            }
            let handle = builder.install_recorder().unwrap_or_else(|e| {
                // Another recorder is installed (a test harness): keep working, unexported.
                tracing::warn!(error = %e, "metrics recorder not installed");
                PrometheusBuilder::new().build_recorder().handle()
            });
            describe();
            catalog::BUILD_INFO
                .gauge([env!("CARGO_PKG_VERSION")])
                .set(1.0);
            handle
        })
        .clone()
}

/// The current scrape in the Prometheus text format.
pub fn render() -> String {
    install().render()
}

/// Drains the histograms' buckets so rendering stays cheap; call every few seconds.
pub fn run_upkeep() {
    install().run_upkeep();
}

/// Help texts and units of every metric, from the catalog.
fn describe() {
    for f in catalog::families() {
        let (name, help) = (f.name(), f.help());
        match (f.kind(), f.unit()) {
            (Kind::Counter, Some(unit)) => describe_counter!(name, unit, help),
            (Kind::Counter, None) => describe_counter!(name, help),
            (Kind::Gauge, Some(unit)) => describe_gauge!(name, unit, help),
            (Kind::Gauge, None) => describe_gauge!(name, help),
            (Kind::Histogram(_), Some(unit)) => describe_histogram!(name, unit, help),
            (Kind::Histogram(_), None) => describe_histogram!(name, help),
        }
    }
}

#[cfg(test)]
mod tests;
