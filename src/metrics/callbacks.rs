//! The recorders of the delivery-status callbacks.

use std::time::Duration;

use super::catalog::*;

/// The POST outcomes and event outcomes at zero, and the histograms empty, so every family
/// is served before the first callback.
pub fn register_callback_series() {
    let _ = CALLBACK_LAG.histogram::<&str>([]);
    let _ = CALLBACK_POST_DURATION.histogram::<&str>([]);
    for outcome in ["delivered", "failed", "unreachable", "refused"] {
        CALLBACK_POSTS.counter([outcome]).increment(0);
    }
    for outcome in ["delivered", "retried", "parked", "dropped"] {
        CALLBACK_EVENTS.counter([outcome]).increment(0);
    }
}

/// Records a callback POST: its outcome and duration.
pub fn callback_post(outcome: &'static str, took: Duration) {
    CALLBACK_POSTS.counter([outcome]).increment(1);
    CALLBACK_POST_DURATION
        .histogram::<&str>([])
        .record(took.as_secs_f64());
}

/// Records what a POST made of `n` events (`delivered`, `retried`, `parked`, `dropped`).
pub fn callback_events(outcome: &'static str, n: u64) {
    CALLBACK_EVENTS.counter([outcome]).increment(n);
}

/// Records one delivered event's lag from its state change.
pub fn callback_lag(lag: Duration) {
    CALLBACK_LAG.histogram::<&str>([]).record(lag.as_secs_f64());
}

/// Sets the callback outbox's gauges (sampled).
pub fn callback_backlog(pending: u64, parked: u64) {
    CALLBACK_BACKLOG.gauge::<&str>([]).set(pending as f64);
    CALLBACK_PARKED.gauge::<&str>([]).set(parked as f64);
}
