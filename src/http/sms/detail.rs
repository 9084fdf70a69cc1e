//! `GET /sms/{sms_identifier}`: one request of the caller's with its recipients' status and
//! timelines, a page of recipients at a time; and what it shares with `events` (one
//! recipient's whole timeline): the request lookup, the page parameters and the cursor.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::timeline::SmsEvent;
use crate::db::messages::{self as repo, EventRow, RequestRow};
use crate::domain::{FieldErrors, PhoneNumber, SmsStatus, SmsType};
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, ForCustomer, NamesCustomer};
use crate::http::pagination;
use crate::http::responses::LookupErrors;
use crate::state::AppState;

/// Recipients (or events) per page when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest `limit`: a request's most recipients (`MAX_RECIPIENTS` is at most 1,000).
pub const MAX_LIMIT: u32 = 1_000;
/// Events of each recipient's timeline in the detail: the newest ones; the rest are read
/// with `GET /sms/{sms_identifier}/recipients/{recipient}/events`.
pub const TIMELINE_EVENTS: u32 = 50;

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
    /// The caller's reference of this recipient: its own, or the request's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Its own text, in a personalized request (`messages`); absent: the request's `text`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Its own segments, in a personalized request (the request's `segments` are their sum).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Oldest first, starting with PENDING at acceptance; at most the newest 50.
    pub events: Vec<SmsEvent>,
    /// The timeline has more (older) events than `events` shows; read them all with
    /// `GET /sms/{sms_identifier}/recipients/{recipient}/events`.
    pub events_truncated: bool,
}

/// A request with a page of its recipients' status.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SmsDetail {
    pub sms_identifier: String,
    #[serde(rename = "type")]
    pub sms_type: SmsType,
    /// The text of every recipient; empty in a personalized request, whose recipients show
    /// their own.
    pub text: String,
    pub encoding: String,
    pub segments: i32,
    /// Accepted recipients.
    pub recipients: i32,
    /// Credits charged at acceptance.
    pub cost: i64,
    /// Requested operator order, if any.
    pub operators: Vec<String>,
    /// The sender id it goes out from (absent: none, the operator's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The caller's reference of the request, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// When it is (or was) due: a scheduled request's `send_at`; absent when sent at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Recipients per current state, over all the request's recipients (on every page).
    #[schema(example = json!({"PENDING": 1, "SENT": 1}))]
    pub counts: BTreeMap<String, usize>,
    /// This page of recipients, in acceptance order.
    pub messages: Vec<RecipientStatus>,
    /// Pass as `cursor` for the next page of recipients; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// A request of the caller's with a page of its recipients' status and timelines.
#[utoipa::path(
    get, path = "/sms/{sms_identifier}", tag = "sms",
    security(("api_key" = []), ("admin_token" = [])),
    params(
        ("sms_identifier" = String, Path, description = "From the send response"),
        DetailQuery,
    ),
    responses(
        (status = 200, description = "The request and a page of its recipients", body = SmsDetail),
        LookupErrors,
    )
)]
pub async fn get_sms(
    State(state): State<AppState>,
    ForCustomer { customer_id, query }: ForCustomer<DetailQuery>,
    ApiPath(sms_identifier): ApiPath<String>,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::default();
    let page = Page::parse(&mut errors, query.limit, query.cursor.as_deref());
    let recipient = query.recipient.as_deref().filter(|r| !r.is_empty());
    let recipient = errors.parse("recipient", recipient, |r| normalize(&state, r));
    errors.finish()?;
    let request = find_request(&state, customer_id, &sms_identifier).await?;

    let counts = repo::counts_of_request(&state.db, request.id)
        .await?
        .into_iter()
        .map(|(status, n)| (status.as_str().to_string(), usize::try_from(n).unwrap_or(0)))
        .collect();
    let (statuses, next_cursor) = match recipient {
        Some(r) => {
            let row = repo::status_of_recipient(&state.db, request.id, &r).await?;
            let from = page.from.unwrap_or(0);
            (row.into_iter().filter(|s| s.id >= from).collect(), None)
        }
        None => page.split(
            repo::statuses_page(&state.db, &request.sms_identifier, page.from, page.fetch())
                .await?,
            |s| s.id,
        ),
    };
    let ids: Vec<i64> = statuses.iter().map(|s| s.id).collect();
    let mut events: HashMap<i64, Vec<EventRow>> = HashMap::with_capacity(ids.len());
    for e in repo::newest_events(&state.db, &ids, TIMELINE_EVENTS).await? {
        events.entry(e.status_id).or_default().push(e);
    }
    let messages = statuses
        .into_iter()
        .map(|s| {
            let rows = events.remove(&s.id).unwrap_or_default();
            let (timeline, truncated) = super::timeline::newest(&s, rows, TIMELINE_EVENTS as usize);
            RecipientStatus {
                recipient: s.recipient,
                status: s.status,
                provider: s.provider,
                provider_message_id: s.provider_message_id,
                failure_reason: s.failure_reason,
                attempts: s.attempts,
                reference: s.client_reference,
                segments: s.body.is_some().then_some(s.segments),
                text: s.body,
                created_at: s.created_at,
                updated_at: s.updated_at,
                events: timeline,
                events_truncated: truncated,
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
            from: request.sender,
            reference: request.client_reference,
            expires_at: request.expires_at,
            send_at: request.send_at,
            created_at: request.created_at,
            counts,
            messages,
            next_cursor,
        },
    ))
}

