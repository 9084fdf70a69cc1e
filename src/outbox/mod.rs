//! The outbox publisher pool (role `publisher`): per lane, tasks claim due outbox rows with
//! `FOR UPDATE SKIP LOCKED`, publish them as persistent messages with publisher confirms, and
//! delete a row only after the broker confirmed it. A failed publish gives the row back with a
//! delay; a row whose publisher died is returned by the reaper once its lease expired. Several
//! processes may run this role at once: a row is never lost, and in the rare case of a lease
//! expiring mid-publish it is published twice, which consumers absorb (the state machine
//! sends each recipient once).

pub mod dead_letters;
pub mod fair;
mod message;
pub mod publish;
pub mod stranded;

pub use message::{QueueBody, QueueMessage};

use std::sync::Arc;
use std::time::Duration;

use lapin::Channel;
use lapin::Confirmation;
use lapin::options::ConfirmSelectOptions;
use sqlx::MySqlPool;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backoff::{Backoff, Jitter, sleep_or_stop};
use crate::config::{AmqpConfig, DeliveryConfig};
use crate::db::outbox::{self as repo, ClaimedRow};
use crate::domain::SmsType;
use crate::domain::fair_share::SLICE;
use crate::queue::{Broker, topology};

/// Whether a row's request has more than the slice being published: its row is then kept
/// (`published`) until the worker has delivered the slice.
fn keeps_row(row: &ClaimedRow) -> bool {
    row.recipients > SLICE as i64
}

/// AMQP header carrying the W3C trace context of the accepting HTTP request.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// Idle wait of a lane that found nothing to publish.
fn idle_wait(lane: SmsType) -> Duration {
    match lane {
        SmsType::Express => Duration::from_millis(20),
        SmsType::Normal => Duration::from_millis(100),
    }
}

/// How long an unconfirmed row waits before it is published again: 0.5 to 1 s.
fn unconfirmed_delay() -> Duration {
    Backoff::constant(Duration::from_secs(1))
        .with_jitter(Jitter::HALF)
        .next_delay()
}

/// Wake-ups of the idle publishers of each lane in this process (express, normal).
static WAKE: [tokio::sync::Notify; 2] = [
    tokio::sync::Notify::const_new(),
    tokio::sync::Notify::const_new(),
];

fn wake_of(lane: SmsType) -> &'static tokio::sync::Notify {
    match lane {
        SmsType::Express => &WAKE[0],
        SmsType::Normal => &WAKE[1],
    }
}

/// Tells this process's idle publishers of `lane` that a row was just committed, so a
/// gateway running intake and publishers together (`--role all`) publishes it at once
/// instead of at the next poll; publishers in other processes find it at their next poll
/// (every 20 ms for express, 100 ms for normal). A wake-up with no publisher waiting is kept
/// for the next one that idles, so none is lost.
pub fn wake(lane: SmsType) {
    wake_of(lane).notify_one();
}

/// What one round of a publisher did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublishRound {
    /// Rows claimed.
    pub claimed: usize,
    /// Rows confirmed by the broker and deleted.
    pub published: usize,
    /// Rows given back for a later retry.
    pub released: usize,
    /// The lane's queue held enough ready work: nothing was claimed.
    pub full: bool,
}

/// The publisher pool of one process.
pub struct PublisherPool {
    db: MySqlPool,
    broker: Arc<Broker>,
    amqp: AmqpConfig,
    delivery: DeliveryConfig,
    owner: String,
    fair: fair::FairLanes,
}

impl PublisherPool {
    /// A pool identified by host, process id and a random suffix (the lease owner).
    pub fn new(
        db: MySqlPool,
        broker: Arc<Broker>,
        amqp: AmqpConfig,
        delivery: DeliveryConfig,
    ) -> Arc<Self> {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let owner = format!("{host}-{}-{}", std::process::id(), &suffix[..8]);
        Arc::new(Self {
            db,
            broker,
            amqp,
            delivery,
            owner: owner.chars().take(64).collect(),
            fair: fair::FairLanes::default(),
        })
    }

