//! Tests of the report as a whole: the JSON the bench scripts read and the printed table.

use super::*;
use trend::tests::sample;

/// A latency summary scaled from `base` ms.
fn lat(count: u64, base: f64) -> Latency {
    Latency {
        count,
        mean_ms: base * 1.5,
        p50_ms: base,
        p90_ms: base * 2.0,
        p99_ms: base * 3.25,
        p999_ms: base * 4.0,
        max_ms: base * 10.0,
    }
}

/// A report with every section filled: an open loop whose gateway exports the
/// acceptance-to-SENT histogram, or a closed loop whose gateway does not.
fn full_report(open: bool, available: bool) -> Report {
    Report {
        tool: "sms-loadtest 0.1.0".into(),
        run_id: "deadbeef".into(),
        started_at: "2026-11-24T00:00:00Z".into(),
        config: RunConfig {
            target: "gateway".into(),
            base_url: "http://127.0.0.1:8080".into(),
            mode: if open { "open" } else { "closed" }.into(),
            rate: open.then_some(500.0),
            concurrency: (!open).then_some(8),
            connections: 256,
            duration_s: 60.0,
            recipients: 10,
            express_ratio: 0.1,
            customers: 1,
            hot: open,
            text: "mix".into(),
            e2e: true,
            operator_latency_ms: Some(2),
            seed: 1,
        },
        load_s: 60.04,
        intake: Intake {
            requests: 30_000,
            accepted: 29_990,
            accepted_recipients: 299_900,
            accepted_per_s: 499.5,
            recipients_per_s: 4995.0,
            rejections: BTreeMap::from([(402, 3), (503, 7)]),
            status_5xx: 7,
            errors: BTreeMap::from([("timeout".to_string(), 2)]),
            latency: Some(lat(29_990, 3.1)),
            latency_by_type: BTreeMap::from([
                ("express".to_string(), lat(3_000, 2.9)),
                ("normal".to_string(), lat(26_990, 3.2)),
            ]),
            max_schedule_lag_ms: 12.345,
        },
        e2e: Some(EndToEnd {
            arrivals: 299_901,
            matched: 299_900,
            duplicates: 1,
            missing: 0,
            foreign: 4,
            before_acceptance: 12,
            drain_s: 1.25,
            steady_arrivals_per_s: 4990.1,
            steady_accepted_per_s: 4995.2,
            backlog_growth_per_s: -0.4,
            backlog_at_end: 37,
            backlog_flat: true,
            latency: Some(lat(299_900, 40.0)),
            latency_by_type: BTreeMap::from([("express".to_string(), lat(30_000, 20.0))]),
        }),
        accept_to_sent: Some(AcceptToSent {
            available,
            note: (!available).then(|| "the gateway does not export x".to_string()),
            by_type: if available {
                BTreeMap::from([
                    (
                        "express".to_string(),
                        BucketLatency {
                            count: 30_000.0,
                            mean_ms: Some(18.5),
                            p50_ms: Some(15.25),
                            p99_ms: None,
                        },
                    ),
                    (
                        "normal".to_string(),
                        BucketLatency {
                            count: 269_900.0,
                            mean_ms: None,
                            p50_ms: Some(40.0),
                            p99_ms: Some(99.99),
                        },
                    ),
                ])
            } else {
                BTreeMap::new()
            },
        }),
        callbacks: None,
        loadtest_cpu: Cpu {
            user_s: 10.5,
            sys_s: 3.25,
            wall_s: 61.3,
            cores: 0.224,
        },
        timeline: vec![Sample {
            t: 1.001,
            accepted: 500,
            accepted_recipients: 5_000,
            arrivals: 4_900,
            in_flight: 3,
        }],
    }
}

/// The table of `full_report(true, true)`, character for character.
const OPEN_TABLE: &str = concat!(
    "sms-loadtest run deadbeef against http://127.0.0.1:8080\n",
    "  load          open loop, 500 req/s, 60.0 s, 10 recipient(s)/request, express 10 %, text mix, 1 customer(s) (hot)\n",
    "  requests      30000 sent, 29990 accepted (499.5/s), 299900 recipients (4995.0/s)\n",
    "  rejections    402: 3, 503: 7, timeout: 2 (5xx: 7)\n",
    "  intake        p50 3.1 ms  p90 6.2 ms  p99 10.1 ms  p99.9 12.4 ms  max 31.0 ms  (n=29990)\n",
    "    express     p50 2.9 ms  p90 5.8 ms  p99 9.4 ms  p99.9 11.6 ms  max 29.0 ms  (n=3000)\n",
    "    normal      p50 3.2 ms  p90 6.4 ms  p99 10.4 ms  p99.9 12.8 ms  max 32.0 ms  (n=26990)\n",
    "  schedule lag  max 12.3 ms\n",
    "  operator      299901 arrivals, 299900 matched, 1 duplicates, 0 missing, 4 foreign; drain 1.2 s\n",
    "  steady state  4990.1 arrivals/s for 4995.2 accepted/s; backlog -0.4/s, 37 at the end (flat)\n",
    "  accept->op    p50 40.0 ms  p90 80.0 ms  p99 130.0 ms  p99.9 160.0 ms  max 400.0 ms  (n=299900)\n",
    "    express     p50 20.0 ms  p90 40.0 ms  p99 65.0 ms  p99.9 80.0 ms  max 200.0 ms  (n=30000)\n",
    "  accept->SENT  express   n=30000 mean 18.5 ms p50 15.2 ms p99 - (gateway buckets)\n",
    "  accept->SENT  normal    n=269900 mean - p50 40.0 ms p99 100.0 ms (gateway buckets)\n",
    "  loadtest CPU  0.22 cores (10.5 s user + 3.2 s sys over 61.3 s)\n",
);

