//! Prometheus metrics: the `metrics` facade with the `metrics-exporter-prometheus` recorder,
//! rendered at `GET /metrics`.
//!
//! Every name has the `smsgw_` prefix, counters end in `_total`, durations are in seconds.
//! The catalog (with help texts) is [`describe`]; docs/OPERATIONS.md says what to watch.
//! Code records through the small helpers below so names and labels stay in one place.
//!
//! Gauges that would cost a query per read (outbox backlog, queue depth, pool use) are
//! sampled by [`spawn_samplers`] every few seconds, never on the scrape.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::MySqlPool;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::AmqpConfig;
use crate::domain::SmsType;
use crate::queue::{Broker, topology};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets (seconds) of HTTP requests, operator calls and publishes.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of acceptance-to-SENT (seconds): express should sit under 0.1, retries reach minutes.
const E2E_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
];
/// Buckets of one delivery stage (seconds): fine where express's 100 ms budget is spent.
const STAGE_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Buckets of outbox claim batch sizes (rows).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

/// Installs the Prometheus recorder once per process (later calls return the same handle)
/// and describes every metric.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("smsgw_delivery_accept_to_sent_seconds".into()),
                    E2E_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("smsgw_delivery_stage_seconds".into()),
                        STAGE_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("smsgw_outbox_claim_batch_size".into()),
                        BATCH_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("smsgw_intake_batch_size".into()),
                        BATCH_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                })
                .expect("bucket lists are not empty")
                .install_recorder()
                .unwrap_or_else(|e| {
                    // Another recorder is installed (a test harness): keep working, unexported.
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    PrometheusBuilder::new().build_recorder().handle()
                });
            describe();
            gauge!("smsgw_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            handle
        })
        .clone()
}

/// The current scrape in the Prometheus text format.
pub fn render() -> String {
    install().render()
}

/// Help texts and units of every metric.
fn describe() {
    use Unit::{Count, Seconds};
    let counters: &[(&'static str, &'static str)] = &[
        (
            "smsgw_http_requests_total",
            "HTTP requests answered, by method, route template and status",
        ),
        (
            "smsgw_intake_messages_total",
            "Send requests accepted, by type",
        ),
        (
            "smsgw_intake_recipients_total",
            "Recipients accepted, by type",
        ),
        (
            "smsgw_intake_segments_total",
            "Segments accepted (segments x recipients), by type",
        ),
        (
            "smsgw_intake_credits_charged_total",
            "Credits charged at acceptance, by type",
        ),
        (
            "smsgw_intake_rejections_total",
            "Send requests refused, by reason",
        ),
        (
            "smsgw_ledger_credits_refunded_total",
            "Credits refunded for recipients that finally failed",
        ),
        (
            "smsgw_ledger_credits_added_total",
            "Credits added by top-ups and opening balances",
        ),
        (
            "smsgw_outbox_published_total",
            "Outbox rows published and confirmed by the broker, by lane",
        ),
        (
            "smsgw_outbox_confirm_failures_total",
            "Outbox rows the broker did not confirm (given back for a retry), by lane",
        ),
        (
            "smsgw_outbox_reaped_total",
            "Outbox rows whose publisher lease expired and were given back",
        ),
        (
            "smsgw_queue_consumed_total",
            "Queue messages taken by the workers, by lane",
        ),
        (
            "smsgw_queue_acked_total",
            "Queue messages acknowledged, by lane",
        ),
        (
            "smsgw_queue_nacked_total",
            "Queue messages returned to the queue after a database error, by lane",
        ),
        (
            "smsgw_queue_redelivered_total",
            "Queue messages delivered again by the broker, by lane",
        ),
        (
            "smsgw_queue_dead_lettered_total",
            "Unreadable queue messages rejected to the dead-letter queue, by lane",
        ),
        (
            "smsgw_operator_calls_total",
            "Sends asked of an operator, by operator and outcome",
        ),
        (
            "smsgw_operator_circuit_rejections_total",
            "Sends refused by an operator's open circuit breaker",
        ),
        (
            "smsgw_delivery_recipients_total",
            "Recipient delivery outcomes (sent, failed, retry_scheduled), by type",
        ),
        (
            "smsgw_dlr_reports_total",
            "Delivery reports received, by operator and status",
        ),
    ];
    for (name, help) in counters {
        describe_counter!(*name, Count, *help);
    }
    let histograms: &[(&'static str, Unit, &'static str)] = &[
        (
            "smsgw_http_request_duration_seconds",
            Seconds,
            "HTTP request latency, by method, route template and status",
        ),
        (
            "smsgw_outbox_claim_batch_size",
            Count,
            "Rows claimed per non-empty outbox claim, by lane",
        ),
        (
            "smsgw_intake_batch_size",
            Count,
            "Send requests accepted per shared transaction (group commit)",
        ),
        (
            "smsgw_outbox_publish_duration_seconds",
            Seconds,
            "Time to publish a claimed batch and receive its confirms, by lane",
        ),
        (
            "smsgw_operator_call_duration_seconds",
            Seconds,
            "Operator call latency, by operator and outcome",
        ),
        (
            "smsgw_delivery_accept_to_sent_seconds",
            Seconds,
            "Time from acceptance to SENT, by type",
        ),
        (
            "smsgw_delivery_stage_seconds",
            Seconds,
            "Time of one delivery stage, by type and stage: queued (acceptance to the worker \
             taking the message, first takes), take (reading the request and taking a chunk \
             of recipients), send (the chunk's operator calls), record (recording SENT)",
        ),
    ];
    for (name, unit, help) in histograms {
        describe_histogram!(*name, *unit, *help);
    }
    let gauges: &[(&'static str, &'static str)] = &[
        (
            "smsgw_outbox_backlog",
            "Outbox rows waiting to be published, by lane (sampled)",
        ),
        (
            "smsgw_queue_messages",
            "Ready messages in the lane's queue (sampled)",
        ),
        (
            "smsgw_operator_circuit_state",
            "Circuit breaker state per operator: 0 closed, 1 half-open, 2 open",
        ),
        (
            "smsgw_db_pool_connections",
            "Database pool connections, by state (in_use, idle)",
        ),
        (
            "smsgw_db_pool_max_connections",
            "Upper bound of the database pool",
        ),
        (
            "smsgw_dispatch_paused",
            "1 while dispatch is paused (POST /admin/dispatch/pause)",
        ),
        (
            "smsgw_build_info",
            "Always 1; the version label says which build runs",
        ),
    ];
    for (name, help) in gauges {
        describe_gauge!(*name, *help);
    }
}

