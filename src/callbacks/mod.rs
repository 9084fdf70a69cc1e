//! Delivery-status callbacks: the dispatcher that posts the callback outbox's events
//! (`db::callbacks`, written in the transaction of each state change) to the customers'
//! endpoints, signed ([`signing`]), batched per customer, retried with backoff and parked
//! when `CALLBACK_RETRY_PERIOD_SECS` is over.
//!
//! Isolation: a round claims the customers with due events; each customer is served by a
//! task of its own, at most one per customer in a process and at most `CALLBACK_CONCURRENCY`
//! in all, so a slow or dead endpoint holds one task (until its timeout) and delays nobody
//! else; its failed events wait out their own backoff (`next_attempt_at`) while others'
//! events flow. Nothing here is on the sending path: the worker only inserts rows.

pub mod guard;
pub mod payload;
pub mod post;
pub mod signing;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use sqlx::MySqlPool;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backoff::{Backoff, Jitter};
use crate::config::CallbacksConfig;
use crate::db::callbacks::{self as repo, EventRow, log, settings};
use payload::{CallbackBatch, CallbackEvent};
use post::{PostOutcome, Poster};

/// The callback dispatcher of a process.
pub struct Dispatcher {
    db: MySqlPool,
    config: CallbacksConfig,
    poster: Poster,
    /// Customers being served by this process now.
    in_flight: Mutex<HashSet<i64>>,
    slots: Arc<Semaphore>,
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
        }))
    }

    /// Starts the dispatch loop and the pruning of the delivery log.
    pub fn spawn(self: &Arc<Self>, tracker: &TaskTracker, stop: &CancellationToken) {
        tracker.spawn(
            self.clone()
                .run_until_stopped(tracker.clone(), stop.clone()),
        );
        tracker.spawn(self.clone().prune_until_stopped(stop.clone()));
    }

    /// Every `CALLBACK_POLL_MS`: serves the customers with due events, each in a task of its
    /// own, without waiting for them.
    pub async fn run_until_stopped(self: Arc<Self>, tracker: TaskTracker, stop: CancellationToken) {
        loop {
            if let Err(e) = self.start_round(&tracker, &stop).await {
                tracing::warn!(error = %e, "callback round failed");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(self.config.poll) => {}
            }
        }
    }

    /// One round for tests: serves every customer with due events and waits until they are
    /// served. Returns how many customers were.
    pub async fn run_once(self: &Arc<Self>) -> anyhow::Result<usize> {
        let tracker = TaskTracker::new();
        let started = self
            .start_round(&tracker, &CancellationToken::new())
            .await?;
        tracker.close();
        tracker.wait().await;
        Ok(started)
    }

    async fn start_round(
        self: &Arc<Self>,
        tracker: &TaskTracker,
        stop: &CancellationToken,
    ) -> anyhow::Result<usize> {
        let free = self.slots.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let due = repo::due_customers(&self.db, (free * 2).min(1_000) as u32).await?;
        let mut started = 0;
        for customer_id in due {
            if !self
                .in_flight
                .lock()
                .expect("not poisoned")
                .insert(customer_id)
            {
                continue;
            }
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                self.in_flight
                    .lock()
                    .expect("not poisoned")
                    .remove(&customer_id);
                break;
            };
            let me = self.clone();
            let stop = stop.clone();
            started += 1;
            tracker.spawn(async move {
                if let Err(e) = me.serve_customer(customer_id, &stop).await {
                    tracing::warn!(customer.id = customer_id, error = %e, "serving callbacks failed");
                }
                me.in_flight.lock().expect("not poisoned").remove(&customer_id);
                drop(permit);
            });
        }
        Ok(started)
    }

    /// Posts a customer's due events, a batch at a time, while full batches come.
    async fn serve_customer(
        &self,
        customer_id: i64,
        stop: &CancellationToken,
    ) -> anyhow::Result<()> {
        let lease_ms = (self.config.timeout + Duration::from_secs(10)).as_millis() as u64;
        loop {
            let ids = repo::claim(&self.db, customer_id, self.config.batch_max, lease_ms).await?;
            if ids.is_empty() {
                return Ok(());
            }
            let full = ids.len() as u32 == self.config.batch_max;
            let rows = repo::load(&self.db, &ids).await?;
            // Events without a status row, or whose request and customer have no URL any
            // more, have nowhere to go.
            let mut dropped: Vec<i64> = ids
                .iter()
                .copied()
                .filter(|id| !rows.iter().any(|r| r.id == *id))
                .collect();
            dropped.extend(rows.iter().filter(|r| r.url.is_none()).map(|r| r.id));
            if !dropped.is_empty() {
                repo::delete(&self.db, &dropped).await?;
                crate::metrics::callback_events("dropped", dropped.len() as u64);
            }
            let mut by_url: Vec<(&str, Vec<&EventRow>)> = Vec::new();
            for row in &rows {
                let Some(url) = row.url.as_deref() else {
                    continue;
                };
                match by_url.iter_mut().find(|(u, _)| *u == url) {
                    Some((_, group)) => group.push(row),
                    None => by_url.push((url, vec![row])),
                }
            }
            for (url, group) in by_url {
                self.post_group(customer_id, url, &group).await?;
            }
            if !full || stop.is_cancelled() {
                return Ok(());
            }
        }
    }

    /// The customer's signing secrets, the current one first (created when it has none).
    async fn secrets(&self, customer_id: i64) -> anyhow::Result<Vec<String>> {
        let mut s = settings::get(&self.db, customer_id).await?;
        if s.as_ref().is_some_and(|s| s.secret.is_none()) {
            settings::ensure_secret(&self.db, customer_id, &signing::new_secret()).await?;
            s = settings::get(&self.db, customer_id).await?;
        }
        let s = s.context("the customer is gone")?;
        Ok(s.secret.into_iter().chain(s.previous_secret).collect())
    }

    /// One POST of one customer's events to one URL, and what follows from its outcome.
    async fn post_group(
        &self,
        customer_id: i64,
        url: &str,
        group: &[&EventRow],
    ) -> anyhow::Result<()> {
        let ids: Vec<i64> = group.iter().map(|r| r.id).collect();
        let batch = CallbackBatch {
            events: group.iter().map(|r| CallbackEvent::from(*r)).collect(),
        };
        let body = serde_json::to_vec(&batch)?;
        let secrets = self.secrets(customer_id).await?;
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let signature = signing::signature_header(Utc::now().timestamp(), &body, &secrets);
        let started = Instant::now();
        let outcome = self.poster.post(url, &signature, body).await;
        let took = started.elapsed();
        crate::metrics::callback_post(outcome.as_str(), took);
        let error = outcome.error();
        log::insert(
            &self.db,
            &log::NewDelivery {
                customer_id,
                url,
                events: ids.len(),
                outcome: outcome.as_str(),
                http_status: outcome.http_status(),
                error: error.as_deref(),
                duration_ms: took.as_millis() as u64,
            },
        )
        .await?;
        if let PostOutcome::Delivered(_) = outcome {
            repo::delete(&self.db, &ids).await?;
            crate::metrics::callback_events("delivered", ids.len() as u64);
            let now = Utc::now();
            for row in group {
                if let Ok(lag) = (now - row.occurred_at).to_std() {
                    crate::metrics::callback_lag(lag);
                }
            }
            return Ok(());
        }
        let attempts = group.iter().map(|r| r.attempts).max().unwrap_or(0);
        let delay = self.retry_delay(attempts.max(0) as u32 + 1);
        let error = error.unwrap_or_default();
        let retried = repo::retry_later(
            &self.db,
            &ids,
            delay.as_millis() as u64,
            self.config.retry_period.as_secs(),
            &error,
        )
        .await?;
        crate::metrics::callback_events("retried", retried.pending);
        crate::metrics::callback_events("parked", retried.parked);
        tracing::info!(customer.id = customer_id, outcome = outcome.as_str(), error = %error,
            events = ids.len(), parked = retried.parked, retry_in_ms = delay.as_millis() as u64,
            "callback not delivered");
        Ok(())
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
                match log::prune(&self.db, self.config.log_days, 1_000).await {
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
