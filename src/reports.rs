//! Held delivery reports (api role): a report for a message id no message has yet is held
//! (`POST /dlr/{operator}` answers 202 `held`); this sweeper applies it once the operator's
//! answer to the send is recorded, and drops it after `DLR_HOLD_SECS`.

use std::time::Duration;

use sqlx::MySqlPool;
use tokio_util::sync::CancellationToken;

use crate::backoff::sleep_or_stop;
use crate::config::ReportsConfig;
use crate::db::held_reports;
use crate::metrics::{HeldOutcome, dlr_held};

/// Reports applied or dropped per pass.
const PASS: u32 = 500;
/// Between passes.
const EVERY: Duration = Duration::from_millis(500);

/// Applies and expires held reports until `stop`.
pub async fn run_until_stopped(db: MySqlPool, config: ReportsConfig, stop: CancellationToken) {
    loop {
        match held_reports::apply_due(&db, PASS, config.hold.as_secs()).await {
            Ok(pass) => {
                for operator in &pass.applied {
                    dlr_held(operator, HeldOutcome::Applied);
                }
                for operator in &pass.expired {
                    dlr_held(operator, HeldOutcome::Expired);
                }
                if !pass.expired.is_empty() {
                    tracing::warn!(
                        reports = pass.expired.len(),
                        "dropped delivery reports whose message id no message got within DLR_HOLD_SECS"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "held delivery reports: pass failed"),
        }
        if sleep_or_stop(EVERY, &stop).await {
            return;
        }
    }
}