/// Creates, at zero, the series of the known label values, so that a counter that has not
/// moved yet is visible as 0 (rates and alerts work from the first scrape) instead of absent.
pub fn register_series(operators: &[String]) {
    for lane in [SmsType::Normal, SmsType::Express] {
        let l = lane.as_str();
        for name in [
            "smsgw_intake_messages_total",
            "smsgw_intake_recipients_total",
            "smsgw_intake_segments_total",
            "smsgw_intake_credits_charged_total",
        ] {
            counter!(name, "type" => l).increment(0);
        }
        for name in [
            "smsgw_outbox_published_total",
            "smsgw_outbox_confirm_failures_total",
            "smsgw_queue_consumed_total",
            "smsgw_queue_acked_total",
            "smsgw_queue_nacked_total",
            "smsgw_queue_redelivered_total",
            "smsgw_queue_dead_lettered_total",
        ] {
            counter!(name, "lane" => l).increment(0);
        }
        for outcome in ["sent", "failed", "retry_scheduled"] {
            counter!("smsgw_delivery_recipients_total", "type" => l, "outcome" => outcome)
                .increment(0);
        }
    }
    for reason in ["invalid_request", "unauthorized", "insufficient_balance"] {
        counter!("smsgw_intake_rejections_total", "reason" => reason).increment(0);
    }
    counter!("smsgw_outbox_reaped_total").increment(0);
    counter!("smsgw_ledger_credits_refunded_total").increment(0);
    counter!("smsgw_ledger_credits_added_total").increment(0);
    for operator in operators {
        for outcome in [
            "success",
            "retryable",
            "rate_limited",
            "permanent",
            "circuit_open",
        ] {
            counter!("smsgw_operator_calls_total", "operator" => operator.clone(), "outcome" => outcome)
                .increment(0);
        }
        counter!("smsgw_operator_circuit_rejections_total", "operator" => operator.clone())
            .increment(0);
    }
    dispatch_paused(false);
}

/// Records one answered HTTP request.
pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("method", method.to_string()),
        ("route", route.to_string()),
        ("status", status.to_string()),
    ];
    counter!("smsgw_http_requests_total", &labels).increment(1);
    metrics::histogram!("smsgw_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
}

