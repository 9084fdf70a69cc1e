//! `POST /sms/send`, `GET /sms/history` and `GET /sms/{sms_identifier}`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::{ApiError, Problem};
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller, IdempotencyKey, Sender};
use super::idempotency::{self, Idempotency};
use super::pagination;
use crate::db::messages::{self as repo, HistoryFilter};
use crate::domain::{Encoding, PhoneNumber, SmsStatus, SmsType};
use crate::intake::{self, Outcome, SendInput};
use crate::state::AppState;

/// Body of `POST /sms/send`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The message, at most `MAX_SEGMENTS` segments (GSM 03.38 counting).
    #[schema(example = "Your code is 4821")]
    pub text: String,
    /// 1-1,000 numbers in E.164 (`+989121234567`) or, with `DEFAULT_COUNTRY_CODE`, local
    /// (`09121234567`) form; no duplicates after normalization.
    #[schema(example = json!(["+989121234567", "09127654321"]))]
    pub recipients: Vec<String>,
    /// `normal` (default) or `express`, case-insensitive.
    #[serde(rename = "type", default)]
    #[schema(example = "normal")]
    pub sms_type: Option<String>,
    /// Optional; must be the key's own customer. Required with the admin token.
    #[serde(default)]
    pub customer_id: Option<i64>,
    /// Accept the first recipients the balance covers instead of answering 402.
    #[serde(default)]
    pub allow_partial: bool,
    /// A message not handed to an operator within this many seconds fails as `expired` and is
    /// refunded.
    #[serde(default)]
    #[schema(example = 300)]
    pub validity_seconds: Option<i64>,
    /// Operator preference: empty or absent uses the configured order, one name only that
    /// operator, several fail over in the given order.
    #[serde(default)]
    pub operators: Option<Vec<String>>,
}

/// A recipient left out of a partially accepted request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RejectedRecipient {
    pub recipient: String,
    /// Why: `insufficient_balance`.
    pub reason: String,
}

/// Answer of an accepted send.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SendResponse {
    /// Identifies the request in `GET /sms/{sms_identifier}` and the history.
    pub sms_identifier: Uuid,
    /// Always `processing`.
    #[schema(example = "processing")]
    pub status: String,
    /// Number of accepted (and charged) recipients.
    pub recipients: usize,
    /// Segments per recipient.
    pub segments: u32,
    pub encoding: Encoding,
    #[serde(rename = "type")]
    pub sms_type: SmsType,
    /// Credits charged.
    pub cost: i64,
    /// Balance after the charge.
    pub balance: i64,
    /// Accepted recipients, normalized (present when `allow_partial` was set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Vec<String>>,
    /// Recipients not accepted (present when `allow_partial` was set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<Vec<RejectedRecipient>>,
}

