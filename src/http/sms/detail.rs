//! `GET /sms/{sms_identifier}`: one request of the caller's with every recipient's status and
//! timeline.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::messages as repo;
use crate::domain::{SmsStatus, SmsType};
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, ForCustomer, NamesCustomer};
use crate::http::responses::LookupErrors;
use crate::state::AppState;

/// One event of a recipient's timeline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SmsEvent {
    /// The state entered, or an operator's intermediate report.
    pub status: String,
    pub at: DateTime<Utc>,
    pub detail: Option<String>,
}

/// One recipient's message within a request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecipientStatus {
    pub recipient: String,
    pub status: SmsStatus,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    /// Why it failed (FAILED / UNDELIVERED), e.g. `expired`.
    pub failure_reason: Option<String>,
    /// Operator calls made for it.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Oldest first, starting with PENDING at acceptance.
    pub events: Vec<SmsEvent>,
}

/// A request with its per-recipient status.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SmsDetail {
    pub sms_identifier: String,
    #[serde(rename = "type")]
    pub sms_type: SmsType,
    pub text: String,
    pub encoding: String,
    pub segments: i32,
    /// Accepted recipients.
    pub recipients: i32,
    /// Credits charged at acceptance.
    pub cost: i64,
    /// Requested operator order, if any.
    pub operators: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Recipients per current state.
    #[schema(example = json!({"PENDING": 1, "SENT": 1}))]
    pub counts: BTreeMap<String, usize>,
    pub messages: Vec<RecipientStatus>,
}

/// A request of the caller's with every recipient's status and timeline.
#[utoipa::path(
    get, path = "/sms/{sms_identifier}", tag = "sms",
    security(("api_key" = []), ("admin_token" = [])),
    params(
        ("sms_identifier" = String, Path, description = "From the send response"),
        DetailQuery,
    ),
    responses(
        (status = 200, description = "The request", body = SmsDetail),
        LookupErrors,
    )
)]
pub async fn get_sms(
    State(state): State<AppState>,
    ForCustomer { customer_id, .. }: ForCustomer<DetailQuery>,
    ApiPath(sms_identifier): ApiPath<String>,
) -> Result<Response, ApiError> {
    let not_found = || {
        ApiError::NotFound(format!(
            "no SMS request {sms_identifier:?} for this customer"
        ))
    };
    let id = Uuid::try_parse(&sms_identifier).map_err(|_| not_found())?;
    let request = repo::find_request(&state.db, customer_id, &id.to_string())
        .await?
        .ok_or_else(not_found)?;
    let statuses = repo::statuses_of_request(&state.db, request.id).await?;
    let events = repo::events_of_request(&state.db, request.id).await?;

    let mut counts = BTreeMap::new();
    let messages = statuses
        .iter()
        .map(|s| {
            *counts.entry(s.status.as_str().to_string()).or_insert(0) += 1;
            let mut timeline = vec![SmsEvent {
                status: SmsStatus::Pending.as_str().to_string(),
                at: s.created_at,
                detail: Some("accepted".into()),
            }];
            timeline.extend(
                events
                    .iter()
                    .filter(|e| e.status_id == s.id)
                    .map(|e| SmsEvent {
                        status: e.status.clone(),
                        at: e.created_at,
                        detail: e.detail.clone(),
                    }),
            );
            RecipientStatus {
                recipient: s.recipient.clone(),
                status: s.status,
                provider: s.provider.clone(),
                provider_message_id: s.provider_message_id.clone(),
                failure_reason: s.failure_reason.clone(),
                attempts: s.attempts,
                created_at: s.created_at,
                updated_at: s.updated_at,
                events: timeline,
            }
        })
        .collect();
    let operators = request.operator_preference();
    Ok(crate::http::json_response(
        StatusCode::OK,
        &SmsDetail {
            sms_identifier: request.sms_identifier,
            sms_type: request.sms_type,
            text: request.body,
            encoding: request.encoding.as_str().to_string(),
            segments: request.segments,
            recipients: request.recipients,
            cost: request.cost,
            operators,
            expires_at: request.expires_at,
            created_at: request.created_at,
            counts,
            messages,
        },
    ))
}

/// Query of `GET /sms/{sms_identifier}`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DetailQuery {
    /// The customer (required with the admin token; must be your own with an API key).
    #[serde(rename = "user_id")]
    #[param(rename = "user_id")]
    pub customer_id: Option<i64>,
}

impl NamesCustomer for DetailQuery {
    fn customer_id(&self) -> Option<i64> {
        self.customer_id
    }
}
