//! Intake: turns a send request into a validated [`SendCommand`] ([`validate`]) and accepts
//! it in one database transaction (charge, ledger row, request row, one status row per
//! recipient, outbox row): alone ([`accept`], when its stored idempotent answer must commit
//! with it) or in a shared transaction ([`group_commit`]), both through the same
//! [`accept_many`].
//!
//! Validation happens before any database work, so bad input can never leave anything behind.

mod accept;
pub mod group_commit;
mod validate;

use std::sync::Arc;

pub use accept::{Accepted, Outcome, Request, accept, accept_many, charge_for};
pub use validate::{FieldErrors, SendCommand, SendInput, validate};

/// Why an acceptance gave no [`Outcome`].
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The request's transaction failed before its commit: nothing was written.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The commit of a shared transaction failed: it may or may not have happened, so it is
    /// never retried (that could charge twice). Every request of the batch gets this error.
    #[error("the group commit failed at its commit: {0}")]
    CommitFailed(#[source] Arc<sqlx::Error>),
    /// The group-commit executor has stopped: nothing was done.
    #[error("the group commit has stopped")]
    Stopped,
}