/// Query of `GET /sms/{sms_identifier}`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DetailQuery {
    /// Recipients per page, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only this recipient (any accepted form; normalized like `recipients`); empty means all.
    pub recipient: Option<String>,
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

/// The caller's request named by the path, or 404 (also for another customer's).
pub(super) async fn find_request(
    state: &AppState,
    customer_id: i64,
    sms_identifier: &str,
) -> Result<RequestRow, ApiError> {
    let not_found = || {
        ApiError::NotFound(format!(
            "no SMS request {sms_identifier:?} for this customer"
        ))
    };
    let id = Uuid::try_parse(sms_identifier).map_err(|_| not_found())?;
    repo::find_request(&state.db, customer_id, &id.to_string())
        .await?
        .ok_or_else(not_found)
}

/// A recipient as stored (E.164), from any accepted form.
pub(super) fn normalize(state: &AppState, recipient: &str) -> Result<String, String> {
    PhoneNumber::parse(recipient, state.config.intake.default_country.as_ref())
        .map(PhoneNumber::into_string)
        .map_err(|e| e.to_string())
}

/// A page of recipients or events: `limit` and where the page starts. The cursor is the
/// codec of [`pagination`]; here it holds the id of the first row of the next page, since
/// these lists run oldest first (and an events page can end on PENDING, which has no id).
#[derive(Debug, Clone, Copy)]
pub(super) struct Page {
    pub limit: u32,
    /// Only rows with this id or a higher one.
    pub from: Option<i64>,
}

impl Page {
    /// Validates `limit` (1-[`MAX_LIMIT`]) and decodes `cursor`, noting each invalid one in
    /// `errors` (whose `finish` must then be checked before the page is used).
    pub fn parse(errors: &mut FieldErrors, limit: Option<u32>, cursor: Option<&str>) -> Self {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        errors.check(
            !(1..=MAX_LIMIT).contains(&limit),
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        );
        let from = pagination::decode(cursor).unwrap_or_else(|_| {
            errors.add("cursor", "not a cursor returned by this API");
            None
        });
        Self { limit, from }
    }

    /// Rows to fetch: one more than a page, to tell whether another page follows.
    pub fn fetch(&self) -> u32 {
        self.limit + 1
    }

    /// The page of `rows` and the cursor of the next one (the first row left out).
    pub fn split<T>(&self, mut rows: Vec<T>, id: impl Fn(&T) -> i64) -> (Vec<T>, Option<String>) {
        let limit = self.limit as usize;
        let next = rows.get(limit).map(|r| pagination::encode(id(r)));
        rows.truncate(limit);
        (rows, next)
    }
}
