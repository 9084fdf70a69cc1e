//! Recording operators' acceptances: SENDING -> SENT with the operator and its message id,
//! fenced by the attempt that sent it, so a worker whose lease ran out (and whose recipient
//! another worker has taken since) can never overwrite the newer attempt.
//!
//! One bad row never fails the others: an id the operator answered that cannot be stored
//! (empty, too long, control characters) is recorded SENT without it, and when a batch fails
//! (an id another message already has, a lost connection) its rows are recorded one by one,
//! each with its own outcome.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::MySqlPool;

use super::{batch, callbacks, retry_transient};
use crate::domain::message::usable_message_id;

/// An operator's acceptance of one recipient, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acceptance {
    /// `sms_status.id`.
    pub id: i64,
    /// The attempt (take) that sent it: recorded only while the row still has it.
    pub attempt: i32,
    /// Who accepted it.
    pub operator: String,
    /// The operator's id for it.
    pub message_id: String,
    /// Its customer.
    pub customer_id: i64,
    /// Whether its SENT is queued as a callback event ([`RequestRow::callbacks`]).
    ///
    /// [`RequestRow::callbacks`]: super::messages::RequestRow::callbacks
    pub callbacks: bool,
}

/// What recording one acceptance did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// SENT with the operator's message id.
    Sent,
    /// SENT, but without the operator's id, which could not be stored (why); delivery
    /// reports for it cannot be matched.
    SentWithoutId(String),
    /// Not recorded: the row is no longer SENDING under this attempt (another worker took
    /// it after this one's lease ran out, or it moved on).
    Fenced,
}

/// Runs of a recording transaction that lost a deadlock before its rows are recorded one by
/// one (or, for one row, before its error is returned).
const TRIES: u32 = 3;

/// One acceptance's outcome, or the error that kept it from being recorded (shared by the
/// rows of a failed statement).
pub type RecordResult = Result<Recorded, Arc<sqlx::Error>>;

/// Records `rows` (each at most once; at most [`batch::MAX_ROWS`]): as one transaction, and
/// when that fails, row by row. Returns every row's outcome.
pub async fn record(pool: &MySqlPool, rows: &[Acceptance]) -> Vec<(i64, RecordResult)> {
    let prepared: Vec<Prepared<'_>> = rows.iter().map(Prepared::of).collect();
    match retry_transient(TRIES, || record_many(pool, &prepared)).await {
        Ok(outcomes) => outcomes.into_iter().map(|(id, r)| (id, Ok(r))).collect(),
        Err(e) => {
            if prepared.len() > 1 {
                tracing::warn!(rows = prepared.len(), error = %e, "recording a batch of sends failed; recording them one by one");
            }
            let mut out = Vec::with_capacity(prepared.len());
            for row in &prepared {
                let one = retry_transient(TRIES, || record_one(pool, row)).await;
                out.push((row.id, one.map_err(Arc::new)));
            }
            out
        }
    }
}

/// A row as it will be written: its message id, or why it has none.
struct Prepared<'a> {
    id: i64,
    attempt: i32,
    customer_id: i64,
    callbacks: bool,
    operator: &'a str,
    message_id: Option<&'a str>,
    without_id: Option<String>,
}

impl<'a> Prepared<'a> {
    fn of(a: &'a Acceptance) -> Self {
        match usable_message_id(&a.message_id) {
            Ok(()) => Self {
                id: a.id,
                attempt: a.attempt,
                customer_id: a.customer_id,
                callbacks: a.callbacks,
                operator: &a.operator,
                message_id: Some(&a.message_id),
                without_id: None,
            },
            Err(why) => Self {
                id: a.id,
                attempt: a.attempt,
                customer_id: a.customer_id,
                callbacks: a.callbacks,
                operator: &a.operator,
                message_id: None,
                without_id: Some(format!("the operator's message id is unusable: {why}")),
            },
        }
    }

    fn outcome(&self) -> Recorded {
        match &self.without_id {
            None => Recorded::Sent,
            Some(why) => Recorded::SentWithoutId(why.clone()),
        }
    }
}

/// One transaction for every row. Optimistic first: one UPDATE fenced by each row's attempt
/// (`attempts = case id ...`); when it moved every row (the usual case) the events follow and
/// it commits, three round trips in all. When a row is fenced, the transaction is rolled back
/// and [`record_fenced`] reads which rows still have their attempt (`for update`) and records
/// those.
async fn record_many(
    pool: &MySqlPool,
    rows: &[Prepared<'_>],
) -> Result<Vec<(i64, Recorded)>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    let all: Vec<&Prepared<'_>> = rows.iter().collect();
    if set_sent(&mut tx, &all, true).await? == all.len() as u64 {
        insert_events(&mut tx, &all).await?;
        tx.commit().await?;
        return Ok(rows.iter().map(|r| (r.id, r.outcome())).collect());
    }
    tx.rollback().await?;
    record_fenced(pool, rows).await
}

