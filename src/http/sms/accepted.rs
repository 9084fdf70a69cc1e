//! The answer of an accepted `POST /sms/send` (`send`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{Encoding, SmsType};

/// A recipient left out of a partially accepted request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RejectedRecipient {
    pub recipient: String,
    /// Why: `insufficient_balance`.
    pub reason: String,
}

/// An accepted message of a personalized request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AcceptedMessage {
    /// Its recipient, normalized.
    pub to: String,
    pub segments: u32,
    pub encoding: Encoding,
    /// Credits charged for it.
    pub cost: i64,
    /// Its reference (its own, or the request's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// Answer of an accepted send.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SendResponse {
    /// Identifies the request in `GET /sms/{sms_identifier}` and the history.
    pub sms_identifier: Uuid,
    /// Always `processing`.
    #[schema(example = "processing")]
    pub status: String,
    /// Number of accepted (and charged) recipients.
    pub recipients: usize,
    /// Segments per recipient; with `messages`, of all accepted messages together.
    pub segments: u32,
    /// With `messages`: UCS-2 when any accepted message is.
    pub encoding: Encoding,
    #[serde(rename = "type")]
    pub sms_type: SmsType,
    /// Credits charged.
    pub cost: i64,
    /// Balance after the charge.
    pub balance: i64,
    /// The sender id it goes out from (`from`, or the customer's default; absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The caller's reference of the request, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// When it will be sent (scheduled sending); absent: at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Accepted recipients, normalized (present when `allow_partial` was set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Vec<String>>,
    /// Recipients not accepted (present when `allow_partial` was set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<Vec<RejectedRecipient>>,
    /// With `messages`: the accepted ones, in order, each with its segments and cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<AcceptedMessage>>,
}
