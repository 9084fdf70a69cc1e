//! Why a delivery pass stopped (every variant leaves what was committed committed).

use std::sync::Arc;

use crate::batching::BatchError;

/// Why a delivery pass stopped. Every variant leaves what was committed committed; the
/// worker nacks and the message comes back.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// A transaction of this message's own failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A coalesced transaction (this message's chunk with other messages') failed: its
    /// error, shared by every message in it.
    #[error("coalesced delivery transaction failed: {0}")]
    Coalesced(#[source] Arc<sqlx::Error>),
    /// The coalescer's executor has stopped (the process is shutting down).
    #[error("the delivery executor has stopped")]
    Stopped,
    /// Dispatch is paused: the rest of the request waits (its queue message is kept) until
    /// it is resumed.
    #[error("dispatch is paused")]
    Paused,
}

impl From<BatchError<Arc<sqlx::Error>>> for DeliveryError {
    fn from(e: BatchError<Arc<sqlx::Error>>) -> Self {
        match e {
            BatchError::Failed(e) => Self::Coalesced(e),
            BatchError::Stopped => Self::Stopped,
        }
    }
}

impl From<BatchError<Arc<std::convert::Infallible>>> for DeliveryError {
    fn from(e: BatchError<Arc<std::convert::Infallible>>) -> Self {
        match e {
            BatchError::Failed(never) => match *never {},
            BatchError::Stopped => Self::Stopped,
        }
    }
}

impl DeliveryError {
    /// The database error behind this one, if any (with its MySQL code).
    pub fn database(&self) -> Option<&sqlx::Error> {
        match self {
            Self::Database(e) => Some(e),
            Self::Coalesced(e) => Some(e),
            Self::Stopped | Self::Paused => None,
        }
    }
}
