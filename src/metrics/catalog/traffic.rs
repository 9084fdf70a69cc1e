//! Families of the request side: HTTP, its connections, API keys, intake and the ledger.

use metrics::Unit;

use super::{BATCH_BUCKETS, Family, LATENCY_BUCKETS};
use crate::metrics::family::{counter, gauge, histogram};

const HTTP: [&str; 3] = ["method", "route", "status"];

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

// HTTP connections and API keys (abuse protections)
pub static HTTP_CONNECTIONS_OPEN: Family<0> = gauge(
    "smsgw_http_connections_open",
    [],
    "HTTP connections open (at smsgw_http_connections_max, new ones wait in the listen backlog)",
);
pub static HTTP_CONNECTIONS_MAX: Family<0> = gauge(
    "smsgw_http_connections_max",
    [],
    "Most HTTP connections served at once (HTTP_MAX_CONNECTIONS)",
);
pub static HTTP_CONNECTIONS_CLOSED: Family<1> = counter(
    "smsgw_http_connections_closed_total",
    ["reason"],
    "HTTP connections closed by the server for a timeout (header_timeout, idle_timeout)",
);
pub static API_KEY_NEGATIVE_CACHE_HITS: Family<0> = counter(
    "smsgw_api_key_negative_cache_hits_total",
    [],
    "API keys refused from the negative key cache, without a database lookup",
);
pub static API_KEY_LOOKUPS_WAITING: Family<0> = gauge(
    "smsgw_api_key_lookups_waiting",
    [],
    "API-key lookups waiting at the gate (KEY_LOOKUP_CONCURRENCY queries at once)",
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
