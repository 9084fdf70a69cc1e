//! Group commit of acceptances: concurrent send requests are coalesced into shared
//! transactions, so the database does a handful of statements and one commit (one log flush)
//! for a whole batch instead of eight round trips and a flush per request.
//!
//! Every request stays all-or-nothing and no customer can overdraft:
//! - the batch locks the balance rows of all its customers (`FOR UPDATE`, in primary-key order,
//!   so concurrent batches never deadlock on each other) and decides each request in arrival
//!   order against the running balance, exactly as [`super::accept`] would one by one;
//! - the debits are one conditional UPDATE (`balance >= amount` per customer) whose row count
//!   must match, then multi-row inserts of ledger, request, status and outbox rows;
//! - if anything fails, the batch rolls back and each of its requests is retried alone through
//!   [`super::accept`], so one bad request cannot fail its neighbours.
//!
//! A request whose HTTP handler has gone away (timeout, client disconnect) before its batch
//! locked the balances is skipped, so a 503 still charges nothing.
//!
//! Batches form by themselves: customers are split into `INTAKE_EXECUTORS` shards
//! (`customer_id % executors`, one by default), each with one executor that takes
//! whatever its queue holds (up to [`MAX_BATCH`] requests / [`MAX_BATCH_RECIPIENTS`]
//! recipients) as one batch. Two batches in flight never share a customer, so they never wait
//! on each other's balance locks (with shared customers, batches queued behind each other's
//! row locks in chains and ran one at a time). Under light load a batch is one request and no
//! latency is added.

use sqlx::MySqlPool;
use std::collections::{BTreeSet, HashMap};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{Accepted, Outcome, SendCommand, accept, charge_for};
use crate::db::{customers, ledger, messages, outbox};
use crate::domain::PhoneNumber;

/// Requests per batch.
pub const MAX_BATCH: usize = 128;
/// Recipients per batch (a single larger request still forms its own batch).
pub const MAX_BATCH_RECIPIENTS: usize = 5_000;
/// Queued requests before submitters wait (back-pressure).
const QUEUE: usize = 4_096;

/// One request waiting for its batch.
struct Job {
    cmd: SendCommand,
    price: i64,
    reply: oneshot::Sender<Result<Outcome, sqlx::Error>>,
}

/// The group-commit front of intake. Cheap to share; its tasks end when it is dropped.
#[derive(Debug, Clone)]
pub struct GroupCommit {
    /// One queue per shard of customers (`customer_id % executors`).
    shards: Vec<mpsc::Sender<Job>>,
}

impl GroupCommit {
    /// Starts `executors` shards (at least one), each with its executor on the current tokio
    /// runtime.
    pub fn start(db: MySqlPool, executors: usize) -> Self {
        let shards = (0..executors.max(1))
            .map(|_| {
                let (queue, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run_shard(db.clone(), rx));
                queue
            })
            .collect();
        Self { shards }
    }

