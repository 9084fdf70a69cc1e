//! One queue message's slices: a single slice, or the slices of several small requests that
//! share a message (`outbox::publish`). They are delivered at once (at most
//! [`SLICES_AT_ONCE`] together), each in a consumer span of its own request's trace, and the
//! message is acknowledged when all of them are done. When one fails the whole message comes
//! back; the slices that were done find nothing left to take when it is delivered again.

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{DeliveryError, Slice, WorkerPool, deliver_unless_stopped};
use crate::domain::SmsType;
use crate::outbox::QueueMessage;

/// Slices of one message delivered together, at most.
pub const SLICES_AT_ONCE: usize = 8;

fn slice_of(m: &QueueMessage, lane: SmsType) -> Slice {
    Slice {
        lane: Some(lane),
        ..Slice::from(m)
    }
}

/// Delivers every slice of a message (see the module documentation); the first error, if
/// any.
pub(super) async fn deliver_all(
    pool: &WorkerPool,
    lane: SmsType,
    slices: &[QueueMessage],
    stop: &CancellationToken,
) -> Result<(), DeliveryError> {
    if let [one] = slices {
        return deliver_unless_stopped(pool, &slice_of(one, lane), stop)
            .await
            .map(|_| ());
    }
    // The futures are built first: a stream mapping borrowed slices to futures is not
    // `Send` for every lifetime, as the spawned handler needs.
    let mut deliveries = Vec::with_capacity(slices.len());
    for m in slices {
        let span = tracing::info_span!(
            "sms.deliver",
            otel.kind = "consumer",
            messaging.source = %lane,
            sms.id = %m.sms_identifier,
        );
        crate::telemetry::set_parent(&span, m.traceparent.as_deref());
        let slice = slice_of(m, lane);
        deliveries.push(Box::pin(
            async move { deliver_unless_stopped(pool, &slice, stop).await }.instrument(span),
        ));
    }
    let results: Vec<Result<_, DeliveryError>> = futures::stream::iter(deliveries)
        .buffer_unordered(SLICES_AT_ONCE)
        .collect()
        .await;
    results
        .into_iter()
        .find_map(Result::err)
        .map_or(Ok(()), Err)
}
