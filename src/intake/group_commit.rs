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
//! Every batch is bounded in time (`INTAKE_TIMEOUT_MS`, up to its commit's answer); a commit
//! that fails or does not answer is looked up ([`super::commit`]) before any request of the
//! batch is answered, and a request that could no longer be answered within its HTTP request
//! timeout is not started (503, nothing charged).
//!
//! Batches form by themselves: customers are split into `INTAKE_EXECUTORS` shards
//! (`customer_id % executors`, one by default), each with one [`crate::batching`] executor
//! that takes whatever its queue holds (up to [`MAX_BATCH`] requests / [`MAX_BATCH_RECIPIENTS`]
//! recipients, cut to a power of two) as one batch. Two batches in flight never share a
//! customer, so they never wait on each other's balance locks (with shared customers, batches
//! queued behind each other's row locks in chains and ran one at a time). Under light load a
//! batch is one request and no latency is added.

use std::sync::Arc;
use std::time::Instant;

use sqlx::MySqlPool;

use super::{AcceptError, Bounds, Outcome, Probe, Request, SendCommand, accept, accept_many};
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

/// One request waiting for its batch: the command, its price per segment, and when its
/// HTTP request must be answered.
struct Job {
    cmd: SendCommand,
    price: i64,
    deadline: Instant,
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
    pub fn start(db: MySqlPool, executors: usize, bounds: Bounds) -> Self {
        let shards = (0..executors.max(1))
            .map(|_| {
                let db = db.clone();
                Executor::start(
                    LIMITS,
                    |job: &Job| job.cmd.recipients.len(),
                    move |batch| execute(db.clone(), bounds, batch),
                )
            })
            .collect();
        Self {
            shards: Arc::new(shards),
        }
    }

    /// Accepts `cmd` in a shared transaction; resolves once that transaction committed (or
    /// failed). Dropping the future before its batch starts cancels the request; a request
    /// that could not be answered by `deadline` is not started ([`AcceptError::NotCommitted`]).
    pub async fn accept(
        &self,
        cmd: SendCommand,
        price: i64,
        deadline: Instant,
    ) -> Result<Outcome, AcceptError> {
        let shard = cmd.customer_id.rem_euclid(self.shards.len() as i64) as usize;
        let job = Job {
            cmd,
            price,
            deadline,
        };
        match self.shards[shard].call(job).await {
            Ok(outcome) => Ok(outcome),
            Err(BatchError::Failed(e)) => Err(e),
            Err(BatchError::Stopped) => Err(AcceptError::Stopped),
        }
    }
}

/// Runs one batch: a lone request alone; several in one transaction, falling back to one by
/// one when it fails before its commit for a reason of its own.
async fn execute(db: MySqlPool, bounds: Bounds, batch: Vec<JobCall>) {
    if batch.len() == 1 {
        let call = batch.into_iter().next().expect("one call");
        alone(&db, bounds, call).await;
        return;
    }
    let failure = match accept_batch(&db, bounds, &batch).await {
        Ok(outcomes) => return answer(batch, outcomes),
        Err(failure) => failure,
    };
    match failure {
        // The database is unreachable or out of time: the one-by-one retry would meet the
        // same, each request paying the whole bound.
        Failure::BeforeCommit(e) if !matches!(e, sqlx::Error::Database(_)) => {
            tracing::warn!(error = %e, requests = batch.len(), "group commit failed before its commit; nothing charged");
            let e = Arc::new(e);
            for call in batch {
                call.reply.send(Err(AcceptError::Database(clone_error(&e))));
            }
        }
        Failure::BeforeCommit(e) => {
            tracing::warn!(error = %e, requests = batch.len(), "group commit failed; accepting its requests one by one");
            for call in batch {
                alone(&db, bounds, call).await;
            }
        }
        // The commit failed and its lookup said it did not happen, or could not tell: never
        // retried (that could charge twice).
        Failure::AtCommit(e) => {
            for call in batch {
                call.reply.send(Err(match &e {
                    AcceptError::NotCommitted => AcceptError::NotCommitted,
                    AcceptError::CommitFailed {
                        sms_identifier,
                        error,
                    } => AcceptError::CommitFailed {
                        sms_identifier: sms_identifier.clone(),
                        error: error.clone(),
                    },
                    _ => AcceptError::NotCommitted,
                }));
            }
        }
    }
}

/// Answers every request of a batch that committed (or decided nothing to commit); a
/// request skipped because it could not be answered in time is told so.
fn answer(batch: Vec<JobCall>, outcomes: Vec<Option<Outcome>>) {
    for (call, outcome) in batch.into_iter().zip(outcomes) {
        match outcome {
            Some(outcome) => call.reply.send(Ok(outcome)),
            None if !call.reply.is_abandoned() => call.reply.send(Err(AcceptError::NotCommitted)),
            None => {}
        }
    }
}

