//! The recorder functions: what the layer that knows an event calls, with typed arguments.
//! Names, label names and buckets come from [`super::catalog`].

use std::time::Duration;

use super::catalog::*;
use crate::domain::SmsType;

const LANES: [SmsType; 2] = [SmsType::Normal, SmsType::Express];

/// Creates, at zero, the series of the known label values, so that a counter that has not
/// moved yet is visible as 0 (rates and alerts work from the first scrape) instead of absent.
pub fn register_series(operators: &[String]) {
    for lane in LANES {
        let l = [lane.as_str()];
        for family in [
            &INTAKE_MESSAGES,
            &INTAKE_RECIPIENTS,
            &INTAKE_SEGMENTS,
            &INTAKE_CREDITS_CHARGED,
            &OUTBOX_PUBLISHED,
            &OUTBOX_CONFIRM_FAILURES,
            &QUEUE_CONSUMED,
            &QUEUE_ACKED,
            &QUEUE_NACKED,
            &QUEUE_REDELIVERED,
            &QUEUE_DEAD_LETTERED,
            &DISPATCH_HELD,
        ] {
            family.counter(l).increment(0);
        }
        for outcome in ["sent", "failed", "retry_scheduled", "cancelled"] {
            DELIVERY_RECIPIENTS
                .counter([lane.as_str(), outcome])
                .increment(0);
        }
    }
    for reason in ["invalid_request", "unauthorized", "insufficient_balance"] {
        INTAKE_REJECTIONS.counter([reason]).increment(0);
    }
    OUTBOX_REAPED.counter::<&str>([]).increment(0);
    OUTBOX_STRANDED_REQUEUED.counter::<&str>([]).increment(0);
    INTAKE_COMMIT_RESOLUTIONS
        .counter(["committed"])
        .increment(0);
    CREDITS_REFUNDED.counter::<&str>([]).increment(0);
    CREDITS_ADDED.counter::<&str>([]).increment(0);
    for reason in [super::HttpTimeout::Header, super::HttpTimeout::Idle] {
        HTTP_CONNECTIONS_CLOSED
            .counter([reason.as_str()])
            .increment(0);
    }
    API_KEY_NEGATIVE_CACHE_HITS.counter::<&str>([]).increment(0);
    // Gauges moved up and down by the server and the key gate: registered, never reset.
    HTTP_CONNECTIONS_OPEN.gauge::<&str>([]).increment(0.0);
    API_KEY_LOOKUPS_WAITING.gauge::<&str>([]).increment(0.0);
    for operator in operators {
        DELIVERY_UNUSABLE_MESSAGE_IDS
            .counter([operator.clone()])
            .increment(0);
        DLR_HELD
            .counter([operator.clone(), "held".to_string()])
            .increment(0);
        OPERATOR_LOOKUPS
            .counter([operator.clone(), "found".to_string()])
            .increment(0);
        for outcome in [
            "success",
            "retryable",
            "rate_limited",
            "permanent",
            "circuit_open",
            "throttled",
        ] {
            OPERATOR_CALLS
                .counter([operator.clone(), outcome.to_string()])
                .increment(0);
        }
        OPERATOR_CIRCUIT_REJECTIONS
            .counter([operator.clone()])
            .increment(0);
        for outcome in ["waited", "skipped"] {
            OPERATOR_THROTTLED
                .counter([operator.clone(), outcome.to_string()])
                .increment(0);
        }
    }
    dispatch_paused(false);
    super::register_callback_series();
}

/// Records one answered HTTP request.
pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let labels = || [method.to_string(), route.to_string(), status.to_string()];
    HTTP_REQUESTS.counter(labels()).increment(1);
    HTTP_REQUEST_DURATION
        .histogram(labels())
        .record(elapsed.as_secs_f64());
}

/// Records an accepted send request.
pub fn intake_accepted(sms_type: SmsType, recipients: u64, segments: u64, credits: u64) {
    let t = [sms_type.as_str()];
    INTAKE_MESSAGES.counter(t).increment(1);
    INTAKE_RECIPIENTS.counter(t).increment(recipients);
    INTAKE_SEGMENTS.counter(t).increment(recipients * segments);
    INTAKE_CREDITS_CHARGED.counter(t).increment(credits);
}

/// Records the size of one group-commit batch (requests in one transaction).
pub fn intake_batch(requests: usize) {
    INTAKE_BATCH_SIZE
        .histogram::<&str>([])
        .record(requests as f64);
}

/// Records what the lookup of an acceptance commit of unknown outcome found.
pub fn intake_commit_resolved(outcome: &'static str) {
    INTAKE_COMMIT_RESOLUTIONS.counter([outcome]).increment(1);
}

