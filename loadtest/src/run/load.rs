//! The two shapes of load: the open loop sends each request at its due time whatever happened
//! to the earlier ones (`--rate`); the closed loop keeps a fixed number in flight
//! (`--concurrency`). Both hand every outcome to the collector's channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};

use super::send::{Outcome, Shared};
use crate::clock::now_us;
use crate::schedule::RateSchedule;

/// Open loop: sends the requests of `schedule` for `duration` from `start` (`start_us` on the
/// [`now_us`] clock), with at most `connections` in flight, and waits for the last answers.
pub async fn open_loop(
    shared: &Arc<Shared>,
    schedule: RateSchedule,
    duration: Duration,
    connections: usize,
    start: Instant,
    start_us: u64,
    tx: &mpsc::UnboundedSender<Outcome>,
) {
    let total = schedule.total(duration);
    let permits = Arc::new(Semaphore::new(connections));
    let mut next = 0u64;
    while next < total {
        let due_now = schedule.due_by(start.elapsed()).min(total);
        while next < due_now {
            let due = schedule.due(next);
            // Waits when every connection is busy: the client runs behind schedule, and the
            // latency (from the due time) shows it.
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let lag = start.elapsed().saturating_sub(due).as_micros() as u64;
            shared.counters.max_lag_us.fetch_max(lag, Ordering::Relaxed);
            let shared = shared.clone();
            let tx = tx.clone();
            let seq = next;
            let started_us = start_us + due.as_micros() as u64;
            tokio::spawn(async move {
                let outcome = shared.send(seq, started_us).await;
                drop(permit);
                let _ = tx.send(outcome);
            });
            next += 1;
        }
        if next < total {
            tokio::time::sleep_until((start + schedule.due(next)).into()).await;
        }
    }
    // Wait for the last answers.
    let _ = permits.acquire_many(connections as u32).await;
}

/// Closed loop: `concurrency` tasks each send one request after another until `duration` has
/// passed or `limit` requests have been sent.
pub async fn closed_loop(
    shared: &Arc<Shared>,
    concurrency: usize,
    duration: Duration,
    limit: Option<u64>,
    tx: &mpsc::UnboundedSender<Outcome>,
) {
    let limit = limit.unwrap_or(u64::MAX);
    let next = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let shared = shared.clone();
        let next = next.clone();
        let tx = tx.clone();
        tasks.spawn(async move {
            while Instant::now() < deadline {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= limit {
                    break;
                }
                let outcome = shared.send(seq, now_us()).await;
                let _ = tx.send(outcome);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}