/// A copy of a connection-level error for each request of a batch (sqlx errors do not clone).
fn clone_error(e: &Arc<sqlx::Error>) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(e.to_string()))
}

/// Why a batch failed.
enum Failure {
    /// Nothing was committed: its requests can be retried one by one.
    BeforeCommit(sqlx::Error),
    /// The commit itself failed and its lookup did not find it committed.
    AtCommit(AcceptError),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::BeforeCommit(e)
    }
}

/// Whether a request is not (or no longer) worth starting: its caller has gone, or it could
/// not be answered in time.
fn skip(call: &JobCall, bounds: Bounds) -> bool {
    call.reply.is_abandoned() || bounds.too_late(call.input.deadline)
}

/// The one-request path: [`accept`] in its own transaction, tried again (up to 3 times) when
/// InnoDB chose it as a deadlock victim or gave up waiting for a lock.
async fn alone(db: &MySqlPool, bounds: Bounds, call: JobCall) {
    crate::metrics::intake_batch(1);
    let Call { input: job, reply } = call;
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        if reply.is_abandoned() {
            return;
        }
        if bounds.too_late(job.deadline) {
            break Err(AcceptError::NotCommitted);
        }
        let result = once(db, bounds, &job, || reply.is_abandoned()).await;
        match result {
            Err(AcceptError::Database(e))
                if attempt < 3 && crate::db::is_transient_error(&e) && !reply.is_abandoned() =>
            {
                tracing::debug!(error = %e, attempt, "intake transaction hit a lock conflict; retrying");
            }
            other => break other,
        }
    };
    reply.send(result);
}

/// One try of a lone request, bounded by `INTAKE_TIMEOUT_MS` up to its commit's answer.
async fn once(
    db: &MySqlPool,
    bounds: Bounds,
    job: &Job,
    abandoned: impl Fn() -> bool,
) -> Result<Outcome, AcceptError> {
    let deadline = Instant::now() + bounds.timeout;
    let decided = tokio::time::timeout_at(deadline.into(), async {
        let mut tx = db.begin().await?;
        let outcome = accept(&mut tx, &job.cmd, job.price).await?;
        Ok::<_, sqlx::Error>((tx, outcome))
    })
    .await
    .unwrap_or_else(|_| Err(super::timed_out("the acceptance")));
    let (tx, outcome) = decided?;
    match &outcome {
        Outcome::Accepted(a) if !abandoned() => {
            let sms_identifier = a.sms_identifier.to_string();
            let probe = Probe {
                customers: &[job.cmd.customer_id],
                sms_identifier: &sms_identifier,
            };
            super::commit(db, bounds, deadline, tx, probe).await?;
        }
        _ => tx.rollback().await?,
    }
    Ok(outcome)
}

/// Decides and writes a batch in one transaction, bounded by `INTAKE_TIMEOUT_MS` up to its
/// commit's answer. `None` marks a request skipped (its caller left, or it could not be
/// answered in time) before the balances were locked: nothing written for it.
async fn accept_batch(
    db: &MySqlPool,
    bounds: Bounds,
    batch: &[JobCall],
) -> Result<Vec<Option<Outcome>>, Failure> {
    let deadline = Instant::now() + bounds.timeout;
    let requests: Vec<Request<'_>> = batch
        .iter()
        .map(|call| Request {
            cmd: &call.input.cmd,
            price: call.input.price,
        })
        .collect();
    let decided = tokio::time::timeout_at(deadline.into(), async {
        let mut tx = db.begin().await?;
        let outcomes = accept_many(&mut tx, &requests, |i| skip(&batch[i], bounds)).await?;
        Ok::<_, sqlx::Error>((tx, outcomes))
    })
    .await
    .unwrap_or_else(|_| Err(super::timed_out("the group commit")));
    let (tx, outcomes) = decided?;
    let first = outcomes.iter().find_map(|o| match o {
        Some(Outcome::Accepted(a)) => Some(a.sms_identifier.to_string()),
        _ => None,
    });
    let Some(sms_identifier) = first else {
        tx.rollback().await?;
        return Ok(outcomes);
    };
    let mut customers: Vec<i64> = requests.iter().map(|r| r.cmd.customer_id).collect();
    customers.sort_unstable();
    customers.dedup();
    let probe = Probe {
        customers: &customers,
        sms_identifier: &sms_identifier,
    };
    super::commit(db, bounds, deadline, tx, probe)
        .await
        .map_err(Failure::AtCommit)?;
    crate::metrics::intake_batch(batch.len());
    Ok(outcomes)
}