/// Records requests put back into the outbox because their queue message was lost.
pub fn outbox_stranded_requeued(requests: u64) {
    OUTBOX_STRANDED_REQUEUED
        .counter::<&str>([])
        .increment(requests);
}

/// Records the sampled depth of the dead-letter queue.
pub fn dead_letters(messages: u32) {
    DEAD_LETTERS.gauge::<&str>([]).set(f64::from(messages));
}

/// Records dead letters replayed through the outbox.
pub fn dead_letters_replayed(messages: u64) {
    DEAD_LETTERS_REPLAYED
        .counter::<&str>([])
        .increment(messages);
}

/// Records a refused send request.
pub fn intake_rejected(reason: &'static str) {
    INTAKE_REJECTIONS.counter([reason]).increment(1);
}

/// Records credits refunded.
pub fn credits_refunded(credits: u64) {
    CREDITS_REFUNDED.counter::<&str>([]).increment(credits);
}

/// Records credits added.
pub fn credits_added(credits: u64) {
    CREDITS_ADDED.counter::<&str>([]).increment(credits);
}

/// Records one outbox round of a lane.
pub fn outbox_round(
    lane: SmsType,
    claimed: usize,
    published: usize,
    failed: usize,
    took: Duration,
) {
    let l = [lane.as_str()];
    OUTBOX_CLAIM_BATCH_SIZE.histogram(l).record(claimed as f64);
    OUTBOX_PUBLISH_DURATION
        .histogram(l)
        .record(took.as_secs_f64());
    OUTBOX_PUBLISHED.counter(l).increment(published as u64);
    if failed > 0 {
        OUTBOX_CONFIRM_FAILURES.counter(l).increment(failed as u64);
    }
}

/// Records outbox rows given back by the reaper.
pub fn outbox_reaped(rows: u64) {
    OUTBOX_REAPED.counter::<&str>([]).increment(rows);
}

/// Sets a lane's sampled outbox backlog.
pub fn outbox_backlog(lane: SmsType, rows: i64) {
    OUTBOX_BACKLOG.gauge([lane.as_str()]).set(rows as f64);
}

/// What became of a queue message.
#[derive(Debug, Clone, Copy)]
pub enum QueueEvent {
    Consumed { redelivered: bool },
    Acked,
    Nacked,
    DeadLettered,
}

/// Records a queue event of a lane.
pub fn queue(lane: SmsType, event: QueueEvent) {
    let l = [lane.as_str()];
    match event {
        QueueEvent::Consumed { redelivered } => {
            QUEUE_CONSUMED.counter(l).increment(1);
            if redelivered {
                QUEUE_REDELIVERED.counter(l).increment(1);
            }
        }
        QueueEvent::Acked => QUEUE_ACKED.counter(l).increment(1),
        QueueEvent::Nacked => QUEUE_NACKED.counter(l).increment(1),
        QueueEvent::DeadLettered => QUEUE_DEAD_LETTERED.counter(l).increment(1),
    }
}

/// Sets a lane's sampled queue depth (ready messages).
pub fn queue_messages(lane: SmsType, messages: u32) {
    QUEUE_MESSAGES.gauge([lane.as_str()]).set(messages as f64);
}

/// Records one operator call (`outcome`: success, retryable, rate_limited, permanent,
/// circuit_open, throttled).
pub fn operator_call(operator: &str, outcome: &'static str, took: Option<Duration>) {
    let labels = || [operator.to_string(), outcome.to_string()];
    OPERATOR_CALLS.counter(labels()).increment(1);
    if let Some(took) = took {
        OPERATOR_CALL_DURATION
            .histogram(labels())
            .record(took.as_secs_f64());
    }
}

/// A status lookup of an operator: `found`, `not_found` or `error`.
pub fn operator_lookup(operator: &str, outcome: &'static str) {
    OPERATOR_LOOKUPS
        .counter([operator.to_string(), outcome.to_string()])
        .increment(1);
}

/// Sets an operator's breaker state (0 closed, 1 half open, 2 open).
pub fn circuit_state(operator: &str, state: f64) {
    OPERATOR_CIRCUIT_STATE
        .gauge([operator.to_string()])
        .set(state);
}

/// Records a send its operator's open breaker refused.
pub fn circuit_rejected(operator: &str) {
    OPERATOR_CIRCUIT_REJECTIONS
        .counter([operator.to_string()])
        .increment(1);
}

/// Sets the sends per second an operator is allowed now (its cap, or the slower rate after a
/// 429); `None` (unlimited) is 0.
pub fn operator_effective_rate(operator: &str, rps: Option<f64>) {
    OPERATOR_EFFECTIVE_RPS
        .gauge([operator.to_string()])
        .set(rps.unwrap_or(0.0));
}

