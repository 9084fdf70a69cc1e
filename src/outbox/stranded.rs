//! The stranded-message sweeper (one per publisher process): re-queues requests whose queue
//! message was lost (dead-lettered, purged, lost with a broker's data) through the outbox.
//!
//! A request is stranded when recipients of it wait without a lease (`PENDING`, or `SENDING`
//! waiting for a retry), untouched for `STRANDED_AFTER_SECS`, with no outbox row, while its
//! lane's queue holds no ready message: nothing will ever bring it to a worker. The queue
//! test keeps the sweeper away from a legitimate backlog (a million messages waiting in the
//! queue are not stranded: they are not re-published). A request re-queued while its message
//! was in fact still on its way (held unacknowledged by a worker for longer than the
//! threshold) is delivered once all the same: the second message finds its recipients taken.
//!
//! Cost: each round reads at most [`BATCH`] entries of `idx_sms_status_lease` per state from a
//! watermark (the last status id examined), plus one outbox key probe per entry; the
//! watermark wraps to the start when it reaches the newest rows, so a backlog of any size is
//! covered in bounded rounds. Nothing is read while dispatch is paused, both queues hold ready
//! messages, or the broker is unreachable.

use std::collections::BTreeMap;
use std::time::Duration;

use lapin::Channel;
use sqlx::MySqlPool;
use tokio_util::sync::CancellationToken;

use super::PublisherPool;
use crate::backoff::sleep_or_stop;
use crate::db::outbox::{self as repo, Requeue};
use crate::domain::SmsType;
use crate::queue::topology;

/// Status rows examined per state and round.
pub const BATCH: u32 = 500;

/// The sweep's position: the last status row examined, per waiting state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    pub pending: i64,
    pub retrying: i64,
}

impl PublisherPool {
    /// Sweeps every `STRANDED_AFTER_SECS / 4` (1 to 10 s) until `stop`.
    pub async fn sweep_stranded_until_stopped(self: std::sync::Arc<Self>, stop: CancellationToken) {
        let every =
            (self.amqp.stranded_after / 4).clamp(Duration::from_secs(1), Duration::from_secs(10));
        let mut mark = Watermark::default();
        loop {
            if sleep_or_stop(every, &stop).await {
                return;
            }
            let Some(conn) = self.broker.connection(&stop).await else {
                return;
            };
            let round = async {
                let channel = conn.create_channel().await?;
                topology::declare(&channel, &self.amqp).await?;
                let result = self.sweep_once(&channel, &mut mark).await;
                let _ = channel.close(200, "sweep done".into()).await;
                result
            };
            match round.await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(
                    requests = n,
                    "re-queued requests whose queue message was lost"
                ),
                Err(e) => tracing::warn!(error = %e, "stranded-message sweep failed"),
            }
        }
    }

    /// One round (see the module documentation): returns the requests put back into the
    /// outbox.
    pub async fn sweep_once(&self, channel: &Channel, mark: &mut Watermark) -> anyhow::Result<u64> {
        if crate::db::dispatch::is_paused(&self.db).await? {
            return Ok(0);
        }
        let mut idle = Vec::new();
        for lane in [SmsType::Express, SmsType::Normal] {
            if topology::depth(channel, &self.amqp, lane).await? == 0 {
                idle.push(lane);
            }
        }
        if idle.is_empty() {
            return Ok(0);
        }
        let after = self.amqp.stranded_after.as_secs();
        let mut stranded = BTreeMap::new();
        for (status, at) in [
            ("PENDING", &mut mark.pending),
            ("SENDING", &mut mark.retrying),
        ] {
            *at = scan(&self.db, status, *at, after, &idle, &mut stranded).await?;
        }
        let requests: Vec<Requeue> = stranded.into_values().collect();
        let n = repo::requeue(&self.db, &requests).await?;
        if n > 0 {
            crate::metrics::outbox_stranded_requeued(n);
            for lane in idle {
                super::wake(lane);
            }
        }
        Ok(n)
    }
}

/// Reads one batch of waiting recipients of `status` after `from`, adds the stranded ones'
/// requests of the `idle` lanes to `stranded`, and returns the next watermark (0 once the
/// newest rows were reached, so the next round starts over).
async fn scan(
    db: &MySqlPool,
    status: &str,
    from: i64,
    older_than_secs: u64,
    idle: &[SmsType],
    stranded: &mut BTreeMap<i64, Requeue>,
) -> Result<i64, sqlx::Error> {
    let rows = repo::waiting_after(db, status, from, older_than_secs, BATCH).await?;
    let full = rows.len() as u32 == BATCH;
    let mut next = from;
    for row in rows {
        // PENDING rows are written in id order: from the first recent one on, all are.
        if status == "PENDING" && !row.old {
            return Ok(0);
        }
        next = row.id;
        if row.old && !row.queued && idle.contains(&row.sms_type) {
            stranded.entry(row.request_id).or_insert(Requeue {
                request_id: row.request_id,
                sms_identifier: row.sms_identifier,
                sms_type: row.sms_type,
            });
        }
    }
    Ok(if full { next } else { 0 })
}