    /// The lease owner name of this pool.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Spawns the configured number of publishers per lane and the reaper.
    pub fn spawn(self: &Arc<Self>, tracker: &TaskTracker, stop: &CancellationToken) {
        for (lane, count) in [
            (SmsType::Express, self.delivery.publishers_express),
            (SmsType::Normal, self.delivery.publishers_normal),
        ] {
            for _ in 0..count {
                tracker.spawn(self.clone().run_lane_until_stopped(lane, stop.clone()));
            }
        }
        tracker.spawn(self.clone().reap_until_stopped(stop.clone()));
        tracker.spawn(self.clone().sweep_stranded_until_stopped(stop.clone()));
        let (pool, stop) = (self.clone(), stop.clone());
        tracker.spawn(async move { pool.fair.tick_until_stopped(&pool.db, &stop).await });
    }

    /// Opens a confirm-mode channel and declares the topology.
    pub async fn open_channel(&self, stop: &CancellationToken) -> Option<Channel> {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        loop {
            let conn = self.broker.connection(stop).await?;
            let attempt = async {
                let channel = conn.create_channel().await?;
                channel
                    .confirm_select(ConfirmSelectOptions::default())
                    .await?;
                topology::declare(&channel, &self.amqp).await?;
                Ok::<_, lapin::Error>(channel)
            };
            match attempt.await {
                Ok(channel) => return Some(channel),
                Err(e) => tracing::warn!(error = %e, "cannot open a publisher channel; retrying"),
            }
            if backoff.wait(stop).await {
                return None;
            }
        }
    }

