//! Delivery-status callbacks: the dispatcher that posts the callback outbox's events
//! (`db::callbacks`, written in the transaction of each state change) to the customers'
//! endpoints, signed ([`signing`]), batched per customer, retried with backoff and parked
//! when `CALLBACK_RETRY_PERIOD_SECS` is over.
//!
//! A round claims, in one short transaction, the due events of the customers whose events
//! waited longest (of those it is not serving now) and hands each customer's events to a
//! task of its own, which waits for one of `CALLBACK_CONCURRENCY` slots and posts them a
//! batch at a time;
//! the outcomes are settled ([`settle`]: deletes, retries, the delivery log) by one task for
//! all customers, a few statements for many POSTs. A slow or dead endpoint holds its own task until its timeout
//! and delays nobody else; its failed events wait out their own backoff (`next_attempt_at`).
//! Nothing here is on the sending path: the worker only inserts rows.

pub mod guard;
pub mod payload;
pub mod post;
mod settle;
pub mod signing;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use sqlx::MySqlPool;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backoff::{Backoff, Jitter};
use crate::config::CallbacksConfig;
use crate::db::callbacks::{self as repo, EventRow, settings};
use crate::db::retry_transient;
use payload::{CallbackBatch, CallbackEvent};
use post::Poster;
use settle::Settled;

/// Due events one round looks at, at most: the oldest, in the due index's order.
const PEEK_MAX: u32 = 4_000;

/// Customers claimed at once per slot (`CALLBACK_CONCURRENCY`): those beyond the slots wait
/// for one, at most `CALLBACK_TIMEOUT_MS`, then give their events back.
const CUSTOMERS_PER_SLOT: usize = 4;

/// A customer's events claimed by one round at most, in `CALLBACK_BATCH_MAX`s (so its task
/// posts at most this many batches per URL before its lease could run out).
const BATCHES_PER_CLAIM: u32 = 2;

/// The callback dispatcher of a process.
pub struct Dispatcher {
    db: MySqlPool,
    config: CallbacksConfig,
    poster: Poster,
    /// Customers being served by this process now (their events are not claimed again).
    in_flight: Mutex<HashSet<i64>>,
    slots: Arc<Semaphore>,
    /// Customers served since the last [`Dispatcher::run_once`] (tests).
    served: AtomicUsize,
}

impl Dispatcher {
    /// A dispatcher (not started).
    pub fn new(db: MySqlPool, config: CallbacksConfig) -> anyhow::Result<Arc<Self>> {
        let poster = Poster::new(&config).context("building the callback HTTP client")?;
        Ok(Arc::new(Self {
            db,
            slots: Arc::new(Semaphore::new(config.concurrency)),
            config,
            poster,
            in_flight: Mutex::new(HashSet::new()),
            served: AtomicUsize::new(0),
        }))
    }

    /// Starts the dispatch loop, its settler and the pruning of the delivery log.
    pub fn spawn(self: &Arc<Self>, tracker: &TaskTracker, stop: &CancellationToken) {
        let (tx, rx) = mpsc::unbounded_channel();
        tracker.spawn(self.clone().settle_until_closed(rx));
        tracker.spawn(
            self.clone()
                .run_until_stopped(tx, tracker.clone(), stop.clone()),
        );
        tracker.spawn(self.clone().prune_until_stopped(stop.clone()));
    }

