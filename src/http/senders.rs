//! Sender ids: a customer's allowed senders (`GET /senders`), and the admin's endpoints under
//! `/admin/customers/{customer_id}/senders` that add and remove them and pick the default.
//! `POST /sms/send` checks its `from` against them in the acceptance transaction
//! (`crate::intake`), so a change applies to the next send in every api process.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use super::extract::{Admin, ApiJson, ApiPath, ForCustomer, NamesCustomer};
use super::responses::{JsonWriteErrors, LookupErrors, NotFound};
use crate::db::{self, senders as repo};
use crate::domain::SenderId;
use crate::state::AppState;

/// Body of `POST /admin/customers/{customer_id}/senders`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSenderRequest {
    /// A number (3-15 digits, optional leading `+`; short codes allowed) or 1-11 ASCII
    /// letters, digits, space, `.`, `-`, `_`, `&` with at least one letter and no space at
    /// either end. Compared exactly, case included.
    #[schema(example = "ACME", min_length = 1, max_length = 16)]
    pub sender: String,
    /// Make it the customer's default sender (the previous default stops being one).
    #[serde(default)]
    pub default: bool,
}

/// One sender id of a customer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SenderView {
    #[schema(example = "ACME")]
    pub sender: String,
    /// Used when a send names no `from`.
    pub default: bool,
    pub created_at: DateTime<Utc>,
}

/// A customer's sender ids, the default first, then by name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SenderList {
    pub customer_id: i64,
    /// At most 50.
    pub senders: Vec<SenderView>,
}

/// Query of `GET /senders`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SendersQuery {
    /// The customer (admin token only; a key may name only its own).
    #[serde(rename = "user_id")]
    #[param(rename = "user_id")]
    pub customer_id: Option<i64>,
}

impl NamesCustomer for SendersQuery {
    fn customer_id(&self) -> Option<i64> {
        self.customer_id
    }
}

async fn list_of(state: &AppState, customer_id: i64) -> Result<Response, ApiError> {
    let senders = repo::list(&state.db, customer_id)
        .await?
        .into_iter()
        .map(|r| SenderView {
            sender: r.sender,
            default: r.is_default,
            created_at: r.created_at,
        })
        .collect();
    Ok(super::json_response(
        StatusCode::OK,
        &SenderList {
            customer_id,
            senders,
        },
    ))
}

/// A sender id from a path or body, or a 400 naming `field`.
fn parse_sender(field: &str, raw: &str) -> Result<SenderId, ApiError> {
    SenderId::parse(raw).map_err(|e| ApiError::field(field, e))
}

/// The caller's sender ids: what `from` on `POST /sms/send` may be.
#[utoipa::path(
    get, path = "/senders", tag = "senders",
    security(("api_key" = []), ("admin_token" = [])),
    params(SendersQuery),
    responses(
        (status = 200, description = "The customer's sender ids", body = SenderList),
        LookupErrors,
    )
)]
pub async fn own_senders(
    State(state): State<AppState>,
    ForCustomer { customer_id, .. }: ForCustomer<SendersQuery>,
) -> Result<Response, ApiError> {
    list_of(&state, customer_id).await
}

