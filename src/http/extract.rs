//! Extractors: who is calling (`Caller`, `Admin`), `Idempotency-Key`, and JSON / query
//! extractors whose rejections are problem documents. A caller is named by its bearer token
//! or, without an `Authorization` header, by a console session cookie (`super::session`,
//! which also checks the CSRF token of a write).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::session_auth;
use crate::hashing::sha256;
use crate::state::AppState;

/// Longest accepted bearer token; anything longer is unknown without a database lookup.
const MAX_TOKEN_LEN: usize = 256;
/// Longest accepted `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

pub use super::caller::Caller;

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or 401.
pub fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(
            "send your API key as Authorization: Bearer <key>",
        ))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized("malformed Authorization header"))?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized(
        "expected Authorization: Bearer <key>",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthorized(
            "expected Authorization: Bearer <key>",
        ));
    }
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(ApiError::Unauthorized("unknown API key"));
    }
    Ok(token)
}

fn is_admin(state: &AppState, token: &str) -> bool {
    bool::from(sha256(token.as_bytes()).ct_eq(&state.admin_token_hash))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if session_auth::uses_session(&parts.headers) {
            return session_auth::caller(parts, state).await;
        }
        let token = bearer(&parts.headers)?;
        if is_admin(state, token) {
            return Ok(Caller::Admin);
        }
        // A key seen valid is checked now (no turn at the lookup gate); any other one is
        // refused from the negative cache or looked up at the gate (crate::state::KeyCache).
        let hash = sha256(token.as_bytes());
        let keys = &state.key_cache;
        let customer = match keys.get(&hash) {
            Some(id) => keys.confirm(&state.db, &hash, id).await?.then_some(id),
            None => keys.lookup(&state.db, &hash).await?,
        };
        customer
            .map(Caller::Customer)
            .ok_or(ApiError::Unauthorized("unknown API key"))
    }
}

/// The caller of `POST /sms/send`: a [`Caller`], except that a customer key this process has
/// seen valid is taken from the key cache ([`crate::state::KeyCache`]) without a query. Its
/// hash is then in `unverified`, for the handler to check, normally inside the acceptance
/// transaction. Other keys are refused from the negative cache or looked up at the gate.
#[derive(Debug, Clone, Copy)]
pub struct Sender {
    pub caller: Caller,
    pub unverified: Option<[u8; 32]>,
}

impl Sender {
    /// Checks an unverified key now (one query): 401 if it is no longer the customer's key.
    pub async fn verify(&mut self, state: &AppState) -> Result<(), ApiError> {
        if let (Caller::Customer(id), Some(hash)) = (self.caller, self.unverified) {
            if !state.key_cache.confirm(&state.db, &hash, id).await? {
                return Err(ApiError::Unauthorized("unknown API key"));
            }
            self.unverified = None;
        }
        Ok(())
    }
}

impl FromRequestParts<AppState> for Sender {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if session_auth::uses_session(&parts.headers) {
            return Ok(Sender {
                caller: session_auth::caller(parts, state).await?,
                unverified: None,
            });
        }
        let token = bearer(&parts.headers)?;
        if is_admin(state, token) {
            return Ok(Sender {
                caller: Caller::Admin,
                unverified: None,
            });
        }
        let hash = sha256(token.as_bytes());
        if let Some(id) = state.key_cache.get(&hash) {
            return Ok(Sender {
                caller: Caller::Customer(id),
                unverified: Some(hash),
            });
        }
        match state.key_cache.lookup(&state.db, &hash).await? {
            Some(id) => Ok(Sender {
                caller: Caller::Customer(id),
                unverified: None,
            }),
            None => Err(ApiError::Unauthorized("unknown API key")),
        }
    }
}

/// The admin, for admin-only endpoints: a customer key gets 403.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Admin => Ok(Admin),
            Caller::Customer(_) => Err(ApiError::Forbidden(
                "this endpoint needs the admin token".into(),
            )),
        }
    }
}

/// The optional `Idempotency-Key` header: 1-255 visible ASCII characters.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        let key = value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| {
                !k.is_empty()
                    && k.len() <= MAX_IDEMPOTENCY_KEY_LEN
                    && k.bytes().all(|b| b.is_ascii_graphic())
            })
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"
                ))
            })?;
        Ok(Self(Some(key.to_string())))
    }
}

impl utoipa::IntoParams for IdempotencyKey {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        vec![
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(utoipa::openapi::Required::False)
                .description(Some(
                    "Makes retries safe: the same key and body replay the first answer; the same key with another body is a 409",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(MAX_IDEMPOTENCY_KEY_LEN))
                        .pattern(Some("^[!-~]+$")),
                ))
                .build(),
        ]
    }
}

/// `axum::Json` whose rejections are problem documents (400, 413 or 415), for a body that
/// must be a JSON object: every request body of this API is one, and serde would also take an
/// array for a struct (its fields in order), so `[]` would have been a request with every
/// field left out.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let body = bytes::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(
                    "the request body exceeds the configured MAX_BODY_BYTES".into(),
                )
            } else {
                ApiError::BadRequest(e.body_text())
            }
        })?;
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::BadRequest(
                "the body must be a JSON object".into(),
            ));
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&body)?;
        Ok(ApiJson(value))
    }
}

/// `Content-Type: application/json` or a `+json` type, as `axum::Json` requires.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(mime) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
    else {
        return false;
    };
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

impl<T: Serialize> axum::response::IntoResponse for ApiJson<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::JsonDataError(e) => ApiError::BadRequest(format!(
                "the JSON does not match the expected shape: {}",
                std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| e.body_text())
            )),
            JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest(format!(
                "the body is not valid JSON: {}",
                std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| e.body_text())
            )),
            JsonRejection::BytesRejection(e) if e.status() == 413 => ApiError::PayloadTooLarge(
                "the request body exceeds the configured MAX_BODY_BYTES".into(),
            ),
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

/// `axum::extract::Path` whose rejections (a segment that does not parse) are 400 problem
/// documents.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        ApiError::BadRequest(format!("invalid path parameter: {}", r.body_text()))
    }
}

/// `axum::extract::Query` whose rejections are 400 problem documents.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::BadRequest(format!(
            "invalid query string: {}",
            std::error::Error::source(&r)
                .map(|s| s.to_string())
                .unwrap_or_else(|| r.body_text())
        ))
    }
}

/// A query naming the customer a request acts for (`user_id`).
pub trait NamesCustomer {
    fn customer_id(&self) -> Option<i64>;
}

/// A customer-scoped read: the caller ([`Caller`]), its query string ([`ApiQuery`]), and the
/// customer it acts for, resolved by [`Caller::target`] (403, 400 or 404 otherwise).
#[derive(Debug)]
pub struct ForCustomer<Q> {
    pub customer_id: i64,
    pub query: Q,
}

impl<Q> FromRequestParts<AppState> for ForCustomer<Q>
where
    Q: NamesCustomer + serde::de::DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let ApiQuery(query) = ApiQuery::<Q>::from_request_parts(parts, state).await?;
        let customer_id = caller.target(state, query.customer_id(), "user_id").await?;
        Ok(Self { customer_id, query })
    }
}