/// Records an accepted send request.
pub fn intake_accepted(sms_type: SmsType, recipients: u64, segments: u64, credits: u64) {
    let t = sms_type.as_str();
    counter!("smsgw_intake_messages_total", "type" => t).increment(1);
    counter!("smsgw_intake_recipients_total", "type" => t).increment(recipients);
    counter!("smsgw_intake_segments_total", "type" => t).increment(recipients * segments);
    counter!("smsgw_intake_credits_charged_total", "type" => t).increment(credits);
}

/// Records the size of one group-commit batch (requests in one transaction).
pub fn intake_batch(requests: usize) {
    metrics::histogram!("smsgw_intake_batch_size").record(requests as f64);
}

/// Records a refused send request.
pub fn intake_rejected(reason: &'static str) {
    counter!("smsgw_intake_rejections_total", "reason" => reason).increment(1);
}

/// Records credits refunded.
pub fn credits_refunded(credits: u64) {
    counter!("smsgw_ledger_credits_refunded_total").increment(credits);
}

/// Records credits added.
pub fn credits_added(credits: u64) {
    counter!("smsgw_ledger_credits_added_total").increment(credits);
}

/// Records one outbox round of a lane.
pub fn outbox_round(
    lane: SmsType,
    claimed: usize,
    published: usize,
    failed: usize,
    took: Duration,
) {
    let l = lane.as_str();
    metrics::histogram!("smsgw_outbox_claim_batch_size", "lane" => l).record(claimed as f64);
    metrics::histogram!("smsgw_outbox_publish_duration_seconds", "lane" => l)
        .record(took.as_secs_f64());
    counter!("smsgw_outbox_published_total", "lane" => l).increment(published as u64);
    if failed > 0 {
        counter!("smsgw_outbox_confirm_failures_total", "lane" => l).increment(failed as u64);
    }
}

/// Records outbox rows given back by the reaper.
pub fn outbox_reaped(rows: u64) {
    counter!("smsgw_outbox_reaped_total").increment(rows);
}

/// What became of a queue message.
#[derive(Debug, Clone, Copy)]
pub enum QueueEvent {
    Consumed { redelivered: bool },
    Acked,
    Nacked,
    DeadLettered,
}

/// Records a queue event of a lane.
pub fn queue(lane: SmsType, event: QueueEvent) {
    let l = lane.as_str();
    match event {
        QueueEvent::Consumed { redelivered } => {
            counter!("smsgw_queue_consumed_total", "lane" => l).increment(1);
            if redelivered {
                counter!("smsgw_queue_redelivered_total", "lane" => l).increment(1);
            }
        }
        QueueEvent::Acked => counter!("smsgw_queue_acked_total", "lane" => l).increment(1),
        QueueEvent::Nacked => counter!("smsgw_queue_nacked_total", "lane" => l).increment(1),
        QueueEvent::DeadLettered => {
            counter!("smsgw_queue_dead_lettered_total", "lane" => l).increment(1)
        }
    }
}

/// Records one operator call (`outcome`: success, retryable, rate_limited, permanent,
/// circuit_open).
pub fn operator_call(operator: &str, outcome: &'static str, took: Option<Duration>) {
    let labels = [
        ("operator", operator.to_string()),
        ("outcome", outcome.to_string()),
    ];
    counter!("smsgw_operator_calls_total", &labels).increment(1);
    if let Some(took) = took {
        metrics::histogram!("smsgw_operator_call_duration_seconds", &labels)
            .record(took.as_secs_f64());
    }
}

/// Records a recipient's delivery outcome (`sent`, `failed`, `retry_scheduled`).
pub fn delivery_outcome(sms_type: SmsType, outcome: &'static str) {
    counter!("smsgw_delivery_recipients_total", "type" => sms_type.as_str(), "outcome" => outcome)
        .increment(1);
}

/// Records acceptance-to-SENT of one recipient.
pub fn accept_to_sent(sms_type: SmsType, took: Duration) {
    metrics::histogram!("smsgw_delivery_accept_to_sent_seconds", "type" => sms_type.as_str())
        .record(took.as_secs_f64());
}

/// A stage of delivery, for [`delivery_stage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStage {
    /// Acceptance to a worker taking the message off the queue (first takes only): the
    /// outbox, the publish and the queue.
    Queued,
    /// Reading the request and taking a chunk of its recipients (database).
    Take,
    /// The operator calls of a chunk, failover included.
    Send,
    /// Recording the chunk's sent recipients SENT (database).
    Record,
}

