//! One taken recipient: sent through the operators and settled as soon as its call returns.
//! SENT with the operator's id (recorded at once, coalesced with whatever else is ready);
//! FAILED and refunded when an operator rejects it, its validity runs out or its attempts
//! reach `DELIVERY_MAX_ATTEMPTS`; otherwise a retry is scheduled through the outbox with
//! exponential backoff. Every settlement is conditional on the attempt this take wrote.
//! A recipient taken again (attempt > 1) is first looked up at the operators that can be
//! asked (`status_url`): one that already has it is recorded, not sent a second time.

use std::time::{Duration, Instant};

use chrono::Utc;

use super::context::{DeliveryContext, TRIES};
use super::error::DeliveryError;
use crate::backoff::{Backoff, Jitter};
use crate::db::delivery::{self as repo, OpenRecipient, Taken};
use crate::db::messages::RequestRow;
use crate::db::retry_transient;
use crate::db::sent::{Acceptance, Recorded};
use crate::domain::SmsType;
use crate::metrics::DeliveryStage;
use crate::operators::{OutboundSms, SendOutcome};

/// What every recipient of one request shares, worked out once.
pub(super) struct Plan {
    pub(super) request: RequestRow,
    pub(super) lane: SmsType,
    /// `validity_seconds`, or `DEFAULT_VALIDITY_SECS`, after acceptance (after `send_at` for a
    /// scheduled request).
    pub(super) expires_at: chrono::DateTime<Utc>,
    pub(super) preference: Vec<String>,
}

/// How one taken recipient ended this pass.
pub(super) enum RecipientOutcome {
    /// Accepted by an operator and recorded SENT.
    Sent,
    /// Accepted, but the recipient is no longer SENDING under this take's attempt (this
    /// worker's lease ran out and another took it): not recorded by this one.
    Fenced,
    /// FAILED and refunded.
    Failed,
    /// Every operator failed transiently; a retry is scheduled.
    Retrying,
    /// Dispatch was paused before its call: given back unsent.
    Released,
}

pub(super) async fn deliver_recipient(
    ctx: &DeliveryContext,
    plan: &Plan,
    recipient: OpenRecipient,
) -> Result<RecipientOutcome, DeliveryError> {
    let taken = Taken::from(&recipient);
    let Plan {
        request,
        lane,
        expires_at,
        preference,
    } = plan;
    let attempt = recipient.attempts.max(1) as u32;
    if attempt > ctx.max_attempts {
        let reason = format!("gave up after {} attempts", ctx.max_attempts);
        return fail(ctx, plan, taken, &reason, None).await;
    }
    if Utc::now() >= *expires_at {
        return fail(ctx, plan, taken, "expired", None).await;
    }
    if ctx.paused() {
        retry_transient(TRIES, || repo::release(&ctx.db, taken)).await?;
        return Ok(RecipientOutcome::Released);
    }
    let sms = OutboundSms {
        to: recipient.recipient.clone(),
        text: recipient
            .body
            .clone()
            .unwrap_or_else(|| request.body.clone()),
        reference: crate::operators::wire::reference(&request.sms_identifier, recipient.id),
        from: request.sender.clone(),
    };
    // A recipient taken again may have reached an operator on its last attempt (the worker
    // died or lost its lease after the call): an operator that can be asked is asked first.
    if attempt > 1
        && let Some((operator, message_id)) = ctx
            .operators
            .lookup(*lane, preference, &sms.reference)
            .await
    {
        tracing::info!(sms.id = %request.sms_identifier, status.id = recipient.id, attempt, operator.name = %operator, "an earlier attempt reached the operator; recorded without sending again");
        return record(ctx, plan, taken, operator, message_id).await;
    }
    match ctx.operators.send(*lane, preference, &sms).await {
        SendOutcome::Sent {
            operator,
            message_id,
        } => {
            tracing::debug!(sms.id = %request.sms_identifier, status.id = recipient.id, operator.name = %operator, "operator accepted");
            record(ctx, plan, taken, operator, message_id).await
        }
        SendOutcome::Rejected { operator, reason } => {
            let reason = format!("rejected by {operator}: {reason}");
            let outcome = fail(ctx, plan, taken, &reason, Some(&operator)).await?;
            tracing::info!(sms.id = %request.sms_identifier, status.id = recipient.id, operator.name = %operator, "sms rejected; refunded");
            Ok(outcome)
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
            if attempt >= ctx.max_attempts {
                let reason = format!("gave up after {attempt} attempts: {detail}");
                let outcome = fail(ctx, plan, taken, &reason, None).await?;
                tracing::info!(sms.id = %request.sms_identifier, status.id = recipient.id, attempt, "every operator failed on the last attempt; refunded");
                return Ok(outcome);
            }
            // `attempts` already counts this take.
            let delay = retry_delay(attempt);
            let retry_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
            if retry_at >= *expires_at {
                let reason = format!("expired: {detail}");
                let outcome = fail(ctx, plan, taken, &reason, None).await?;
                tracing::info!(sms.id = %request.sms_identifier, status.id = recipient.id, "every operator failed until the validity ran out; refunded");
                return Ok(outcome);
            }
            let _turn = ctx.db_turn(*lane).await;
            let scheduled = retry_transient(TRIES, || {
                repo::schedule_retry(
                    &ctx.db,
                    request,
                    taken,
                    &detail,
                    delay.as_millis() as u64,
                    lane.priority(),
                )
            })
            .await?;
            if !scheduled {
                return Ok(RecipientOutcome::Fenced);
            }
            crate::metrics::delivery_outcome(*lane, "retry_scheduled");
            tracing::info!(sms.id = %request.sms_identifier, status.id = recipient.id, retry_in_ms = delay.as_millis() as u64, "every operator failed; retry scheduled");
            Ok(RecipientOutcome::Retrying)
        }
    }
}