/// The table of `full_report(false, false)`, character for character.
const CLOSED_TABLE: &str = concat!(
    "sms-loadtest run deadbeef against http://127.0.0.1:8080\n",
    "  load          closed loop, 8 in flight, 60.0 s, 10 recipient(s)/request, express 10 %, text mix, 1 customer(s)\n",
    "  requests      30000 sent, 29990 accepted (499.5/s), 299900 recipients (4995.0/s)\n",
    "  rejections    402: 3, 503: 7, timeout: 2 (5xx: 7)\n",
    "  intake        p50 3.1 ms  p90 6.2 ms  p99 10.1 ms  p99.9 12.4 ms  max 31.0 ms  (n=29990)\n",
    "    express     p50 2.9 ms  p90 5.8 ms  p99 9.4 ms  p99.9 11.6 ms  max 29.0 ms  (n=3000)\n",
    "    normal      p50 3.2 ms  p90 6.4 ms  p99 10.4 ms  p99.9 12.8 ms  max 32.0 ms  (n=26990)\n",
    "  operator      299901 arrivals, 299900 matched, 1 duplicates, 0 missing, 4 foreign; drain 1.2 s\n",
    "  steady state  4990.1 arrivals/s for 4995.2 accepted/s; backlog -0.4/s, 37 at the end (flat)\n",
    "  accept->op    p50 40.0 ms  p90 80.0 ms  p99 130.0 ms  p99.9 160.0 ms  max 400.0 ms  (n=299900)\n",
    "    express     p50 20.0 ms  p90 40.0 ms  p99 65.0 ms  p99.9 80.0 ms  max 200.0 ms  (n=30000)\n",
    "  accept->SENT  not available: the gateway does not export x\n",
    "  loadtest CPU  0.22 cores (10.5 s user + 3.2 s sys over 61.3 s)\n",
);

#[test]
fn the_table_prints_every_section() {
    assert_eq!(full_report(true, true).table(), OPEN_TABLE);
    assert_eq!(full_report(false, false).table(), CLOSED_TABLE);
}

/// The fields scripts/bench.sh and scripts/loadtest-smoke.sh read.
#[test]
fn the_json_keeps_the_fields_the_scripts_read() {
    let v = serde_json::to_value(full_report(true, true)).unwrap();
    for path in [
        "intake.accepted",
        "intake.accepted_recipients",
        "intake.accepted_per_s",
        "intake.recipients_per_s",
        "intake.status_5xx",
        "intake.errors.timeout",
        "intake.latency.p50_ms",
        "intake.latency.p99_ms",
        "e2e.foreign",
        "e2e.missing",
        "e2e.latency.count",
        "e2e.latency.p99_ms",
        "e2e.latency_by_type.express.count",
        "e2e.latency_by_type.express.p50_ms",
        "e2e.latency_by_type.express.p99_ms",
        "e2e.latency_by_type.express.max_ms",
        "loadtest_cpu.cores",
    ] {
        let found = path.split('.').try_fold(&v, |v, k| v.get(k));
        assert!(found.is_some_and(|f| !f.is_null()), "{path} missing in {v}");
    }
}

#[test]
fn the_report_round_trips_and_renders() {
    let mut h = latency::new_histogram();
    h.record(2_000).unwrap();
    let mut report = full_report(false, false);
    report.intake.rejections = BTreeMap::from([(503, 1)]);
    report.intake.status_5xx = 1;
    report.intake.latency = Latency::from_histogram(&h);
    let e2e = report.e2e.as_mut().unwrap();
    e2e.matched = 9;
    e2e.latency = Latency::from_histogram(&h);
    report.accept_to_sent = Some(AcceptToSent {
        available: false,
        note: Some("GET /metrics answered 404".into()),
        by_type: BTreeMap::new(),
    });
    report.timeline = vec![sample(1.0, 9, 9)];
    let json = serde_json::to_string(&report).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back.intake.rejections[&503], 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["intake"]["status_5xx"], 1);
    assert_eq!(v["e2e"]["matched"], 9);
    let table = report.table();
    assert!(table.contains("503: 1"), "{table}");
    assert!(table.contains("closed loop, 8 in flight"), "{table}");
    assert!(table.contains("not available: GET /metrics answered 404"));
}