    /// Accepts `cmd` in a shared transaction; resolves once that transaction committed (or
    /// failed). Dropping the future before its batch starts cancels the request.
    pub async fn accept(&self, cmd: SendCommand, price: i64) -> Result<Outcome, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        let shard = cmd.customer_id.rem_euclid(self.shards.len() as i64) as usize;
        self.shards[shard]
            .send(Job { cmd, price, reply })
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

/// One shard: takes what is queued (one batch), accepts it, repeats. A customer always
/// lands in the same shard, so concurrent batches never wait on each other's balance locks;
/// while a batch runs, the next one forms.
async fn run_shard(db: MySqlPool, mut rx: mpsc::Receiver<Job>) {
    let mut carry: std::collections::VecDeque<Job> = std::collections::VecDeque::new();
    loop {
        let first = match carry.pop_front() {
            Some(job) => job,
            None => match rx.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let mut recipients = first.cmd.recipients.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            let next = match carry.pop_front() {
                Some(job) => job,
                None => match rx.try_recv() {
                    Ok(job) => job,
                    Err(_) => break,
                },
            };
            if recipients + next.cmd.recipients.len() > MAX_BATCH_RECIPIENTS {
                carry.push_front(next);
                break;
            }
            recipients += next.cmd.recipients.len();
            batch.push(next);
        }
        // A power-of-two batch writes each table with one statement (`db::batch` splits
        // other sizes into several); the rest goes first into the next batch, which starts
        // as soon as this one commits.
        let keep = 1 << batch.len().ilog2();
        for job in batch.drain(keep..).rev() {
            carry.push_front(job);
        }
        execute(&db, batch).await;
    }
}

async fn execute(db: &MySqlPool, batch: Vec<Job>) {
    let batch: Vec<Job> = batch.into_iter().filter(|j| !j.reply.is_closed()).collect();
    match batch.len() {
        0 => return,
        1 => {
            let job = batch.into_iter().next().expect("one job");
            alone(db, job).await;
            return;
        }
        _ => {}
    }
    match accept_batch(db, &batch).await {
        Ok(outcomes) => {
            for (job, outcome) in batch.into_iter().zip(outcomes) {
                if let Some(outcome) = outcome {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
        }
        Err(Failure::BeforeCommit(e)) => {
            tracing::warn!(error = %e, requests = batch.len(), "group commit failed; accepting its requests one by one");
            for job in batch {
                alone(db, job).await;
            }
        }
        // The commit's fate is unknown: retrying could charge twice, so every request of
        // the batch gets the error (as a lone request whose commit failed would).
        Err(Failure::AtCommit(e)) => {
            tracing::error!(error = %e, requests = batch.len(), "group commit: the commit failed");
            for job in batch {
                let _ = job
                    .reply
                    .send(Err(sqlx::Error::Protocol(format!("commit failed: {e}"))));
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
async fn alone(db: &MySqlPool, job: Job) {
    crate::metrics::intake_batch(1);
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        let result = async {
            let mut tx = db.begin().await?;
            let outcome = accept(&mut tx, &job.cmd, job.price).await?;
            match &outcome {
                Outcome::Accepted(_) if !job.reply.is_closed() => tx.commit().await?,
                _ => tx.rollback().await?,
            }
            Ok(outcome)
        }
        .await;
        match result {
            Err(e)
                if attempt < 3 && crate::db::is_transient_error(&e) && !job.reply.is_closed() =>
            {
                tracing::debug!(error = %e, attempt, "intake transaction hit a lock conflict; retrying");
            }
            other => break other,
        }
    };
    let _ = job.reply.send(result);
}

/// Decides and writes a batch in one transaction. `None` marks a request whose caller left
/// before the balances were locked (skipped, nothing written).
async fn accept_batch(db: &MySqlPool, batch: &[Job]) -> Result<Vec<Option<Outcome>>, Failure> {
    let mut tx = db.begin().await?;
    let users: Vec<i64> = batch
        .iter()
        .map(|j| j.cmd.customer_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut balances = ledger::lock_balances(&mut tx, &users).await?;
    // Keys taken from the key cache are checked against the customers' current keys.
    let keys = if batch.iter().any(|j| j.cmd.api_key_hash.is_some()) {
        customers::key_hashes(&mut tx, &users).await?
    } else {
        HashMap::new()
    };

    struct Plan {
        index: usize,
        sms_id: String,
        take: usize,
        cost: i64,
        balance_after: i64,
        recipients: Vec<String>,
        transaction_id: String,
        description: String,
        operators: String,
    }
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(batch.len());
    let mut plans = Vec::new();
    let mut debits: HashMap<i64, i64> = HashMap::new();
    for (index, job) in batch.iter().enumerate() {
        // Left after the batch formed but before its rows were locked: skip it.
        if job.reply.is_closed() {
            outcomes.push(None);
            continue;
        }
        let cmd = &job.cmd;
        if let Some(hash) = &cmd.api_key_hash
            && keys.get(&cmd.customer_id).map(Vec::as_slice) != Some(&hash[..])
        {
            outcomes.push(Some(Outcome::UnknownKey));
            continue;
        }
        let Some(balance) = balances.get_mut(&cmd.customer_id) else {
            outcomes.push(Some(Outcome::UnknownCustomer));
            continue;
        };
        match charge_for(cmd, job.price, *balance) {
            Err(refused) => outcomes.push(Some(refused)),
            Ok((take, cost)) => {
                *balance -= cost;
                if cost > 0 {
                    *debits.entry(cmd.customer_id).or_default() += cost;
                }
                let sms_id = Uuid::now_v7().to_string();
                plans.push(Plan {
                    index,
                    transaction_id: format!("charge:{sms_id}"),
                    description: format!(
                        "{} {} x {} segment(s)",
                        cmd.sms_type, take, cmd.count.segments
                    ),
                    recipients: cmd.recipients[..take]
                        .iter()
                        .map(|p| p.as_str().to_string())
                        .collect(),
                    operators: cmd.operators.join(","),
                    sms_id,
                    take,
                    cost,
                    balance_after: *balance,
                });
                outcomes.push(None);
            }
        }
    }
    if plans.is_empty() {
        tx.rollback().await?;
        return Ok(outcomes);
    }

    let debits: Vec<(i64, i64)> = debits.into_iter().collect();
    let entries: Vec<(ledger::Entry<'_>, i64)> = plans
        .iter()
        .filter(|p| p.cost > 0)
        .map(|p| {
            (
                ledger::Entry {
                    customer_id: batch[p.index].cmd.customer_id,
                    entry_type: ledger::EntryType::Charge,
                    transaction_id: &p.transaction_id,
                    description: Some(&p.description),
                    sms_identifier: Some(&p.sms_id),
                },
                -p.cost,
            )
        })
        .collect();
    if !ledger::debit_many(&mut tx, &debits, &entries).await? {
        // Unreachable while the rows are locked; the batch falls back to one by one.
        tx.rollback().await?;
        return Err(Failure::BeforeCommit(sqlx::Error::Protocol(
            "a locked balance did not cover its debit".into(),
        )));
    }
    let requests: Vec<messages::NewRequest<'_>> = plans
        .iter()
        .map(|p| {
            let cmd = &batch[p.index].cmd;
            messages::NewRequest {
                sms_identifier: &p.sms_id,
                customer_id: cmd.customer_id,
                sms_type: cmd.sms_type.as_str(),
                body: &cmd.text,
                encoding: cmd.count.encoding.as_str(),
                segments: cmd.count.segments,
                recipients: &p.recipients,
                price_per_segment: batch[p.index].price,
                cost: p.cost,
                operators: &p.operators,
                validity_seconds: cmd.validity_seconds,
                traceparent: cmd.traceparent.as_deref(),
            }
        })
        .collect();
    let ids = messages::insert_requests(&mut tx, &requests).await?;
    let rows: Vec<outbox::NewRow<'_>> = plans
        .iter()
        .zip(&ids)
        .map(|(p, id)| {
            let cmd = &batch[p.index].cmd;
            outbox::NewRow {
                request_id: *id,
                sms_identifier: &p.sms_id,
                priority: cmd.sms_type.priority(),
                traceparent: cmd.traceparent.as_deref(),
            }
        })
        .collect();
    outbox::insert_many(&mut tx, &rows).await?;
    tx.commit().await.map_err(Failure::AtCommit)?;
    crate::metrics::intake_batch(batch.len());

    for p in plans {
        let cmd = &batch[p.index].cmd;
        let accepted: Vec<PhoneNumber> = cmd.recipients[..p.take].to_vec();
        let rejected: Vec<PhoneNumber> = cmd.recipients[p.take..].to_vec();
        outcomes[p.index] = Some(Outcome::Accepted(Accepted {
            sms_identifier: p.sms_id.parse().expect("a uuid we formatted"),
            accepted,
            rejected,
            segments: cmd.count.segments,
            encoding: cmd.count.encoding,
            cost: p.cost,
            balance: p.balance_after,
        }));
    }
    Ok(outcomes)
}
