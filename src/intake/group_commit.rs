//! Group commit of acceptances: concurrent send requests are coalesced into shared
//! transactions, so the database does a handful of statements and one commit (one log flush)
//! for a whole batch instead of a transaction per request.
//!
//! Every request stays all-or-nothing and no customer can overdraft:
//! - the batch locks the balance rows of all its customers (`FOR UPDATE`, in primary-key order,
//!   so concurrent batches never deadlock on each other) and decides each request in arrival
//!   order against the running balance: [`super::accept_many`], the path a lone request
//!   takes too;
//! - the debits are one conditional UPDATE (`balance >= amount` per customer) whose row count
//!   must match, then multi-row inserts of ledger, request, status and outbox rows;
//! - if anything fails, the batch rolls back and each of its requests is retried alone through
//!   [`super::accept`], so one bad request cannot fail its neighbours.
//!
//! A request whose HTTP handler has gone away (timeout, client disconnect) before its batch
//! locked the balances is skipped, so a 503 still charges nothing.
//!
//! Batches form by themselves: customers are split into `INTAKE_EXECUTORS` shards
//! (`customer_id % executors`, one by default), each with one [`crate::batching`] executor
//! that takes whatever its queue holds (up to [`MAX_BATCH`] requests / [`MAX_BATCH_RECIPIENTS`]
//! recipients, cut to a power of two) as one batch. Two batches in flight never share a
//! customer, so they never wait on each other's balance locks (with shared customers, batches
//! queued behind each other's row locks in chains and ran one at a time). Under light load a
//! batch is one request and no latency is added.

use std::sync::Arc;

use sqlx::MySqlPool;

use super::{AcceptError, Outcome, Request, SendCommand, accept, accept_many};
use crate::batching::{BatchError, Call, Executor, Limits};

/// Requests per batch.
pub const MAX_BATCH: usize = 128;
/// Recipients per batch (a single larger request still forms its own batch).
pub const MAX_BATCH_RECIPIENTS: usize = 5_000;
/// Queued requests before submitters wait (back-pressure).
const QUEUE: usize = 4_096;

/// How a shard's batches form. A power-of-two batch writes each table with one statement
/// (`db::batch` splits other sizes into several); the rest goes first into the next batch,
/// which starts as soon as this one commits.
const LIMITS: Limits = Limits {
    queue: QUEUE,
    max_calls: MAX_BATCH,
    max_weight: MAX_BATCH_RECIPIENTS,
    power_of_two: true,
};

/// One request waiting for its batch: the command and its price per segment.
struct Job {
    cmd: SendCommand,
    price: i64,
}

type JobCall = Call<Job, Outcome, AcceptError>;

/// The group-commit front of intake. Cheap to share; its tasks end when it is dropped.
#[derive(Debug, Clone)]
pub struct GroupCommit {
    /// One executor per shard of customers (`customer_id % executors`).
    shards: Arc<Vec<Executor<Job, Outcome, AcceptError>>>,
}

impl GroupCommit {
    /// Starts `executors` shards (at least one), each with its executor on the current tokio
    /// runtime.
    pub fn start(db: MySqlPool, executors: usize) -> Self {
        let shards = (0..executors.max(1))
            .map(|_| {
                let db = db.clone();
                Executor::start(
                    LIMITS,
                    |job: &Job| job.cmd.recipients.len(),
                    move |batch| execute(db.clone(), batch),
                )
            })
            .collect();
        Self {
            shards: Arc::new(shards),
        }
    }

    /// Accepts `cmd` in a shared transaction; resolves once that transaction committed (or
    /// failed). Dropping the future before its batch starts cancels the request.
    pub async fn accept(&self, cmd: SendCommand, price: i64) -> Result<Outcome, AcceptError> {
        let shard = cmd.customer_id.rem_euclid(self.shards.len() as i64) as usize;
        match self.shards[shard].call(Job { cmd, price }).await {
            Ok(outcome) => Ok(outcome),
            Err(BatchError::Failed(e)) => Err(e),
            Err(BatchError::Stopped) => Err(AcceptError::Stopped),
        }
    }
}

/// Runs one batch: a lone request alone; several in one transaction, falling back to one by
/// one when it fails before its commit.
async fn execute(db: MySqlPool, batch: Vec<JobCall>) {
    if batch.len() == 1 {
        let call = batch.into_iter().next().expect("one call");
        alone(&db, call).await;
        return;
    }
    match accept_batch(&db, &batch).await {
        Ok(outcomes) => {
            for (call, outcome) in batch.into_iter().zip(outcomes) {
                if let Some(outcome) = outcome {
                    call.reply.send(Ok(outcome));
                }
            }
        }
        Err(Failure::BeforeCommit(e)) => {
            tracing::warn!(error = %e, requests = batch.len(), "group commit failed; accepting its requests one by one");
            for call in batch {
                alone(&db, call).await;
            }
        }
        // The commit's fate is unknown: retrying could charge twice, so every request of
        // the batch gets the error (as a lone request whose commit failed would).
        Err(Failure::AtCommit(e)) => {
            tracing::error!(error = %e, requests = batch.len(), "group commit: the commit failed");
            let e = Arc::new(e);
            for call in batch {
                call.reply.send(Err(AcceptError::CommitFailed(e.clone())));
            }
        }
    }
}

/// Why a batch failed.
enum Failure {
    /// Nothing was committed: its requests can be retried one by one.
    BeforeCommit(sqlx::Error),
    /// The commit itself failed: it may or may not have happened.
    AtCommit(sqlx::Error),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::BeforeCommit(e)
    }
}

/// The one-request path: [`accept`] in its own transaction, tried again (up to 3 times) when
/// InnoDB chose it as a deadlock victim or gave up waiting for a lock.
async fn alone(db: &MySqlPool, call: JobCall) {
    crate::metrics::intake_batch(1);
    let Call { input: job, reply } = call;
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        let result = async {
            let mut tx = db.begin().await?;
            let outcome = accept(&mut tx, &job.cmd, job.price).await?;
            match &outcome {
                Outcome::Accepted(_) if !reply.is_abandoned() => tx.commit().await?,
                _ => tx.rollback().await?,
            }
            Ok(outcome)
        }
        .await;
        match result {
            Err(e) if attempt < 3 && crate::db::is_transient_error(&e) && !reply.is_abandoned() => {
                tracing::debug!(error = %e, attempt, "intake transaction hit a lock conflict; retrying");
            }
            other => break other,
        }
    };
    reply.send(result.map_err(AcceptError::Database));
}

/// Decides and writes a batch in one transaction. `None` marks a request whose caller left
/// before the balances were locked (skipped, nothing written).
async fn accept_batch(db: &MySqlPool, batch: &[JobCall]) -> Result<Vec<Option<Outcome>>, Failure> {
    let mut tx = db.begin().await?;
    let requests: Vec<Request<'_>> = batch
        .iter()
        .map(|call| Request {
            cmd: &call.input.cmd,
            price: call.input.price,
        })
        .collect();
    let outcomes = accept_many(&mut tx, &requests, |i| batch[i].reply.is_abandoned()).await?;
    if !outcomes
        .iter()
        .any(|o| matches!(o, Some(Outcome::Accepted(_))))
    {
        tx.rollback().await?;
        return Ok(outcomes);
    }
    tx.commit().await.map_err(Failure::AtCommit)?;
    crate::metrics::intake_batch(batch.len());
    Ok(outcomes)
}
