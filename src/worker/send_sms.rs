//! Delivering one request: each open recipient is taken with a lease, sent through the
//! operators of its lane (or the request's preference), and settled: SENT with the operator's
//! id; FAILED and refunded when an operator rejects it or its validity runs out; otherwise a
//! retry is scheduled through the outbox with exponential backoff.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use sqlx::MySqlPool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::coalesce::Coalescer;
use crate::backoff::{Backoff, Jitter};
use crate::db::delivery::{self as repo, OpenRecipient};
use crate::db::messages::{self, RequestRow};
use crate::db::retry_transient;
use crate::domain::SmsType;
use crate::metrics::DeliveryStage;
use crate::operators::{OperatorRegistry, OutboundSms, SendOutcome};

/// Recipients of one request sent concurrently.
const RECIPIENT_CONCURRENCY: usize = 16;
/// Recipients of one message taken and recorded together.
const CHUNK: usize = 64;
/// Recipients per coalesced transaction (of several messages' chunks).
const COALESCE_MAX: usize = 256;
/// Runs of a delivery transaction that lost a deadlock before the error reaches the worker.
/// Every one is conditional on the row's state (and a refund's id is unique), so a repeat
/// does nothing twice; giving up early would leave recipients SENDING until their lease runs
/// out, and then send them again.
const TRIES: u32 = 3;

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
struct LaneBatches {
    /// Turns at the database (`WORKERS_NORMAL_DB` for normal; none, so no wait, for express).
    turns: Option<Arc<Semaphore>>,
    /// Recipients taken and recorded SENT for every message in progress at once (see
    /// [`super::coalesce`]); each run takes a turn.
    claim: Coalescer<i64, OpenRecipient>,
    mark_sent: Coalescer<(i64, String, String), i64>,
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

    fn batches(&self, lane: SmsType) -> &LaneBatches {
        match lane {
            SmsType::Express => &self.lanes[0],
            SmsType::Normal => &self.lanes[1],
        }
    }

    /// Waits for a turn at the database when `lane` is normal; express never waits.
    ///
    /// Measured on 2 cores (docs/BENCHMARKS.md, B4: express at 50/s behind 200,000 normal):
    /// with 32 normal deliveries each running its own transactions, express waited behind
    /// them in MariaDB (p99 638 ms from acceptance to the operator), normal deliveries
    /// deadlocked among themselves and 138,316 normal went out in 30 s; with 4 turns, express
    /// p99 81.5 ms and 168,920 normal.
    async fn db_turn(&self, lane: SmsType) -> Option<OwnedSemaphorePermit> {
        take_turn(self.batches(lane).turns.clone()).await
    }
}

/// What one pass over a request did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliverySummary {
    pub sent: usize,
    pub failed: usize,
    pub retrying: usize,
    /// Recipients another worker held, or that had moved on.
    pub skipped: usize,
}

enum RecipientOutcome {
    /// Accepted by an operator; recorded SENT with the rest of its chunk.
    Sent {
        status_id: i64,
        operator: String,
        message_id: String,
    },
    Failed,
    Retrying,
}

/// Delivers the open recipients of a request. Errors are database errors: the caller
/// nacks and the message comes back; what was committed stays committed.
pub async fn deliver_request(
    ctx: &DeliveryContext,
    request_id: i64,
) -> Result<DeliverySummary, sqlx::Error> {
    let consumed = std::time::Instant::now();
    let consumed_at = Utc::now();
    let Some(request) = messages::request_by_id(&ctx.db, request_id).await? else {
        tracing::warn!(
            request.id = request_id,
            "queue message for an unknown request; dropping it"
        );
        return Ok(DeliverySummary::default());
    };
    let lane = request.sms_type;
    let recipients = {
        let _turn = ctx.db_turn(lane).await;
        repo::open_recipients(&ctx.db, request_id).await?
    };
    let plan = Plan {
        lane,
        expires_at: request.expires_at.unwrap_or_else(|| {
            request.created_at
                + chrono::Duration::from_std(ctx.default_validity)
                    .unwrap_or(chrono::Duration::days(1))
        }),
        preference: request.operator_preference(),
        request,
    };
    let mut summary = DeliverySummary::default();
    let stage = |stage, took| crate::metrics::delivery_stage(plan.lane, stage, took);
    let mut take_started = consumed;
    // Recipients go in chunks: one transaction takes a chunk, its sends run concurrently, one
    // transaction records those that went out. A chunk is small enough that its lease covers
    // its sends, and a crash re-sends at most one chunk's unrecorded successes.
    for (index, chunk) in recipients.chunks(CHUNK).enumerate() {
        let ids: Vec<i64> = chunk.iter().map(|r| r.id).collect();
        let taken = ctx.batches(plan.lane).claim.call(ids).await?;
        let send_started = std::time::Instant::now();
        stage(DeliveryStage::Take, send_started - take_started);
        if index == 0
            && taken.iter().any(|r| r.attempts == 1)
            && let Ok(queued) = (consumed_at - plan.request.created_at).to_std()
        {
            stage(DeliveryStage::Queued, queued);
        }
        let taken_count = taken.len();
        summary.skipped += chunk.len() - taken_count;
        let outcomes: Vec<Result<RecipientOutcome, sqlx::Error>> = futures::stream::iter(taken)
            .map(|r| deliver_recipient(ctx, &plan, r))
            .buffer_unordered(RECIPIENT_CONCURRENCY)
            .collect()
            .await;
        let mut sent = Vec::new();
        for outcome in outcomes {
            match outcome? {
                RecipientOutcome::Sent {
                    status_id,
                    operator,
                    message_id,
                } => sent.push((status_id, operator, message_id)),
                RecipientOutcome::Failed => summary.failed += 1,
                RecipientOutcome::Retrying => summary.retrying += 1,
            }
        }
        let recorded = sent.len();
        let record_started = std::time::Instant::now();
        if taken_count > 0 {
            stage(DeliveryStage::Send, record_started - send_started);
        }
        let moved = ctx.batches(plan.lane).mark_sent.call(sent).await?;
        take_started = std::time::Instant::now();
        if recorded > 0 {
            stage(DeliveryStage::Record, take_started - record_started);
        }
        let since_accepted = (Utc::now() - plan.request.created_at).to_std().ok();
        for _ in &moved {
            crate::metrics::delivery_outcome(plan.lane, "sent");
            if let Some(took) = since_accepted {
                crate::metrics::accept_to_sent(plan.lane, took);
            }
        }
        summary.sent += moved.len();
        summary.skipped += recorded - moved.len();
        if !moved.is_empty() {
            tracing::info!(sms.id = %plan.request.sms_identifier, recipients = moved.len(), "sms sent");
        }
    }
    Ok(summary)
}

