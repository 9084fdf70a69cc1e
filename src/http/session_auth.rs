//! How the extractors of `extract` accept the console's session cookie instead of a bearer
//! token ([`caller`]): the session must be live, and a write must carry the session's CSRF
//! token in `X-CSRF-Token`. The session endpoints themselves are in `session`.

use std::time::Duration;

use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use super::caller::Caller;
use super::error::ApiError;
use crate::db;
use crate::db::sessions::{Cutoffs, StoredSession};
use crate::hashing::sha256;
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "smsgw_session";
/// Header carrying the CSRF token on writes made with the session cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Header marking a request a page made by itself (the console's automatic refreshes): it
/// does not count as a use of the session, so a page left open still goes idle.
pub const BACKGROUND_HEADER: &str = "x-background-refresh";
/// Longest session id accepted from a cookie (ours are 43 characters).
const MAX_SESSION_ID_LEN: usize = 64;
/// The session id of the request's cookie, if it carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty() && v.len() <= MAX_SESSION_ID_LEN)
}

/// Whether a request authenticates with the session cookie: it has one and no
/// `Authorization` header (a bearer token always wins).
pub fn uses_session(headers: &HeaderMap) -> bool {
    !headers.contains_key(header::AUTHORIZATION) && session_cookie(headers).is_some()
}

/// The session id hash of a request that authenticates with its cookie ([`uses_session`]).
pub fn session_id_hash(headers: &HeaderMap) -> Option<[u8; 32]> {
    uses_session(headers)
        .then(|| session_cookie(headers))
        .flatten()
        .map(|id| sha256(id.as_bytes()))
}

/// The CSRF token of a session: derived from its secret id, so it needs no storage, cannot be
/// computed without the cookie (which scripts cannot read), and differs from the stored hash.
pub(super) fn csrf_token(session_id: &str) -> String {
    let mut input = b"smsgw-csrf\0".to_vec();
    input.extend_from_slice(session_id.as_bytes());
    URL_SAFE_NO_PAD.encode(sha256(&input))
}

/// The caller of a request authenticated by its session cookie. 401 if the session is
/// unknown, expired, idle for `SESSION_IDLE_SECS`, signed out, or its key or token has
/// changed since sign-in; 403 for a write (any method but GET, HEAD, OPTIONS) without the
/// session's `X-CSRF-Token`.
pub async fn caller(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    caller_of(&parts.method, &parts.headers, state).await
}

pub(super) async fn caller_of(
    method: &Method,
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Caller, ApiError> {
    let id = session_cookie(headers).ok_or(ApiError::Unauthorized(
        "send your API key as Authorization: Bearer <key>",
    ))?;
    let session = live_session(state, id, is_use(headers)).await?;
    if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let sent = headers
            .get(CSRF_HEADER)
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        if !bool::from(sent.ct_eq(csrf_token(id).as_bytes())) {
            return Err(ApiError::Forbidden(
                "a write made with the session cookie needs the session's CSRF token in X-CSRF-Token"
                    .into(),
            ));
        }
    }
    Ok(match session.customer_id {
        Some(id) => Caller::Customer(id),
        None => Caller::Admin,
    })
}

/// Longest a session's `last_seen_at` lags its last use: a request moves it forward only when
/// it is older than this (a quarter of `SESSION_IDLE_SECS` when that is under 4 minutes), so
/// using a session writes at most one row a minute, and a session ends between
/// `SESSION_IDLE_SECS` minus this and `SESSION_IDLE_SECS` after its last use.
pub const LAST_SEEN_STEP: Duration = Duration::from_secs(60);

/// The step of `last_seen_at` for an idle timeout of `idle`.
pub fn last_seen_step(idle: Duration) -> Duration {
    LAST_SEEN_STEP.min(idle / 4)
}

/// What ends a session now: its absolute end, and `SESSION_IDLE_SECS` without use.
pub(super) fn cutoffs(state: &AppState, now: DateTime<Utc>) -> Cutoffs {
    Cutoffs {
        now,
        idle_since: now - state.config.console.session_idle,
    }
}

/// Whether a request counts as a use of its session: any but a background refresh
/// ([`BACKGROUND_HEADER`]).
pub(super) fn is_use(headers: &HeaderMap) -> bool {
    !headers.contains_key(BACKGROUND_HEADER)
}

/// The live session of a cookie's id, its use recorded when `used` ([`LAST_SEEN_STEP`]); 401
/// when there is none.
pub(super) async fn live_session(
    state: &AppState,
    id: &str,
    used: bool,
) -> Result<StoredSession, ApiError> {
    const EXPIRED: &str = "the session has expired or ended; sign in again";
    let now = Utc::now();
    let id_hash = sha256(id.as_bytes());
    let session = db::sessions::find_live(&state.db, &id_hash, cutoffs(state, now))
        .await?
        .ok_or(ApiError::Unauthorized(EXPIRED))?;
    // An admin session lives only while ADMIN_TOKEN is the one it was opened with.
    if session.customer_id.is_none()
        && !bool::from(session.credential_hash.ct_eq(&state.admin_token_hash))
    {
        return Err(ApiError::Unauthorized(EXPIRED));
    }
    let step = last_seen_step(state.config.console.session_idle);
    let stale = now - step;
    if used && session.last_seen_at < stale {
        // The request goes on whatever happens here: a session that cannot be touched now
        // is touched by its next request.
        if let Err(e) = db::sessions::touch(&state.db, &id_hash, now, stale).await {
            tracing::warn!(error = %e, "cannot record a console session's use");
        }
    }
    Ok(session)
}
