//! Delivery-status callbacks, for a customer (its key) or the admin naming it (`user_id`):
//! the webhook URL and signing secret (`/callbacks/settings`, and its rotation), the log of
//! recent POSTs, the parked events and their replay (`deliveries`).

pub mod deliveries;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use super::extract::{ApiJson, ForCustomer, NamesCustomer};
use super::responses::{JsonWriteErrors, LookupErrors};
use crate::callbacks::guard::{Guard, Unusable};
use crate::callbacks::signing;
use crate::db::callbacks::settings as repo;
use crate::state::AppState;

/// A customer's callback settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallbackSettings {
    pub customer_id: i64,
    /// Where its events are posted (a request's own `callback_url` takes precedence); null:
    /// no callbacks except for requests that name one.
    #[schema(example = "https://hooks.example.com/sms-status")]
    pub url: Option<String>,
    /// The secret the `X-Signature` header's first `v1` is made with (`whsec_...`); null
    /// until a URL is set.
    #[schema(example = "whsec_3q2-7w...")]
    pub secret: Option<String>,
    /// After a rotation: until when the previous secret signs too (a second `v1`).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

/// Body of `PUT /callbacks/settings`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutCallbackSettings {
    /// An absolute `http://` or `https://` URL (at most 2,048 characters) whose host is a
    /// public address; null turns the customer's callbacks off (events already queued are
    /// dropped when they come due).
    #[schema(example = "https://hooks.example.com/sms-status")]
    pub url: Option<String>,
}

/// The customer a callback endpoint acts for.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// The customer (admin token only; a key may name only its own).
    #[serde(rename = "user_id")]
    #[param(rename = "user_id")]
    pub customer_id: Option<i64>,
}

impl NamesCustomer for CustomerQuery {
    fn customer_id(&self) -> Option<i64> {
        self.customer_id
    }
}

async fn settings_of(state: &AppState, customer_id: i64) -> Result<Response, ApiError> {
    let s = repo::get(&state.db, customer_id)
        .await?
        .ok_or_else(|| ApiError::unknown_customer(customer_id))?;
    Ok(super::json_response(
        StatusCode::OK,
        &CallbackSettings {
            customer_id,
            url: s.url,
            secret: s.secret,
            previous_secret_expires_at: s.previous_until,
        },
    ))
}

/// The customer's callback settings, its secret included.
#[utoipa::path(
    get, path = "/callbacks/settings", tag = "callbacks",
    security(("api_key" = []), ("admin_token" = [])),
    params(CustomerQuery),
    responses(
        (status = 200, description = "The settings", body = CallbackSettings),
        LookupErrors,
    )
)]
pub async fn get_settings(
    State(state): State<AppState>,
    ForCustomer { customer_id, .. }: ForCustomer<CustomerQuery>,
) -> Result<Response, ApiError> {
    settings_of(&state, customer_id).await
}

/// Sets or clears the customer's webhook URL. The first URL also creates its signing secret.
/// A URL whose host is, or resolves to, a private, loopback or link-local address is refused
/// (400) unless `CALLBACK_ALLOWED_HOSTS` allows it; a name that does not resolve now is
/// accepted. The dispatcher checks again at every connection.
#[utoipa::path(
    put, path = "/callbacks/settings", tag = "callbacks",
    security(("api_key" = []), ("admin_token" = [])),
    params(CustomerQuery),
    request_body = PutCallbackSettings,
    responses(
        (status = 200, description = "Set; the settings", body = CallbackSettings),
        JsonWriteErrors,
    )
)]
pub async fn put_settings(
    State(state): State<AppState>,
    ForCustomer { customer_id, .. }: ForCustomer<CustomerQuery>,
    ApiJson(req): ApiJson<PutCallbackSettings>,
) -> Result<Response, ApiError> {
    if let Some(raw) = &req.url {
        let url = crate::domain::callback_url::parse(raw).map_err(|e| ApiError::field("url", e))?;
        match Guard::new(state.config.callbacks.allowed.clone())
            .check_url(&url)
            .await
        {
            Ok(()) => {}
            Err(Unusable::Refused(e)) => return Err(ApiError::field("url", e.to_string())),
            // DNS may be down, or the name not published yet: the dispatcher checks it at
            // every connection and retries until it resolves.
            Err(Unusable::Unresolved(why)) => {
                tracing::warn!(customer.id = customer_id, problem = %why, "callback URL set although its host does not resolve now");
            }
        }
    }
    if !repo::set_url(
        &state.db,
        customer_id,
        req.url.as_deref(),
        &signing::new_secret(),
    )
    .await?
    {
        return Err(ApiError::unknown_customer(customer_id));
    }
    tracing::info!(
        customer.id = customer_id,
        enabled = req.url.is_some(),
        "callback URL set"
    );
    settings_of(&state, customer_id).await
}

/// Replaces the customer's signing secret. The previous one keeps signing (a second `v1` in
/// `X-Signature`) for `CALLBACK_SECRET_GRACE_SECS` (default 24 h), so receivers can switch
/// without losing an event.
#[utoipa::path(
    post, path = "/callbacks/settings/rotate-secret", tag = "callbacks",
    security(("api_key" = []), ("admin_token" = [])),
    params(CustomerQuery),
    responses(
        (status = 200, description = "Rotated; the settings with the new secret", body = CallbackSettings),
        LookupErrors,
    )
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    ForCustomer { customer_id, .. }: ForCustomer<CustomerQuery>,
) -> Result<Response, ApiError> {
    let grace = state.config.callbacks.secret_grace.as_secs();
    if !repo::rotate(&state.db, customer_id, &signing::new_secret(), grace).await? {
        return Err(ApiError::unknown_customer(customer_id));
    }
    tracing::info!(
        customer.id = customer_id,
        grace_secs = grace,
        "callback secret rotated"
    );
    settings_of(&state, customer_id).await
}
