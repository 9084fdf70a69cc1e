//! What delivering needs, per process: the pool, the operators, the lease, the attempt cap,
//! the local mirror of the pause switch, and per lane its turns at the database and its
//! coalesced transactions (take, record SENT) and its count of recipients recorded SENT.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use sqlx::MySqlPool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::coalesce::Coalescer;
use crate::db::delivery::{self as repo, OpenRecipient};
use crate::db::retry_transient;
use crate::db::sent::{self, Acceptance, RecordResult};
use crate::db::slices::{self, Loaded, SliceKey};
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
    /// `DELIVERY_MAX_ATTEMPTS`: takes of one recipient before it is failed and refunded.
    pub max_attempts: u32,
    /// This process's copy of the shared pause switch (mirrored by the worker pool): a
    /// recipient taken before a pause is given back, not sent, when the pause is seen before
    /// its operator call.
    paused: AtomicBool,
    /// Per lane (express, normal): its turns at the database and its coalesced
    /// transactions.
    lanes: [LaneBatches; 2],
    /// Labels of slice loads (two messages may name the same request).
    loads: AtomicI64,
}

/// A slice to load, labelled for the coalescer.
#[derive(Debug, Clone, Copy)]
pub(super) struct LoadInput {
    token: i64,
    key: SliceKey,
}

/// What the take of one id gave.
#[derive(Debug, Clone)]
pub(super) enum Take {
    /// Taken, with its new attempt number.
    Taken(OpenRecipient),
    /// Dispatch is paused: not taken.
    Paused(i64),
}

impl Take {
    fn id(&self) -> i64 {
        match self {
            Self::Taken(r) => r.id,
            Self::Paused(id) => *id,
        }
    }
}

/// The database side of one lane.
pub(super) struct LaneBatches {
    /// Turns at the database (`WORKERS_NORMAL_DB` for normal; none, so no wait, for express).
    turns: Option<Arc<Semaphore>>,
    /// The requests and open recipients of every message starting at once, read together
    /// (two statements per run, not two per message); each run takes a turn.
    load: Coalescer<LoadInput, (i64, Option<Loaded>), sqlx::Error>,
    /// Recipients taken for every message in progress at once (see [`super::coalesce`]);
    /// each run takes a turn.
    pub(super) claim: Coalescer<i64, Take, sqlx::Error>,
    /// Sends recorded SENT as each operator call returns, coalesced with whatever else is
    /// ready. Recording takes no turn: a send that went out is recorded before anything
    /// else of its lane waits on the database, so a crash repeats as little as possible.
    record: Vec<Coalescer<Acceptance, (i64, RecordResult), std::convert::Infallible>>,
    /// Recipients recorded SENT since the last flush to `lane_sent` ([`super::throughput`]).
    sent: AtomicU64,
}

impl LaneBatches {
    /// The lane's executors; each take takes one of `turns` first, when given.
    /// `record_shards` record transactions run at once (`RECORD_SHARDS`).
    fn start(
        db: &MySqlPool,
        lease: Duration,
        turns: Option<Arc<Semaphore>>,
        record_shards: usize,
    ) -> Self {
        let lease_secs = lease.as_secs();
        let claim_db = db.clone();
        let record_db = db.clone();
        let claim_turns = turns.clone();
        let load_db = db.clone();
        let load_turns = turns.clone();
        Self {
            turns,
            load: Coalescer::start(
                slices::MAX_SLICES,
                move |inputs: Vec<LoadInput>| {
                    let db = load_db.clone();
                    let turns = load_turns.clone();
                    async move {
                        let _turn = take_turn(turns).await;
                        let keys: Vec<SliceKey> = inputs.iter().map(|i| i.key).collect();
                        let loaded = retry_transient(TRIES, || {
                            slices::load(&db, &keys, crate::domain::fair_share::SLICE + 1)
                        })
                        .await?;
                        Ok(inputs.iter().map(|i| i.token).zip(loaded).collect())
                    }
                },
                |i| i.token,
                |(token, _)| *token,
            ),
            claim: Coalescer::start(
                COALESCE_MAX,
                move |ids: Vec<i64>| {
                    let db = claim_db.clone();
                    let turns = claim_turns.clone();
                    async move {
                        let _turn = take_turn(turns).await;
                        let claimed =
                            retry_transient(TRIES, || repo::claim_many(&db, &ids, lease_secs))
                                .await?;
                        Ok(if claimed.paused {
                            ids.into_iter().map(Take::Paused).collect()
                        } else {
                            claimed.taken.into_iter().map(Take::Taken).collect()
                        })
                    }
                },
                |id| *id,
                Take::id,
            ),
            record: (0..record_shards.max(1))
                .map(|_| {
                    let db = record_db.clone();
                    Coalescer::start(
                        COALESCE_MAX,
                        move |rows: Vec<Acceptance>| {
                            let db = db.clone();
                            async move { Ok(sent::record(&db, &rows).await) }
                        },
                        |a| a.id,
                        |(id, _)| *id,
                    )
                })
                .collect(),
            sent: AtomicU64::new(0),
        }
    }
}

