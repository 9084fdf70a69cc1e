//! Settling what the POSTs came to, for every customer at once: the delivered events deleted
//! in one statement, the failed ones due again after their backoff (or parked), and one
//! multi-row insert into the delivery log, for as many outcomes as have arrived meanwhile.
//! A settlement that fails leaves its events claimed until their lease runs out; they are
//! then posted again (delivery is at least once).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Dispatcher;
use super::post::PostOutcome;
use crate::db::callbacks::{self as repo, EventRow, log};
use crate::db::retry_transient;

/// Outcomes settled together at most.
const SETTLE_MAX: usize = 1_000;

/// What one POST came to.
pub(super) struct Settled {
    customer_id: i64,
    url: String,
    ids: Vec<i64>,
    /// The most tries any of its events had before this one.
    attempts: i32,
    outcome: PostOutcome,
    took: Duration,
}

impl Settled {
    pub(super) fn of(
        customer_id: i64,
        url: &str,
        batch: &[&EventRow],
        (outcome, took): (PostOutcome, Duration),
    ) -> Self {
        Self {
            customer_id,
            url: url.to_string(),
            ids: batch.iter().map(|r| r.id).collect(),
            attempts: batch.iter().map(|r| r.attempts).max().unwrap_or(0),
            outcome,
            took,
        }
    }
}

impl Dispatcher {
    /// Settles outcomes as they come, until every sender is gone.
    pub(super) async fn settle_until_closed(
        self: Arc<Self>,
        mut rx: mpsc::UnboundedReceiver<Settled>,
    ) {
        while let Some(first) = rx.recv().await {
            let mut items = vec![first];
            while items.len() < SETTLE_MAX {
                match rx.try_recv() {
                    Ok(item) => items.push(item),
                    Err(_) => break,
                }
            }
            if let Err(e) = self.settle(&items).await {
                tracing::warn!(error = %e, posts = items.len(), "settling callback POSTs failed; their events are posted again after their lease");
            }
        }
    }

    async fn settle(&self, items: &[Settled]) -> Result<(), sqlx::Error> {
        let delivered: Vec<i64> = items
            .iter()
            .filter(|i| matches!(i.outcome, PostOutcome::Delivered(_)))
            .flat_map(|i| i.ids.iter().copied())
            .collect();
        if !delivered.is_empty() {
            retry_transient(3, || repo::delete(&self.db, &delivered)).await?;
            crate::metrics::callback_events("delivered", delivered.len() as u64);
        }
        for item in items
            .iter()
            .filter(|i| !matches!(i.outcome, PostOutcome::Delivered(_)))
        {
            let delay = self.retry_delay(item.attempts.max(0) as u32 + 1);
            let error = item.outcome.error().unwrap_or_default();
            let retried = retry_transient(3, || {
                repo::retry_later(
                    &self.db,
                    &item.ids,
                    delay.as_millis() as u64,
                    self.config.retry_period.as_secs(),
                    &error,
                )
            })
            .await?;
            crate::metrics::callback_events("retried", retried.pending);
            crate::metrics::callback_events("parked", retried.parked);
            tracing::info!(customer.id = item.customer_id, outcome = item.outcome.as_str(),
                error = %error, events = item.ids.len(), parked = retried.parked,
                retry_in_ms = delay.as_millis() as u64, "callback not delivered");
        }
        let errors: Vec<Option<String>> = items.iter().map(|i| i.outcome.error()).collect();
        let rows: Vec<log::NewDelivery<'_>> = items
            .iter()
            .zip(&errors)
            .map(|(i, error)| log::NewDelivery {
                customer_id: i.customer_id,
                url: &i.url,
                events: i.ids.len(),
                outcome: i.outcome.as_str(),
                http_status: i.outcome.http_status(),
                error: error.as_deref(),
                duration_ms: i.took.as_millis() as u64,
            })
            .collect();
        retry_transient(3, || log::insert(&self.db, &rows)).await
    }
}
