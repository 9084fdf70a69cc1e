//! Observability end to end: one trace follows a message from its HTTP request through the
//! outbox and the queue to the operator call, and the metric families move under traffic.
//! Each test installs the process-wide subscriber/recorder (nextest runs a test per process).

use std::time::Duration;

use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde_json::json;
use sms_gateway::config::{LogFormat, TelemetryConfig};
use sms_gateway::telemetry;
use tracing_subscriber::EnvFilter;

use crate::helpers::{delivering_app, mock};

/// Installs the gateway's subscriber, exporting into memory.
fn install_tracing() -> (InMemorySpanExporter, SdkTracerProvider) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let config = TelemetryConfig {
        log_format: LogFormat::Json,
        otlp_endpoint: None,
        service_name: "sms-gateway-test".into(),
    };
    tracing::subscriber::set_global_default(telemetry::subscriber_with(
        &config,
        &provider,
        EnvFilter::new("warn,sms_gateway=info,tower_http=info"),
    ))
    .expect("no other subscriber in this test process");
    (exporter, provider)
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

#[tokio::test]
async fn one_trace_follows_a_message_from_request_to_operator_call() {
    let (exporter, provider) = install_tracing();
    let a = mock("opA", 0.0, 0.0).await;
    let app = delivering_app(&[("opA", &a)]).await;
    let (_, key) = app.create_customer("traced", 10).await;
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    app.wait_for_status(&key, &sms_id, &["SENT"]).await;

    // Spans are exported when they end; the consumer span ends after the ack.
    let mut spans = Vec::new();
    for _ in 0..100 {
        provider.force_flush().expect("flush");
        spans = exporter.get_finished_spans().expect("spans");
        if !named(&spans, "sms.deliver").is_empty() && !named(&spans, "operator.send").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let request = named(&spans, "POST /sms/send");
    let publish = named(&spans, "outbox.publish");
    let deliver = named(&spans, "sms.deliver");
    let call = named(&spans, "operator.send");
    assert_eq!(request.len(), 1, "one server span for the send request");
    assert_eq!(publish.len(), 1, "one producer span");
    assert_eq!(deliver.len(), 1, "one consumer span");
    assert_eq!(call.len(), 1, "one operator call");
    let (request, publish, deliver, call) = (request[0], publish[0], deliver[0], call[0]);

    let trace = request.span_context.trace_id();
    for s in [publish, deliver, call] {
        assert_eq!(
            s.span_context.trace_id(),
            trace,
            "{} is in the request's trace",
            s.name
        );
    }
    assert_eq!(publish.parent_span_id, request.span_context.span_id());
    assert_eq!(deliver.parent_span_id, publish.span_context.span_id());
    assert_eq!(call.parent_span_id, deliver.span_context.span_id());
    assert_eq!(attr(publish, "sms.id").as_deref(), Some(sms_id.as_str()));
    assert_eq!(attr(deliver, "sms.id").as_deref(), Some(sms_id.as_str()));
    assert_eq!(attr(call, "operator.name").as_deref(), Some("opA"));
    assert_eq!(attr(call, "outcome").as_deref(), Some("success"));
    assert!(
        spans.iter().all(|s| attr(s, "text").is_none()),
        "no span carries the message text"
    );
    app.finish().await;
}

/// The value of the first sample of `family` whose labels contain every `labels` pair.
fn sample(scrape: &str, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metric_families_move_under_traffic() {
    sms_gateway::metrics::install();
    let a = mock("opA", 0.0, 0.0).await;
    let app = delivering_app(&[("opA", &a)]).await;
    let tracker = tokio_util::task::TaskTracker::new();
    let cfg = &app.state.config;
    sms_gateway::startup::spawn_samplers(
        sms_gateway::startup::Samplers {
            db: app.db.clone(),
            max_connections: cfg.database.max_connections,
            outbox: true,
            queues: Some((app.state.broker.clone(), cfg.amqp.clone())),
        },
        &tracker,
        app.stop.clone(),
    );
    let (_, key) = app.create_customer("metered", 10).await;
    let normal = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989127654321"]}),
        )
        .await;
    let express = app
        .send_ok(
            &key,
            json!({"text": "otp", "recipients": ["+989121234567"], "type": "express"}),
        )
        .await;
    // Refused: too poor (402), unauthenticated (401).
    let many: Vec<String> = (0..20).map(|i| format!("+9891212345{i:02}")).collect();
    app.send(&key, json!({"text": "x", "recipients": many}))
        .await
        .assert_status(402);
    app.send(
        "not-a-key",
        json!({"text": "x", "recipients": ["+989121234567"]}),
    )
    .await
    .assert_status(401);
    app.wait_for_status(&key, &normal, &["SENT"]).await;
    app.wait_for_status(&key, &express, &["SENT"]).await;

    let resp = app.get("/metrics", None).await;
    resp.assert_status(200);
    assert!(
        resp.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let scrape = resp.text;
    let at_least = |family: &str, labels: &[(&str, &str)], min: f64| {
        let v = sample(&scrape, family, labels)
            .unwrap_or_else(|| panic!("{family}{labels:?} missing from the scrape:\n{scrape}"));
        assert!(v >= min, "{family}{labels:?} = {v}, expected >= {min}");
    };
    at_least(
        "smsgw_http_requests_total",
        &[("route", "/sms/send"), ("status", "202")],
        2.0,
    );
    at_least(
        "smsgw_http_request_duration_seconds_count",
        &[("route", "/sms/{sms_identifier}")],
        1.0,
    );
    at_least("smsgw_intake_messages_total", &[("type", "normal")], 1.0);
    at_least("smsgw_intake_recipients_total", &[("type", "normal")], 2.0);
    at_least("smsgw_intake_segments_total", &[("type", "express")], 1.0);
    at_least(
        "smsgw_intake_credits_charged_total",
        &[("type", "express")],
        2.0,
    );
    at_least(
        "smsgw_intake_rejections_total",
        &[("reason", "insufficient_balance")],
        1.0,
    );
    at_least(
        "smsgw_intake_rejections_total",
        &[("reason", "unauthorized")],
        1.0,
    );
    at_least("smsgw_outbox_published_total", &[("lane", "express")], 1.0);
    at_least(
        "smsgw_outbox_claim_batch_size_count",
        &[("lane", "normal")],
        1.0,
    );
    at_least(
        "smsgw_outbox_publish_duration_seconds_count",
        &[("lane", "normal")],
        1.0,
    );
    at_least("smsgw_queue_consumed_total", &[("lane", "normal")], 1.0);
    at_least("smsgw_queue_acked_total", &[("lane", "express")], 1.0);
    at_least(
        "smsgw_operator_calls_total",
        &[("operator", "opA"), ("outcome", "success")],
        3.0,
    );
    at_least(
        "smsgw_operator_call_duration_seconds_count",
        &[("operator", "opA")],
        3.0,
    );
    at_least("smsgw_operator_circuit_state", &[("operator", "opA")], 0.0);
    at_least(
        "smsgw_delivery_accept_to_sent_seconds_count",
        &[("type", "express")],
        1.0,
    );
    at_least(
        "smsgw_delivery_recipients_total",
        &[("type", "normal"), ("outcome", "sent")],
        2.0,
    );
    for stage in ["queued", "take", "send", "record"] {
        at_least(
            "smsgw_delivery_stage_seconds_count",
            &[("type", "express"), ("stage", stage)],
            1.0,
        );
    }
    at_least("smsgw_db_pool_max_connections", &[], 1.0);
    at_least("smsgw_db_pool_connections", &[("state", "idle")], 0.0);
    at_least("smsgw_build_info", &[], 1.0);
    // Sampled every 5 s: the gauges exist once the first sample ran.
    for _ in 0..100 {
        let s = app.get("/metrics", None).await.text;
        if sample(&s, "smsgw_outbox_backlog", &[("lane", "normal")]).is_some()
            && sample(&s, "smsgw_queue_messages", &[("lane", "express")]).is_some()
        {
            app.finish().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the backlog and queue gauges were never sampled");
}

/// On a broker where nothing has declared the gateway's queues yet (the first start of an
/// API-only or worker process), the queue-depth sampler declares them itself and reports 0:
/// a passive declare of the missing queue closed its channel, made lapin log an error at
/// every fresh start, and left the gauge unreported until another component declared them.
#[tokio::test]
async fn queue_depth_is_sampled_on_a_broker_with_no_queues_yet() {
    sms_gateway::metrics::install();
    let app = crate::helpers::spawn_app_with_broker(&[]).await;
    let names = [
        app.state.config.amqp.queue_normal.clone(),
        app.state.config.amqp.queue_express.clone(),
    ];
    for queue in &names {
        assert!(
            app.try_queue_depth(queue).await.is_err(),
            "{queue} exists before the sampler ran"
        );
    }
    let tracker = tokio_util::task::TaskTracker::new();
    sms_gateway::startup::spawn_samplers(
        sms_gateway::startup::Samplers {
            db: app.db.clone(),
            max_connections: 1,
            outbox: false,
            queues: Some((app.state.broker.clone(), app.state.config.amqp.clone())),
        },
        &tracker,
        app.stop.clone(),
    );
    // Sampled every 5 s, the first time once the broker connection is up.
    for _ in 0..150 {
        let s = app.get("/metrics", None).await.text;
        if sample(&s, "smsgw_queue_messages", &[("lane", "express")]) == Some(0.0)
            && sample(&s, "smsgw_queue_messages", &[("lane", "normal")]) == Some(0.0)
        {
            app.finish().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("queue depth was not sampled within 15 s");
}
