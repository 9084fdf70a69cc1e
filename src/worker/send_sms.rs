//! Delivering one request: each open recipient is taken with a lease, sent through the
//! operators of its lane (or the request's preference), and settled: SENT with the operator's
//! id; FAILED and refunded when an operator rejects it or its validity runs out; otherwise a
//! retry is scheduled through the outbox with exponential backoff.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;

use super::context::{DeliveryContext, TRIES};
use crate::backoff::{Backoff, Jitter};
use crate::batching::BatchError;
use crate::db::delivery::{self as repo, OpenRecipient};
use crate::db::messages::{self, RequestRow};
use crate::db::retry_transient;
use crate::domain::SmsType;
use crate::metrics::DeliveryStage;
use crate::operators::{OutboundSms, SendOutcome};

/// Recipients of one request sent concurrently.
const RECIPIENT_CONCURRENCY: usize = 16;
/// Recipients of one message taken and recorded together.
const CHUNK: usize = 64;

/// Why a delivery pass stopped. Every variant leaves what was committed committed; the
/// worker nacks and the message comes back.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// A transaction of this message's own failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A coalesced transaction (this message's chunk with other messages') failed: its
    /// error, shared by every message in it.
    #[error("coalesced delivery transaction failed: {0}")]
    Coalesced(#[source] Arc<sqlx::Error>),
    /// The coalescer's executor has stopped (the process is shutting down).
    #[error("the delivery executor has stopped")]
    Stopped,
}

impl From<BatchError<Arc<sqlx::Error>>> for DeliveryError {
    fn from(e: BatchError<Arc<sqlx::Error>>) -> Self {
        match e {
            BatchError::Failed(e) => Self::Coalesced(e),
            BatchError::Stopped => Self::Stopped,
        }
    }
}

impl DeliveryError {
    /// The database error behind this one, if any (with its MySQL code).
    pub fn database(&self) -> Option<&sqlx::Error> {
        match self {
            Self::Database(e) => Some(e),
            Self::Coalesced(e) => Some(e),
            Self::Stopped => None,
        }
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

/// Delivers the open recipients of a request. On an error the caller nacks and the message
/// comes back; what was committed stays committed.
pub async fn deliver_request(
    ctx: &DeliveryContext,
    request_id: i64,
) -> Result<DeliverySummary, DeliveryError> {
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
        fail(ctx, plan, recipient.id, "expired", None).await?;
        return Ok(RecipientOutcome::Failed);
    }
    let sms = OutboundSms {
        to: recipient.recipient.clone(),
        text: request.body.clone(),
        reference: crate::operators::wire::reference(&request.sms_identifier, recipient.id),
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
            fail(ctx, plan, recipient.id, &reason, Some(&operator)).await?;
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
            if retry_at >= *expires_at {
                let reason = format!("expired: {detail}");
                fail(ctx, plan, recipient.id, &reason, None).await?;
                tracing::info!(sms.id = %request.sms_identifier, status.id = recipient.id, "every operator failed until the validity ran out; refunded");
                return Ok(RecipientOutcome::Failed);
            }
            let _turn = ctx.db_turn(*lane).await;
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

/// Moves a recipient to FAILED and refunds it (at a database turn of its lane), and records
/// the outcome and, when this call failed it, the credits refunded.
async fn fail(
    ctx: &DeliveryContext,
    plan: &Plan,
    status_id: i64,
    reason: &str,
    operator: Option<&str>,
) -> Result<(), sqlx::Error> {
    let refunded = {
        let _turn = ctx.db_turn(plan.lane).await;
        retry_transient(TRIES, || {
            repo::fail_and_refund(&ctx.db, &plan.request, status_id, reason, operator)
        })
        .await?
    };
    if let Some(credits) = refunded {
        crate::metrics::credits_refunded(credits.max(0) as u64);
    }
    crate::metrics::delivery_outcome(plan.lane, "failed");
    Ok(())
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

    #[test]
    fn retries_back_off_up_to_a_minute() {
        assert!(retry_delay(1) <= Duration::from_millis(1_200));
        assert!(retry_delay(3) >= Duration::from_millis(3_200));
        assert!(retry_delay(50) <= Duration::from_secs(72));
        assert!(retry_delay(50) >= Duration::from_secs(48));
    }
}
