//! `GET /sms/{sms_identifier}/recipients/{recipient}/events`: one recipient's whole timeline,
//! a page at a time (the detail shows only the newest events of each recipient).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::detail::{Page, find_request, normalize};
use super::timeline;
use super::timeline::SmsEvent;
use crate::db::messages as repo;
use crate::domain::FieldErrors;
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, ForCustomer, NamesCustomer};
use crate::http::pagination;
use crate::http::responses::LookupErrors;
use crate::state::AppState;

/// Query of `GET /sms/{sms_identifier}/recipients/{recipient}/events`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events per page, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// The customer (required with the admin token; must be your own with an API key).
    #[serde(rename = "user_id")]
    #[param(rename = "user_id")]
    pub customer_id: Option<i64>,
}

impl NamesCustomer for EventsQuery {
    fn customer_id(&self) -> Option<i64> {
        self.customer_id
    }
}

/// A page of one recipient's timeline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecipientEvents {
    pub sms_identifier: String,
    /// E.164.
    pub recipient: String,
    /// The caller's reference of the recipient (its own, or its request's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Oldest first; the first page starts with PENDING at acceptance.
    pub events: Vec<SmsEvent>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

/// One recipient's timeline, oldest first, a page at a time.
#[utoipa::path(
    get, path = "/sms/{sms_identifier}/recipients/{recipient}/events", tag = "sms",
    security(("api_key" = []), ("admin_token" = [])),
    params(
        ("sms_identifier" = String, Path, description = "From the send response"),
        ("recipient" = String, Path, description = "One of the request's recipients, in any accepted form (e.g. `+989121234567`)"),
        EventsQuery,
    ),
    responses(
        (status = 200, description = "A page of the recipient's timeline", body = RecipientEvents),
        LookupErrors,
    )
)]
pub async fn recipient_events(
    State(state): State<AppState>,
    ForCustomer { customer_id, query }: ForCustomer<EventsQuery>,
    ApiPath((sms_identifier, recipient)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::default();
    let page = Page::parse(&mut errors, query.limit, None);
    // A position in the timeline (`timeline`); v1 cursors, from before SENDING and SENT had
    // positions of their own, name an event row.
    let from = match pagination::decode_versioned(query.cursor.as_deref()) {
        Ok(None) => 0,
        Ok(Some((1, id))) => timeline::of_row(id),
        Ok(Some((_, key))) => key,
        Err(_) => {
            errors.add("cursor", "not a cursor returned by this API");
            0
        }
    };
    errors.finish()?;
    let request = find_request(&state, customer_id, &sms_identifier).await?;
    let not_found = || {
        ApiError::NotFound(format!(
            "no recipient {recipient:?} in SMS request {sms_identifier:?}"
        ))
    };
    let number = normalize(&state, &recipient).map_err(|_| not_found())?;
    let status = repo::status_of_recipient(&state.db, request.id, &number)
        .await?
        .ok_or_else(not_found)?;

    let first_row = timeline::first_row_at(from);
    let rows = repo::events_page(&state.db, status.id, Some(first_row), page.fetch()).await?;
    let before_sent = match status.sent_at {
        Some(at) => repo::last_event_up_to(&state.db, status.id, at).await?,
        None => None,
    };
    let fetch = page.fetch() as usize;
    let mut items = timeline::page(&status, from, rows, before_sent, fetch);
    let next_cursor = items
        .get(page.limit as usize)
        .map(|(k, _)| pagination::encode_v2(*k));
    items.truncate(page.limit as usize);
    Ok(crate::http::json_response(
        StatusCode::OK,
        &RecipientEvents {
            sms_identifier: request.sms_identifier,
            recipient: status.recipient,
            reference: status.client_reference,
            events: items.into_iter().map(|(_, e)| e).collect(),
            next_cursor,
        },
    ))
}