    /// Claims and hands out due events: every `CALLBACK_POLL_MS`, or again at once while more
    /// were due than a round looks at (and customers can still be claimed). The settler's
    /// channel closes when this and every task it started have ended.
    async fn run_until_stopped(
        self: Arc<Self>,
        settled: mpsc::UnboundedSender<Settled>,
        tracker: TaskTracker,
        stop: CancellationToken,
    ) {
        loop {
            let full = match self.start_round(&settled, &tracker).await {
                Ok(peeked) => peeked == PEEK_MAX as usize,
                Err(e) => {
                    tracing::warn!(error = %e, "callback round failed");
                    false
                }
            };
            let pause = if full {
                Duration::ZERO
            } else {
                self.config.poll
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// How long claimed events are held: a wait for a slot and the POSTs of
    /// [`BATCHES_PER_CLAIM`] batches (each at most the timeout), and a margin.
    fn lease(&self) -> Duration {
        self.config.timeout * (1 + BATCHES_PER_CLAIM + 1) + Duration::from_secs(10)
    }

    /// One round for tests: claims every due event, posts them and settles the outcomes
    /// before it returns. Returns how many customers were served.
    pub async fn run_once(self: &Arc<Self>) -> anyhow::Result<usize> {
        let tracker = TaskTracker::new();
        let (tx, rx) = mpsc::unbounded_channel();
        let claimed = self.start_round(&tx, &tracker).await;
        drop(tx);
        tracker.close();
        tracker.wait().await;
        self.clone().settle_until_closed(rx).await;
        claimed?;
        Ok(self.served.swap(0, Ordering::Relaxed))
    }

    /// Claims the due events of the customers whose events waited longest (of those not
    /// being served now, at most [`CUSTOMERS_PER_SLOT`] per slot in all) and starts a task
    /// per customer, which waits for a slot; returns how many due events it looked at.
    async fn start_round(
        self: &Arc<Self>,
        settled: &mpsc::UnboundedSender<Settled>,
        tracker: &TaskTracker,
    ) -> anyhow::Result<usize> {
        let skip: Vec<i64> = self
            .in_flight
            .lock()
            .expect("not poisoned")
            .iter()
            .copied()
            .collect();
        let room = (self.config.concurrency * CUSTOMERS_PER_SLOT).saturating_sub(skip.len());
        if room == 0 {
            return Ok(0);
        }
        let per_customer = (self.config.batch_max * BATCHES_PER_CLAIM) as usize;
        let lease_ms = self.lease().as_millis() as u64;
        let repo::Claimed { ids, peeked } =
            repo::claim(&self.db, &skip, PEEK_MAX, room, per_customer, lease_ms).await?;
        if ids.is_empty() {
            return Ok(peeked);
        }
        let rows = repo::load(&self.db, &ids).await?;
        // Events without a status row (pruned history), or whose request and customer have
        // no URL any more, have nowhere to go.
        let loaded: HashSet<i64> = rows.iter().map(|r| r.id).collect();
        let mut dropped: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !loaded.contains(id))
            .collect();
        // Customers in the order of their oldest event: the tasks queue for slots in that
        // order, so those whose events waited longest go first.
        let mut by_customer: Vec<(i64, Vec<EventRow>)> = Vec::new();
        let mut position: HashMap<i64, usize> = HashMap::new();
        for row in rows {
            if row.url.is_none() {
                dropped.push(row.id);
                continue;
            }
            let at = *position.entry(row.customer_id).or_insert_with(|| {
                by_customer.push((row.customer_id, Vec::new()));
                by_customer.len() - 1
            });
            by_customer[at].1.push(row);
        }
        if !dropped.is_empty() {
            repo::delete(&self.db, &dropped).await?;
            crate::metrics::callback_events("dropped", dropped.len() as u64);
        }
        for (customer_id, events) in by_customer {
            self.in_flight
                .lock()
                .expect("not poisoned")
                .insert(customer_id);
            self.served.fetch_add(1, Ordering::Relaxed);
            let me = self.clone();
            let settled = settled.clone();
            tracker.spawn(async move {
                me.serve_when_a_slot_is_free(customer_id, events, &settled)
                    .await;
                me.in_flight
                    .lock()
                    .expect("not poisoned")
                    .remove(&customer_id);
            });
        }
        Ok(peeked)
    }

    /// Waits for a slot (at most `CALLBACK_TIMEOUT_MS`, or the events go back to be claimed
    /// again, well within their lease) and posts the customer's events.
    async fn serve_when_a_slot_is_free(
        &self,
        customer_id: i64,
        events: Vec<EventRow>,
        settled: &mpsc::UnboundedSender<Settled>,
    ) {
        let Ok(permit) =
            tokio::time::timeout(self.config.timeout, self.slots.clone().acquire_owned()).await
        else {
            let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
            if let Err(e) = retry_transient(3, || repo::release(&self.db, &ids)).await {
                tracing::warn!(customer.id = customer_id, error = %e, "giving callback events back failed; they are claimed again after their lease");
            }
            return;
        };
        if let Err(e) = self.serve_customer(customer_id, events, settled).await {
            tracing::warn!(customer.id = customer_id, error = %e, "serving callbacks failed");
        }
        drop(permit);
    }

    /// Posts one customer's claimed events, a batch per URL and at most
    /// `CALLBACK_BATCH_MAX` events a POST, one POST after the other.
    async fn serve_customer(
        &self,
        customer_id: i64,
        events: Vec<EventRow>,
        settled: &mpsc::UnboundedSender<Settled>,
    ) -> anyhow::Result<()> {
        let mut by_url: Vec<(String, Vec<&EventRow>)> = Vec::new();
        for row in &events {
            let url = row.url.clone().unwrap_or_default();
            match by_url.iter_mut().find(|(u, _)| *u == url) {
                Some((_, group)) => group.push(row),
                None => by_url.push((url, vec![row])),
            }
        }
        let secrets = self.secrets(customer_id, &events[0]).await?;
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        for (url, group) in &by_url {
            for batch in group.chunks(self.config.batch_max as usize) {
                let outcome = self.post_batch(url, batch, &secrets).await?;
                let _ = settled.send(Settled::of(customer_id, url, batch, outcome));
            }
        }
        Ok(())
    }

    /// The customer's signing secrets as loaded with its events, the current one first (one
    /// is created when it has none: a request's own `callback_url` needs no settings).
    async fn secrets(&self, customer_id: i64, row: &EventRow) -> anyhow::Result<Vec<String>> {
        if let Some(secret) = &row.secret {
            return Ok(std::iter::once(secret.clone())
                .chain(row.previous_secret.clone())
                .collect());
        }
        settings::ensure_secret(&self.db, customer_id, &signing::new_secret()).await?;
        let s = settings::get(&self.db, customer_id)
            .await?
            .context("the customer is gone")?;
        Ok(s.secret.into_iter().chain(s.previous_secret).collect())
    }

    /// One signed POST; its outcome and duration.
    async fn post_batch(
        &self,
        url: &str,
        batch: &[&EventRow],
        secrets: &[&str],
    ) -> anyhow::Result<(post::PostOutcome, Duration)> {
        let body = CallbackBatch {
            events: batch.iter().map(|r| CallbackEvent::from(*r)).collect(),
        };
        let body = serde_json::to_vec(&body)?;
        let signature = signing::signature_header(Utc::now().timestamp(), &body, secrets);
        let started = Instant::now();
        let outcome = self.poster.post(url, &signature, body).await;
        let took = started.elapsed();
        crate::metrics::callback_post(outcome.as_str(), took);
        if let post::PostOutcome::Delivered(_) = outcome {
            let now = Utc::now();
            for row in batch {
                if let Ok(lag) = (now - row.occurred_at).to_std() {
                    crate::metrics::callback_lag(lag);
                }
            }
        }
        Ok((outcome, took))
    }

    /// The wait before try `n + 1` of a failed event: `CALLBACK_RETRY_BASE_MS` doubling up to
    /// `CALLBACK_RETRY_MAX_SECS`, with 20 % jitter.
    fn retry_delay(&self, n: u32) -> Duration {
        Backoff::new(self.config.retry_base, self.config.retry_max)
            .with_jitter(Jitter::between(0.8, 1.2))
            .delay_for(n)
    }

    /// The target check of the dispatcher's client (the settings endpoint uses it too).
    pub fn guard(&self) -> &guard::Guard {
        self.poster.guard()
    }

    /// Once a minute: deletes delivery-log rows older than `CALLBACK_LOG_DAYS`.
    async fn prune_until_stopped(self: Arc<Self>, stop: CancellationToken) {
        loop {
            loop {
                match repo::log::prune(&self.db, self.config.log_days, 1_000).await {
                    Ok(1_000) if !stop.is_cancelled() => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "pruning the callback log failed");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            }
        }
    }
}
