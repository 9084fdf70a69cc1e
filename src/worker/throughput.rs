//! The lanes' shared throughput: once a second, this process adds the recipients it recorded
//! SENT per lane since the last flush to `lane_sent` (`db::lane_sent`), where
//! `GET /admin/lanes` sums the last minute of every process. Counting in memory keeps the
//! recording of sends, the hottest transaction of delivery, as it is (docs/DESIGN.md "Lane
//! throughput").

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::DeliveryContext;
use crate::db::lane_sent;

/// How often the counts are added.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Rows older than this are deleted (readers look at the last minute).
const KEEP_SECS: u32 = 600;
/// The old rows are deleted every this many flushes, at most this many per lane.
const PRUNE_EVERY: u64 = 60;
const PRUNE_LIMIT: u32 = 10_000;

/// Adds this process's counts every [`FLUSH_EVERY`] until `stop`, and once more then. A
/// failed flush keeps its counts for the next one; counts of recipients recorded after the
/// last flush of a stopping process are not added.
pub async fn flush_until_stopped(ctx: Arc<DeliveryContext>, stop: CancellationToken) {
    let slot = lane_sent::slot();
    let mut tick: u64 = 0;
    loop {
        let stopping = tokio::select! {
            _ = stop.cancelled() => true,
            _ = tokio::time::sleep(FLUSH_EVERY) => false,
        };
        let counts = ctx.take_sent();
        if let Err(e) = lane_sent::add(&ctx.db, slot, &counts).await {
            tracing::debug!(error = %e, "cannot add the lanes' SENT counts; kept for the next flush");
            ctx.give_back_sent(&counts);
        }
        if stopping {
            return;
        }
        tick += 1;
        if tick.is_multiple_of(PRUNE_EVERY)
            && let Err(e) = lane_sent::prune(&ctx.db, KEEP_SECS, PRUNE_LIMIT).await
        {
            tracing::debug!(error = %e, "cannot prune lane_sent");
        }
    }
}
