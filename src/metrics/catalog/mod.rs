//! The metric catalog: every metric the gateway serves, declared once (name, kind, unit,
//! help, label names, buckets) in the files of this module by side of the gateway. The
//! recorders, the `# HELP` lines, the histogram buckets and `deploy/metrics.txt`
//! ([`render_catalog`]) all read these declarations; [`CATALOG`] lists them in sections.

mod callbacks;
mod delivery;
mod traffic;

use std::fmt::Write as _;

pub use super::family::{Declared, Family, Kind};
pub use callbacks::*;
pub use delivery::*;
pub use traffic::*;

/// Latency buckets (seconds) of HTTP requests, operator calls and publishes.
pub(super) const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of acceptance-to-SENT (seconds): express should sit under 0.1, retries reach minutes.
pub(super) const E2E_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
];
/// Buckets of one delivery stage (seconds): fine where express's 100 ms budget is spent.
pub(super) const STAGE_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Buckets of batch sizes (rows or requests).
pub(super) const BATCH_BUCKETS: &[f64] =
    &[1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

/// A heading of the catalog and its families.
pub struct Section {
    pub title: &'static str,
    pub families: &'static [&'static dyn Declared],
}

/// Every family, in sections (the order of `deploy/metrics.txt`).
pub static CATALOG: &[Section] = &[
    Section {
        title: "HTTP (route = the route template, e.g. /sms/{sms_identifier})",
        families: &[&HTTP_REQUESTS, &HTTP_REQUEST_DURATION],
    },
    Section {
        title: "HTTP connections and API keys",
        families: &[
            &HTTP_CONNECTIONS_OPEN,
            &HTTP_CONNECTIONS_MAX,
            &HTTP_CONNECTIONS_CLOSED,
            &API_KEY_NEGATIVE_CACHE_HITS,
            &API_KEY_LOOKUPS_WAITING,
        ],
    },
    Section {
        title: "Intake",
        families: &[
            &INTAKE_MESSAGES,
            &INTAKE_RECIPIENTS,
            &INTAKE_SEGMENTS,
            &INTAKE_CREDITS_CHARGED,
            &INTAKE_REJECTIONS,
            &INTAKE_BATCH_SIZE,
            &INTAKE_COMMIT_RESOLUTIONS,
        ],
    },
    Section {
        title: "Ledger",
        families: &[&CREDITS_REFUNDED, &CREDITS_ADDED],
    },
    Section {
        title: "Outbox",
        families: &[
            &OUTBOX_BACKLOG,
            &SCHEDULED_REQUESTS,
            &SCHEDULED_RECIPIENTS,
            &OUTBOX_CLAIM_BATCH_SIZE,
            &OUTBOX_PUBLISH_DURATION,
            &OUTBOX_PUBLISHED,
            &OUTBOX_CONFIRM_FAILURES,
            &OUTBOX_REAPED,
            &OUTBOX_STRANDED_REQUEUED,
            &DEAD_LETTERS,
            &DEAD_LETTERS_REPLAYED,
        ],
    },
    Section {
        title: "Queue (RabbitMQ, as seen by the consumers)",
        families: &[
            &QUEUE_MESSAGES,
            &QUEUE_CONSUMED,
            &QUEUE_ACKED,
            &QUEUE_NACKED,
            &QUEUE_REDELIVERED,
            &QUEUE_DEAD_LETTERED,
        ],
    },
    Section {
        title: "Operators",
        families: &[
            &OPERATOR_CALLS,
            &OPERATOR_CALL_DURATION,
            &OPERATOR_CIRCUIT_STATE,
            &OPERATOR_CIRCUIT_REJECTIONS,
            &OPERATOR_EFFECTIVE_RPS,
            &OPERATOR_THROTTLED,
            &OPERATOR_LOOKUPS,
        ],
    },
    Section {
        title: "Delivery",
        families: &[
            &ACCEPT_TO_SENT,
            &DELIVERY_STAGE,
            &DELIVERY_RECORD_LAG,
            &DELIVERY_UNUSABLE_MESSAGE_IDS,
            &DISPATCH_HELD,
            &DELIVERY_RECIPIENTS,
            &DLR_REPORTS,
            &DLR_HELD,
        ],
    },
    Section {
        title: "Delivery-status callbacks",
        families: &[
            &CALLBACK_BACKLOG,
            &CALLBACK_PARKED,
            &CALLBACK_POSTS,
            &CALLBACK_EVENTS,
            &CALLBACK_LAG,
            &CALLBACK_POST_DURATION,
        ],
    },
    Section {
        title: "Process / DB",
        families: &[
            &DB_POOL_CONNECTIONS,
            &DB_POOL_MAX_CONNECTIONS,
            &DISPATCH_PAUSED,
            &BUILD_INFO,
        ],
    },
];

/// Every family of the catalog, in order.
pub fn families() -> impl Iterator<Item = &'static dyn Declared> {
    CATALOG.iter().flat_map(|s| s.families.iter().copied())
}

/// The catalog as `deploy/metrics.txt` holds it: `name kind # [labels] help` per line.
pub fn render_catalog() -> String {
    let mut out = String::from(
        "# The metric catalog of sms-gateway: every metric the gateway serves at GET /metrics, with its\n\
         # type, labels and help. GENERATED from src/metrics/catalog/, do not edit: after changing\n\
         # the catalog run `UPDATE_METRICS_TXT=1 cargo test --lib metrics::` (a unit test fails while\n\
         # this file and the catalog differ). The deployment checks verify that the alert rules and\n\
         # the Grafana dashboards use only these names (histograms also as _bucket/_sum/_count) plus\n\
         # Prometheus' own `up`.\n\
         # Labels: lane/type = normal | express.\n",
    );
    for section in CATALOG {
        let _ = writeln!(out, "\n# {}", section.title);
        for f in section.families {
            let labels = match f.label_names() {
                [] => String::new(),
                names => format!("[{}] ", names.join(", ")),
            };
            let _ = writeln!(
                out,
                "{:<44}{:<12}# {labels}{}",
                f.name(),
                f.kind().as_str(),
                f.help()
            );
        }
    }
    out
}
