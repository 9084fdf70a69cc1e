//! Message types (lanes) and the delivery state machine.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The lane of a message: express is priced higher and never waits behind normal traffic.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SmsType {
    #[default]
    Normal,
    Express,
}

impl SmsType {
    /// Outbox priority: publishers claim higher priorities first.
    pub fn priority(self) -> i32 {
        match self {
            Self::Normal => 0,
            Self::Express => 10,
        }
    }
}

/// State of one recipient's message. It only ever moves forward:
/// `PENDING -> SENDING -> SENT -> DELIVERED | UNDELIVERED`, `PENDING | SENDING -> FAILED`, and
/// `PENDING -> CANCELLED` (a cancel, before a worker took it).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum SmsStatus {
    /// Accepted and charged, waiting in the outbox or the queue.
    Pending,
    /// A worker took it and is calling operators.
    Sending,
    /// An operator accepted it.
    Sent,
    /// The operator reported delivery to the handset.
    Delivered,
    /// The operator reported that it could not be delivered.
    Undelivered,
    /// No operator could take it (or it expired); refunded exactly once.
    Failed,
    /// Cancelled by the customer before a worker took it; refunded exactly once.
    Cancelled,
}

impl SmsStatus {
    /// All states, in order.
    pub const ALL: [SmsStatus; 7] = [
        Self::Pending,
        Self::Sending,
        Self::Sent,
        Self::Delivered,
        Self::Undelivered,
        Self::Failed,
        Self::Cancelled,
    ];

    /// Whether the state machine allows `self -> next`.
    pub fn can_move_to(self, next: SmsStatus) -> bool {
        use SmsStatus::*;
        matches!(
            (self, next),
            (Pending, Sending)
                | (Pending, Failed)
                | (Pending, Cancelled)
                | (Sending, Sent)
                | (Sending, Failed)
                | (Sent, Delivered)
                | (Sent, Undelivered)
        )
    }
}

/// Maps an operator's delivery report state (SMPP-style) to the final state it means, if any.
pub fn final_state(report: &str) -> Option<&'static str> {
    match report {
        "DELIVRD" | "DELIVERED" => Some("DELIVERED"),
        "UNDELIV" | "UNDELIVERED" | "REJECTD" | "REJECTED" | "EXPIRED" | "DELETED" => {
            Some("UNDELIVERED")
        }
        _ => None,
    }
}

/// Longest operator message id stored (`sms_status.provider_message_id`).
pub const MESSAGE_ID_MAX_CHARS: usize = 128;

/// Whether an operator's message id can be stored and matched by its delivery reports: not
/// blank, at most [`MESSAGE_ID_MAX_CHARS`] characters, no control characters.
pub fn usable_message_id(id: &str) -> Result<(), &'static str> {
    if id.trim().is_empty() {
        Err("blank")
    } else if id.chars().count() > MESSAGE_ID_MAX_CHARS {
        Err("longer than 128 characters")
    } else if id.chars().any(char::is_control) {
        Err("control characters")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_is_case_insensitive() {
        assert_eq!("pending".parse::<SmsStatus>().unwrap(), SmsStatus::Pending);
        assert_eq!(
            "Delivered".parse::<SmsStatus>().unwrap(),
            SmsStatus::Delivered
        );
        assert!("done".parse::<SmsStatus>().is_err());
        assert_eq!("EXPRESS".parse::<SmsType>().unwrap(), SmsType::Express);
        assert!("urgent".parse::<SmsType>().is_err());
    }

    #[test]
    fn states_never_move_backwards() {
        for a in SmsStatus::ALL {
            for b in SmsStatus::ALL {
                if a.can_move_to(b) {
                    assert!(a < b, "{a} -> {b} goes backwards");
                }
            }
            assert!(!a.can_move_to(a));
        }
        assert!(SmsStatus::Sending.can_move_to(SmsStatus::Failed));
        assert!(!SmsStatus::Sent.can_move_to(SmsStatus::Failed));
        assert!(!SmsStatus::Failed.can_move_to(SmsStatus::Sending));
        assert!(SmsStatus::Pending.can_move_to(SmsStatus::Cancelled));
        assert!(!SmsStatus::Sending.can_move_to(SmsStatus::Cancelled));
        assert!(!SmsStatus::Cancelled.can_move_to(SmsStatus::Pending));
    }

    #[test]
    fn express_outranks_normal() {
        assert!(SmsType::Express.priority() > SmsType::Normal.priority());
    }

    #[test]
    fn message_ids_that_cannot_be_stored_or_matched_are_unusable() {
        assert_eq!(usable_message_id("abc-123"), Ok(()));
        assert_eq!(usable_message_id(&"x".repeat(128)), Ok(()));
        assert_eq!(usable_message_id("یک"), Ok(()));
        assert_eq!(usable_message_id(" "), Err("blank"));
        assert_eq!(
            usable_message_id(&"x".repeat(129)),
            Err("longer than 128 characters")
        );
        assert_eq!(usable_message_id("a\nb"), Err("control characters"));
    }
}
