//! The catalog's rules, `deploy/metrics.txt` against the catalog, and a scrape against both.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::catalog::{self, Kind};
use super::*;
use crate::domain::SmsType;

const METRICS_TXT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/metrics.txt");

/// `deploy/metrics.txt` is the rendered catalog. To regenerate it after changing the catalog:
/// `UPDATE_METRICS_TXT=1 cargo test --lib metrics::`.
#[test]
fn deploy_metrics_txt_is_the_rendered_catalog() {
    let rendered = catalog::render_catalog();
    if std::env::var_os("UPDATE_METRICS_TXT").is_some() {
        std::fs::write(METRICS_TXT, &rendered).expect("writing deploy/metrics.txt");
    }
    let on_disk = std::fs::read_to_string(METRICS_TXT).expect("reading deploy/metrics.txt");
    assert!(
        on_disk == rendered,
        "deploy/metrics.txt differs from src/metrics/catalog.rs; regenerate it with \
         `UPDATE_METRICS_TXT=1 cargo test --lib metrics::`\n--- expected ---\n{rendered}"
    );
}

#[test]
fn the_catalog_follows_the_naming_rules() {
    let mut seen = BTreeSet::new();
    for f in catalog::families() {
        let name = f.name();
        assert!(seen.insert(name), "{name} is declared twice");
        assert!(name.starts_with("smsgw_"), "{name}: no smsgw_ prefix");
        assert_eq!(
            f.kind() == Kind::Counter,
            name.ends_with("_total"),
            "{name}: counters, and only counters, end in _total"
        );
        if let Kind::Histogram(buckets) = f.kind() {
            assert!(
                buckets.is_sorted() && !buckets.is_empty(),
                "{name}: buckets"
            );
        }
        assert!(!f.help().is_empty(), "{name}: no help");
    }
}

/// The families of a scrape, with their `# TYPE`.
fn scraped_families(scrape: &str) -> BTreeMap<String, String> {
    scrape
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let (name, kind) = l.split_once(' ')?;
            Some((name.to_string(), kind.to_string()))
        })
        .collect()
}

/// Every recorder once, then the scrape: each family served is in the catalog with its type
/// and help, and every catalog family is served.
#[test]
fn a_scrape_serves_exactly_the_catalog() {
    install();
    register_series(&["opA".to_string()]);
    let ms = Duration::from_millis(3);
    http_request("GET", "/sms/{sms_identifier}", 200, ms);
    intake_accepted(SmsType::Express, 2, 1, 4);
    intake_batch(3);
    intake_rejected("unauthorized");
    credits_refunded(1);
    credits_added(5);
    outbox_round(SmsType::Normal, 4, 3, 1, ms);
    outbox_reaped(1);
    outbox_backlog(SmsType::Normal, 7);
    scheduled(SmsType::Express, 1, 3);
    recipients_cancelled(SmsType::Normal, 2);
    queue(SmsType::Normal, QueueEvent::Consumed { redelivered: true });
    queue(SmsType::Normal, QueueEvent::Acked);
    queue(SmsType::Normal, QueueEvent::Nacked);
    queue(SmsType::Normal, QueueEvent::DeadLettered);
    queue_messages(SmsType::Express, 0);
    operator_call("opA", "success", Some(ms));
    operator_lookup("opA", "found");
    circuit_state("opA", 0.0);
    circuit_rejected("opA");
    operator_effective_rate("opA", Some(50.0));
    operator_throttled("opA", "waited");
    delivery_outcome(SmsType::Normal, "sent");
    accept_to_sent(SmsType::Normal, ms);
    record_lag(SmsType::Normal, ms);
    unusable_message_id("opA");
    dispatch_held(SmsType::Normal);
    intake_commit_resolved("committed");
    outbox_stranded_requeued(1);
    dead_letters(2);
    dead_letters_replayed(1);
    delivery_stage(SmsType::Express, DeliveryStage::Send, ms);
    dlr_report("opA", "DELIVERED");
    dlr_held("opA", HeldOutcome::Held);
    dispatch_paused(true);
    db_pool(1, 2);
    db_pool_max(3);
    http_connections_max(3);
    http_connections_open(1.0);
    http_connection_timed_out(HttpTimeout::Header);
    api_key_negative_cache_hit();
    api_key_lookups_waiting(1.0);
    callback_events("delivered", 2);
    callback_backlog(3, 1);

    let scrape = render();
    let served = scraped_families(&scrape);
    let declared: BTreeMap<String, String> = catalog::families()
        .map(|f| (f.name().to_string(), f.kind().as_str().to_string()))
        .collect();
    assert_eq!(served, declared, "{scrape}");
    for f in catalog::families() {
        assert!(
            scrape.contains(&format!("# HELP {} {}", f.name(), f.help())),
            "{}: help missing from {scrape}",
            f.name()
        );
    }
    assert!(
        scrape.contains(
            r#"smsgw_delivery_stage_seconds_bucket{type="express",stage="send",le="0.0075"}"#
        ),
        "stage buckets and label order: {scrape}"
    );
}
