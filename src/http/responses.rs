//! The problem answers of the OpenAPI document: one type per status, shared by every route's
//! `responses(...)` list so that a status reads the same wherever it is documented.

use std::collections::BTreeMap;

use utoipa::IntoResponses;
use utoipa::openapi::{RefOr, Response};

use super::error::Problem;

/// Declares each problem answer type: docs, name, status and its headers, if any.
macro_rules! problems {
    ($($(#[$meta:meta])* $name:ident: $status:literal $(, headers $headers:tt)?;)*) => {$(
        $(#[$meta])*
        #[derive(IntoResponses)]
        #[response(
            status = $status,
            content_type = "application/problem+json"
            $(, headers $headers)?
        )]
        pub struct $name(pub Problem);
    )*};
}

problems! {
    /// 400: a field, the query string, a path segment, a header or the JSON body is invalid;
    /// nothing was changed. `errors` names the fields.
    BadRequest: 400;
    /// 401: no, malformed or unknown credentials (`WWW-Authenticate: Bearer`).
    Unauthorized: 401,
        headers(("WWW-Authenticate" = String, description = "Always `Bearer`"));
    /// 402: the balance does not cover the request; nothing was charged or queued.
    PaymentRequired: 402;
    /// 403: valid credentials that may not do this: a customer key on an admin endpoint, a
    /// customer key naming another customer, or (`POST /sms/send`) a well-formed `from` that
    /// is not one of the customer's sender ids (`/problems/unknown-sender`; nothing charged).
    Forbidden: 403;
    /// 404: no such resource (customer, request, operator or message) for this caller.
    NotFound: 404;
    /// 409: conflicts with existing state: the `Idempotency-Key` was used with another body or
    /// is in use by a concurrent request, or a unique name is taken.
    Conflict: 409;
    /// 413: the body is larger than `MAX_BODY_BYTES`.
    PayloadTooLarge: 413;
    /// 415: the body is not sent as `Content-Type: application/json`.
    UnsupportedMediaType: 415;
    /// 429: the customer is over its requests or recipients per second (`limit`,
    /// `limit_per_second`); nothing was charged. Retry after `Retry-After` seconds
    /// (`retry_after_ms` in the body is exact).
    TooManyRequests: 429,
        headers(("Retry-After" = String, description = "Seconds until the request would be admitted"));
    /// 503: the request did not complete within `REQUEST_TIMEOUT_MS`, the database is busy or
    /// unreachable, or (a normal send) the normal backlog is over `NORMAL_BACKLOG_LIMIT`
    /// (`/problems/backlogged`); nothing was committed. Retry after `Retry-After` seconds (with the same
    /// `Idempotency-Key`, if any).
    Unavailable: 503,
        headers(("Retry-After" = String, description = "Seconds to wait before a retry"));
}

/// Declares a set of problem answers documented together.
macro_rules! problem_sets {
    ($($(#[$meta:meta])* $name:ident = $($part:ident),+;)*) => {$(
        $(#[$meta])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                [$($part::responses()),+].into_iter().flatten().collect()
            }
        }
    )*};
}

problem_sets! {
    /// The problems of a route that looks something up for a customer: 400, 401, 403, 404,
    /// 503.
    LookupErrors = BadRequest, Unauthorized, Forbidden, NotFound, Unavailable;
    /// The problems of every write route with a JSON body: 400, 401, 403, 409, 413, 415, 503.
    JsonWriteErrors = BadRequest, Unauthorized, Forbidden, Conflict, PayloadTooLarge,
        UnsupportedMediaType, Unavailable;
}
