//! Delivery workers (role `worker`): one consumer per lane with its own concurrency, so a
//! normal backlog never delays express. A queue message names a request; the worker takes
//! each open recipient with a lease, sends it through the operators and records the outcome
//! (SENT, FAILED with a refund, or a scheduled retry), and acknowledges the queue message
//! only after every recipient's outcome is committed. On a database error it nacks with
//! requeue after a backoff, never in a busy loop.

mod coalesce;
mod context;
mod error;
mod message;
mod recipient;
pub mod send_sms;
mod throughput;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::backoff::{Backoff, Jitter, sleep_or_stop};
use crate::config::{AmqpConfig, DeliveryConfig};
use crate::domain::SmsType;
use crate::operators::OperatorRegistry;
use crate::outbox::{QueueBody, TRACEPARENT_HEADER};
use crate::queue::{Broker, topology};

pub use context::DeliveryContext;
pub use recipient::retry_delay;
pub use send_sms::{DeliveryError, DeliverySummary, SLICE, Slice, deliver_request, deliver_slice};

/// The worker pool of one process.
pub struct WorkerPool {
    ctx: Arc<DeliveryContext>,
    broker: Arc<Broker>,
    amqp: AmqpConfig,
    delivery: DeliveryConfig,
}

impl WorkerPool {
    /// A pool sending through `operators`.
    pub fn new(
        db: sqlx::MySqlPool,
        operators: Arc<OperatorRegistry>,
        broker: Arc<Broker>,
        amqp: AmqpConfig,
        delivery: DeliveryConfig,
    ) -> Arc<Self> {
        let ctx = DeliveryContext::new(
            db,
            operators,
            delivery.default_validity,
            delivery.delivery_lease,
            delivery.workers_normal_db,
            delivery.record_shards,
            delivery.max_attempts,
        );
        // Start paused until the switch has been read once.
        ctx.mirror_paused(true);
        Arc::new(Self {
            ctx: Arc::new(ctx),
            broker,
            amqp,
            delivery,
        })
    }

    /// Spawns a consumer per lane, the sweeper of expired leases, the watch of the pause
    /// switch and the flush of the lanes' SENT counts.
    pub fn spawn(self: &Arc<Self>, tracker: &TaskTracker, stop: &CancellationToken) {
        for (lane, concurrency) in [
            (SmsType::Express, self.delivery.workers_express),
            (SmsType::Normal, self.delivery.workers_normal),
        ] {
            if concurrency > 0 {
                tracker.spawn(self.clone().consume_until_stopped(
                    lane,
                    concurrency,
                    tracker.clone(),
                    stop.clone(),
                ));
            }
        }
        tracker.spawn(self.clone().sweep_until_stopped(stop.clone()));
        tracker.spawn(self.clone().watch_pause_until_stopped(stop.clone()));
        tracker.spawn(throughput::flush_until_stopped(
            self.ctx.clone(),
            stop.clone(),
        ));
    }

    async fn open(
        &self,
        conn: &lapin::Connection,
        lane: SmsType,
        concurrency: usize,
    ) -> Result<(Channel, Consumer), lapin::Error> {
        let channel = conn.create_channel().await?;
        topology::declare(&channel, &self.amqp).await?;
        let prefetch = (self.amqp.prefetch as usize).min(concurrency.max(1)) as u16;
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                topology::queue_name(&self.amqp, lane).into(),
                format!("sms-gateway-{lane}-{}", std::process::id()).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok((channel, consumer))
    }

    /// Consumes a lane until `stop`: then no new message is taken, in-flight ones finish
    /// (the tracker awaits them) and unacknowledged prefetched ones return to the queue when
    /// the channel closes.
    pub async fn consume_until_stopped(
        self: Arc<Self>,
        lane: SmsType,
        concurrency: usize,
        tracker: TaskTracker,
        stop: CancellationToken,
    ) {
        let permits = Arc::new(Semaphore::new(concurrency));
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        while !stop.is_cancelled() {
            let Some(conn) = self.broker.connection(&stop).await else {
                break;
            };
            let (channel, mut consumer) = match self.open(&conn, lane, concurrency).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(lane = %lane, error = %e, "cannot start consuming; retrying");
                    if backoff.wait(&stop).await {
                        break;
                    }
                    continue;
                }
            };
            backoff.reset();
            tracing::info!(lane = %lane, concurrency, "consuming");
            loop {
                // Paused: take nothing new. Prefetched messages stay unacknowledged in this
                // channel and are neither sent nor lost; in-flight sends finish.
                if !self.wait_while_paused(&stop).await {
                    break;
                }
                let permit = tokio::select! {
                    _ = stop.cancelled() => break,
                    p = permits.clone().acquire_owned() => p.expect("semaphore open"),
                };
                let next = tokio::select! {
                    _ = stop.cancelled() => break,
                    n = consumer.next() => n,
                };
                let delivery = match next {
                    Some(Ok(d)) => d,
                    Some(Err(e)) => {
                        tracing::warn!(lane = %lane, error = %e, "consumer error; reconnecting");
                        break;
                    }
                    None => {
                        tracing::warn!(lane = %lane, "consumer closed; reconnecting");
                        break;
                    }
                };
                // A pause that came while this consumer waited for the message holds it
                // here (unacknowledged: it returns to the queue if the process stops).
                if !self.wait_while_paused(&stop).await {
                    break;
                }
                let (pool, stop) = (self.clone(), stop.clone());
                tracker.spawn(async move {
                    handle(&pool, lane, delivery, &stop).await;
                    drop(permit);
                });
            }
            if stop.is_cancelled() {
                // Let in-flight handlers ack on this channel before it closes; the process's
                // SHUTDOWN_TIMEOUT_SECS bounds the wait.
                let _ = permits.acquire_many(concurrency as u32).await;
                let _ = channel.close(200, "shutdown".into()).await;
            }
        }
    }

    /// Returns once dispatch is not paused (true), or when `stop` fires (false).
    async fn wait_while_paused(&self, stop: &CancellationToken) -> bool {
        let mut logged = false;
        while self.ctx.paused() {
            if !logged {
                tracing::info!("dispatch paused; waiting");
                logged = true;
            }
            if sleep_or_stop(Duration::from_millis(50), stop).await {
                return false;
            }
        }
        !stop.is_cancelled()
    }

    /// Mirrors the shared pause switch (a database row, so it holds for every worker
    /// process) into this process, every 250 ms. While the database cannot be read the last
    /// known value stays.
    pub async fn watch_pause_until_stopped(self: Arc<Self>, stop: CancellationToken) {
        loop {
            match crate::db::dispatch::is_paused(&self.ctx.db).await {
                Ok(p) => {
                    self.ctx.mirror_paused(p);
                    crate::metrics::dispatch_paused(p);
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the dispatch switch"),
            }
            if sleep_or_stop(Duration::from_millis(250), &stop).await {
                return;
            }
        }
    }

    /// Re-queues requests whose worker died mid-send, every 5 seconds.
    pub async fn sweep_until_stopped(self: Arc<Self>, stop: CancellationToken) {
        loop {
            match crate::db::delivery::requeue_expired_leases(&self.ctx.db, 100).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(
                    requests = n,
                    "re-queued requests whose delivery lease expired"
                ),
                Err(e) => tracing::warn!(error = %e, "lease sweeper failed"),
            }
            if sleep_or_stop(Duration::from_secs(5), &stop).await {
                return;
            }
        }
    }
}

