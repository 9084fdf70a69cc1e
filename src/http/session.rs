//! Console sessions: `POST /session` exchanges a customer's API key or the admin token for a
//! session cookie, `GET /session` says who it is (and its CSRF token), `DELETE /session` signs
//! out, and the admin ends a customer's sessions (`DELETE /admin/customers/{id}/sessions`).
//! How the extractors accept the cookie instead of a bearer token is `session_auth`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::ApiJson;
use super::responses::{Forbidden, JsonWriteErrors, Unauthorized, Unavailable};
use super::session_auth::{
    SESSION_COOKIE, caller_of, csrf_token, cutoffs, is_use, live_session, session_cookie,
    uses_session,
};
use crate::config::CookieSecure;
use crate::db;
use crate::db::sessions::StoredSession;
use crate::hashing::sha256;
use crate::state::AppState;

/// Expired sessions, and idle ones, removed per sign-in (they are refused anyway; this bounds
/// the table).
const PURGE_PER_SIGN_IN: u32 = 100;

/// Body of `POST /session`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// A customer's API key, or the gateway's `ADMIN_TOKEN`. Never stored, logged or echoed.
    #[schema(example = "sk_...")]
    pub key: String,
}

/// Who a session acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionRole {
    Customer,
    Admin,
}

/// A console session, as its holder sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionInfo {
    pub role: SessionRole,
    /// The customer (absent for the admin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<i64>,
    /// The customer's name (absent for the admin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The first characters of the customer's key, to tell keys apart (absent for the admin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_hint: Option<String>,
    /// Send it as `X-CSRF-Token` with every write made with the session cookie. Keep it in
    /// memory only; `GET /session` gives it again.
    pub csrf_token: String,
    /// When the session ends at the latest (`SESSION_TTL_SECS` after sign-in); it ends
    /// sooner once unused for `idle_timeout_secs`.
    pub expires_at: DateTime<Utc>,
    /// `SESSION_IDLE_SECS`: the session ends once unused this long (every request with its
    /// cookie is a use).
    pub idle_timeout_secs: u64,
}

fn cookie_is_secure(state: &AppState, headers: &HeaderMap) -> bool {
    match state.config.console.cookie_secure {
        CookieSecure::Always => true,
        CookieSecure::Never => false,
        CookieSecure::Auto => {
            let proto = headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
            let forwarded = headers
                .get(header::FORWARDED)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"));
            proto || forwarded
        }
    }
}

fn set_cookie(resp: &mut Response, value: &str, max_age: u64, secure: bool) {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

async fn info(
    state: &AppState,
    session_id: &str,
    session: &StoredSession,
) -> Result<SessionInfo, ApiError> {
    let (role, name, hint) = match session.customer_id {
        None => (SessionRole::Admin, None, None),
        Some(id) => {
            let (name, hint) = db::customers::name_and_hint(&state.db, id)
                .await?
                .ok_or(ApiError::Unauthorized("the session's customer is gone"))?;
            (SessionRole::Customer, Some(name), Some(hint))
        }
    };
    Ok(SessionInfo {
        role,
        customer_id: session.customer_id,
        name,
        api_key_hint: hint,
        csrf_token: csrf_token(session_id),
        expires_at: session.expires_at,
        idle_timeout_secs: state.config.console.session_idle.as_secs(),
    })
}

/// Opens a console session for a customer's API key or the admin token: sets the `HttpOnly`,
/// `SameSite=Strict` session cookie (`Secure` over TLS) and answers the CSRF token that every
/// write made with the cookie must carry. The key is not echoed.
#[utoipa::path(
    post, path = "/session", tag = "session",
    request_body = SignInRequest,
    responses(
        (status = 201, description = "Signed in; the session cookie is set", body = SessionInfo,
            headers(("Set-Cookie" = String, description = "smsgw_session=...; HttpOnly; SameSite=Strict"))),
        JsonWriteErrors,
    )
)]
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SignInRequest>,
) -> Result<Response, ApiError> {
    let key = req.key.trim();
    let unknown = || ApiError::Unauthorized("unknown API key or admin token");
    if key.is_empty() || key.len() > 256 {
        return Err(unknown());
    }
    let hash = sha256(key.as_bytes());
    let customer_id = if bool::from(hash.ct_eq(&state.admin_token_hash)) {
        None
    } else {
        Some(
            state
                .key_cache
                .lookup(&state.db, &hash)
                .await?
                .ok_or_else(unknown)?,
        )
    };
    let now = Utc::now();
    let ttl = state.config.console.session_ttl;
    let session = StoredSession {
        customer_id,
        credential_hash: hash,
        expires_at: now + chrono::Duration::from_std(ttl).map_err(anyhow::Error::from)?,
        last_seen_at: now,
    };
    let id = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    db::sessions::purge_expired(&state.db, cutoffs(&state, now), PURGE_PER_SIGN_IN).await?;
    db::sessions::insert(&state.db, &sha256(id.as_bytes()), &session, now).await?;
    tracing::info!(
        customer.id = customer_id,
        admin = customer_id.is_none(),
        "console session opened"
    );
    let body = info(&state, &id, &session).await?;
    let mut resp = super::json_response(StatusCode::CREATED, &body);
    set_cookie(
        &mut resp,
        &id,
        ttl.as_secs(),
        cookie_is_secure(&state, &headers),
    );
    Ok(resp)
}