/// What every recipient of one request shares, worked out once.
struct Plan {
    request: RequestRow,
    lane: SmsType,
    /// `validity_seconds`, or `DEFAULT_VALIDITY_SECS` after acceptance.
    expires_at: chrono::DateTime<Utc>,
    preference: Vec<String>,
}

async fn deliver_recipient(
    ctx: &DeliveryContext,
    plan: &Plan,
    recipient: OpenRecipient,
) -> Result<RecipientOutcome, sqlx::Error> {
    let Plan {
        request,
        lane,
        expires_at,
        preference,
    } = plan;
    if Utc::now() >= *expires_at {
        let _turn = ctx.db_turn(*lane).await;
        retry_transient(TRIES, || {
            repo::fail_and_refund(&ctx.db, request, recipient.id, "expired", None)
        })
        .await?;
        crate::metrics::delivery_outcome(*lane, "failed");
        return Ok(RecipientOutcome::Failed);
    }
    let sms = OutboundSms {
        to: recipient.recipient.clone(),
        text: request.body.clone(),
        reference: recipient.id.to_string(),
    };
    match ctx.operators.send(*lane, preference, &sms).await {
        SendOutcome::Sent {
            operator,
            message_id,
        } => {
            tracing::debug!(sms.id = %request.sms_identifier, status.id = recipient.id, operator.name = %operator, "operator accepted");
            Ok(RecipientOutcome::Sent {
                status_id: recipient.id,
                operator,
                message_id,
            })
        }
        SendOutcome::Rejected { operator, reason } => {
            let reason = format!("rejected by {operator}: {reason}");
            let _turn = ctx.db_turn(*lane).await;
            retry_transient(TRIES, || {
                repo::fail_and_refund(&ctx.db, request, recipient.id, &reason, Some(&operator))
            })
            .await?;
            crate::metrics::delivery_outcome(*lane, "failed");
            tracing::info!(sms.id = %request.sms_identifier, status.id = recipient.id, operator.name = %operator, "sms rejected; refunded");
            Ok(RecipientOutcome::Failed)
        }
        SendOutcome::AllFailed { attempts } => {
            let detail = if attempts.is_empty() {
                "no operator available for this lane and preference".to_string()
            } else {
                attempts
                    .iter()
                    .map(|(op, why)| format!("{op}: {why}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            // `attempts` already counts this take.
            let delay = retry_delay(recipient.attempts.max(1) as u32);
            let retry_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
            let _turn = ctx.db_turn(*lane).await;
            if retry_at >= *expires_at {
                let reason = format!("expired: {detail}");
                retry_transient(TRIES, || {
                    repo::fail_and_refund(&ctx.db, request, recipient.id, &reason, None)
                })
                .await?;
                crate::metrics::delivery_outcome(*lane, "failed");
                tracing::info!(sms.id = %request.sms_identifier, status.id = recipient.id, "every operator failed until the validity ran out; refunded");
                return Ok(RecipientOutcome::Failed);
            }
            retry_transient(TRIES, || {
                repo::schedule_retry(
                    &ctx.db,
                    request,
                    recipient.id,
                    &detail,
                    delay.as_millis() as u64,
                    lane.priority(),
                )
            })
            .await?;
            crate::metrics::delivery_outcome(*lane, "retry_scheduled");
            tracing::info!(sms.id = %request.sms_identifier, status.id = recipient.id, retry_in_ms = delay.as_millis() as u64, "every operator failed; retry scheduled");
            Ok(RecipientOutcome::Retrying)
        }
    }
}

/// Backoff before the next attempt: 1 s, 2 s, 4 s ... up to 60 s, with 20 % jitter.
pub fn retry_delay(attempts: u32) -> Duration {
    Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
        .with_jitter(Jitter::between(0.8, 1.2))
        .delay_for(attempts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OperatorConfig;

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

    #[test]
    fn retries_back_off_up_to_a_minute() {
        assert!(retry_delay(1) <= Duration::from_millis(1_200));
        assert!(retry_delay(3) >= Duration::from_millis(3_200));
        assert!(retry_delay(50) <= Duration::from_secs(72));
        assert!(retry_delay(50) >= Duration::from_secs(48));
    }
}