/// [`record_many`] when some row is fenced: lock the rows still SENDING, record those whose
/// attempt matches, report the others `Fenced`.
async fn record_fenced(
    pool: &MySqlPool,
    rows: &[Prepared<'_>],
) -> Result<Vec<(i64, Recorded)>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Through the primary key only (see `delivery::claim_many`).
    let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
        "select id, attempts from sms_status force index (primary) where id in ",
    );
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    batch::push_in_list(&mut qb, &ids);
    qb.push(" and status = 'SENDING' for update");
    let current: HashMap<i64, i32> = qb
        .build_query_as::<(i64, i32)>()
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
    let (moving, fenced): (Vec<&Prepared<'_>>, Vec<&Prepared<'_>>) = rows
        .iter()
        .partition(|r| current.get(&r.id) == Some(&r.attempt));
    let mut out: Vec<(i64, Recorded)> = fenced.iter().map(|r| (r.id, Recorded::Fenced)).collect();
    if moving.is_empty() {
        tx.rollback().await?;
        return Ok(out);
    }
    set_sent(&mut tx, &moving, false).await?;
    insert_events(&mut tx, &moving).await?;
    tx.commit().await?;
    out.extend(moving.iter().map(|r| (r.id, r.outcome())));
    Ok(out)
}

/// SENDING -> SENT with provider and message id for `rows`, through the primary key; with
/// `fence`, only where the row is still SENDING under its attempt. Returns the rows moved.
async fn set_sent(
    tx: &mut sqlx::Transaction<'_, sqlx::MySql>,
    rows: &[&Prepared<'_>],
    fence: bool,
) -> Result<u64, sqlx::Error> {
    let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
        "update sms_status force index (primary) set status = 'SENT', locked_until = null, \
         provider = case id",
    );
    let providers: Vec<(i64, &str)> = rows.iter().map(|r| (r.id, r.operator)).collect();
    batch::push_case_arms(&mut qb, &providers);
    qb.push(" end, provider_message_id = case id");
    let message_ids: Vec<(i64, Option<&str>)> = rows.iter().map(|r| (r.id, r.message_id)).collect();
    batch::push_case_arms(&mut qb, &message_ids);
    // The timeline's SENT comes from `sent_at` when the row has the operator's id (assigned
    // just before, so this sees the new value); without it, from an event row saying why.
    qb.push(" end, sent_at = if(provider_message_id is null, null, now(6)) where id in ");
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    batch::push_in_list(&mut qb, &ids);
    if fence {
        qb.push(" and status = 'SENDING' and attempts = case id");
        let attempts: Vec<(i64, i32)> = rows.iter().map(|r| (r.id, r.attempt)).collect();
        batch::push_case_arms(&mut qb, &attempts);
        qb.push(" end");
    }
    Ok(qb.build().execute(&mut **tx).await?.rows_affected())
}

/// The SENT events of the `rows` (just moved to SENT by this transaction) recorded without
/// the operator's id, whose detail says why; the others have none (their timeline reads
/// `sent_at`, see [`set_sent`]). And the callback events of the rows whose request wants
/// them: one multi-row statement for the batch, none when no row does.
async fn insert_events(
    tx: &mut sqlx::Transaction<'_, sqlx::MySql>,
    rows: &[&Prepared<'_>],
) -> Result<(), sqlx::Error> {
    let odd: Vec<&Prepared<'_>> = rows
        .iter()
        .copied()
        .filter(|r| r.without_id.is_some())
        .collect();
    for chunk in batch::insert_chunks(&odd) {
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "insert into sms_events (status_id, status, detail) ",
        );
        qb.push_values(chunk, |mut b, r| {
            b.push_bind(r.id)
                .push("'SENT'")
                .push_bind(event_detail(r.operator, r.without_id.as_deref()));
        });
        qb.build().execute(&mut **tx).await?;
    }
    let wanted: Vec<callbacks::NewEvent<'_>> = rows
        .iter()
        .filter(|r| r.callbacks)
        .map(|r| callbacks::NewEvent {
            customer_id: r.customer_id,
            status_id: r.id,
            status: "SENT",
            detail: Some(r.operator),
            refund: None,
        })
        .collect();
    callbacks::insert(tx, &wanted).await
}

/// One row in a transaction of its own. An id another message of this operator already has
/// (the operator reused it) is recorded SENT without it.
async fn record_one(pool: &MySqlPool, row: &Prepared<'_>) -> Result<Recorded, sqlx::Error> {
    match record_many(pool, std::slice::from_ref(row)).await {
        Ok(mut out) => Ok(out.pop().map(|(_, r)| r).unwrap_or(Recorded::Fenced)),
        Err(e) if super::is_unique_violation(&e) && row.message_id.is_some() => {
            let without = Prepared {
                message_id: None,
                without_id: Some(format!(
                    "the operator's message id {:?} already belongs to another message",
                    row.message_id.unwrap_or_default()
                )),
                ..*row
            };
            let mut out = record_many(pool, std::slice::from_ref(&without)).await?;
            Ok(out.pop().map(|(_, r)| r).unwrap_or(Recorded::Fenced))
        }
        Err(e) => Err(e),
    }
}

/// The SENT event's detail: the operator, and why its id is missing when it is.
fn event_detail(operator: &str, without_id: Option<&str>) -> String {
    let detail = match without_id {
        None => operator.to_string(),
        Some(why) => format!("{operator}; {why}"),
    };
    detail.chars().take(255).collect()
}
