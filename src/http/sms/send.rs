//! `POST /sms/send`: validates, charges and queues a request (the acceptance itself is
//! `crate::intake`'s).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use utoipa::ToSchema;

pub use super::accepted::{AcceptedMessage, RejectedRecipient, SendResponse};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, IdempotencyKey, Sender};
use crate::http::idempotency::{self, Begun, Stored};
use crate::http::responses::{JsonWriteErrors, NotFound, PaymentRequired, TooManyRequests};
use crate::intake::personal::PersonalMessage;
use crate::intake::{self, AcceptError, Outcome, SendInput};
use crate::state::AppState;

/// Body of `POST /sms/send`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The message: not blank, no NUL character, at most `MAX_SEGMENTS` segments (GSM 03.38
    /// counting). Required unless `messages` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Your code is 4821", min_length = 1)]
    pub text: Option<String>,
    /// 1-1,000 numbers in E.164 (`+989121234567`) or, with `DEFAULT_COUNTRY_CODE`, local
    /// (`09121234567`) form; no duplicates after normalization. Required unless `messages`
    /// is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["+989121234567", "09127654321"]), min_items = 1, max_items = 1000)]
    pub recipients: Option<Vec<String>>,
    /// Personalized bulk, instead of `text` and `recipients`: 1-1,000 messages, each with its
    /// own recipient, text (same limits as `text`) and optional `reference`; each is charged
    /// its own segments, the request their sum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, max_items = 1000)]
    pub messages: Option<Vec<PersonalMessage>>,
    /// `normal` (default) or `express`, case-insensitive.
    #[serde(rename = "type", default)]
    #[schema(
        example = "normal",
        pattern = r"^\s*([Nn][Oo][Rr][Mm][Aa][Ll]|[Ee][Xx][Pp][Rr][Ee][Ss][Ss])\s*$"
    )]
    pub sms_type: Option<String>,
    /// Optional; must be the key's own customer. Required with the admin token.
    #[serde(default)]
    pub customer_id: Option<i64>,
    /// Accept the first recipients the balance covers instead of answering 402.
    #[serde(default)]
    pub allow_partial: bool,
    /// A message not handed to an operator within this many seconds fails as `expired` and is
    /// refunded. At most `MAX_VALIDITY_SECS` (default 7 days, never above 30 days).
    #[serde(default)]
    #[schema(example = 300, minimum = 1, maximum = 2_592_000)]
    pub validity_seconds: Option<i64>,
    /// Operator preference: empty or absent uses the configured order, one name only that
    /// operator, several fail over in the given order.
    #[serde(default)]
    pub operators: Option<Vec<String>>,
    /// The sender id the recipients see: one of the customer's senders (`GET /senders`); a
    /// number (3-15 digits, optional leading `+`) or 1-11 letters, digits, space, `.`, `-`,
    /// `_`, `&` with at least one letter. Absent: the customer's default sender, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "ACME", min_length = 1, max_length = 16)]
    pub from: Option<String>,
    /// The caller's own reference of the request (1-64 characters, no control characters),
    /// returned wherever the request appears and filterable in the history. Never sent to
    /// operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "order-4821", min_length = 1, max_length = 64)]
    pub reference: Option<String>,
    /// Scheduled sending: when to send it (RFC 3339), at most `MAX_SCHEDULE_AHEAD_SECS`
    /// (default 30 days) ahead. Charged now, sent then; its validity counts from it. Up to
    /// `SEND_AT_SKEW_SECS` (60 s) in the past is sent at once; further back is a 400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "2026-12-24T18:00:00Z", format = DateTime)]
    pub send_at: Option<String>,
    /// Where the delivery-status callbacks of this request's recipients go, instead of the
    /// customer's webhook URL (`PUT /callbacks/settings`); signed with the customer's
    /// secret. An absolute `http://` or `https://` URL of at most 2,048 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "https://hooks.example.com/sms-status", max_length = 2048)]
    pub callback_url: Option<String>,
}

impl SendRequest {
    /// The fields intake validates (`POST /sms/send` and `POST /sms/quote` alike).
    pub fn input(&self) -> SendInput<'_> {
        SendInput {
            text: self.text.as_deref(),
            recipients: self.recipients.as_deref(),
            messages: self.messages.as_deref(),
            sms_type: self.sms_type.as_deref(),
            allow_partial: self.allow_partial,
            validity_seconds: self.validity_seconds,
            operators: self.operators.as_deref(),
            from: self.from.as_deref(),
            reference: self.reference.as_deref(),
            send_at: self.send_at.as_deref(),
            callback_url: self.callback_url.as_deref(),
        }
    }
}

/// Charges the balance and queues one message per recipient.
#[utoipa::path(
    post, path = "/sms/send", tag = "sms",
    security(("api_key" = []), ("admin_token" = [])),
    params(IdempotencyKey),
    request_body = SendRequest,
    responses(
        (status = 202, description = "Accepted, charged and queued", body = SendResponse),
        PaymentRequired, NotFound, TooManyRequests, JsonWriteErrors,
    )
)]
pub async fn send(
    state: State<AppState>,
    sender: Sender,
    key: IdempotencyKey,
    headers: HeaderMap,
    body: Result<ApiJson<SendRequest>, ApiError>,
) -> Result<Response, ApiError> {
    // Nothing is written before the acceptance's commit, whose failures are resolved
    // (crate::intake::commit): any other database error charged nothing, and says so.
    accept_send(state, sender, key, headers, body)
        .await
        .map_err(|e| match e {
            ApiError::Database(e) => {
                tracing::warn!(error = %e, "database error before the acceptance; nothing charged");
                ApiError::nothing_charged()
            }
            other => other,
        })
}