/// The session of the cookie: who it acts for, its CSRF token and its end. 401 without a live
/// session (the console then shows its sign-in form).
#[utoipa::path(
    get, path = "/session", tag = "session",
    responses(
        (status = 200, description = "The session", body = SessionInfo),
        Unauthorized, Unavailable,
    )
)]
pub async fn get_session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = session_cookie(&headers).ok_or(ApiError::Unauthorized("not signed in"))?;
    let session = live_session(&state, id, is_use(&headers)).await?;
    let body = info(&state, id, &session).await?;
    let mut resp = super::json_response(StatusCode::OK, &body);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// Signs out: the session ends in every gateway process and its cookie is cleared. A write:
/// needs the `X-CSRF-Token`.
#[utoipa::path(
    delete, path = "/session", tag = "session",
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses(
        (status = 204, description = "Signed out; the cookie is cleared"),
        Unauthorized, Forbidden, Unavailable,
    )
)]
pub async fn sign_out(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !uses_session(&headers) {
        return Err(ApiError::Unauthorized("not signed in"));
    }
    caller_of(&method, &headers, &state).await?;
    if let Some(id) = session_cookie(&headers) {
        db::sessions::delete(&state.db, &sha256(id.as_bytes())).await?;
    }
    tracing::info!("console session closed");
    let mut resp = StatusCode::NO_CONTENT.into_response();
    set_cookie(&mut resp, "", 0, cookie_is_secure(&state, &headers));
    Ok(resp)
}

/// The answer of `DELETE /admin/customers/{customer_id}/sessions`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionsRevoked {
    pub customer_id: i64,
    /// Sessions that ended.
    pub revoked: u64,
}

/// Ends every console session of a customer at once, in every process, without changing its
/// API key (rotating the key ends them too).
#[utoipa::path(
    delete, path = "/admin/customers/{customer_id}/sessions", tag = "admin",
    security(("admin_token" = [])),
    params(("customer_id" = i64, Path, description = "The customer")),
    responses(
        (status = 200, description = "Sessions ended", body = SessionsRevoked),
        super::responses::LookupErrors,
    )
)]
pub async fn revoke_customer_sessions(
    State(state): State<AppState>,
    _: super::extract::Admin,
    super::extract::ApiPath(customer_id): super::extract::ApiPath<i64>,
) -> Result<Response, ApiError> {
    if !db::customers::exists(&state.db, customer_id).await? {
        return Err(ApiError::unknown_customer(customer_id));
    }
    let revoked = db::sessions::delete_for_customer(&state.db, customer_id).await?;
    tracing::info!(
        customer.id = customer_id,
        revoked,
        "console sessions revoked"
    );
    Ok(super::json_response(
        StatusCode::OK,
        &SessionsRevoked {
            customer_id,
            revoked,
        },
    ))
}
