//! Finding out what happened to a commit whose outcome is unknown (the connection was lost
//! during COMMIT, the server went away, the commit did not answer within `INTAKE_TIMEOUT_MS`).
//!
//! The request ids (`sms_identifier`) are generated before the transaction, so the answer is
//! in the database: on a fresh connection (the pool's may be the broken ones), a locking read
//! of the batch's balance rows waits until the in-doubt transaction has ended either way (it
//! holds them exclusively until its commit or rollback, and a server that lost the
//! connection rolls it back), then the request row tells whether it committed. Tried again
//! with a short pause (a restarting server refuses connections for a while) until
//! `INTAKE_RESOLVE_TIMEOUT_MS` has passed.

use std::time::{Duration, Instant};

use sqlx::mysql::MySqlConnection;
use sqlx::{ConnectOptions, Connection, MySqlPool};

use crate::backoff::{Backoff, Jitter};

/// What a looked-up commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The transaction committed: the requests are accepted and charged.
    Committed,
    /// It did not: nothing was charged or written.
    NotCommitted,
    /// The database could not tell within the bound.
    Unknown,
}

/// One lookup of a transaction that wrote `sms_identifier` and debited `customers` (sorted).
#[derive(Debug, Clone, Copy)]
pub struct Probe<'a> {
    pub customers: &'a [i64],
    pub sms_identifier: &'a str,
}

/// Looks the transaction up until it is known or `bound` has passed.
pub async fn resolve(db: &MySqlPool, probe: Probe<'_>, bound: Duration) -> Resolution {
    let deadline = Instant::now() + bound;
    let mut pauses =
        Backoff::new(Duration::from_millis(100), Duration::from_secs(1)).with_jitter(Jitter::NONE);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        let attempt = tokio::time::timeout(left.max(Duration::from_millis(1)), lookup(db, probe));
        let found = attempt.await;
        match found {
            Ok(Ok(true)) => return finish(probe, attempts, Resolution::Committed),
            Ok(Ok(false)) => return finish(probe, attempts, Resolution::NotCommitted),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, attempts, "looking up an unknown commit failed")
            }
            Err(_) => {}
        }
        let pause = pauses.next_delay();
        if Instant::now() + pause >= deadline {
            return finish(probe, attempts, Resolution::Unknown);
        }
        tokio::time::sleep(pause).await;
    }
}

fn finish(probe: Probe<'_>, attempts: u32, resolution: Resolution) -> Resolution {
    tracing::warn!(
        sms.id = probe.sms_identifier,
        attempts,
        resolution = ?resolution,
        "looked up a commit whose outcome was unknown"
    );
    crate::metrics::intake_commit_resolved(match resolution {
        Resolution::Committed => "committed",
        Resolution::NotCommitted => "not_committed",
        Resolution::Unknown => "unknown",
    });
    resolution
}

/// One lookup on a connection of its own: wait for the balance row locks (shared), then read
/// the request row.
async fn lookup(db: &MySqlPool, probe: Probe<'_>) -> Result<bool, sqlx::Error> {
    let mut conn: MySqlConnection = db.connect_options().as_ref().clone().connect().await?;
    sqlx::query("set session innodb_lock_wait_timeout = 1")
        .execute(&mut conn)
        .await?;
    let found = async {
        let mut tx = conn.begin().await?;
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "select user_id from user_balances where user_id in (",
        );
        let mut list = qb.separated(", ");
        for id in probe.customers {
            list.push_bind(*id);
        }
        qb.push(") order by user_id lock in share mode");
        qb.build().fetch_all(&mut *tx).await?;
        let n: i64 =
            sqlx::query_scalar("select count(*) from sms_requests where sms_identifier = ?")
                .bind(probe.sms_identifier)
                .fetch_one(&mut *tx)
                .await?;
        tx.rollback().await?;
        Ok::<_, sqlx::Error>(n > 0)
    }
    .await;
    let _ = conn.close().await;
    found
}
