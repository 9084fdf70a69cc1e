//! The metric catalog: every metric the gateway serves, declared once here (name, kind, unit,
//! help, label names, buckets). The recorders, the `# HELP` lines, the histogram buckets and
//! `deploy/metrics.txt` ([`render_catalog`]) all read these declarations.

use std::fmt::Write as _;

use metrics::Unit;

pub use super::family::{Declared, Family, Kind};
use super::family::{counter, gauge, histogram};

/// Latency buckets (seconds) of HTTP requests, operator calls and publishes.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of acceptance-to-SENT (seconds): express should sit under 0.1, retries reach minutes.
const E2E_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
];
/// Buckets of one delivery stage (seconds): fine where express's 100 ms budget is spent.
const STAGE_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Buckets of batch sizes (rows or requests).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

const HTTP: [&str; 3] = ["method", "route", "status"];
const OPERATOR_OUTCOME: [&str; 2] = ["operator", "outcome"];

// HTTP (route = the route template, e.g. /sms/{sms_identifier})
pub static HTTP_REQUESTS: Family<3> = counter(
    "smsgw_http_requests_total",
    HTTP,
    "HTTP requests answered, by method, route template and status",
);
pub static HTTP_REQUEST_DURATION: Family<3> = histogram(
    "smsgw_http_request_duration_seconds",
    Unit::Seconds,
    LATENCY_BUCKETS,
    HTTP,
    "HTTP request latency, by method, route template and status",
);

// Intake
pub static INTAKE_MESSAGES: Family<1> = counter(
    "smsgw_intake_messages_total",
    ["type"],
    "Send requests accepted, by type",
);
pub static INTAKE_RECIPIENTS: Family<1> = counter(
    "smsgw_intake_recipients_total",
    ["type"],
    "Recipients accepted, by type",
);
pub static INTAKE_SEGMENTS: Family<1> = counter(
    "smsgw_intake_segments_total",
    ["type"],
    "Segments accepted (segments x recipients), by type",
);
pub static INTAKE_CREDITS_CHARGED: Family<1> = counter(
    "smsgw_intake_credits_charged_total",
    ["type"],
    "Credits charged at acceptance, by type",
);
pub static INTAKE_REJECTIONS: Family<1> = counter(
    "smsgw_intake_rejections_total",
    ["reason"],
    "Send requests refused, by reason",
);
pub static INTAKE_BATCH_SIZE: Family<0> = histogram(
    "smsgw_intake_batch_size",
    Unit::Count,
    BATCH_BUCKETS,
    [],
    "Send requests accepted per shared transaction (group commit)",
);
pub static INTAKE_COMMIT_RESOLUTIONS: Family<1> = counter(
    "smsgw_intake_commit_resolutions_total",
    ["outcome"],
    "Acceptance commits whose outcome was unknown, by what the lookup found",
);

// Ledger
pub static CREDITS_REFUNDED: Family<0> = counter(
    "smsgw_ledger_credits_refunded_total",
    [],
    "Credits refunded for recipients that finally failed",
);
pub static CREDITS_ADDED: Family<0> = counter(
    "smsgw_ledger_credits_added_total",
    [],
    "Credits added by top-ups and opening balances",
);

// Outbox
pub static OUTBOX_BACKLOG: Family<1> = gauge(
    "smsgw_outbox_backlog",
    ["lane"],
    "Outbox rows waiting to be published, by lane (sampled)",
);
pub static OUTBOX_CLAIM_BATCH_SIZE: Family<1> = histogram(
    "smsgw_outbox_claim_batch_size",
    Unit::Count,
    BATCH_BUCKETS,
    ["lane"],
    "Rows claimed per non-empty outbox claim, by lane",
);
pub static OUTBOX_PUBLISH_DURATION: Family<1> = histogram(
    "smsgw_outbox_publish_duration_seconds",
    Unit::Seconds,
    LATENCY_BUCKETS,
    ["lane"],
    "Time to publish a claimed batch and receive its confirms, by lane",
);
pub static OUTBOX_PUBLISHED: Family<1> = counter(
    "smsgw_outbox_published_total",
    ["lane"],
    "Outbox rows published and confirmed by the broker, by lane",
);
pub static OUTBOX_CONFIRM_FAILURES: Family<1> = counter(
    "smsgw_outbox_confirm_failures_total",
    ["lane"],
    "Outbox rows the broker did not confirm (given back for a retry), by lane",
);
pub static OUTBOX_REAPED: Family<0> = counter(
    "smsgw_outbox_reaped_total",
    [],
    "Outbox rows whose publisher lease expired and were given back",
);
pub static OUTBOX_STRANDED_REQUEUED: Family<0> = counter(
    "smsgw_outbox_stranded_requeued_total",
    [],
    "Requests whose queue message was lost, put back into the outbox by the sweeper",
);
pub static DEAD_LETTERS: Family<0> = gauge(
    "smsgw_dead_letters",
    [],
    "Messages in the dead-letter queue (sampled)",
);
pub static DEAD_LETTERS_REPLAYED: Family<0> = counter(
    "smsgw_dead_letters_replayed_total",
    [],
    "Dead letters replayed through the outbox by POST /admin/dead-letters/replay",
);

