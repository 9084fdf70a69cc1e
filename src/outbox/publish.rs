//! Turning claimed rows into queue messages: a large request's slice goes alone (it takes its
//! own turn, and its row may be kept for the next slice); the slices of small requests share a
//! message, up to [`MESSAGE_SLICES`] of them and [`MESSAGE_RECIPIENTS`] recipients, so that
//! one-recipient traffic pays one AMQP message, confirm, delivery and ack per batch instead of
//! per request (docs/BENCHMARKS.md "What one SMS costs").

use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, PublisherConfirm};
use tracing::Instrument;

use super::{QueueBody, QueueMessage, TRACEPARENT_HEADER, keeps_row};
use crate::config::AmqpConfig;
use crate::db::outbox::ClaimedRow;
use crate::domain::SmsType;
use crate::queue::topology;

/// Slices of small requests in one message at most.
pub const MESSAGE_SLICES: usize = 32;
/// Recipients of a message that carries several slices, at most.
pub const MESSAGE_RECIPIENTS: i64 = 64;
/// A request shares a message only with at most this many recipients.
const SHARED_MAX_RECIPIENTS: i64 = 16;

/// `rows` (in claim order) grouped into messages, in that order.
pub fn group(rows: &[ClaimedRow]) -> Vec<Vec<&ClaimedRow>> {
    let mut out: Vec<Vec<&ClaimedRow>> = Vec::new();
    let mut open: Vec<&ClaimedRow> = Vec::new();
    let mut open_recipients = 0;
    for row in rows {
        let shares =
            !keeps_row(row) && row.after_id == 0 && row.recipients <= SHARED_MAX_RECIPIENTS;
        if !shares {
            if !open.is_empty() {
                out.push(std::mem::take(&mut open));
                open_recipients = 0;
            }
            out.push(vec![row]);
            continue;
        }
        let recipients = row.recipients.max(1);
        if open.len() == MESSAGE_SLICES || open_recipients + recipients > MESSAGE_RECIPIENTS {
            out.push(std::mem::take(&mut open));
            open_recipients = 0;
        }
        open.push(row);
        open_recipients += recipients;
    }
    if !open.is_empty() {
        out.push(open);
    }
    out
}

fn slice_of(row: &ClaimedRow) -> QueueMessage {
    QueueMessage {
        sms_identifier: row.sms_identifier.clone(),
        request_id: row.request_id,
        after_id: row.after_id,
        vtime: row.vtime,
        vstep: row.vstep,
        kept: keeps_row(row),
        traceparent: None,
    }
}

/// A producer span in the accepting request's trace (the consumer continues from it), and
/// its trace context.
fn producer_span(row: &ClaimedRow, lane: SmsType) -> (tracing::Span, Option<String>) {
    let span = tracing::info_span!(
        "outbox.publish",
        otel.kind = "producer",
        sms.id = %row.sms_identifier,
        messaging.destination = %lane,
    );
    crate::telemetry::set_parent(&span, row.traceparent.as_deref());
    let traceparent = crate::telemetry::traceparent(&span).or_else(|| row.traceparent.clone());
    (span, traceparent)
}

/// Publishes one message of `group` (persistent, mandatory) and returns its confirm.
pub async fn publish(
    channel: &Channel,
    amqp: &AmqpConfig,
    lane: SmsType,
    group: &[&ClaimedRow],
) -> Result<PublisherConfirm, lapin::Error> {
    let first = group[0];
    let (span, traceparent) = producer_span(first, lane);
    let body = if let [row] = group {
        QueueBody::One(slice_of(row))
    } else {
        // Each slice has a producer span of its own, in its own request's trace.
        let slices = group
            .iter()
            .enumerate()
            .map(|(i, row)| QueueMessage {
                traceparent: if i == 0 {
                    traceparent.clone()
                } else {
                    producer_span(row, lane).1
                },
                ..slice_of(row)
            })
            .collect();
        QueueBody::Batch { slices }
    };
    let body = serde_json::to_vec(&body).expect("queue message serializes");
    let mut headers = FieldTable::default();
    if let Some(tp) = traceparent {
        headers.insert(TRACEPARENT_HEADER.into(), AMQPValue::LongString(tp.into()));
    }
    let properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(first.sms_identifier.as_str().into())
        .with_headers(headers);
    channel
        .basic_publish(
            amqp.exchange.as_str().into(),
            topology::routing_key(lane).into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &body,
            properties,
        )
        .instrument(span)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, recipients: i64, after_id: i64) -> ClaimedRow {
        ClaimedRow {
            id,
            request_id: id,
            sms_identifier: format!("sms-{id}"),
            priority: 0,
            traceparent: None,
            vtime: id,
            vstep: 1,
            recipients,
            after_id,
        }
    }

    fn ids(groups: &[Vec<&ClaimedRow>]) -> Vec<Vec<i64>> {
        groups
            .iter()
            .map(|g| g.iter().map(|r| r.id).collect())
            .collect()
    }

    #[test]
    fn small_requests_share_messages_in_claim_order_and_large_ones_go_alone() {
        let rows: Vec<ClaimedRow> = (1..=70).map(|i| row(i, 1, 0)).collect();
        let groups = group(&rows);
        assert_eq!(groups.iter().map(Vec::len).collect::<Vec<_>>(), [32, 32, 6]);
        let flat: Vec<i64> = ids(&groups).concat();
        assert_eq!(
            flat,
            (1..=70).collect::<Vec<_>>(),
            "the claim order is kept"
        );

        // A large request (its row kept), a later slice and a 17-recipient request go alone
        // and close the open message; recipients cap a shared message at 64.
        let rows = vec![
            row(1, 1, 0),
            row(2, 500, 0),
            row(3, 1, 0),
            row(4, 10, 99),
            row(5, 17, 0),
            row(6, 16, 0),
            row(7, 16, 0),
            row(8, 16, 0),
            row(9, 16, 0),
            row(10, 1, 0),
        ];
        assert_eq!(
            ids(&group(&rows)),
            vec![
                vec![1],
                vec![2],
                vec![3],
                vec![4],
                vec![5],
                vec![6, 7, 8, 9],
                vec![10]
            ]
        );
        assert!(group(&[]).is_empty());
    }
}