/// Records an operator's acceptance at once (coalesced with the lane's other acceptances
/// ready now), and the lag from the operator's answer to the commit.
async fn record(
    ctx: &DeliveryContext,
    plan: &Plan,
    taken: Taken,
    operator: String,
    message_id: String,
) -> Result<RecipientOutcome, DeliveryError> {
    let answered = Instant::now();
    let acceptance = Acceptance {
        id: taken.id,
        attempt: taken.attempt,
        operator,
        message_id,
        customer_id: plan.request.customer_id,
        callbacks: plan.request.callbacks,
    };
    let operator = acceptance.operator.clone();
    let mut out = ctx
        .batches(plan.lane)
        .record(taken.id)
        .call(vec![acceptance])
        .await?;
    let lag = answered.elapsed();
    let recorded = match out.pop() {
        Some((_, result)) => result.map_err(DeliveryError::Coalesced)?,
        None => Recorded::Fenced,
    };
    crate::metrics::record_lag(plan.lane, lag);
    crate::metrics::delivery_stage(plan.lane, DeliveryStage::Record, lag);
    match recorded {
        Recorded::Fenced => {
            tracing::warn!(sms.id = %plan.request.sms_identifier, status.id = taken.id, attempt = taken.attempt, "sent, but another attempt owns the recipient now (this one's lease ran out); not recorded by this one");
            Ok(RecipientOutcome::Fenced)
        }
        Recorded::Sent | Recorded::SentWithoutId(_) => {
            if let Recorded::SentWithoutId(why) = &recorded {
                tracing::warn!(sms.id = %plan.request.sms_identifier, status.id = taken.id, operator.name = %operator, problem = %why, "recorded SENT without the operator's message id");
                crate::metrics::unusable_message_id(&operator);
            }
            crate::metrics::delivery_outcome(plan.lane, "sent");
            ctx.count_sent(plan.lane);
            if let Ok(took) = (Utc::now() - plan.request.due_at()).to_std() {
                crate::metrics::accept_to_sent(plan.lane, took);
            }
            Ok(RecipientOutcome::Sent)
        }
    }
}

/// Moves a recipient to FAILED and refunds it (at a database turn of its lane), and records
/// the outcome and, when this call failed it, the credits refunded. `Fenced` when another
/// attempt owns the recipient now.
async fn fail(
    ctx: &DeliveryContext,
    plan: &Plan,
    taken: Taken,
    reason: &str,
    operator: Option<&str>,
) -> Result<RecipientOutcome, DeliveryError> {
    let refunded = {
        let _turn = ctx.db_turn(plan.lane).await;
        retry_transient(TRIES, || {
            repo::fail_and_refund(&ctx.db, &plan.request, taken, reason, operator)
        })
        .await?
    };
    let Some(credits) = refunded else {
        return Ok(RecipientOutcome::Fenced);
    };
    crate::metrics::credits_refunded(credits.max(0) as u64);
    crate::metrics::delivery_outcome(plan.lane, "failed");
    Ok(RecipientOutcome::Failed)
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
