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
        }
    }
}