/// Charges the balance and queues one message per recipient.
#[utoipa::path(
    post, path = "/sms/send", tag = "sms",
    security(("api_key" = []), ("admin_token" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key and body replay the first answer")),
    request_body = SendRequest,
    responses(
        (status = 202, description = "Accepted, charged and queued", body = SendResponse),
        (status = 400, description = "Invalid text, recipients, type or options; nothing charged", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown key", body = Problem, content_type = "application/problem+json"),
        (status = 402, description = "Balance too low; nothing charged", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "customer_id names another customer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than MAX_BODY_BYTES", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn send(
    State(state): State<AppState>,
    mut sender: Sender,
    key: IdempotencyKey,
    headers: HeaderMap,
    body: Result<ApiJson<SendRequest>, ApiError>,
) -> Result<Response, ApiError> {
    // A key from the key cache is checked before a bad body is answered: an unknown key is
    // 401 whatever the body.
    let ApiJson(req) = match body {
        Ok(body) => body,
        Err(e) => {
            sender.verify(&state).await?;
            return Err(e);
        }
    };
    let config = &state.config;
    // A key taken from the key cache is checked inside the acceptance transaction (group
    // commit); everywhere else, and before any other answer, it is checked now.
    if key.0.is_some() || !config.intake.group_commit || req.customer_id.is_some() {
        sender.verify(&state).await?;
    }
    let caller = sender.caller;
    let customer_id = caller
        .target(&state, req.customer_id, "customer_id")
        .await?;
    let validated = intake::validate(
        customer_id,
        &SendInput {
            text: &req.text,
            recipients: &req.recipients,
            sms_type: req.sms_type.as_deref(),
            allow_partial: req.allow_partial,
            validity_seconds: req.validity_seconds,
            operators: req.operators.as_deref(),
        },
        &config.intake,
        |t| config.operators.names_for(t),
    );
    let mut cmd = match validated {
        Ok(cmd) => cmd,
        Err(errors) => {
            sender.verify(&state).await?;
            return Err(ApiError::validation(errors));
        }
    };
    cmd.api_key_hash = sender.unverified;
    // The outbox row carries this request's trace context to the publisher and the worker:
    // this server span's, or the caller's when no OpenTelemetry layer is installed.
    cmd.traceparent = crate::telemetry::traceparent(&tracing::Span::current()).or_else(|| {
        crate::telemetry::valid_traceparent(headers.get("traceparent")?.to_str().ok()?)
    });

    let idem = Idempotency::new(
        caller,
        key,
        &format!("POST /sms/send {customer_id}"),
        &req,
        config.http.idempotency_ttl.as_secs(),
    );
    if let Some(idem) = &idem
        && let Some(resp) = idem.replay(&state.db).await?
    {
        return Ok(resp);
    }

    let price = config.intake.price(cmd.sms_type);
    let (sms_type, allow_partial) = (cmd.sms_type, cmd.allow_partial);
    // Without an Idempotency-Key the request joins a shared transaction (group commit); with
    // one, its stored answer must commit with it, in a transaction of its own.
    let (outcome, tx) = if idem.is_none() && config.intake.group_commit {
        (state.group_commit().accept(cmd, price).await?, None)
    } else {
        let mut tx = state.db.begin().await?;
        (intake::accept(&mut tx, &cmd, price).await?, Some(tx))
    };
    let accepted = match outcome {
        Outcome::Accepted(a) => a,
        Outcome::InsufficientBalance { balance, required } => {
            if let Some(tx) = tx {
                tx.rollback().await?;
            }
            return Err(ApiError::InsufficientBalance { balance, required });
        }
        Outcome::UnknownKey => {
            if let Some(tx) = tx {
                tx.rollback().await?;
            }
            if let Some(hash) = &sender.unverified {
                state.key_cache.remove(hash);
            }
            return Err(ApiError::Unauthorized("unknown API key"));
        }
        Outcome::UnknownCustomer => {
            if let Some(tx) = tx {
                tx.rollback().await?;
            }
            return Err(ApiError::NotFound(format!(
                "customer {customer_id} does not exist"
            )));
        }
    };
    let body = SendResponse {
        sms_identifier: accepted.sms_identifier,
        status: "processing".into(),
        recipients: accepted.accepted.len(),
        segments: accepted.segments,
        encoding: accepted.encoding,
        sms_type,
        cost: accepted.cost,
        balance: accepted.balance,
        accepted: allow_partial.then(|| {
            accepted
                .accepted
                .iter()
                .map(|p| p.as_str().to_string())
                .collect()
        }),
        rejected: allow_partial.then(|| {
            accepted
                .rejected
                .iter()
                .map(|p| RejectedRecipient {
                    recipient: p.as_str().to_string(),
                    reason: "insufficient_balance".into(),
                })
                .collect()
        }),
    };
    let resp = match tx {
        Some(tx) => {
            idempotency::commit(idem.as_ref(), &state.db, tx, StatusCode::ACCEPTED, &body).await?
        }
        None => super::json_response(StatusCode::ACCEPTED, &body),
    };
    crate::outbox::wake(sms_type);
    tracing::info!(
        sms.id = %accepted.sms_identifier,
        customer.id = customer_id,
        sms.type = %sms_type,
        sms.recipients = accepted.accepted.len(),
        sms.segments = accepted.segments,
        sms.cost = accepted.cost,
        "sms accepted"
    );
    crate::metrics::intake_accepted(
        sms_type,
        accepted.accepted.len() as u64,
        u64::from(accepted.segments),
        accepted.cost.max(0) as u64,
    );
    Ok(resp)
}

/// Filters of `GET /sms/history`; all optional and case-insensitive.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// PENDING, SENDING, SENT, DELIVERED, UNDELIVERED or FAILED.
    pub status: Option<String>,
    /// normal or express.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub sms_type: Option<String>,
    /// One request's rows.
    pub sms_identifier: Option<String>,
    /// One recipient (any accepted form; normalized like `recipients`).
    pub recipient: Option<String>,
    /// Created at or after (RFC 3339).
    pub from: Option<String>,
    /// Created before (RFC 3339).
    pub to: Option<String>,
    /// Rows per page, 1-100 (default 20).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// The customer (admin token only; a key may name only its own).
    #[serde(rename = "user_id")]
    pub customer_id: Option<i64>,
}

/// One recipient's message in the history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HistoryItem {
    pub sms_identifier: String,
    pub recipient: String,
    pub status: SmsStatus,
    #[serde(rename = "type")]
    pub sms_type: SmsType,
    /// The operator that took it, once one did.
    pub provider: Option<String>,
    pub segments: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A page of history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HistoryResponse {
    /// Newest first.
    pub items: Vec<HistoryItem>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

fn parse_time(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| ApiError::field(field, "must be an RFC 3339 timestamp"))
        })
        .transpose()
}

/// The caller's messages, one row per recipient, newest first.
#[utoipa::path(
    get, path = "/sms/history", tag = "sms",
    security(("api_key" = []), ("admin_token" = [])),
    params(HistoryQuery),
    responses(
        (status = 200, description = "A page of history", body = HistoryResponse),
        (status = 400, description = "Bad filter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "user_id names another customer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Response, ApiError> {
    let customer_id = caller.target(&state, q.customer_id, "user_id").await?;
    let mut errors = BTreeMap::new();
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match s.parse::<SmsStatus>() {
            Ok(st) => Some(st.as_str()),
            Err(e) => {
                errors.insert("status".to_string(), e);
                None
            }
        },
    };
    let sms_type = match q.sms_type.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match s.parse::<SmsType>() {
            Ok(t) => Some(t.as_str()),
            Err(e) => {
                errors.insert("type".to_string(), e);
                None
            }
        },
    };
    let sms_identifier = match q.sms_identifier.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match Uuid::try_parse(s.trim()) {
            Ok(u) => Some(u.to_string()),
            Err(_) => {
                errors.insert("sms_identifier".to_string(), "must be a UUID".to_string());
                None
            }
        },
    };
    let recipient = match q.recipient.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match PhoneNumber::parse(s, state.config.intake.default_country.as_ref()) {
            Ok(p) => Some(p.into_string()),
            Err(e) => {
                errors.insert("recipient".to_string(), e.to_string());
                None
            }
        },
    };
    let from = parse_time("from", q.from.as_deref()).unwrap_or_else(|e| {
        errors.insert("from".to_string(), problem_message(e));
        None
    });
    let to = parse_time("to", q.to.as_deref()).unwrap_or_else(|e| {
        errors.insert("to".to_string(), problem_message(e));
        None
    });
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let limit = pagination::limit(q.limit)?;
    let filter = HistoryFilter {
        status,
        sms_type,
        sms_identifier,
        recipient,
        from,
        to,
        before_id: pagination::decode(q.cursor.as_deref())?,
    };
    let rows = repo::history(&state.db, customer_id, &filter, limit + 1).await?;
    let (rows, next_cursor) = pagination::page(rows, limit, |r| r.id);
    Ok(super::json_response(
        StatusCode::OK,
        &HistoryResponse {
            items: rows
                .iter()
                .map(|r| HistoryItem {
                    sms_identifier: r.sms_identifier.clone(),
                    recipient: r.recipient.clone(),
                    status: r.status,
                    sms_type: r.sms_type,
                    provider: r.provider.clone(),
                    segments: r.segments,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                })
                .collect(),
            next_cursor,
        },
    ))
}

fn problem_message(e: ApiError) -> String {
    match e {
        ApiError::Validation { errors, .. } => errors.into_values().next().unwrap_or_default(),
        other => other.to_string(),
    }
}

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
        ("user_id" = Option<i64>, Query, description = "The customer (admin token only)"),
    ),
    responses(
        (status = 200, description = "The request", body = SmsDetail),
        (status = 401, description = "Missing or unknown key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request for this customer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_sms(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(sms_identifier): ApiPath<String>,
    ApiQuery(q): ApiQuery<DetailQuery>,
) -> Result<Response, ApiError> {
    let not_found = || {
        ApiError::NotFound(format!(
            "no SMS request {sms_identifier:?} for this customer"
        ))
    };
    let customer_id = caller.target(&state, q.customer_id, "user_id").await?;
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
    Ok(super::json_response(
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
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailQuery {
    #[serde(rename = "user_id")]
    pub customer_id: Option<i64>,
}
