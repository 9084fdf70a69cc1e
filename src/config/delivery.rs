//! Outbox publishers and delivery workers: how many, batch sizes, leases, retry window.

use std::time::Duration;

use super::reader::Reader;

/// Outbox publishers and delivery workers.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// `PUBLISHERS_EXPRESS`: outbox publisher tasks for the express lane.
    pub publishers_express: usize,
    /// `PUBLISHERS_NORMAL`: outbox publisher tasks for the normal lane.
    pub publishers_normal: usize,
    /// `OUTBOX_BATCH_SIZE`: rows claimed per publisher round trip.
    pub outbox_batch_size: u32,
    /// `OUTBOX_LEASE_SECS`: a claimed row not published within this is reclaimed.
    pub outbox_lease: Duration,
    /// `WORKERS_EXPRESS`: concurrent express deliveries per process.
    pub workers_express: usize,
    /// `WORKERS_NORMAL`: concurrent normal deliveries per process.
    pub workers_normal: usize,
    /// `WORKERS_NORMAL_DB`: database transactions the normal lane runs at once per process,
    /// so a normal backlog leaves the database room for express (which never waits).
    pub workers_normal_db: usize,
    /// `DEFAULT_VALIDITY_SECS`: retry window of a message that did not ask for one.
    pub default_validity: Duration,
    /// `DELIVERY_LEASE_SECS`: how long a worker holds a recipient it is sending; a worker that
    /// dies mid-send delays its recipients by this much. Keep it above the sum of the
    /// operators' timeouts.
    pub delivery_lease: Duration,
}

impl DeliveryConfig {
    pub(super) fn read(r: &mut Reader) -> Self {
        Self {
            publishers_express: r.ranged("PUBLISHERS_EXPRESS", 4, 0, 256),
            publishers_normal: r.ranged("PUBLISHERS_NORMAL", 2, 0, 256),
            outbox_batch_size: r.ranged("OUTBOX_BATCH_SIZE", 200, 1, 5_000),
            outbox_lease: r.secs("OUTBOX_LEASE_SECS", 30, 1, 3_600),
            workers_express: r.ranged("WORKERS_EXPRESS", 32, 0, 10_000),
            workers_normal: r.ranged("WORKERS_NORMAL", 32, 0, 10_000),
            workers_normal_db: r.ranged("WORKERS_NORMAL_DB", 4, 1, 10_000),
            default_validity: r.secs("DEFAULT_VALIDITY_SECS", 86_400, 1, 30 * 86_400),
            delivery_lease: r.secs("DELIVERY_LEASE_SECS", 60, 1, 3_600),
        }
    }
}
