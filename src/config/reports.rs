//! Delivery reports that arrive before their message is recorded SENT: how long they are
//! held, and how many at most.

use std::time::Duration;

use super::reader::Reader;

/// Held delivery reports (`db::held_reports`).
#[derive(Debug, Clone)]
pub struct ReportsConfig {
    /// `DLR_HOLD_SECS`: a report for a message id no message has (yet) is held this long,
    /// then dropped.
    pub hold: Duration,
    /// `DLR_HOLD_MAX`: reports held at once; beyond it a report for an unknown message id is
    /// answered 503 with `Retry-After`, so the operator sends it again later.
    pub hold_max: u64,
}

impl ReportsConfig {
    pub(super) fn read(r: &mut Reader) -> Self {
        Self {
            hold: r.secs("DLR_HOLD_SECS", 3_600, 1, 7 * 86_400),
            hold_max: r.ranged("DLR_HOLD_MAX", 100_000, 1, 10_000_000),
        }
    }
}