    /// Publishes a lane until `stop`; stops only between rounds, so nothing stays claimed.
    pub async fn run_lane_until_stopped(self: Arc<Self>, lane: SmsType, stop: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        'connect: while !stop.is_cancelled() {
            let Some(channel) = self.open_channel(&stop).await else {
                break;
            };
            'rounds: while !stop.is_cancelled() {
                match self.publish_once(&channel, lane).await {
                    Ok(round) if round.full => {
                        backoff.reset();
                        if sleep_or_stop(fair::full_wait(lane), &stop).await {
                            break 'rounds;
                        }
                    }
                    Ok(round) if round.claimed == 0 => {
                        backoff.reset();
                        tokio::select! {
                            _ = stop.cancelled() => break 'rounds,
                            _ = tokio::time::sleep(idle_wait(lane)) => {}
                            _ = wake_of(lane).notified() => {}
                        }
                    }
                    Ok(round) if round.released == 0 => backoff.reset(),
                    Ok(round) => {
                        tracing::warn!(lane = %lane, released = round.released, "some rows were not confirmed; retrying later");
                        if !channel.status().connected() {
                            continue 'connect;
                        }
                        if backoff.wait(&stop).await {
                            break 'rounds;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(lane = %lane, error = %e, "outbox round failed; backing off");
                        if backoff.wait(&stop).await {
                            break 'rounds;
                        }
                        if !channel.status().connected() {
                            continue 'connect;
                        }
                    }
                }
            }
            // Stopped between rounds: close the channel in order (the broker's close-ok
            // comes back on it), rather than dropping it under the connection's feet; a
            // broker that does not answer does not hold the stop.
            let closing = channel.close(200, "shutdown".into());
            let _ = tokio::time::timeout(Duration::from_secs(1), closing).await;
        }
        tracing::debug!(lane = %lane, "publisher stopped");
    }

    /// One round: claim a batch of the lane (as much as its queue has room for, in the fair
    /// order), publish it, wait for the confirms, delete what was confirmed and release the
    /// rest.
    pub async fn publish_once(
        &self,
        channel: &Channel,
        lane: SmsType,
    ) -> Result<PublishRound, sqlx::Error> {
        let started = std::time::Instant::now();
        let room = self
            .fair
            .room(channel, &self.amqp, lane, self.delivery.outbox_batch_size)
            .await;
        if room == 0 {
            return Ok(PublishRound {
                full: true,
                ..Default::default()
            });
        }
        let rows = repo::claim(&self.db, lane.priority(), room, &self.owner).await?;
        if rows.is_empty() {
            return Ok(PublishRound::default());
        }
        let groups = publish::group(&rows);
        self.fair.claimed(lane, &groups);
        let mut confirms = Vec::with_capacity(groups.len());
        let mut failed = Vec::new();
        // The publishes and their confirms share one bound (AMQP_CONFIRM_TIMEOUT_MS): a
        // blocked connection (a broker alarm) or a lost confirm gives the rows back for a
        // retry instead of holding them, and the lane, indefinitely.
        let deadline = tokio::time::Instant::now() + self.amqp.confirm_timeout;
        for group in &groups {
            let ids: Vec<i64> = group.iter().map(|r| r.id).collect();
            let publishing = publish::publish(channel, &self.amqp, lane, group);
            match tokio::time::timeout_at(deadline, publishing).await {
                Ok(Ok(confirm)) => confirms.push((ids, confirm)),
                Ok(Err(e)) => {
                    tracing::warn!(sms.id = %group[0].sms_identifier, error = %e, "publish failed");
                    failed.extend(ids);
                }
                Err(_) => failed.extend(ids),
            }
        }
        let mut published = Vec::with_capacity(rows.len());
        for (ids, confirm) in confirms {
            let Ok(confirmation) = tokio::time::timeout_at(deadline, confirm).await else {
                failed.extend(ids);
                continue;
            };
            match confirmation {
                Ok(Confirmation::Ack(None)) => published.extend(ids),
                Ok(Confirmation::Ack(Some(_))) => {
                    tracing::error!(lane = %lane, "message returned unroutable: is the queue bound?");
                    failed.extend(ids);
                }
                Ok(other) => {
                    tracing::warn!(lane = %lane, confirmation = ?other, "broker did not confirm");
                    failed.extend(ids);
                }
                Err(e) => {
                    tracing::warn!(lane = %lane, error = %e, "confirm failed");
                    failed.extend(ids);
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(lane = %lane, timeout_ms = self.amqp.confirm_timeout.as_millis() as u64, "publishes not confirmed in time; giving the rows back");
        }
        let (kept, done): (Vec<i64>, Vec<i64>) = published
            .iter()
            .partition(|id| rows.iter().any(|r| r.id == **id && keeps_row(r)));
        repo::delete_published(&self.db, &done, &self.owner).await?;
        repo::keep_published(&self.db, &kept, &self.owner, SLICE as i64).await?;
        if !failed.is_empty() {
            let delay = unconfirmed_delay().as_millis() as u64;
            repo::release(
                &self.db,
                &failed,
                &self.owner,
                delay,
                "publish not confirmed",
            )
            .await?;
        }
        crate::metrics::outbox_round(
            lane,
            rows.len(),
            published.len(),
            failed.len(),
            started.elapsed(),
        );
        Ok(PublishRound {
            claimed: rows.len(),
            published: published.len(),
            released: failed.len(),
            full: false,
        })
    }

    /// Returns expired leases to the pending state, every half lease.
    pub async fn reap_until_stopped(self: Arc<Self>, stop: CancellationToken) {
        let lease = self.delivery.outbox_lease;
        let every = (lease / 2).max(Duration::from_millis(500));
        loop {
            match repo::reap_expired(&self.db, lease.as_secs(), 1_000).await {
                Ok(0) => {}
                Ok(n) => {
                    crate::metrics::outbox_reaped(n);
                    tracing::warn!(
                        rows = n,
                        "reclaimed outbox rows whose publisher lease expired"
                    )
                }
                Err(e) => tracing::warn!(error = %e, "outbox reaper failed"),
            }
            if sleep_or_stop(every, &stop).await {
                return;
            }
        }
    }
}