async fn accept_send(
    State(state): State<AppState>,
    mut sender: Sender,
    key: IdempotencyKey,
    headers: HeaderMap,
    body: Result<ApiJson<SendRequest>, ApiError>,
) -> Result<Response, ApiError> {
    // The answer is due before the request times out: the acceptance is not started when
    // its transaction and the lookup of its commit could not both fit.
    let deadline = Instant::now() + state.config.http.request_timeout;
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
    let validated = intake::validate(customer_id, &req.input(), &config.intake, |t| {
        config.operators.names_for(t)
    });
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

    let idem = match idempotency::begin(
        caller,
        key,
        &format!("POST /sms/send {customer_id}"),
        &req,
        &state,
    )
    .await?
    {
        Begun::Replay(resp) => return Ok(resp),
        Begun::Fresh(idem) => idem,
    };

    // Backpressure: past the normal backlog's bound, normal sends wait at the client (express
    // is still accepted); the bound is checked on a sample, not per request in the database.
    if cmd.sms_type == crate::domain::SmsType::Normal
        && let Some(backlog) = state.normal_backlog_over(config.intake.normal_backlog_limit)
    {
        return Err(ApiError::Backlogged {
            detail: format!(
                "{backlog} normal recipients are waiting, over the bound of {}; nothing was \
                 charged, send again later (express messages are still accepted)",
                config.intake.normal_backlog_limit
            ),
            retry_after: std::time::Duration::from_secs(5),
        });
    }
    let price = config.intake.price(cmd.sms_type);
    // The messages' own references, for the answer (the command moves into the acceptance).
    let personal_refs: Vec<Option<String>> =
        cmd.personal.iter().map(|p| p.reference.clone()).collect();
    let (sms_type, allow_partial, send_at) = (cmd.sms_type, cmd.allow_partial, cmd.send_at);
    // Without an Idempotency-Key the request joins a shared transaction (group commit); with
    // one, its stored answer must commit with it, in a transaction of its own.
    let bounds = intake::Bounds::of(&config.intake);
    let until = Instant::now() + bounds.timeout;
    let (outcome, tx) = if idem.is_none() && config.intake.group_commit {
        let outcome = state.group_commit().accept(cmd, price, deadline).await?;
        (outcome, None)
    } else {
        if bounds.too_late(deadline) {
            return Err(AcceptError::NotCommitted.into());
        }
        let decided = tokio::time::timeout_at(until.into(), async {
            let mut tx = state.db.begin().await?;
            let outcome = intake::accept(&mut tx, &cmd, price).await?;
            Ok::<_, sqlx::Error>((outcome, tx))
        })
        .await
        .unwrap_or_else(|_| Err(intake::timed_out("the acceptance")))
        .map_err(AcceptError::Database)?;
        (decided.0, Some((decided.1, cmd.customer_id)))
    };
    let refusal = match outcome {
        Outcome::Accepted(a) => Ok(a),
        Outcome::InsufficientBalance { balance, required } => {
            Err(ApiError::InsufficientBalance { balance, required })
        }
        Outcome::UnknownKey => {
            if let Some(hash) = &sender.unverified {
                state.key_cache.remove(hash);
            }
            Err(ApiError::Unauthorized("unknown API key"))
        }
        Outcome::UnknownCustomer => Err(ApiError::unknown_customer(customer_id)),
        Outcome::UnknownSender => Err(ApiError::UnknownSender(
            req.from.clone().unwrap_or_default(),
        )),
        Outcome::RateLimited {
            limit,
            per_second,
            retry_after,
        } => Err(ApiError::RateLimited {
            limit: limit.as_str(),
            per_second,
            retry_after,
        }),
    };
    // A refused request leaves nothing behind: its own transaction, if any, rolls back.
    let accepted = match refusal {
        Ok(a) => a,
        Err(e) => {
            if let Some((tx, _)) = tx {
                tx.rollback().await?;
            }
            return Err(e);
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
        from: accepted.sender.clone(),
        reference: req.reference.clone(),
        send_at,
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
        messages: req.messages.as_ref().map(|_| {
            accepted
                .accepted
                .iter()
                .zip(&accepted.personal)
                .zip(&personal_refs)
                .map(|((to, count), reference)| AcceptedMessage {
                    to: to.as_str().to_string(),
                    segments: count.segments,
                    encoding: count.encoding,
                    cost: i64::from(count.segments) * price,
                    reference: reference.clone().or_else(|| req.reference.clone()),
                })
                .collect()
        }),
    };
    let resp = match tx {
        Some((tx, customer)) => {
            match idempotency::store(idem.as_ref(), &state.db, tx, StatusCode::ACCEPTED, &body)
                .await?
            {
                Stored::Replay(resp) => return Ok(resp),
                Stored::Ready(tx, json) => {
                    let sms_identifier = accepted.sms_identifier.to_string();
                    let probe = intake::Probe {
                        customers: &[customer],
                        sms_identifier: &sms_identifier,
                    };
                    intake::commit(&state.db, bounds, until, tx, probe).await?;
                    idempotency::json_answer(StatusCode::ACCEPTED, json)
                }
            }
        }
        None => crate::http::json_response(StatusCode::ACCEPTED, &body),
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