/// A customer's sender ids.
#[utoipa::path(
    get, path = "/admin/customers/{customer_id}/senders", tag = "senders",
    security(("admin_token" = [])),
    params(("customer_id" = i64, Path, description = "The customer")),
    responses(
        (status = 200, description = "Its sender ids", body = SenderList),
        LookupErrors,
    )
)]
pub async fn list_senders(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(customer_id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    if !db::customers::exists(&state.db, customer_id).await? {
        return Err(ApiError::unknown_customer(customer_id));
    }
    list_of(&state, customer_id).await
}

/// Adds a sender id to a customer (at most 50), as its default when `default` is set.
/// Sends may use it from the next request on, in every api process.
#[utoipa::path(
    post, path = "/admin/customers/{customer_id}/senders", tag = "senders",
    security(("admin_token" = [])),
    params(("customer_id" = i64, Path, description = "The customer")),
    request_body = AddSenderRequest,
    responses(
        (status = 201, description = "Added; the customer's sender ids", body = SenderList),
        NotFound, JsonWriteErrors,
    )
)]
pub async fn add_sender(
    State(state): State<AppState>,
    _: Admin,
    ApiPath(customer_id): ApiPath<i64>,
    ApiJson(req): ApiJson<AddSenderRequest>,
) -> Result<Response, ApiError> {
    let sender = parse_sender("sender", &req.sender)?;
    let mut tx = state.db.begin().await?;
    match repo::add(&mut tx, customer_id, sender.as_str(), req.default).await? {
        repo::Added::Added => tx.commit().await?,
        repo::Added::Exists => {
            return Err(ApiError::Conflict(format!(
                "customer {customer_id} already has the sender {sender:?}"
            )));
        }
        repo::Added::Full => {
            return Err(ApiError::Conflict(format!(
                "customer {customer_id} has {} senders, the most allowed; remove one first",
                repo::MAX_PER_CUSTOMER
            )));
        }
        repo::Added::UnknownCustomer => return Err(ApiError::unknown_customer(customer_id)),
    }
    tracing::info!(customer.id = customer_id, sender = %sender, default = req.default, "sender added");
    let mut resp = list_of(&state, customer_id).await?;
    *resp.status_mut() = StatusCode::CREATED;
    Ok(resp)
}

/// Removes a sender id (the default too: the customer then has no default, and a send
/// without `from` goes out with none). Sends naming it are refused from the next request on.
#[utoipa::path(
    delete, path = "/admin/customers/{customer_id}/senders/{sender}", tag = "senders",
    security(("admin_token" = [])),
    params(
        ("customer_id" = i64, Path, description = "The customer"),
        ("sender" = String, Path, description = "The sender id, URL-encoded"),
    ),
    responses(
        (status = 200, description = "Removed; the customer's sender ids", body = SenderList),
        LookupErrors,
    )
)]
pub async fn remove_sender(
    State(state): State<AppState>,
    _: Admin,
    ApiPath((customer_id, sender)): ApiPath<(i64, String)>,
) -> Result<Response, ApiError> {
    let sender = parse_sender("sender", &sender)?;
    if !repo::remove(&state.db, customer_id, sender.as_str()).await? {
        return Err(not_a_sender(customer_id, &sender));
    }
    tracing::info!(customer.id = customer_id, sender = %sender, "sender removed");
    list_of(&state, customer_id).await
}

/// Makes one of a customer's sender ids its default.
#[utoipa::path(
    put, path = "/admin/customers/{customer_id}/senders/{sender}/default", tag = "senders",
    security(("admin_token" = [])),
    params(
        ("customer_id" = i64, Path, description = "The customer"),
        ("sender" = String, Path, description = "The sender id, URL-encoded"),
    ),
    responses(
        (status = 200, description = "Set; the customer's sender ids", body = SenderList),
        LookupErrors,
    )
)]
pub async fn set_default_sender(
    State(state): State<AppState>,
    _: Admin,
    ApiPath((customer_id, sender)): ApiPath<(i64, String)>,
) -> Result<Response, ApiError> {
    let sender = parse_sender("sender", &sender)?;
    let mut tx = state.db.begin().await?;
    if !repo::set_default(&mut tx, customer_id, sender.as_str()).await? {
        return Err(not_a_sender(customer_id, &sender));
    }
    tx.commit().await?;
    tracing::info!(customer.id = customer_id, sender = %sender, "default sender set");
    list_of(&state, customer_id).await
}

fn not_a_sender(customer_id: i64, sender: &SenderId) -> ApiError {
    ApiError::NotFound(format!(
        "customer {customer_id} has no sender {:?}",
        sender.as_str()
    ))
}
