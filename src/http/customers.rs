//! `POST /admin/customers` and key rotation: by the admin for any customer, by a customer for
//! its own key (`POST /api-key`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::{Admin, ApiJson, ApiPath, Caller, IdempotencyKey};
use super::idempotency::{self, Begun, is_unique_violation};
use super::responses::{Forbidden, JsonWriteErrors, LookupErrors, Unauthorized, Unavailable};
use crate::domain::FieldErrors;
use crate::state::AppState;
use crate::{accounts, db};

/// Largest initial balance or top-up, in credits.
pub const MAX_CREDIT: i64 = 1_000_000_000_000;

/// Body of `POST /admin/customers`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomerRequest {
    /// Unique name, 1-100 characters after trimming, no control characters.
    #[schema(example = "acme", min_length = 1)]
    pub name: String,
    /// Initial balance in credits (default 0), booked as an `initial` ledger row.
    #[serde(default)]
    #[schema(example = 100, minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub balance: i64,
}

/// A created customer. `api_key` is shown only here: it is stored hashed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerCreated {
    pub customer_id: i64,
    pub name: String,
    /// Bearer token of the customer endpoints. `null` in a replay of an idempotent request
    /// (the key is never stored in clear); rotate it if the first response was lost.
    pub api_key: Option<String>,
    /// Balance after creation.
    pub balance: i64,
}

/// A customer's new API key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyRotated {
    pub customer_id: i64,
    pub api_key: String,
}

/// Creates a customer and its API key.
#[utoipa::path(
    post, path = "/admin/customers", tag = "admin",
    security(("admin_token" = [])),
    params(IdempotencyKey),
    request_body = CreateCustomerRequest,
    responses(
        (status = 201, description = "Created", body = CustomerCreated),
        JsonWriteErrors,
    )
)]
pub async fn create_customer(
    State(state): State<AppState>,
    _: Admin,
    key: IdempotencyKey,
    ApiJson(req): ApiJson<CreateCustomerRequest>,
) -> Result<Response, ApiError> {
    let name = req.name.trim();
    let mut errors = FieldErrors::default();
    if name.is_empty() || name.chars().count() > 100 {
        errors.add("name", "must be 1-100 characters");
    } else if name.chars().any(char::is_control) {
        errors.add("name", "must not contain control characters");
    }
    errors.check(
        !(0..=MAX_CREDIT).contains(&req.balance),
        "balance",
        format!("must be between 0 and {MAX_CREDIT}"),
    );
    errors.finish()?;

    let idem = match idempotency::begin(Caller::Admin, key, "POST /admin/customers", &req, &state)
        .await?
    {
        Begun::Replay(resp) => return Ok(resp),
        Begun::Fresh(idem) => idem,
    };

    let mut tx = state.db.begin().await?;
    let created = match accounts::create_customer(&mut tx, name, req.balance).await {
        Ok(c) => c,
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::Conflict(format!(
                "a customer named {name:?} already exists"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(customer.id = created.customer_id, "customer created");
    let mut body = CustomerCreated {
        customer_id: created.customer_id,
        name: name.to_string(),
        api_key: None,
        balance: created.balance,
    };
    // The stored (replayable) response carries no key; the live one does.
    let stored =
        idempotency::commit(idem.as_ref(), &state.db, tx, StatusCode::CREATED, &body).await?;
    // The new key may have been refused here before (crate::state::KeyCache).
    state.key_cache.forget_refused();
    if stored.headers().contains_key(idempotency::REPLAYED_HEADER) {
        return Ok(stored);
    }
    crate::metrics::credits_added(created.balance.max(0) as u64);
    body.api_key = Some(created.api_key);
    Ok(super::json_response(StatusCode::CREATED, &body))
}

/// Issues a new API key for a customer; the old key stops working at once.
#[utoipa::path(
    post, path = "/admin/customers/{customer_id}/api-key", tag = "admin",
    security(("admin_token" = [])),
    params(("customer_id" = i64, Path, description = "The customer")),
    responses(
        (status = 200, description = "New key", body = ApiKeyRotated),
        LookupErrors,
    )
)]
pub async fn rotate_api_key(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(customer_id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let mut tx = state.db.begin().await?;
    let Some(api_key) = accounts::rotate_api_key(&mut tx, customer_id).await? else {
        return Err(ApiError::unknown_customer(customer_id));
    };
    tx.commit().await?;
    state.key_cache.forget_refused();
    tracing::info!(customer.id = customer_id, "api key rotated");
    Ok(super::json_response(
        StatusCode::OK,
        &ApiKeyRotated {
            customer_id,
            api_key,
        },
    ))
}

/// Issues a new API key for the caller's own customer; the old key stops working at once, and
/// so do the customer's console sessions, except the one this request came with (if any).
#[utoipa::path(
    post, path = "/api-key", tag = "account",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "New key", body = ApiKeyRotated),
        Unauthorized, Forbidden, Unavailable,
    )
)]
pub async fn rotate_own_api_key(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Caller::Customer(customer_id) = caller else {
        return Err(ApiError::Forbidden(
            "the admin rotates a customer's key with POST /admin/customers/{customer_id}/api-key"
                .into(),
        ));
    };
    let mut tx = state.db.begin().await?;
    let Some(api_key) = accounts::rotate_api_key(&mut tx, customer_id).await? else {
        return Err(ApiError::unknown_customer(customer_id));
    };
    if let Some(session) = super::session_auth::session_id_hash(&headers) {
        let new_hash = crate::hashing::sha256(api_key.as_bytes());
        db::sessions::rebind(&mut tx, &session, customer_id, &new_hash).await?;
    }
    tx.commit().await?;
    state.key_cache.forget_refused();
    tracing::info!(customer.id = customer_id, "api key rotated by its customer");
    Ok(super::json_response(
        StatusCode::OK,
        &ApiKeyRotated {
            customer_id,
            api_key,
        },
    ))
}
