//! `Idempotency-Key` handling for write endpoints: the first successful response is stored in
//! the transaction that produced it; a retry with the same key and body replays it (header
//! `Idempotent-Replayed: true`) and changes nothing; the same key with another body is a 409.
//! Failed requests are not stored: retrying them re-runs the validation or the balance check.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::MySqlPool;

use super::error::ApiError;
use super::extract::{Caller, IdempotencyKey};
use crate::db::{self, Tx};
use crate::state::AppState;

/// Header set on replayed responses.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// An idempotent request in progress.
#[derive(Debug, Clone)]
pub struct Idempotency {
    scope: String,
    key: String,
    hash: [u8; 32],
    ttl_secs: u64,
}

impl Idempotency {
    /// `None` when the request carries no key. `route` and `body` make the fingerprint that a
    /// retry must match.
    pub fn new(
        caller: Caller,
        key: IdempotencyKey,
        route: &str,
        body: &impl Serialize,
        ttl_secs: u64,
    ) -> Option<Self> {
        let key = key.0?;
        let mut hasher = Sha256::new();
        hasher.update(route.as_bytes());
        hasher.update([0]);
        hasher.update(serde_json::to_vec(body).unwrap_or_default());
        Some(Self {
            scope: caller.idempotency_scope(),
            key,
            hash: hasher.finalize().into(),
            ttl_secs,
        })
    }

    /// The stored response for this key, if any; 409 if it was stored for another body.
    pub async fn replay(&self, pool: &MySqlPool) -> Result<Option<Response>, ApiError> {
        let Some(stored) =
            db::idempotency::find(pool, &self.scope, &self.key, self.ttl_secs).await?
        else {
            return Ok(None);
        };
        if stored.request_hash != self.hash {
            return Err(ApiError::Conflict(
                "this Idempotency-Key was already used with a different request".into(),
            ));
        }
        let status = StatusCode::from_u16(stored.status_code as u16).unwrap_or(StatusCode::OK);
        let mut resp = (status, stored.response_body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
        Ok(Some(resp))
    }
}

/// Where a write with an optional `Idempotency-Key` starts.
#[derive(Debug)]
pub enum Begun {
    /// The key's stored answer: return it, change nothing.
    Replay(Response),
    /// Go on; the answer is stored with `commit` when a key was given.
    Fresh(Option<Idempotency>),
}

/// Fingerprints the request (see [`Idempotency::new`]) and looks its key up.
pub async fn begin(
    caller: Caller,
    key: IdempotencyKey,
    route: &str,
    body: &impl Serialize,
    state: &AppState,
) -> Result<Begun, ApiError> {
    let ttl = state.config.http.idempotency_ttl.as_secs();
    let Some(idem) = Idempotency::new(caller, key, route, body, ttl) else {
        return Ok(Begun::Fresh(None));
    };
    Ok(match idem.replay(&state.db).await? {
        Some(resp) => Begun::Replay(resp),
        None => Begun::Fresh(Some(idem)),
    })
}

/// Where [`store`] left a write.
pub enum Stored {
    /// A concurrent request with the same key committed first: this transaction was rolled
    /// back; answer with that request's response.
    Replay(Response),
    /// The response (as JSON) is written in the transaction, which the caller commits.
    Ready(Tx, String),
}

/// Stores the response in `tx` when a key was given (see [`Stored`]).
pub async fn store<T: Serialize>(
    idem: Option<&Idempotency>,
    pool: &MySqlPool,
    mut tx: Tx,
    status: StatusCode,
    body: &T,
) -> Result<Stored, ApiError> {
    let json = serde_json::to_string(body).map_err(|e| ApiError::Internal(e.into()))?;
    if let Some(idem) = idem {
        let stored = db::idempotency::insert(
            &mut tx,
            &idem.scope,
            &idem.key,
            &idem.hash,
            status.as_u16(),
            &json,
            idem.ttl_secs,
        )
        .await;
        match stored {
            Ok(()) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tx.rollback().await?;
                let replay = idem.replay(pool).await?.ok_or_else(|| {
                    ApiError::Conflict("a request with this Idempotency-Key is in progress".into())
                })?;
                return Ok(Stored::Replay(replay));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Stored::Ready(tx, json))
}

/// A stored JSON answer as a response.
pub fn json_answer(status: StatusCode, json: String) -> Response {
    let mut resp = (status, json).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Stores the response (when a key was given) and commits `tx`. If a concurrent request with
/// the same key committed first, this transaction is rolled back and that response replayed.
pub async fn commit<T: Serialize>(
    idem: Option<&Idempotency>,
    pool: &MySqlPool,
    tx: Tx,
    status: StatusCode,
    body: &T,
) -> Result<Response, ApiError> {
    match store(idem, pool, tx, status, body).await? {
        Stored::Replay(resp) => Ok(resp),
        Stored::Ready(tx, json) => {
            tx.commit().await?;
            Ok(json_answer(status, json))
        }
    }
}

pub use crate::db::is_unique_violation;
