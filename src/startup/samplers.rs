//! The samplers: gauges that would cost a query per read (database pool use, outbox backlog,
//! queue depth), read every few seconds by one task and set through [`crate::metrics`]; and
//! the poll of the API-key generation, which keeps the negative key cache in step with key
//! creations and rotations in other processes.

use std::sync::Arc;
use std::time::Duration;

use sqlx::MySqlPool;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::AmqpConfig;
use crate::domain::SmsType;
use crate::metrics;
use crate::queue::{Broker, topology};
use crate::state::AppState;

/// How often an API process reads the key generation: a key created or rotated by another
/// process is accepted here at most this long (plus a query) after its commit.
pub const KEY_GENERATION_POLL: Duration = Duration::from_millis(500);

/// What the samplers read.
pub struct Samplers {
    pub db: MySqlPool,
    pub max_connections: u32,
    /// Sample the outbox backlog (processes running publishers or the API).
    pub outbox: bool,
    /// Sample the queues' depth (processes with a broker connection that consume).
    pub queues: Option<(Arc<Broker>, AmqpConfig)>,
}

/// Every second: pool use; every 5 s: rendering upkeep, outbox backlog per lane (one indexed
/// count), scheduled requests per lane (16 counter rows), the callback outbox's pending and
/// parked events (one count) and queue depth (a passive declare).
pub fn spawn_samplers(samplers: Samplers, tracker: &TaskTracker, stop: CancellationToken) {
    metrics::install();
    tracker.spawn(async move {
        metrics::db_pool_max(samplers.max_connections);
        let mut tick: u64 = 0;
        let mut channel: Option<lapin::Channel> = None;
        loop {
            let size = samplers.db.size();
            let idle = samplers.db.num_idle() as u32;
            metrics::db_pool(size.saturating_sub(idle), idle);
            if tick.is_multiple_of(5) {
                metrics::run_upkeep();
                if samplers.outbox {
                    sample_outbox(&samplers.db).await;
                }
                if let Some((broker, amqp)) = &samplers.queues {
                    sample_queues(broker, amqp, &mut channel, &stop).await;
                }
            }
            tick += 1;
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    });
}

/// Every [`KEY_GENERATION_POLL`]: reads the API-key generation and, when it changed (or on
/// the first read), empties this process's refused keys ([`crate::state::KeyCache`]). While
/// the database cannot be read the refused keys are kept; the first read afterwards sees any
/// change made meanwhile.
pub fn spawn_key_generation_poll(state: AppState, tracker: &TaskTracker, stop: CancellationToken) {
    tracker.spawn(async move {
        let mut missing_logged = false;
        loop {
            match crate::db::customers::key_generation(&state.db).await {
                Ok(Some(generation)) => {
                    if state.key_cache.observe_generation(generation) {
                        tracing::debug!(generation, "API-key generation changed; refused keys forgotten");
                    }
                }
                Ok(None) => {
                    // No generation to follow: refusals are remembered for one poll only.
                    state.key_cache.forget_refused();
                    if !missing_logged {
                        missing_logged = true;
                        tracing::warn!(
                            "the api_key_generation row is missing; refused API keys are forgotten every poll"
                        );
                    }
                }
                Err(e) => tracing::debug!(error = %e, "cannot read the API-key generation"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(KEY_GENERATION_POLL) => {}
            }
        }
    });
}

async fn sample_outbox(db: &MySqlPool) {
    for lane in [SmsType::Express, SmsType::Normal] {
        match crate::db::outbox::backlog(db, lane.priority()).await {
            Ok(n) => metrics::outbox_backlog(lane, n),
            Err(e) => tracing::debug!(error = %e, "cannot sample the outbox backlog"),
        }
        match crate::db::outbox::scheduled_totals(db, lane).await {
            Ok((requests, recipients)) => metrics::scheduled(lane, requests, recipients),
            Err(e) => tracing::debug!(error = %e, "cannot sample the scheduled counters"),
        }
    }
    match crate::db::callbacks::totals(db).await {
        Ok((pending, parked)) => metrics::callback_backlog(pending, parked),
        Err(e) => tracing::debug!(error = %e, "cannot sample the callback outbox"),
    }
}

async fn sample_queues(
    broker: &Broker,
    amqp: &AmqpConfig,
    channel: &mut Option<lapin::Channel>,
    stop: &CancellationToken,
) {
    if channel.as_ref().is_none_or(|c| !c.status().connected()) {
        *channel = None;
        if !broker.is_connected() {
            return;
        }
        let Some(conn) = broker.connection(stop).await else {
            return;
        };
        // The queues are declared first (idempotent, as every publisher and consumer does):
        // a passive declare of a queue that does not exist yet, at the first start on a fresh
        // broker, would close the channel and make lapin log an error.
        let opened = match conn.create_channel().await {
            Ok(c) => topology::declare(&c, amqp).await.map(|()| c),
            Err(e) => Err(e),
        };
        match opened {
            Ok(c) => *channel = Some(c),
            Err(e) => {
                tracing::debug!(error = %e, "cannot open a channel to sample queue depth");
                return;
            }
        }
    }
    let Some(ch) = channel.as_ref() else { return };
    for lane in [SmsType::Express, SmsType::Normal] {
        match topology::depth(ch, amqp, lane).await {
            Ok(n) => metrics::queue_messages(lane, n),
            Err(e) => {
                tracing::debug!(error = %e, "cannot sample queue depth");
                *channel = None;
                return;
            }
        }
    }
    match topology::dead_letter_depth(ch, amqp).await {
        Ok(n) => metrics::dead_letters(n),
        Err(e) => {
            tracing::debug!(error = %e, "cannot sample the dead-letter queue");
            *channel = None;
        }
    }
}
