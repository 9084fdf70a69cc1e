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
    /// `RECORD_SHARDS`: record transactions (operator acceptances -> SENT) each lane runs at
    /// once per process, the recipients split among them by status id; an acceptance waits
    /// for at most the run of its own shard.
    pub record_shards: usize,
    /// `DEFAULT_VALIDITY_SECS`: retry window of a message that did not ask for one.
    pub default_validity: Duration,
    /// `DELIVERY_LEASE_SECS`: how long a worker holds a recipient it is sending; a worker that
    /// dies mid-send delays its recipients by this much. At least [`minimum_lease`] of the
    /// configured operators (checked at startup), so a live worker's lease never runs out
    /// under it.
    pub delivery_lease: Duration,
    /// `DELIVERY_MAX_ATTEMPTS`: takes of one recipient (operator rounds, and takes after a
    /// crash) before it is failed with a reason and refunded.
    pub max_attempts: u32,
}

/// Sends one take of a chunk holds in sequence: a chunk is this many rounds of a request's
/// concurrent sends (`worker::send_sms::CHUNK`).
pub const ROUNDS_PER_TAKE: u64 = 2;
/// Calls one recipient's send may make of each operator of its lane: a status lookup before a
/// repeated attempt, the send, a lookup when its outcome is in doubt (a timeout) and one
/// repeat of the send to the same operator.
pub const CALLS_PER_OPERATOR: u64 = 4;
/// Slack on top of the operator calls (database round trips of the take and the record).
const LEASE_SLACK: Duration = Duration::from_secs(1);

/// The shortest `DELIVERY_LEASE_SECS` for operators whose timeouts (ms) are `timeouts_ms`
/// (a lane's): every call of every round of a take timing out, plus slack.
pub fn minimum_lease(timeouts_ms: impl IntoIterator<Item = u64>) -> Duration {
    let per_send: u64 = timeouts_ms.into_iter().sum::<u64>() * CALLS_PER_OPERATOR;
    Duration::from_millis(per_send * ROUNDS_PER_TAKE) + LEASE_SLACK
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
            record_shards: r.ranged("RECORD_SHARDS", 2, 1, 16),
            default_validity: r.secs("DEFAULT_VALIDITY_SECS", 86_400, 1, 30 * 86_400),
            delivery_lease: r.secs("DELIVERY_LEASE_SECS", 60, 1, 3_600),
            max_attempts: r.ranged("DELIVERY_MAX_ATTEMPTS", 30, 1, 1_000),
        }
    }
}
