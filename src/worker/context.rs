//! What delivering needs, per process: the pool, the operators, the lease, and per lane its
//! turns at the database and its coalesced transactions (claim, record SENT).

use std::sync::Arc;
use std::time::Duration;

use sqlx::MySqlPool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::coalesce::Coalescer;
use crate::db::delivery::{self as repo, OpenRecipient};
use crate::db::retry_transient;
use crate::domain::SmsType;
use crate::operators::OperatorRegistry;

/// Recipients per coalesced transaction (of several messages' chunks).
const COALESCE_MAX: usize = 256;
/// Runs of a delivery transaction that lost a deadlock before the error reaches the worker.
/// Every one is conditional on the row's state (and a refund's id is unique), so a repeat
/// does nothing twice; giving up early would leave recipients SENDING until their lease runs
/// out, and then send them again.
pub(super) const TRIES: u32 = 3;

/// What delivering needs.
pub struct DeliveryContext {
    pub db: MySqlPool,
    pub operators: Arc<OperatorRegistry>,
    /// Retry window of requests without `validity_seconds`.
    pub default_validity: Duration,
    /// Lease on a recipient being sent (`DELIVERY_LEASE_SECS`): after it, a dead worker's
    /// recipient is taken again by the sweeper.
    pub lease: Duration,
    /// Per lane (express, normal): its turns at the database and its coalesced
    /// transactions.
    lanes: [LaneBatches; 2],
}

/// The database side of one lane.
pub(super) struct LaneBatches {
    /// Turns at the database (`WORKERS_NORMAL_DB` for normal; none, so no wait, for express).
    turns: Option<Arc<Semaphore>>,
    /// Recipients taken and recorded SENT for every message in progress at once (see
    /// [`super::coalesce`]); each run takes a turn.
    pub(super) claim: Coalescer<i64, OpenRecipient, sqlx::Error>,
    pub(super) mark_sent: Coalescer<(i64, String, String), i64, sqlx::Error>,
}

impl LaneBatches {
    /// The lane's executors; each run takes one of `turns` first, when given.
    fn start(db: &MySqlPool, lease: Duration, turns: Option<Arc<Semaphore>>) -> Self {
        let lease_secs = lease.as_secs();
        let claim_db = db.clone();
        let mark_db = db.clone();
        let claim_turns = turns.clone();
        let mark_turns = turns.clone();
        Self {
            turns,
            claim: Coalescer::start(
                COALESCE_MAX,
                move |ids: Vec<i64>| {
                    let db = claim_db.clone();
                    let turns = claim_turns.clone();
                    async move {
                        let _turn = take_turn(turns).await;
                        retry_transient(TRIES, || repo::claim_many(&db, &ids, lease_secs)).await
                    }
                },
                |id| *id,
                |r| r.id,
            ),
            mark_sent: Coalescer::start(
                COALESCE_MAX,
                move |sent: Vec<(i64, String, String)>| {
                    let db = mark_db.clone();
                    let turns = mark_turns.clone();
                    async move {
                        let _turn = take_turn(turns).await;
                        retry_transient(TRIES, || repo::mark_sent_many(&db, &sent)).await
                    }
                },
                |(id, _, _)| *id,
                |id| *id,
            ),
        }
    }
}

/// One of `turns`, when given.
async fn take_turn(turns: Option<Arc<Semaphore>>) -> Option<OwnedSemaphorePermit> {
    match turns {
        Some(turns) => Some(
            turns
                .acquire_owned()
                .await
                .expect("the semaphore is never closed"),
        ),
        None => None,
    }
}

impl DeliveryContext {
    /// A context whose normal lane runs at most `normal_db_turns` database transactions at
    /// once.
    pub fn new(
        db: MySqlPool,
        operators: Arc<OperatorRegistry>,
        default_validity: Duration,
        lease: Duration,
        normal_db_turns: usize,
    ) -> Self {
        let normal_turns = Arc::new(Semaphore::new(normal_db_turns.max(1)));
        let lanes = [
            LaneBatches::start(&db, lease, None),
            LaneBatches::start(&db, lease, Some(normal_turns)),
        ];
        Self {
            db,
            operators,
            default_validity,
            lease,
            lanes,
        }
    }

    pub(super) fn batches(&self, lane: SmsType) -> &LaneBatches {
        match lane {
            SmsType::Express => &self.lanes[0],
            SmsType::Normal => &self.lanes[1],
        }
    }

    /// Waits for a turn at the database when `lane` is normal; express never waits. Without
    /// turns, many normal deliveries each running their own transactions made express wait
    /// behind them in the database, and deadlocked among themselves (docs/DESIGN.md, B4 in
    /// docs/BENCHMARKS.md).
    pub(super) async fn db_turn(&self, lane: SmsType) -> Option<OwnedSemaphorePermit> {
        take_turn(self.batches(lane).turns.clone()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OperatorConfig;
    use crate::operators::OperatorRegistry;

    #[tokio::test]
    async fn the_normal_lane_waits_for_a_database_turn_and_express_never_does() {
        let db = sqlx::mysql::MySqlPoolOptions::new()
            .connect_lazy("mysql://nobody@127.0.0.1:1/none")
            .unwrap();
        let op = OperatorConfig::new("a", "http://127.0.0.1:1", "k".to_string().into());
        let operators = Arc::new(OperatorRegistry::from_config(&[op], &[]).unwrap());
        let ctx = DeliveryContext::new(
            db,
            operators,
            Duration::from_secs(60),
            Duration::from_secs(60),
            2,
        );
        let wait = Duration::from_millis(50);
        let first = ctx.db_turn(SmsType::Normal).await;
        let _second = ctx.db_turn(SmsType::Normal).await;
        assert!(first.is_some());
        assert!(
            tokio::time::timeout(wait, ctx.db_turn(SmsType::Normal))
                .await
                .is_err(),
            "a third normal transaction waits"
        );
        let express = tokio::time::timeout(wait, ctx.db_turn(SmsType::Express)).await;
        assert!(matches!(express, Ok(None)), "express does not wait");
        drop(first);
        assert!(
            tokio::time::timeout(wait, ctx.db_turn(SmsType::Normal))
                .await
                .is_ok(),
            "a freed turn is taken"
        );
    }
}