impl LaneBatches {
    /// The record executor of status row `id`'s shard.
    pub(super) fn record(
        &self,
        id: i64,
    ) -> &Coalescer<Acceptance, (i64, RecordResult), std::convert::Infallible> {
        &self.record[id.rem_euclid(self.record.len() as i64) as usize]
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
    /// once, and each lane `record_shards` record transactions.
    pub fn new(
        db: MySqlPool,
        operators: Arc<OperatorRegistry>,
        default_validity: Duration,
        lease: Duration,
        normal_db_turns: usize,
        record_shards: usize,
        max_attempts: u32,
    ) -> Self {
        let normal_turns = Arc::new(Semaphore::new(normal_db_turns.max(1)));
        let lanes = [
            LaneBatches::start(&db, lease, None, record_shards),
            LaneBatches::start(&db, lease, Some(normal_turns), record_shards),
        ];
        Self {
            db,
            operators,
            default_validity,
            lease,
            max_attempts,
            paused: AtomicBool::new(false),
            lanes,
            loads: AtomicI64::new(0),
        }
    }

    /// Whether this process has seen dispatch paused (the worker pool's mirror, ~250 ms
    /// behind the switch; the take transaction reads the switch itself).
    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// Sets this process's copy of the pause switch.
    pub fn mirror_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    /// Counts a recipient of `lane` recorded SENT, for the lanes' shared throughput.
    pub(super) fn count_sent(&self, lane: SmsType) {
        self.batches(lane).sent.fetch_add(1, Ordering::Relaxed);
    }

    /// The recipients of each lane recorded SENT since the last take (their counts reset).
    pub fn take_sent(&self) -> [(SmsType, u64); 2] {
        [SmsType::Express, SmsType::Normal]
            .map(|lane| (lane, self.batches(lane).sent.swap(0, Ordering::Relaxed)))
    }

    /// Gives counts taken by [`Self::take_sent`] back (their flush failed).
    pub fn give_back_sent(&self, counts: &[(SmsType, u64)]) {
        for (lane, n) in counts {
            self.batches(*lane).sent.fetch_add(*n, Ordering::Relaxed);
        }
    }

    pub(super) fn batches(&self, lane: SmsType) -> &LaneBatches {
        match lane {
            SmsType::Express => &self.lanes[0],
            SmsType::Normal => &self.lanes[1],
        }
    }

    /// The request and first open recipients (up to a slice and one more) of the slice
    /// `key` consumed from `lane`'s queue, read with those of the lane's other messages
    /// starting at once; `None` when the request does not exist.
    pub(super) async fn load(
        &self,
        lane: SmsType,
        key: SliceKey,
    ) -> Result<Option<Loaded>, super::DeliveryError> {
        let token = self.loads.fetch_add(1, Ordering::Relaxed);
        let mut out = self
            .batches(lane)
            .load
            .call(vec![LoadInput { token, key }])
            .await?;
        Ok(out.pop().and_then(|(_, loaded)| loaded))
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

    /// A context over a database that is never reached.
    fn context() -> DeliveryContext {
        let db = sqlx::mysql::MySqlPoolOptions::new()
            .connect_lazy("mysql://nobody@127.0.0.1:1/none")
            .unwrap();
        let op = OperatorConfig::new("a", "http://127.0.0.1:1", "k".to_string().into());
        let operators = Arc::new(OperatorRegistry::from_config(&[op], &[]).unwrap());
        DeliveryContext::new(
            db,
            operators,
            Duration::from_secs(60),
            Duration::from_secs(60),
            2,
            2,
            30,
        )
    }

    #[tokio::test]
    async fn sent_counts_are_taken_once_per_lane_and_given_back_when_their_flush_fails() {
        let ctx = context();
        ctx.count_sent(SmsType::Normal);
        ctx.count_sent(SmsType::Normal);
        ctx.count_sent(SmsType::Express);
        let taken = ctx.take_sent();
        assert_eq!(taken, [(SmsType::Express, 1), (SmsType::Normal, 2)]);
        assert_eq!(
            ctx.take_sent(),
            [(SmsType::Express, 0), (SmsType::Normal, 0)]
        );
        ctx.count_sent(SmsType::Normal);
        ctx.give_back_sent(&taken);
        assert_eq!(
            ctx.take_sent(),
            [(SmsType::Express, 1), (SmsType::Normal, 3)]
        );
    }

    #[tokio::test]
    async fn the_normal_lane_waits_for_a_database_turn_and_express_never_does() {
        let ctx = context();
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
