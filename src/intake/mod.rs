//! Intake: turns a send request into a validated [`SendCommand`] ([`validate`]) and accepts
//! it in one database transaction (charge, ledger row, request row, one status row per
//! recipient, outbox row): alone ([`accept`], when its stored idempotent answer must commit
//! with it) or in a shared transaction ([`group_commit`]), both through the same
//! [`accept_many`].
//!
//! Validation happens before any database work, so bad input can never leave anything behind.

mod accept;
mod charge;
pub mod group_commit;
pub mod personal;
mod record;
pub mod resolve;
mod schedule;
mod text;
mod validate;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use accept::{Accepted, Limit, Outcome, Request, accept, accept_many, charge_for};
pub use resolve::{Probe, Resolution};
pub use validate::{DefaultLimits, FieldErrors, SendCommand, SendInput, validate};

use crate::config::IntakeConfig;
use crate::db::Tx;

/// Why an acceptance gave no [`Outcome`].
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The request's transaction failed (or ran out of time) before its commit: nothing was
    /// written.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Nothing was written: the commit failed and the lookup found it had not happened, or
    /// the request was not started because it could no longer be answered in time.
    #[error("the acceptance did not commit")]
    NotCommitted,
    /// The commit failed and the database could not tell within `INTAKE_RESOLVE_TIMEOUT_MS`
    /// whether it happened. It is never retried (that could charge twice).
    #[error("the commit of {sms_identifier} failed and its outcome is unknown: {error}")]
    CommitFailed {
        sms_identifier: String,
        #[source]
        error: Arc<sqlx::Error>,
    },
    /// The group-commit executor has stopped: nothing was done.
    #[error("the group commit has stopped")]
    Stopped,
}

/// The time bounds of an acceptance (`INTAKE_TIMEOUT_MS`, `INTAKE_RESOLVE_TIMEOUT_MS`).
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// From the transaction's start to its commit's answer.
    pub timeout: Duration,
    /// Looking up a commit whose outcome is unknown.
    pub resolve: Duration,
}

impl Bounds {
    pub fn of(config: &IntakeConfig) -> Self {
        Self {
            timeout: config.timeout,
            resolve: config.resolve_timeout,
        }
    }

    /// Whether a request that must be answered by `deadline` can no longer run a transaction
    /// and, in the worst case, the lookup of its commit, in time.
    pub fn too_late(&self, deadline: Instant) -> bool {
        Instant::now() + self.timeout + self.resolve > deadline
    }
}

/// The error of a transaction step that ran out of time (nothing committed).
pub fn timed_out(what: &str) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("{what} did not finish within INTAKE_TIMEOUT_MS"),
    ))
}

/// Commits an acceptance transaction by `deadline`; when the commit fails or does not
/// answer in time, its outcome is looked up ([`resolve::resolve`]): `Ok` when it committed,
/// [`AcceptError::NotCommitted`] when it did not, [`AcceptError::CommitFailed`] when the
/// database could not tell.
pub async fn commit(
    db: &sqlx::MySqlPool,
    bounds: Bounds,
    deadline: Instant,
    tx: Tx,
    probe: Probe<'_>,
) -> Result<(), AcceptError> {
    let error = match tokio::time::timeout_at(deadline.into(), tx.commit()).await {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => e,
        Err(_) => timed_out("the commit"),
    };
    tracing::error!(sms.id = probe.sms_identifier, error = %error, "an acceptance commit failed; looking up its outcome");
    match resolve::resolve(db, probe, bounds.resolve).await {
        Resolution::Committed => Ok(()),
        Resolution::NotCommitted => Err(AcceptError::NotCommitted),
        Resolution::Unknown => Err(AcceptError::CommitFailed {
            sms_identifier: probe.sms_identifier.to_string(),
            error: Arc::new(error),
        }),
    }
}
