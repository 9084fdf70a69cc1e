//! The SMS resource: sending (`send`) and its price beforehand (`quote`), the per-recipient history (`history`, and all of it as
//! CSV: `history_csv`), one request's detail (`detail`), one recipient's timeline
//! (`events`) and cancelling what is left of a request (`cancel`), with their routes.

mod accepted;
pub mod cancel;
pub mod detail;
pub mod events;
pub mod history;
pub mod history_csv;
pub mod quote;
pub mod send;
mod timeline;

use axum::Router;
use axum::routing::{get, post};

pub use self::cancel::{CancelQuery, CancelResponse};
pub use self::detail::{RecipientStatus, SmsDetail};
pub use self::events::RecipientEvents;
pub use self::history::{HistoryItem, HistoryQuery, HistoryResponse};
pub use self::send::{RejectedRecipient, SendRequest, SendResponse};
pub use self::timeline::SmsEvent;
use crate::state::AppState;

/// The routes of `/sms`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sms/send", post(send::send))
        .route("/sms/quote", post(quote::quote))
        .route("/sms/history", get(history::history))
        .route("/sms/history.csv", get(history_csv::history_csv))
        .route("/sms/{sms_identifier}", get(detail::get_sms))
        .route("/sms/{sms_identifier}/cancel", post(cancel::cancel_sms))
        .route(
            "/sms/{sms_identifier}/recipients/{recipient}/events",
            get(events::recipient_events),
        )
}
