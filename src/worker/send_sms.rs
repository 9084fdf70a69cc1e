//! Delivering a request one slice at a time: a queue message carries one slice of at most
//! [`SLICE`] open recipients; they are taken in chunks with a lease (never while dispatch is
//! paused), each sent through the operators of its lane (or the request's preference) and
//! settled as its call returns (`super::recipient`). When more recipients remain, the request
//! goes back into the outbox at the virtual time of its next slice, so other customers'
//! messages take their turns in between (docs/DESIGN.md "Fair delivery").

use chrono::Utc;
use futures::StreamExt;

use super::context::{DeliveryContext, Take};
pub use super::error::DeliveryError;
use super::recipient::{Plan, RecipientOutcome, deliver_recipient};
use crate::db::delivery::{self as repo, NextSlice};
use crate::db::slices::{self, Loaded, SliceKey};
pub use crate::domain::fair_share::SLICE;
use crate::metrics::DeliveryStage;

/// Recipients of one request sent concurrently.
pub const RECIPIENT_CONCURRENCY: usize = 16;
/// Recipients of one message taken together: [`crate::config::ROUNDS_PER_TAKE`] rounds of its
/// concurrent sends, which `DELIVERY_LEASE_SECS` must cover ([`crate::config::minimum_lease`]).
pub const CHUNK: usize = crate::config::ROUNDS_PER_TAKE as usize * RECIPIENT_CONCURRENCY;

/// What one pass over a request did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliverySummary {
    pub sent: usize,
    pub failed: usize,
    pub retrying: usize,
    /// Recipients another worker held, or that had moved on.
    pub skipped: usize,
}

impl std::ops::AddAssign for DeliverySummary {
    fn add_assign(&mut self, other: Self) {
        self.sent += other.sent;
        self.failed += other.failed;
        self.retrying += other.retrying;
        self.skipped += other.skipped;
    }
}

/// Where a slice of a request starts and its place in the fair order (what its queue
/// message says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    pub request_id: i64,
    /// The slice starts after this status row.
    pub after_id: i64,
    pub vtime: i64,
    pub vstep: i64,
    /// The request's outbox row was kept for the slices after this one.
    pub kept: bool,
    /// The lane whose queue it came from (its reads are then coalesced with that lane's
    /// other messages); `None` for a direct call.
    pub lane: Option<crate::domain::SmsType>,
}

impl From<&crate::outbox::QueueMessage> for Slice {
    fn from(m: &crate::outbox::QueueMessage) -> Self {
        Self {
            request_id: m.request_id,
            after_id: m.after_id,
            vtime: m.vtime,
            vstep: m.vstep,
            kept: m.kept,
            lane: None,
        }
    }
}

/// The rest of a request after a slice.
struct Rest {
    after_id: i64,
    sms_identifier: String,
    lane: crate::domain::SmsType,
}

/// Delivers every open recipient of a request, slice after slice, in this call (tests and
/// tools; the workers go through [`deliver_slice`]).
pub async fn deliver_request(
    ctx: &DeliveryContext,
    request_id: i64,
) -> Result<DeliverySummary, DeliveryError> {
    let mut slice = Slice {
        request_id,
        after_id: 0,
        vtime: 0,
        vstep: crate::domain::fair_share::default_vstep(),
        kept: false,
        lane: None,
    };
    let mut total = DeliverySummary::default();
    loop {
        let (summary, rest) = deliver_one(ctx, &slice).await?;
        total += summary;
        match rest {
            Some(rest) => slice.after_id = rest.after_id,
            None => return Ok(total),
        }
    }
}

/// Delivers one slice; when recipients remain, puts the request back into the outbox at the
/// virtual time of its next slice (before the caller acknowledges this one, so a crash in
/// between redelivers this slice and loses nothing). On an error the caller nacks and the
/// message comes back (on [`DeliveryError::Paused`] it keeps it until dispatch resumes); what
/// was committed stays committed.
pub async fn deliver_slice(
    ctx: &DeliveryContext,
    slice: &Slice,
) -> Result<DeliverySummary, DeliveryError> {
    let (summary, rest) = deliver_one(ctx, slice).await?;
    if let Some(rest) = rest {
        let next = NextSlice {
            request_id: slice.request_id,
            sms_identifier: &rest.sms_identifier,
            priority: rest.lane.priority(),
            vtime: slice
                .vtime
                .saturating_add(slice.vstep.saturating_mul(SLICE as i64)),
            vstep: slice.vstep,
            recipients: SLICE as i64,
            after_id: rest.after_id,
        };
        {
            let _turn = ctx.db_turn(rest.lane).await;
            crate::db::retry_transient(3, || async {
                let mut conn = ctx.db.acquire().await?;
                repo::continue_request(&mut conn, &next).await
            })
            .await?;
        }
        crate::outbox::wake(rest.lane);
    } else if slice.kept {
        crate::db::retry_transient(3, || {
            crate::db::outbox::delete_kept(&ctx.db, slice.request_id)
        })
        .await?;
    }
    Ok(summary)
}

