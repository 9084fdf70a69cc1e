//! `POST /balance/add` (admin) and `GET /balance`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::customers::MAX_CREDIT;
use super::error::ApiError;
use super::extract::{Admin, ApiJson, Caller, ForCustomer, IdempotencyKey, NamesCustomer};
use super::idempotency::{self, Begun};
use super::pagination::PageRequest;
use super::responses::{JsonWriteErrors, LookupErrors, NotFound};
use crate::db::{self, ledger};
use crate::domain::FieldErrors;
use crate::state::AppState;

/// Body of `POST /balance/add`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddBalanceRequest {
    /// The customer to credit.
    #[schema(example = 7)]
    #[serde(rename = "user_id")]
    pub customer_id: i64,
    /// Credits to add, > 0. `amount` is accepted as a synonym.
    #[serde(alias = "amount")]
    #[schema(example = 100, minimum = 1, maximum = 1_000_000_000_000_i64)]
    pub balance: i64,
    /// Free text stored on the ledger row (at most 255 characters).
    #[serde(default)]
    #[schema(example = "top-up", max_length = 255)]
    pub description: Option<String>,
}

/// Result of a top-up.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddBalanceResponse {
    #[serde(rename = "user_id")]
    pub customer_id: i64,
    /// Balance after the top-up.
    pub balance: i64,
    /// The ledger row's id.
    pub transaction_id: String,
}

/// Query of `GET /balance`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BalanceQuery {
    /// The customer (required with the admin token; must be your own with an API key).
    #[param(example = 7)]
    #[serde(rename = "user_id")]
    pub customer_id: Option<i64>,
    /// Transactions per page, 1-100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl NamesCustomer for BalanceQuery {
    fn customer_id(&self) -> Option<i64> {
        self.customer_id
    }
}

/// One ledger row.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Transaction {
    pub transaction_id: String,
    /// Signed credits: charges negative, top-ups and refunds positive.
    pub amount: i64,
    /// `initial`, `topup`, `charge` or `refund`.
    pub transaction_type: String,
    pub description: Option<String>,
    /// The SMS request a charge or refund belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_identifier: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A balance and a page of its ledger.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BalanceResponse {
    #[serde(rename = "user_id")]
    pub customer_id: i64,
    pub balance: i64,
    /// Newest first.
    pub transactions: Vec<Transaction>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// Adds credits to a customer's balance (admin only).
#[utoipa::path(
    post, path = "/balance/add", tag = "balance",
    security(("admin_token" = [])),
    params(IdempotencyKey),
    request_body = AddBalanceRequest,
    responses(
        (status = 200, description = "Credited", body = AddBalanceResponse),
        NotFound, JsonWriteErrors,
    )
)]
pub async fn add_balance(
    State(state): State<AppState>,
    _: Admin,
    key: IdempotencyKey,
    ApiJson(req): ApiJson<AddBalanceRequest>,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::default();
    errors.check(
        !(1..=MAX_CREDIT).contains(&req.balance),
        "balance",
        format!("must be between 1 and {MAX_CREDIT}"),
    );
    errors.check(
        req.description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 255),
        "description",
        "at most 255 characters",
    );
    errors.finish()?;

    let idem =
        match idempotency::begin(Caller::Admin, key, "POST /balance/add", &req, &state).await? {
            Begun::Replay(resp) => return Ok(resp),
            Begun::Fresh(idem) => idem,
        };

    let transaction_id = format!("topup:{}", Uuid::now_v7());
    let mut tx = state.db.begin().await?;
    let balance = ledger::credit(
        &mut tx,
        &ledger::Entry {
            customer_id: req.customer_id,
            entry_type: ledger::EntryType::Topup,
            transaction_id: &transaction_id,
            description: Some(req.description.as_deref().unwrap_or("top-up")),
            sms_identifier: None,
        },
        req.balance,
    )
    .await?
    .ok_or_else(|| ApiError::unknown_customer(req.customer_id))?;
    let body = AddBalanceResponse {
        customer_id: req.customer_id,
        balance,
        transaction_id,
    };
    let resp = idempotency::commit(idem.as_ref(), &state.db, tx, StatusCode::OK, &body).await?;
    crate::metrics::credits_added(req.balance.max(0) as u64);
    tracing::info!(
        customer.id = req.customer_id,
        amount = req.balance,
        "balance added"
    );
    Ok(resp)
}

/// The caller's balance and ledger, newest first.
#[utoipa::path(
    get, path = "/balance", tag = "balance",
    security(("api_key" = []), ("admin_token" = [])),
    params(BalanceQuery),
    responses(
        (status = 200, description = "Balance and transactions", body = BalanceResponse),
        LookupErrors,
    )
)]
pub async fn get_balance(
    State(state): State<AppState>,
    ForCustomer {
        customer_id,
        query: q,
    }: ForCustomer<BalanceQuery>,
) -> Result<Response, ApiError> {
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let balance = db::ledger::balance(&state.db, customer_id)
        .await?
        .ok_or_else(|| ApiError::unknown_customer(customer_id))?;
    let rows = db::ledger::list(&state.db, customer_id, page.before, page.fetch()).await?;
    let (rows, next_cursor) = page.split(rows, |r| r.id);
    Ok(super::json_response(
        StatusCode::OK,
        &BalanceResponse {
            customer_id,
            balance,
            transactions: rows
                .into_iter()
                .map(|r| Transaction {
                    transaction_id: r.transaction_id,
                    amount: r.amount,
                    transaction_type: r.transaction_type,
                    description: r.description,
                    sms_identifier: r.sms_identifier,
                    created_at: r.created_at,
                })
                .collect(),
            next_cursor,
        },
    ))
}
