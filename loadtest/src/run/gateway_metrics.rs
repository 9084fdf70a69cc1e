//! The gateway's own view of delivery: its acceptance-to-SENT histogram read from
//! `GET /metrics` before and after the run, and the difference summarised per message type.

use std::collections::BTreeMap;

use super::send::classify;
use crate::report::{self, AcceptToSent, BucketLatency};

/// The gateway's acceptance-to-SENT histogram (read from `GET /metrics` when it exists).
pub const ACCEPT_TO_SENT: &str = "smsgw_delivery_accept_to_sent_seconds";

/// `GET /metrics`: the body, or why there is none.
pub async fn scrape(client: &reqwest::Client, base: &str) -> Result<String, String> {
    let r = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .map_err(|e| format!("GET /metrics failed: {}", classify(e)))?;
    if !r.status().is_success() {
        return Err(format!("GET /metrics answered {}", r.status()));
    }
    r.text().await.map_err(|e| format!("GET /metrics: {e}"))
}

/// What the run added to [`ACCEPT_TO_SENT`] between the scrape `before` and the one `after`.
pub fn accept_to_sent(
    before: Result<String, String>,
    after: Result<String, String>,
) -> AcceptToSent {
    let not_available = |note: String| AcceptToSent {
        available: false,
        note: Some(note),
        by_type: BTreeMap::new(),
    };
    let (before, after) = match (before, after) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(e), _) | (_, Err(e)) => return not_available(e),
    };
    let b = report::parse_histograms(&before, ACCEPT_TO_SENT, "type");
    let a = report::parse_histograms(&after, ACCEPT_TO_SENT, "type");
    if a.is_empty() {
        return not_available(format!("the gateway does not export {ACCEPT_TO_SENT}"));
    }
    AcceptToSent {
        available: true,
        note: None,
        by_type: a
            .iter()
            .map(|(t, h)| {
                let d = report::histogram_delta(h, b.get(t));
                (t.clone(), BucketLatency::from_seconds(&d))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_without_the_histogram_is_tolerated() {
        let a = accept_to_sent(Ok(String::new()), Ok("smsgw_other 1\n".into()));
        assert!(!a.available);
        assert!(a.note.unwrap().contains(ACCEPT_TO_SENT));
        let a = accept_to_sent(
            Err("GET /metrics answered 404 Not Found".into()),
            Ok(String::new()),
        );
        assert!(!a.available);
        let with = format!(
            "# TYPE {ACCEPT_TO_SENT} histogram\n{ACCEPT_TO_SENT}_bucket{{type=\"express\",le=\"0.05\"}} 3\n{ACCEPT_TO_SENT}_bucket{{type=\"express\",le=\"+Inf\"}} 3\n{ACCEPT_TO_SENT}_count{{type=\"express\"}} 3\n{ACCEPT_TO_SENT}_sum{{type=\"express\"}} 0.06\n"
        );
        let a = accept_to_sent(Ok(String::new()), Ok(with));
        assert!(a.available);
        assert_eq!(a.by_type["express"].count, 3.0);
        assert_eq!(a.by_type["express"].mean_ms, Some(20.0));
    }

    #[test]
    fn the_run_gets_the_difference_between_the_scrapes() {
        let text = |fast: u32, all: u32, sum: f64| {
            format!(
                "# TYPE {ACCEPT_TO_SENT} histogram\n\
                 {ACCEPT_TO_SENT}_bucket{{type=\"normal\",le=\"0.1\"}} {fast}\n\
                 {ACCEPT_TO_SENT}_bucket{{type=\"normal\",le=\"+Inf\"}} {all}\n\
                 {ACCEPT_TO_SENT}_sum{{type=\"normal\"}} {sum}\n\
                 {ACCEPT_TO_SENT}_count{{type=\"normal\"}} {all}\n"
            )
        };
        let a = accept_to_sent(Ok(text(10, 10, 0.5)), Ok(text(30, 30, 1.5)));
        assert!(a.available);
        let normal = &a.by_type["normal"];
        assert_eq!(normal.count, 20.0);
        assert_eq!(normal.mean_ms, Some(50.0));
        // Rank 10 of the 20 new observations, all in (0, 0.1]: 0.05 s.
        assert_eq!(normal.p50_ms, Some(50.0));
    }
}
