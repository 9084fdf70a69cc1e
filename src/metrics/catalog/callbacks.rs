//! Families of the delivery-status callbacks: the outbox's backlog and parked events, the
//! POSTs by outcome, and how late events reach the customers.

use metrics::Unit;

use super::{E2E_BUCKETS, Family, LATENCY_BUCKETS};
use crate::metrics::family::{counter, gauge, histogram};

pub static CALLBACK_BACKLOG: Family<0> = gauge(
    "smsgw_callback_backlog",
    [],
    "Callback events waiting to be delivered (pending, retries included), all customers",
);
pub static CALLBACK_PARKED: Family<0> = gauge(
    "smsgw_callback_parked",
    [],
    "Callback events parked after CALLBACK_RETRY_PERIOD_SECS of failures (replayed by POST /callbacks/replay)",
);
pub static CALLBACK_POSTS: Family<1> = counter(
    "smsgw_callback_posts_total",
    ["outcome"],
    "Callback POSTs, by outcome (delivered, failed: not 2xx, unreachable, refused: private target)",
);
pub static CALLBACK_EVENTS: Family<1> = counter(
    "smsgw_callback_events_total",
    ["outcome"],
    "Callback events, by what a POST made of them (delivered, retried, parked, dropped: no URL any more)",
);
pub static CALLBACK_LAG: Family<0> = histogram(
    "smsgw_callback_lag_seconds",
    Unit::Seconds,
    E2E_BUCKETS,
    [],
    "From a state change to the 2xx of the POST carrying its event (retries included)",
);
pub static CALLBACK_POST_DURATION: Family<0> = histogram(
    "smsgw_callback_post_duration_seconds",
    Unit::Seconds,
    LATENCY_BUCKETS,
    [],
    "Duration of one callback POST, whatever its outcome",
);
