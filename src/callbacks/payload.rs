//! What a callback POST carries: `{"events": [...]}`, each event one state change of one
//! recipient (docs/API.md "Delivery-status callbacks" is the contract).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::callbacks::EventRow;

/// The body of a callback POST.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallbackBatch {
    /// 1 to `CALLBACK_BATCH_MAX` events of one customer, oldest first.
    pub events: Vec<CallbackEvent>,
}

/// One state change of one recipient.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallbackEvent {
    /// Unique per event and the same on every retry and replay of it: deduplicate on it
    /// (delivery is at least once).
    #[schema(example = "evt_1024")]
    pub event_id: String,
    /// `SENT`, `DELIVERED`, `UNDELIVERED`, `FAILED` or `CANCELLED`.
    #[schema(example = "DELIVERED")]
    pub status: String,
    pub sms_identifier: String,
    /// E.164.
    #[schema(example = "+989121234567")]
    pub recipient: String,
    /// The customer's reference of the recipient (or of its request), if any.
    pub reference: Option<String>,
    /// The sender id the recipient sees (`from` of the request), if any.
    #[schema(example = "ACME")]
    pub from: Option<String>,
    /// `normal` or `express`.
    #[serde(rename = "type")]
    pub sms_type: String,
    /// The operator that took it (none for a message that never reached one).
    pub operator: Option<String>,
    /// The operator's id of the message.
    pub operator_message_id: Option<String>,
    /// Why: the failure reason (`FAILED`), the operator's report (`UNDELIVERED`, e.g.
    /// `EXPIRED`), or `cancelled by the customer`; null for `SENT` and `DELIVERED`.
    pub reason: Option<String>,
    /// Credits refunded with `FAILED` or `CANCELLED` (0 for a free message); null otherwise.
    pub refund: Option<i64>,
    /// When the state changed.
    pub occurred_at: DateTime<Utc>,
    /// When the request was accepted.
    pub accepted_at: DateTime<Utc>,
    /// This event's delivery attempt, from 1 (a replay starts again at 1).
    pub attempt: i32,
}

impl From<&EventRow> for CallbackEvent {
    fn from(e: &EventRow) -> Self {
        let reason = match e.status.as_str() {
            "SENT" | "DELIVERED" => None,
            _ => e.detail.clone(),
        };
        Self {
            event_id: format!("evt_{}", e.id),
            status: e.status.clone(),
            sms_identifier: e.sms_identifier.clone(),
            recipient: e.recipient.clone(),
            reference: e.client_reference.clone(),
            from: e.sender.clone(),
            sms_type: e.sms_type.clone(),
            operator: e.provider.clone(),
            operator_message_id: e.provider_message_id.clone(),
            reason,
            refund: e.refund,
            occurred_at: e.occurred_at,
            accepted_at: e.accepted_at,
            attempt: e.attempts + 1,
        }
    }
}