/// Delivers a request; while dispatch is paused (the take refused, or a recipient was given
/// back before its call) it waits for the resume and goes on, keeping the queue message.
async fn deliver_unless_stopped(
    pool: &WorkerPool,
    slice: &Slice,
    stop: &CancellationToken,
) -> Result<DeliverySummary, DeliveryError> {
    loop {
        match deliver_slice(&pool.ctx, slice).await {
            Err(DeliveryError::Paused) => {
                // The mirror may not have seen the pause yet: wait until it has, then for
                // the resume.
                let seen = tokio::time::Instant::now() + Duration::from_secs(1);
                while !pool.ctx.paused() && tokio::time::Instant::now() < seen {
                    if sleep_or_stop(Duration::from_millis(50), stop).await {
                        return Err(DeliveryError::Paused);
                    }
                }
                if !pool.wait_while_paused(stop).await {
                    return Err(DeliveryError::Paused);
                }
            }
            other => return other,
        }
    }
}

/// Processes one queue message and settles it with the broker, in a consumer span that
/// continues the trace the message's `traceparent` header names.
async fn handle(
    pool: &WorkerPool,
    lane: SmsType,
    delivery: lapin::message::Delivery,
    stop: &CancellationToken,
) {
    use crate::metrics::{QueueEvent, queue};
    queue(
        lane,
        QueueEvent::Consumed {
            redelivered: delivery.redelivered,
        },
    );
    let span = tracing::info_span!(
        "sms.deliver",
        otel.kind = "consumer",
        messaging.source = %lane,
        sms.id = tracing::field::Empty,
    );
    crate::telemetry::set_parent(&span, header_str(&delivery, TRACEPARENT_HEADER).as_deref());
    async move {
        let slices = match QueueBody::parse(&delivery.data) {
            Ok(slices) => slices,
            Err(e) => {
                tracing::error!(error = %e, "poison message; dead-lettering it");
                queue(lane, QueueEvent::DeadLettered);
                let _ = delivery
                    .acker
                    .reject(BasicRejectOptions { requeue: false })
                    .await;
                return;
            }
        };
        let sms_id = slices[0].sms_identifier.as_str();
        tracing::Span::current().record("sms.id", sms_id);
        match message::deliver_all(pool, lane, &slices, stop).await {
            Ok(()) => {
                queue(lane, QueueEvent::Acked);
                if let Err(e) = delivery.acker.ack(BasicAckOptions::default()).await {
                    tracing::warn!(sms.id = %sms_id, error = %e, "ack failed; the message will be redelivered and skipped");
                }
            }
            Err(e) => {
                // Stopping while paused hands the message back at once. A database error
                // pauses first, which keeps a failing database from a busy loop of
                // redeliveries; a stop ends that pause too.
                if !matches!(e, DeliveryError::Paused) {
                    tracing::warn!(sms.id = %sms_id, slices = slices.len(), error = %e, "delivery failed on the database; requeueing after a pause");
                    let pause = Backoff::constant(Duration::from_secs(2))
                        .with_jitter(Jitter::between(0.25, 1.0))
                        .next_delay();
                    sleep_or_stop(pause, stop).await;
                }
                queue(lane, QueueEvent::Nacked);
                let _ = delivery
                    .acker
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await;
            }
        }
    }
    .instrument(span)
    .await
}

/// A string header of a delivery.
fn header_str(delivery: &lapin::message::Delivery, name: &str) -> Option<String> {
    match delivery.properties.headers().as_ref()?.inner().get(name)? {
        lapin::types::AMQPValue::LongString(s) => Some(s.to_string()),
        lapin::types::AMQPValue::ShortString(s) => Some(s.as_str().to_string()),
        _ => None,
    }
}
