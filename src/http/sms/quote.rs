//! `POST /sms/quote`: what a send would cost, decided by the very validation and pricing of
//! `POST /sms/send` (`crate::intake`), without charging or queueing anything. The console's
//! send form shows it live.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::send::SendRequest;
use crate::db;
use crate::domain::Encoding;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Caller};
use crate::http::responses::{JsonWriteErrors, NotFound};
use crate::intake;
use crate::state::AppState;

/// What a send would cost.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Quote {
    /// How the text would be encoded (of all texts together, for `messages`).
    pub encoding: Encoding,
    /// Segments of one recipient's text (for `messages`: of all texts together).
    pub segments: u32,
    /// Septets (GSM-7) or UTF-16 units (UCS-2) the text takes.
    pub units: u32,
    /// Valid recipients counted (0 when none were given yet).
    pub recipients: usize,
    /// Credits per segment of the request's `type`.
    pub price_per_segment: i64,
    /// What the whole request would be charged.
    pub cost: i64,
    /// The customer's balance now.
    pub balance: i64,
    /// Whether the balance covers `cost`.
    pub covered: bool,
}

/// Quotes a send: the body of `POST /sms/send`, validated by the same rules (its 400s are the
/// same); nothing is charged or queued. Without `recipients` (absent or empty) it quotes the
/// text alone, with `recipients` 0 and `cost` 0, so a form can show segments as one types.
#[utoipa::path(
    post, path = "/sms/quote", tag = "sms",
    security(("api_key" = []), ("admin_token" = [])),
    request_body = SendRequest,
    responses(
        (status = 200, description = "The quote", body = Quote),
        NotFound, JsonWriteErrors,
    )
)]
pub async fn quote(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<SendRequest>,
) -> Result<Response, ApiError> {
    let config = &state.config;
    let customer_id = caller
        .target(&state, req.customer_id, "customer_id")
        .await?;
    let no_recipients = req.messages.is_none() && req.recipients.as_ref().is_none_or(Vec::is_empty);
    let validated = intake::validate(customer_id, &req.input(), &config.intake, |t| {
        config.operators.names_for(t)
    });
    let sms_type = req
        .sms_type
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    let price = config.intake.price(sms_type);
    let (count, recipients, cost) = match validated {
        Ok(cmd) => {
            let (_, cost) = intake::charge_for(&cmd, price, i64::MAX)
                .map_err(|_| anyhow::anyhow!("a quote without a balance limit fell short"))?;
            (cmd.count, cmd.recipients.len(), cost)
        }
        // Only the recipients are missing: the text's own quote (its problems stay 400s).
        Err(mut errors) if no_recipients => {
            errors.remove("recipients");
            errors.finish().map_err(ApiError::validation)?;
            let text = req.text.as_deref().unwrap_or_default();
            (crate::domain::segments::count(text), 0, 0)
        }
        Err(errors) => return Err(ApiError::validation(errors)),
    };
    let balance = db::ledger::balance(&state.db, customer_id)
        .await?
        .ok_or_else(|| ApiError::unknown_customer(customer_id))?;
    let body = Quote {
        encoding: count.encoding,
        segments: count.segments,
        units: count.units,
        recipients,
        price_per_segment: price,
        cost,
        balance,
        covered: cost <= balance,
    };
    Ok(crate::http::json_response(StatusCode::OK, &body))
}
