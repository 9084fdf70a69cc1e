//! The SMS resource: sending (`send`), the per-recipient history (`history`) and one request's
//! detail (`detail`), with their routes.

pub mod detail;
pub mod history;
pub mod send;

use axum::Router;
use axum::routing::{get, post};

pub use self::detail::{RecipientStatus, SmsDetail, SmsEvent};
pub use self::history::{HistoryItem, HistoryQuery, HistoryResponse};
pub use self::send::{RejectedRecipient, SendRequest, SendResponse};
use crate::state::AppState;

/// The routes of `/sms`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sms/send", post(send::send))
        .route("/sms/history", get(history::history))
        .route("/sms/{sms_identifier}", get(detail::get_sms))
}