// Queue (RabbitMQ, as seen by the consumers)
pub static QUEUE_MESSAGES: Family<1> = gauge(
    "smsgw_queue_messages",
    ["lane"],
    "Ready messages in the lane's queue (sampled)",
);
pub static QUEUE_CONSUMED: Family<1> = counter(
    "smsgw_queue_consumed_total",
    ["lane"],
    "Queue messages taken by the workers, by lane",
);
pub static QUEUE_ACKED: Family<1> = counter(
    "smsgw_queue_acked_total",
    ["lane"],
    "Queue messages acknowledged, by lane",
);
pub static QUEUE_NACKED: Family<1> = counter(
    "smsgw_queue_nacked_total",
    ["lane"],
    "Queue messages returned to the queue after a database error, by lane",
);
pub static QUEUE_REDELIVERED: Family<1> = counter(
    "smsgw_queue_redelivered_total",
    ["lane"],
    "Queue messages delivered again by the broker, by lane",
);
pub static QUEUE_DEAD_LETTERED: Family<1> = counter(
    "smsgw_queue_dead_lettered_total",
    ["lane"],
    "Unreadable queue messages rejected to the dead-letter queue, by lane",
);

// Operators
pub static OPERATOR_CALLS: Family<2> = counter(
    "smsgw_operator_calls_total",
    OPERATOR_OUTCOME,
    "Sends asked of an operator, by operator and outcome",
);
pub static OPERATOR_CALL_DURATION: Family<2> = histogram(
    "smsgw_operator_call_duration_seconds",
    Unit::Seconds,
    LATENCY_BUCKETS,
    OPERATOR_OUTCOME,
    "Operator call latency, by operator and outcome",
);
pub static OPERATOR_CIRCUIT_STATE: Family<1> = gauge(
    "smsgw_operator_circuit_state",
    ["operator"],
    "Circuit breaker state per operator: 0 closed, 1 half-open, 2 open",
);
pub static OPERATOR_LOOKUPS: Family<2> = counter(
    "smsgw_operator_lookups_total",
    OPERATOR_OUTCOME,
    "Status lookups by reference (status_url), of sends in doubt and of recipients taken again, by operator and outcome: found, not_found, error",
);
pub static OPERATOR_CIRCUIT_REJECTIONS: Family<1> = counter(
    "smsgw_operator_circuit_rejections_total",
    ["operator"],
    "Sends refused by an operator's open circuit breaker",
);

// Delivery
pub static ACCEPT_TO_SENT: Family<1> = histogram(
    "smsgw_delivery_accept_to_sent_seconds",
    Unit::Seconds,
    E2E_BUCKETS,
    ["type"],
    "Time from acceptance to SENT, by type",
);
pub static DELIVERY_STAGE: Family<2> = histogram(
    "smsgw_delivery_stage_seconds",
    Unit::Seconds,
    STAGE_BUCKETS,
    ["type", "stage"],
    "Time of one delivery stage, by type and stage: queued (acceptance to first take), \
     take (a chunk's take), send (its calls and records), record (acceptance to SENT)",
);
pub static DELIVERY_RECORD_LAG: Family<1> = histogram(
    "smsgw_delivery_record_lag_seconds",
    Unit::Seconds,
    STAGE_BUCKETS,
    ["type"],
    "Time from an operator's acceptance of a recipient to its SENT commit, by type",
);
pub static DELIVERY_UNUSABLE_MESSAGE_IDS: Family<1> = counter(
    "smsgw_delivery_unusable_message_ids_total",
    ["operator"],
    "Acceptances recorded SENT without the operator's (unusable) message id, by operator",
);
pub static DISPATCH_HELD: Family<1> = counter(
    "smsgw_dispatch_held_total",
    ["type"],
    "Deliveries stopped by the pause switch and kept until dispatch resumes, by type",
);
pub static DELIVERY_RECIPIENTS: Family<2> = counter(
    "smsgw_delivery_recipients_total",
    ["type", "outcome"],
    "Recipient delivery outcomes (sent, failed, retry_scheduled), by type",
);
pub static DLR_REPORTS: Family<2> = counter(
    "smsgw_dlr_reports_total",
    ["operator", "status"],
    "Delivery reports received, by operator and status",
);
pub static DLR_HELD: Family<2> = counter(
    "smsgw_dlr_held_total",
    ["operator", "outcome"],
    "Delivery reports for a message id not recorded yet: held, applied later, or expired \
     unapplied (DLR_HOLD_SECS), by operator",
);

// Process / DB
pub static DB_POOL_CONNECTIONS: Family<1> = gauge(
    "smsgw_db_pool_connections",
    ["state"],
    "Database pool connections, by state (in_use, idle)",
);
pub static DB_POOL_MAX_CONNECTIONS: Family<0> = gauge(
    "smsgw_db_pool_max_connections",
    [],
    "Upper bound of the database pool",
);
pub static DISPATCH_PAUSED: Family<0> = gauge(
    "smsgw_dispatch_paused",
    [],
    "1 while dispatch is paused (POST /admin/dispatch/pause)",
);
pub static BUILD_INFO: Family<1> = gauge(
    "smsgw_build_info",
    ["version"],
    "Always 1; the version label says which build runs",
);

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
         # type, labels and help. GENERATED from src/metrics/catalog.rs, do not edit: after changing\n\
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
