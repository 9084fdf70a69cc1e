//! The body of a lane's queue message.

use serde::{Deserialize, Serialize};

/// The AMQP message body: which request to deliver, from where, and its place in the fair
/// order. The text and recipients stay in the database, so a message is small: one per
/// slice of at most [`crate::domain::fair_share::SLICE`] recipients of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueMessage {
    pub sms_identifier: String,
    pub request_id: i64,
    /// The slice starts after this status row (0: the request's first).
    #[serde(default)]
    pub after_id: i64,
    /// The slice's virtual start time, and the virtual time per recipient of its customer:
    /// what the next slice's place is computed from.
    #[serde(default)]
    pub vtime: i64,
    #[serde(default = "crate::domain::fair_share::default_vstep")]
    pub vstep: i64,
    /// The request's outbox row was kept (`published`) for the slices after this one: the
    /// worker makes it pending for the next slice, or deletes it after the last.
    #[serde(default)]
    pub kept: bool,
    /// The W3C trace context of this slice's producer span, when it shares its message with
    /// other slices (a single slice's travels in the message's `traceparent` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// What a queue message carries: one slice, or the slices of several small requests published
/// together (`{"slices": [...]}`), so that one-recipient traffic pays one AMQP message,
/// confirm, delivery and ack per batch instead of per request (docs/DESIGN.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum QueueBody {
    Batch { slices: Vec<QueueMessage> },
    One(QueueMessage),
}

impl QueueBody {
    /// The slices of a message body, in their order; an error for anything else (an empty
    /// batch included).
    pub fn parse(body: &[u8]) -> Result<Vec<QueueMessage>, serde_json::Error> {
        match serde_json::from_slice::<Self>(body)? {
            Self::One(m) => Ok(vec![m]),
            Self::Batch { slices } if slices.is_empty() => {
                Err(serde::de::Error::custom("a queue message with no slices"))
            }
            Self::Batch { slices } => Ok(slices),
        }
    }
}

impl QueueMessage {
    /// The message of a request's first slice at virtual time 0 (tests and tools).
    pub fn first(sms_identifier: impl Into<String>, request_id: i64) -> Self {
        Self {
            sms_identifier: sms_identifier.into(),
            request_id,
            after_id: 0,
            vtime: 0,
            vstep: crate::domain::fair_share::default_vstep(),
            kept: false,
            traceparent: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slice_and_batches_parse_and_nothing_else_does() {
        let one = QueueMessage::first("sms-1", 7);
        let body = serde_json::to_vec(&QueueBody::One(one.clone())).unwrap();
        assert_eq!(QueueBody::parse(&body).unwrap(), vec![one.clone()]);
        // The form published before batches.
        let old = br#"{"sms_identifier":"sms-1","request_id":7}"#;
        assert_eq!(QueueBody::parse(old).unwrap()[0].request_id, 7);
        let two = QueueMessage {
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            ..QueueMessage::first("sms-2", 8)
        };
        let body = serde_json::to_vec(&QueueBody::Batch {
            slices: vec![one.clone(), two.clone()],
        })
        .unwrap();
        assert_eq!(QueueBody::parse(&body).unwrap(), vec![one, two]);
        assert!(QueueBody::parse(br#"{"slices":[]}"#).is_err());
        assert!(QueueBody::parse(br#"{"request_id":7}"#).is_err());
        assert!(QueueBody::parse(b"not json").is_err());
    }
}
