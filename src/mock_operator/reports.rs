//! The mock operator's delivery reports: one task per message taken, which waits the
//! latency and `dlr_delay`, decides DELIVRD or UNDELIV, and posts the report until the
//! gateway answers 2xx: up to `dlr_tries` tries, waiting the one [`Backoff`] schedule between
//! them, abandoned (counted in `reports_given_up`) when the tries run out or the mock stops.

use std::sync::atomic::Ordering;

use super::MockOperator;
use crate::backoff::{Backoff, sleep_or_stop};
use crate::operators::wire::DeliveryReportBody;

/// Reports the message taken under `reference` as `message_id`.
pub(super) async fn report(op: MockOperator, reference: String, message_id: String) {
    let Some(url) = op.config.dlr_url.clone() else {
        return;
    };
    let stats = &op.stats;
    let stop = &op.stopped;
    if sleep_or_stop(op.config.latency + op.config.dlr_delay, stop).await {
        stats.reports_given_up.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let status = if rand::random::<f64>() < op.config.undeliverable_rate {
        "UNDELIV"
    } else {
        "DELIVRD"
    };
    op.memory
        .lock()
        .expect("mock memory")
        .set_status(&reference, status);
    let body = DeliveryReportBody {
        message_id,
        status: status.into(),
    };
    let delay = op.config.dlr_retry_delay;
    let mut backoff = Backoff::new(delay, delay.saturating_mul(16));
    let tries = op.config.dlr_tries.max(1);
    for attempt in 1..=tries {
        let mut req = op.http.post(&url).json(&body);
        if let Some(key) = &op.config.dlr_key {
            req = req.bearer_auth(key);
        }
        let failure = match req.send().await {
            Ok(r) if r.status().is_success() => {
                stats.reports_sent.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(r) => format!("answered {}", r.status()),
            Err(e) => format!("failed: {}", e.without_url()),
        };
        stats.reports_failed.fetch_add(1, Ordering::Relaxed);
        if attempt == tries {
            tracing::warn!(operator = %op.config.name, %reference, attempt, %failure, "delivery report given up");
            break;
        }
        tracing::info!(operator = %op.config.name, %reference, attempt, %failure, "delivery report refused; posting it again later");
        if backoff.wait(stop).await {
            break;
        }
    }
    stats.reports_given_up.fetch_add(1, Ordering::Relaxed);
}
