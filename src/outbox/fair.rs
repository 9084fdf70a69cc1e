//! The publishers' side of fair delivery (docs/DESIGN.md "Fair delivery"): claims go in
//! virtual-time order (`db::outbox::claim`), and the broker queues are kept shallow, so the
//! order decided in the outbox is the order consumers see. A deep FIFO in RabbitMQ would undo
//! it: a message published behind a customer's 200,000 waits for all of them.
//!
//! Per lane, a publisher claims only as many rows as leave about
//! `QUEUE_READY_RECIPIENTS` recipients ready in the queue (ready messages, by a passive
//! declare, times the average recipients of the messages this process published lately, a
//! message carrying one slice or several small requests' slices); what
//! consumers have prefetched is in service and not counted. Every [`TICK`] each process also
//! raises the lanes' clocks to the smallest start time of their work in the outbox, and makes
//! waiting rows that are due pending at the lane's clock, and scheduled requests whose
//! `send_at` has come pending at their place in the fair order of that moment.

use std::sync::Mutex;
use std::time::Duration;

use lapin::Channel;
use sqlx::MySqlPool;
use tokio_util::sync::CancellationToken;

use crate::backoff::sleep_or_stop;
use crate::config::AmqpConfig;
use crate::db::fair_share as clocks;
use crate::db::outbox::{self as repo, ClaimedRow};
use crate::domain::SmsType;
use crate::domain::fair_share::SLICE;
use crate::queue::topology;

/// How often the clocks are raised and due rows promoted.
pub const TICK: Duration = Duration::from_millis(100);

/// How long a publisher whose lane's queue is full waits before it looks again.
pub fn full_wait(lane: SmsType) -> Duration {
    match lane {
        SmsType::Express => Duration::from_millis(5),
        SmsType::Normal => Duration::from_millis(10),
    }
}

/// One lane's state in this process: moving averages of the messages published here.
#[derive(Debug)]
struct Lane {
    /// (recipients, rows) per message.
    per_message: Mutex<(f64, f64)>,
}

impl Default for Lane {
    fn default() -> Self {
        Self {
            per_message: Mutex::new((1.0, 1.0)),
        }
    }
}

/// Both lanes' state of one publisher pool.
#[derive(Debug, Default)]
pub struct FairLanes {
    express: Lane,
    normal: Lane,
}

impl FairLanes {
    fn lane(&self, lane: SmsType) -> &Lane {
        match lane {
            SmsType::Express => &self.express,
            SmsType::Normal => &self.normal,
        }
    }

    /// How many rows a publisher may claim now so that about `ready_recipients` recipients
    /// sit ready in the lane's queue, at most `batch`. A failed passive declare claims a
    /// whole batch (the publish then fails on the same channel and gives the rows back).
    pub async fn room(
        &self,
        channel: &Channel,
        amqp: &AmqpConfig,
        lane: SmsType,
        batch: u32,
    ) -> u32 {
        let Ok(ready) = topology::depth(channel, amqp, lane).await else {
            return batch;
        };
        let (recipients, rows) = *self.lane(lane).per_message.lock().expect("not poisoned");
        let messages = room_for(amqp.ready_recipients, recipients, ready, batch);
        // Claims count rows; a message carries `rows` of them on average.
        ((f64::from(messages) * rows.max(1.0)).ceil() as u32).min(batch)
    }

    /// Notes what a claim published: the average recipients and rows per message.
    pub fn claimed(&self, lane: SmsType, messages: &[Vec<&ClaimedRow>]) {
        if messages.is_empty() {
            return;
        }
        let slice = |r: &&ClaimedRow| r.recipients.clamp(1, SLICE as i64) as f64;
        let n = messages.len() as f64;
        let recipients = messages
            .iter()
            .map(|m| m.iter().map(slice).sum::<f64>())
            .sum::<f64>()
            / n;
        let rows = messages.iter().map(Vec::len).sum::<usize>() as f64 / n;
        let mut avg = self.lane(lane).per_message.lock().expect("not poisoned");
        *avg = (0.8 * avg.0 + 0.2 * recipients, 0.8 * avg.1 + 0.2 * rows);
    }

    /// Every [`TICK`] until `stop`: raises the lanes' clocks to the smallest start time of
    /// their work in the outbox, and promotes due waiting rows at the clock.
    pub async fn tick_until_stopped(&self, db: &MySqlPool, stop: &CancellationToken) {
        loop {
            if let Err(e) = self.tick(db).await {
                tracing::warn!(error = %e, "cannot advance the lanes' clocks");
            }
            if sleep_or_stop(TICK, stop).await {
                return;
            }
        }
    }

    async fn tick(&self, db: &MySqlPool) -> Result<(), sqlx::Error> {
        for lane in [SmsType::Express, SmsType::Normal] {
            if let Some(min) = repo::min_vtime(db, lane.priority()).await? {
                clocks::raise_clock(db, lane, min).await?;
            }
        }
        let known = clocks::clocks(db).await?;
        for lane in [SmsType::Express, SmsType::Normal] {
            let clock = known.of(lane);
            let retries = repo::promote_due(db, lane.priority(), clock, 1_000).await?;
            // Scheduled requests whose send_at has come: placed in the fair order now.
            let scheduled = repo::promote_scheduled(db, lane, clock, 1_000).await?;
            if retries + scheduled > 0 {
                super::wake(lane);
            }
        }
        Ok(())
    }
}

/// Rows to claim so that about `target` recipients are ready, with `ready` messages of about
/// `per_message` recipients each in the queue; at most `batch`, and at least one when the
/// queue is empty (a lone large slice still goes). While the queue is not empty, nothing until
/// a quarter of the target has drained: the queue is then refilled by claims of many rows,
/// not topped up by one claim, one publish round and one confirm wait per few messages (with
/// one-recipient messages that cost about 0.22 claims and 0.9 statements per SMS,
/// docs/BENCHMARKS.md "What one SMS costs").
pub fn room_for(target: u32, per_message: f64, ready: u32, batch: u32) -> u32 {
    let wanted = (f64::from(target) / per_message.max(1.0)).ceil().max(1.0) as u32;
    let room = wanted.saturating_sub(ready);
    if ready > 0 && room < (wanted / 4).max(1) {
        return 0;
    }
    room.min(batch)
}

#[cfg(test)]
mod tests {
    use super::room_for;

    #[test]
    fn the_queue_is_kept_near_its_target_in_recipients() {
        // 512 recipients of 1-recipient messages: 512 messages.
        assert_eq!(room_for(512, 1.0, 0, 1_000), 512);
        // Refilled once a quarter has drained, not topped up message by message.
        assert_eq!(room_for(512, 1.0, 500, 1_000), 0);
        assert_eq!(room_for(512, 1.0, 385, 1_000), 0);
        assert_eq!(room_for(512, 1.0, 384, 1_000), 128);
        // Slices of 64: 8 messages.
        assert_eq!(room_for(512, 64.0, 3, 200), 5);
        assert_eq!(room_for(512, 64.0, 8, 200), 0);
        assert_eq!(room_for(512, 64.0, 0, 2), 2);
        // Whatever the sizes, an empty queue gets one.
        assert_eq!(room_for(1, 1_000.0, 0, 200), 1);
    }
}
