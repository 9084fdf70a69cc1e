//! The dead-letter queue, seen from the admin: list what it holds and replay it through the
//! outbox. A message lands there when a worker rejects it (it does not decode) or the broker
//! dead-letters it; replaying one that names a request puts the request back into the outbox
//! (the state machine sends each open recipient once, so a replay never sends twice), and
//! acknowledges the dead letter. The others stay in the queue and are reported.

use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, message::BasicGetMessage};
use serde::{Deserialize, Serialize};
use sqlx::MySqlPool;
use utoipa::ToSchema;

use super::QueueBody;
use crate::config::AmqpConfig;
use crate::db::outbox as repo;
use crate::queue::topology;

/// Most messages one call looks at.
pub const MAX_LIMIT: u32 = 1_000;

/// One message of the dead-letter queue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadLetter {
    /// The request it names, when the body decodes (the first, when it carries several).
    pub sms_identifier: Option<String>,
    /// Every request it names, in order: one, or several small requests' slices published
    /// together.
    pub sms_identifiers: Vec<String>,
    /// Why the broker dead-lettered it (`rejected`, `expired`, `maxlen`, ...), from `x-death`.
    pub reason: Option<String>,
    /// The queue it was dead-lettered from, from `x-death`.
    pub queue: Option<String>,
    /// Times it was dead-lettered, from `x-death`.
    pub count: Option<i64>,
    /// The body as text (lossy UTF-8, at most 256 characters).
    pub body: String,
}

/// What a replay did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ReplayReport {
    /// Dead letters whose request was put back into the outbox (and the dead letter removed).
    pub replayed: u64,
    /// Dead letters left in the queue: the body names no request, or an unknown one.
    pub skipped: u64,
}

/// Up to `limit` messages from the head of the dead-letter queue, left in it.
pub async fn list(
    channel: &Channel,
    config: &AmqpConfig,
    limit: u32,
) -> Result<Vec<DeadLetter>, lapin::Error> {
    let messages = take(channel, config, limit).await?;
    let letters = messages.iter().map(describe).collect();
    give_back(&messages).await?;
    Ok(letters)
}

/// Replays up to `limit` dead letters (see the module documentation).
pub async fn replay(
    channel: &Channel,
    db: &MySqlPool,
    config: &AmqpConfig,
    limit: u32,
) -> anyhow::Result<ReplayReport> {
    let messages = take(channel, config, limit).await?;
    let mut report = ReplayReport::default();
    let mut left = Vec::new();
    let mut first_error = None;
    for m in messages {
        // Every request the message names; a message naming an unknown one stays.
        let mut requests = Vec::new();
        match QueueBody::parse(&m.delivery.data) {
            Ok(slices) if first_error.is_none() => {
                for q in &slices {
                    match repo::request_of(db, &q.sms_identifier).await {
                        Ok(Some(r)) => requests.push(r),
                        Ok(None) => {
                            requests.clear();
                            break;
                        }
                        Err(e) => {
                            first_error = Some(e);
                            requests.clear();
                            break;
                        }
                    }
                }
            }
            _ => {}
        }
        if requests.is_empty() {
            left.push(m);
            continue;
        }
        if let Err(e) = repo::requeue(db, &requests).await {
            first_error = Some(e);
            left.push(m);
            continue;
        }
        m.delivery.acker.ack(BasicAckOptions::default()).await?;
        report.replayed += 1;
        for lane in [
            crate::domain::SmsType::Express,
            crate::domain::SmsType::Normal,
        ] {
            if requests.iter().any(|r| r.sms_type == lane) {
                super::wake(lane);
            }
        }
    }
    report.skipped = left.len() as u64;
    give_back(&left).await?;
    crate::metrics::dead_letters_replayed(report.replayed);
    match first_error {
        Some(e) if report.replayed == 0 => Err(e.into()),
        _ => Ok(report),
    }
}

/// Takes up to `limit` messages without acknowledging them (so a crash gives them back).
async fn take(
    channel: &Channel,
    config: &AmqpConfig,
    limit: u32,
) -> Result<Vec<BasicGetMessage>, lapin::Error> {
    let queue = topology::dead_letter_queue(config);
    let mut out = Vec::new();
    while out.len() < limit.min(MAX_LIMIT) as usize {
        match channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await?
        {
            Some(m) => out.push(m),
            None => break,
        }
    }
    Ok(out)
}

/// Returns messages to the queue (in their order, at its head).
async fn give_back(messages: &[BasicGetMessage]) -> Result<(), lapin::Error> {
    for m in messages.iter().rev() {
        m.delivery
            .acker
            .nack(BasicNackOptions {
                multiple: false,
                requeue: true,
            })
            .await?;
    }
    Ok(())
}

fn describe(m: &BasicGetMessage) -> DeadLetter {
    let death = m
        .delivery
        .properties
        .headers()
        .as_ref()
        .and_then(first_death);
    let field = |name: &str| death.as_ref().and_then(|d| d.inner().get(name).cloned());
    let text = |v: Option<AMQPValue>| match v {
        Some(AMQPValue::LongString(s)) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        Some(AMQPValue::ShortString(s)) => Some(s.as_str().to_string()),
        _ => None,
    };
    let count = match field("count") {
        Some(AMQPValue::LongLongInt(n)) => Some(n),
        Some(AMQPValue::LongInt(n)) => Some(i64::from(n)),
        Some(AMQPValue::LongUInt(n)) => Some(i64::from(n)),
        _ => None,
    };
    let sms_identifiers: Vec<String> = QueueBody::parse(&m.delivery.data)
        .map(|slices| slices.into_iter().map(|q| q.sms_identifier).collect())
        .unwrap_or_default();
    DeadLetter {
        sms_identifier: sms_identifiers.first().cloned(),
        sms_identifiers,
        reason: text(field("reason")),
        queue: text(field("queue")),
        count,
        body: String::from_utf8_lossy(&m.delivery.data)
            .chars()
            .take(256)
            .collect(),
    }
}

/// The most recent entry of the `x-death` header.
fn first_death(headers: &FieldTable) -> Option<FieldTable> {
    match headers.inner().get("x-death")? {
        AMQPValue::FieldArray(deaths) => match deaths.as_slice().first()? {
            AMQPValue::FieldTable(t) => Some(t.clone()),
            _ => None,
        },
        _ => None,
    }
}
