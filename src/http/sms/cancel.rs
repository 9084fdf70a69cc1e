//! `POST /sms/{sms_identifier}/cancel`: stops the caller's request's recipients not yet taken
//! by a worker and refunds exactly those, once (the transaction is `db::cancel`'s; why it is
//! exact when racing delivery or another cancel: docs/DESIGN.md "Cancelling"). Works for a
//! scheduled request and one sent at once alike.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::detail::find_request;
use crate::db;
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, ApiQuery, Caller, IdempotencyKey};
use crate::http::idempotency::{self, Begun, REPLAYED_HEADER};
use crate::http::responses::{Conflict, LookupErrors};
use crate::state::AppState;

/// Query of `POST /sms/{sms_identifier}/cancel`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CancelQuery {
    /// The customer (required with the admin token; must be your own with an API key).
    #[serde(rename = "user_id")]
    #[param(rename = "user_id")]
    pub customer_id: Option<i64>,
}

/// What a cancel did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CancelResponse {
    pub sms_identifier: String,
    /// Recipients this call moved from PENDING to CANCELLED.
    pub cancelled: u64,
    /// Credits refunded for them (their segments x the price per segment), by one ledger row
    /// `cancel:<sms_identifier>`.
    pub refunded: i64,
    /// The request's other recipients: already taken by a worker (SENDING, and then SENT,
    /// FAILED...), finished, or cancelled by an earlier call. They are not refunded here.
    pub not_cancelled: u64,
}

/// Cancels what is left of one of the caller's requests.
#[utoipa::path(
    post, path = "/sms/{sms_identifier}/cancel", tag = "sms",
    security(("api_key" = []), ("admin_token" = [])),
    params(
        ("sms_identifier" = String, Path, description = "From the send response"),
        CancelQuery,
        IdempotencyKey,
    ),
    responses(
        (status = 200, description = "Cancelled and refunded what was not yet taken (0 on a second call)", body = CancelResponse),
        LookupErrors, Conflict,
    )
)]
pub async fn cancel_sms(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<CancelQuery>,
    key: IdempotencyKey,
    ApiPath(sms_identifier): ApiPath<String>,
) -> Result<Response, ApiError> {
    let customer_id = caller.target(&state, query.customer_id, "user_id").await?;
    let request = find_request(&state, customer_id, &sms_identifier).await?;
    let route = format!("POST /sms/{}/cancel {customer_id}", request.sms_identifier);
    let idem = match idempotency::begin(caller, key, &route, &(), &state).await? {
        Begun::Replay(resp) => return Ok(resp),
        Begun::Fresh(idem) => idem,
    };
    // A deadlock's loser (a worker's take or a promotion in the same instant) rolled back as
    // a whole: it is run again.
    let (tx, done) = db::retry_transient(3, || async {
        let mut tx = db::begin_read_committed(&state.db).await?;
        let done = db::cancel::cancel(&mut tx, &request).await?;
        Ok((tx, done))
    })
    .await?;
    let recipients = u64::try_from(request.recipients).unwrap_or(0);
    let body = CancelResponse {
        sms_identifier: request.sms_identifier.clone(),
        cancelled: done.cancelled,
        refunded: done.refunded,
        not_cancelled: recipients.saturating_sub(done.cancelled),
    };
    let resp = idempotency::commit(idem.as_ref(), &state.db, tx, StatusCode::OK, &body).await?;
    if done.cancelled > 0 && !resp.headers().contains_key(REPLAYED_HEADER) {
        // Not in smsgw_ledger_credits_refunded_total: that counts failures (RefundsSpike);
        // a customer's cancel is not one.
        crate::metrics::recipients_cancelled(request.sms_type, done.cancelled);
        tracing::info!(
            sms.id = %request.sms_identifier,
            customer.id = customer_id,
            sms.cancelled = done.cancelled,
            sms.refunded = done.refunded,
            "sms cancelled"
        );
    }
    Ok(resp)
}
