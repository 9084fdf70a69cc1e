//! Families of the delivery side: outbox, queue, operators, delivery and the process.

use metrics::Unit;

use super::{BATCH_BUCKETS, E2E_BUCKETS, Family, LATENCY_BUCKETS, STAGE_BUCKETS};
use crate::metrics::family::{counter, gauge, histogram};

const OPERATOR_OUTCOME: [&str; 2] = ["operator", "outcome"];

// Outbox
pub static OUTBOX_BACKLOG: Family<1> = gauge(
    "smsgw_outbox_backlog",
    ["lane"],
    "Outbox rows waiting to be published, by lane (sampled)",
);
pub static SCHEDULED_REQUESTS: Family<1> = gauge(
    "smsgw_scheduled_requests",
    ["lane"],
    "Scheduled requests not yet due (send_at ahead), by lane (sampled from maintained counters)",
);
pub static SCHEDULED_RECIPIENTS: Family<1> = gauge(
    "smsgw_scheduled_recipients",
    ["lane"],
    "Recipients of scheduled requests not yet due, by lane (sampled from maintained counters)",
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
    "Sends asked of an operator, by operator and outcome (rate_limited: answered 429)",
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
pub static OPERATOR_EFFECTIVE_RPS: Family<1> = gauge(
    "smsgw_operator_effective_rps",
    ["operator"],
    "Sends per second this process allows an operator now: its max_rps, or the slower rate \
     after a 429 (0: unlimited)",
);
pub static OPERATOR_THROTTLED: Family<2> = counter(
    "smsgw_operator_throttled_total",
    OPERATOR_OUTCOME,
    "Sends held by an operator's limits (max_rps, or the slower rate after a 429), by \
     operator and outcome: waited (for a token), skipped (the wait would pass max_wait_ms; \
     the next operator was tried)",
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
    "Recipient delivery outcomes (sent, failed, retry_scheduled, cancelled), by type",
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
