//! The operator wire protocol of the contract: what the gateway posts to an operator, what the
//! operator answers, and the delivery report it posts back. [`super::HttpOperator`] speaks it;
//! the mock operator and the load tester's operator serve it.

use serde::{Deserialize, Serialize};

/// A send request: `POST {operator url}` with `Authorization: Bearer <api_key>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorSend {
    /// Recipient in E.164.
    pub to: String,
    /// The text.
    pub text: String,
    /// The gateway's reference of the recipient (delivery reports do not carry it back).
    pub reference: String,
}

/// The answer to an accepted send: `200 {"message_id"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperatorAccepted {
    /// The operator's id of the message; its delivery report names it.
    pub message_id: String,
}

/// A delivery report as posted to the gateway's `POST /dlr/{operator}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryReportBody {
    /// The id the operator answered the send with.
    pub message_id: String,
    /// The operator's status word (`DELIVRD`, `UNDELIV`, ...).
    pub status: String,
}