async fn deliver_one(
    ctx: &DeliveryContext,
    slice: &Slice,
) -> Result<(DeliverySummary, Option<Rest>), DeliveryError> {
    let request_id = slice.request_id;
    let consumed = std::time::Instant::now();
    let consumed_at = Utc::now();
    let key = SliceKey {
        request_id,
        after_id: slice.after_id,
    };
    let loaded = match slice.lane {
        Some(lane) => ctx.load(lane, key).await?,
        None => slices::load(&ctx.db, &[key], SLICE + 1)
            .await?
            .pop()
            .flatten(),
    };
    let Some(Loaded {
        request,
        mut recipients,
    }) = loaded
    else {
        tracing::warn!(
            request.id = request_id,
            "queue message for an unknown request; dropping it"
        );
        return Ok((DeliverySummary::default(), None));
    };
    let lane = request.sms_type;
    let rest = (recipients.len() > SLICE).then(|| {
        recipients.truncate(SLICE);
        Rest {
            after_id: recipients.last().map_or(slice.after_id, |r| r.id),
            sms_identifier: request.sms_identifier.clone(),
            lane,
        }
    });
    let plan = Plan {
        lane,
        expires_at: request.expires_at.unwrap_or_else(|| {
            request.due_at()
                + chrono::Duration::from_std(ctx.default_validity)
                    .unwrap_or(chrono::Duration::days(1))
        }),
        preference: request.operator_preference(),
        request,
    };
    let mut summary = DeliverySummary::default();
    let stage = |stage, took| crate::metrics::delivery_stage(plan.lane, stage, took);
    let mut take_started = consumed;
    // Recipients go in chunks: one (coalesced) transaction takes a chunk, its sends run
    // concurrently, and each is recorded as its call returns. The take checks the pause
    // switch, so a pause stops the request between chunks.
    for (index, chunk) in recipients.chunks(CHUNK).enumerate() {
        let ids: Vec<i64> = chunk.iter().map(|r| r.id).collect();
        let takes = ctx.batches(plan.lane).claim.call(ids).await?;
        if takes.iter().any(|t| matches!(t, Take::Paused(_))) {
            crate::metrics::dispatch_held(plan.lane);
            return Err(DeliveryError::Paused);
        }
        let taken: Vec<_> = takes
            .into_iter()
            .filter_map(|t| match t {
                Take::Taken(r) => Some(r),
                Take::Paused(_) => None,
            })
            .collect();
        let send_started = std::time::Instant::now();
        stage(DeliveryStage::Take, send_started - take_started);
        if index == 0
            && slice.after_id == 0
            && taken.iter().any(|r| r.attempts == 1)
            && let Ok(queued) = (consumed_at - plan.request.due_at()).to_std()
        {
            stage(DeliveryStage::Queued, queued);
        }
        let taken_count = taken.len();
        summary.skipped += chunk.len() - taken_count;
        let outcomes: Vec<Result<RecipientOutcome, DeliveryError>> = futures::stream::iter(taken)
            .map(|r| deliver_recipient(ctx, &plan, r))
            .buffer_unordered(RECIPIENT_CONCURRENCY)
            .collect()
            .await;
        take_started = std::time::Instant::now();
        if taken_count > 0 {
            stage(DeliveryStage::Send, take_started - send_started);
        }
        let (mut sent, mut released) = (0, 0);
        for outcome in outcomes {
            match outcome? {
                RecipientOutcome::Sent => sent += 1,
                RecipientOutcome::Fenced => summary.skipped += 1,
                RecipientOutcome::Failed => summary.failed += 1,
                RecipientOutcome::Retrying => summary.retrying += 1,
                RecipientOutcome::Released => released += 1,
            }
        }
        summary.sent += sent;
        if sent > 0 {
            tracing::info!(sms.id = %plan.request.sms_identifier, recipients = sent, "sms sent");
        }
        if released > 0 {
            crate::metrics::dispatch_held(plan.lane);
            return Err(DeliveryError::Paused);
        }
    }
    Ok((summary, rest))
}