impl DeliveryStage {
    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Take => "take",
            Self::Send => "send",
            Self::Record => "record",
        }
    }
}

/// Records how long one stage of delivering a message (or one chunk of its recipients) took,
/// so acceptance-to-SENT can be taken apart by lane.
pub fn delivery_stage(sms_type: SmsType, stage: DeliveryStage, took: Duration) {
    metrics::histogram!(
        "smsgw_delivery_stage_seconds",
        "type" => sms_type.as_str(),
        "stage" => stage.as_str()
    )
    .record(took.as_secs_f64());
}

/// Records a delivery report.
pub fn dlr_report(operator: &str, status: &str) {
    counter!(
        "smsgw_dlr_reports_total",
        "operator" => operator.to_string(),
        "status" => status.to_string()
    )
    .increment(1);
}

/// Records the pause switch.
pub fn dispatch_paused(paused: bool) {
    gauge!("smsgw_dispatch_paused").set(if paused { 1.0 } else { 0.0 });
}

/// What the samplers read.
pub struct Samplers {
    pub db: MySqlPool,
    pub max_connections: u32,
    /// Sample the outbox backlog (processes running publishers or the API).
    pub outbox: bool,
    /// Sample the queues' depth (processes with a broker connection that consume).
    pub queues: Option<(std::sync::Arc<Broker>, AmqpConfig)>,
}

/// Every second: pool use and rendering upkeep; every 5 s: outbox backlog per lane (one
/// indexed count) and queue depth (a passive declare).
pub fn spawn_samplers(samplers: Samplers, tracker: &TaskTracker, stop: CancellationToken) {
    let handle = install();
    tracker.spawn(async move {
        gauge!("smsgw_db_pool_max_connections").set(samplers.max_connections as f64);
        let mut tick: u64 = 0;
        let mut channel: Option<lapin::Channel> = None;
        loop {
            let size = samplers.db.size();
            let idle = samplers.db.num_idle() as u32;
            gauge!("smsgw_db_pool_connections", "state" => "in_use")
                .set(size.saturating_sub(idle) as f64);
            gauge!("smsgw_db_pool_connections", "state" => "idle").set(idle as f64);
            if tick.is_multiple_of(5) {
                handle.run_upkeep();
                if samplers.outbox {
                    sample_outbox(&samplers.db).await;
                }
                if let Some((broker, amqp)) = &samplers.queues {
                    sample_queues(broker, amqp, &mut channel, &stop).await;
                }
            }
            tick += 1;
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    });
}

async fn sample_outbox(db: &MySqlPool) {
    for lane in [SmsType::Express, SmsType::Normal] {
        match crate::db::outbox::backlog(db, lane.priority()).await {
            Ok(n) => gauge!("smsgw_outbox_backlog", "lane" => lane.as_str()).set(n as f64),
            Err(e) => tracing::debug!(error = %e, "cannot sample the outbox backlog"),
        }
    }
}

async fn sample_queues(
    broker: &Broker,
    amqp: &AmqpConfig,
    channel: &mut Option<lapin::Channel>,
    stop: &CancellationToken,
) {
    if channel.as_ref().is_none_or(|c| !c.status().connected()) {
        *channel = None;
        if !broker.is_connected() {
            return;
        }
        let Some(conn) = broker.connection(stop).await else {
            return;
        };
        // The queues are declared first (idempotent, as every publisher and consumer does):
        // a passive declare of a queue that does not exist yet, at the first start on a fresh
        // broker, would close the channel and make lapin log an error.
        let opened = match conn.create_channel().await {
            Ok(c) => topology::declare(&c, amqp).await.map(|()| c),
            Err(e) => Err(e),
        };
        match opened {
            Ok(c) => *channel = Some(c),
            Err(e) => {
                tracing::debug!(error = %e, "cannot open a channel to sample queue depth");
                return;
            }
        }
    }
    let Some(ch) = channel.as_ref() else { return };
    for lane in [SmsType::Express, SmsType::Normal] {
        match topology::depth(ch, amqp, lane).await {
            Ok(n) => gauge!("smsgw_queue_messages", "lane" => lane.as_str()).set(n as f64),
            Err(e) => {
                tracing::debug!(error = %e, "cannot sample queue depth");
                *channel = None;
                return;
            }
        }
    }
}