/// Records a send held by its operator's limits: `waited` for its token, or `skipped` (the
/// wait would have passed `max_wait_ms`; the next operator was tried).
pub fn operator_throttled(operator: &str, outcome: &'static str) {
    OPERATOR_THROTTLED
        .counter([operator.to_string(), outcome.to_string()])
        .increment(1);
}

/// Sets a lane's sampled scheduled requests and recipients not yet due.
pub fn scheduled(lane: SmsType, requests: i64, recipients: i64) {
    let l = [lane.as_str()];
    SCHEDULED_REQUESTS.gauge(l).set(requests as f64);
    SCHEDULED_RECIPIENTS.gauge(l).set(recipients as f64);
}

/// Records recipients cancelled before they were taken (`POST /sms/{id}/cancel`).
pub fn recipients_cancelled(sms_type: SmsType, recipients: u64) {
    DELIVERY_RECIPIENTS
        .counter([sms_type.as_str(), "cancelled"])
        .increment(recipients);
}

/// Records a recipient's delivery outcome (`sent`, `failed`, `retry_scheduled`).
pub fn delivery_outcome(sms_type: SmsType, outcome: &'static str) {
    DELIVERY_RECIPIENTS
        .counter([sms_type.as_str(), outcome])
        .increment(1);
}

/// Records acceptance-to-SENT of one recipient.
pub fn accept_to_sent(sms_type: SmsType, took: Duration) {
    ACCEPT_TO_SENT
        .histogram([sms_type.as_str()])
        .record(took.as_secs_f64());
}

/// Records the lag from an operator's acceptance to the SENT commit of one recipient.
pub fn record_lag(sms_type: SmsType, took: Duration) {
    DELIVERY_RECORD_LAG
        .histogram([sms_type.as_str()])
        .record(took.as_secs_f64());
}

/// Records an acceptance recorded without the operator's (unusable) message id.
pub fn unusable_message_id(operator: &str) {
    DELIVERY_UNUSABLE_MESSAGE_IDS
        .counter([operator.to_string()])
        .increment(1);
}

/// Records a delivery the pause switch stopped.
pub fn dispatch_held(sms_type: SmsType) {
    DISPATCH_HELD.counter([sms_type.as_str()]).increment(1);
}

/// A stage of delivery, for [`delivery_stage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStage {
    /// Acceptance to a worker taking the message off the queue (first takes only): the
    /// outbox, the publish and the queue.
    Queued,
    /// Reading the request and taking a chunk of its recipients (database).
    Take,
    /// The operator calls of a chunk, failover included.
    Send,
    /// One recipient's acceptance by its operator to its SENT commit (database).
    Record,
}

impl DeliveryStage {
    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Take => "take",
            Self::Send => "send",
            Self::Record => "record",
        }
    }
}

/// Records how long one stage of delivering a message (or one chunk of its recipients) took,
/// so acceptance-to-SENT can be taken apart by lane.
pub fn delivery_stage(sms_type: SmsType, stage: DeliveryStage, took: Duration) {
    DELIVERY_STAGE
        .histogram([sms_type.as_str(), stage.as_str()])
        .record(took.as_secs_f64());
}

/// Records a delivery report.
pub fn dlr_report(operator: &str, status: &str) {
    DLR_REPORTS
        .counter([operator.to_string(), status.to_string()])
        .increment(1);
}

/// What became of a delivery report for a message id not recorded yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldOutcome {
    Held,
    Applied,
    Expired,
}

/// Records a held delivery report's step.
pub fn dlr_held(operator: &str, outcome: HeldOutcome) {
    let outcome = match outcome {
        HeldOutcome::Held => "held",
        HeldOutcome::Applied => "applied",
        HeldOutcome::Expired => "expired",
    };
    DLR_HELD
        .counter([operator.to_string(), outcome.to_string()])
        .increment(1);
}

/// Records the pause switch.
pub fn dispatch_paused(paused: bool) {
    DISPATCH_PAUSED
        .gauge::<&str>([])
        .set(if paused { 1.0 } else { 0.0 });
}

/// Sets the sampled use of the database pool.
pub fn db_pool(in_use: u32, idle: u32) {
    DB_POOL_CONNECTIONS.gauge(["in_use"]).set(in_use as f64);
    DB_POOL_CONNECTIONS.gauge(["idle"]).set(idle as f64);
}

/// Sets the pool's upper bound.
pub fn db_pool_max(connections: u32) {
    DB_POOL_MAX_CONNECTIONS
        .gauge::<&str>([])
        .set(connections as f64);
}
