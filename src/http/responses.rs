//! The problem answers of the OpenAPI document: one type per status, shared by every route's
//! `responses(...)` list so that a status reads the same wherever it is documented.

use utoipa::IntoResponses;

use super::error::Problem;

/// 400: a field, the query string, a path segment, a header or the JSON body is invalid;
/// nothing was changed. `errors` names the fields.
#[derive(IntoResponses)]
#[response(status = 400, content_type = "application/problem+json")]
pub struct BadRequest(pub Problem);

/// 401: no, malformed or unknown credentials (`WWW-Authenticate: Bearer`).
#[derive(IntoResponses)]
#[response(
    status = 401,
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "Always `Bearer`"))
)]
pub struct Unauthorized(pub Problem);

/// 402: the balance does not cover the request; nothing was charged or queued.
#[derive(IntoResponses)]
#[response(status = 402, content_type = "application/problem+json")]
pub struct PaymentRequired(pub Problem);

/// 403: valid credentials that may not do this: a customer key on an admin endpoint, or a
/// customer key naming another customer.
#[derive(IntoResponses)]
#[response(status = 403, content_type = "application/problem+json")]
pub struct Forbidden(pub Problem);

/// 404: no such resource (customer, request, operator or message) for this caller.
#[derive(IntoResponses)]
#[response(status = 404, content_type = "application/problem+json")]
pub struct NotFound(pub Problem);

/// 409: conflicts with existing state: the `Idempotency-Key` was used with another body or
/// is in use by a concurrent request, or a unique name is taken.
#[derive(IntoResponses)]
#[response(status = 409, content_type = "application/problem+json")]
pub struct Conflict(pub Problem);

/// 413: the body is larger than `MAX_BODY_BYTES`.
#[derive(IntoResponses)]
#[response(status = 413, content_type = "application/problem+json")]
pub struct PayloadTooLarge(pub Problem);

/// 415: the body is not sent as `Content-Type: application/json`.
#[derive(IntoResponses)]
#[response(status = 415, content_type = "application/problem+json")]
pub struct UnsupportedMediaType(pub Problem);

/// 503: the request did not complete within `REQUEST_TIMEOUT_MS`, or the database is busy or
/// unreachable; nothing was committed. Retry after `Retry-After` seconds (with the same
/// `Idempotency-Key`, if any).
#[derive(IntoResponses)]
#[response(
    status = 503,
    content_type = "application/problem+json",
    headers(("Retry-After" = String, description = "Seconds to wait before a retry"))
)]
pub struct Unavailable(pub Problem);
