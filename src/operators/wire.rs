//! The operator wire protocol of the contract: what the gateway posts to an operator, what the
//! operator answers, the status lookup by reference, and the delivery report it posts back.
//! [`super::HttpOperator`] speaks it; the mock operator and the load tester's operator serve it.

use serde::{Deserialize, Serialize};

/// A send request: `POST {operator url}` with `Authorization: Bearer <api_key>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorSend {
    /// Recipient in E.164.
    pub to: String,
    /// The text.
    pub text: String,
    /// The gateway's idempotency key of the recipient ([`reference`]): the same on every
    /// attempt for that recipient and unique across deployments, so an operator that has seen
    /// it may answer with the message id it gave the first time instead of sending again.
    pub reference: String,
    /// The sender id the recipient sees (a number or an alphanumeric name, checked against
    /// the customer's allowed senders); absent: the operator's own. Not the customer's
    /// reference, which never leaves the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// The answer to an accepted send: `200 {"message_id"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorAccepted {
    /// The operator's id of the message; its delivery report names it.
    pub message_id: String,
}

/// A status lookup: `GET {status_url}?reference=<reference>` with `Authorization: Bearer
/// <api_key>`, answered [`MessageStatus`] (200) when the operator has a message with that
/// reference and 404 when it has none.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusQuery {
    /// The [`reference`] the message was sent with.
    pub reference: String,
}

/// The answer to a status lookup that found the message: `200 {"message_id", "status"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageStatus {
    /// The id the operator gave the message when it took it (the one its reports name).
    pub message_id: String,
    /// The operator's status word (`ACCEPTD` until a report says more, `DELIVRD`, ...).
    pub status: String,
    /// The sender id it was sent with (the mock operator answers it; the gateway ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// A delivery report as posted to the gateway's `POST /dlr/{operator}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryReportBody {
    /// The id the operator answered the send with.
    pub message_id: String,
    /// The operator's status word (`DELIVRD`, `UNDELIV`, ...).
    pub status: String,
}

/// The `reference` of one recipient: `"<sms_identifier>:<status id>"`. The request's
/// `sms_identifier` (a random UUID) makes it unique across deployments sharing an operator,
/// the status row's id across the request's recipients; it never changes between attempts.
pub fn reference(sms_identifier: &str, status_id: i64) -> String {
    format!("{sms_identifier}:{status_id}")
}
