//! Logs and traces.
//!
//! - Logs: a `tracing` subscriber writing JSON (or human-readable) lines to stdout, filtered by
//!   `RUST_LOG`. JSON lines carry the OpenTelemetry `trace_id` and `span_id` of the span they
//!   were written in, so a log line leads to its trace.
//! - Traces: `tracing-opentelemetry` turns spans into OpenTelemetry spans, exported over
//!   OTLP/HTTP (protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Without an endpoint the
//!   spans still get trace ids (for logs and propagation) and are dropped when they end.
//! - Propagation: one trace follows a message from the HTTP request through the outbox row and
//!   the AMQP headers (W3C `traceparent`, see [`traceparent`] and [`set_parent`]) to the
//!   operator call.
//!
//! Building the subscriber is separate from installing it so tests can install their own.

use std::collections::HashMap;
use std::fmt;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{LogFormat, TelemetryConfig};

/// Default filter when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,lapin=warn,tower_http=info";

/// Instrumentation scope name of the gateway's spans.
const TRACER_NAME: &str = "sms-gateway";

/// The tracer provider: batch OTLP/HTTP export to `otlp_endpoint` when set, otherwise no
/// exporter (spans get ids, nothing leaves the process).
pub fn tracer_provider(config: &TelemetryConfig) -> anyhow::Result<SdkTracerProvider> {
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &config.otlp_endpoint {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(traces_url(endpoint))
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    Ok(builder.build())
}

/// `OTEL_EXPORTER_OTLP_ENDPOINT` is the collector's base URL; traces go to `/v1/traces`.
fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{base}/v1/traces")
    }
}

/// `RUST_LOG`, or [`DEFAULT_FILTER`] when unset.
pub fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// Builds the subscriber: log lines plus OpenTelemetry spans from `provider`, both filtered by
/// `filter`.
pub fn subscriber_with(
    config: &TelemetryConfig,
    provider: &SdkTracerProvider,
    filter: EnvFilter,
) -> impl Subscriber + Send + Sync + for<'a> LookupSpan<'a> + use<> {
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = match config.log_format {
        LogFormat::Json => Box::new(
            tracing_subscriber::fmt::layer()
                .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
                .event_format(WithTraceIds(
                    tracing_subscriber::fmt::format()
                        .json()
                        .flatten_event(true)
                        .with_current_span(true)
                        .with_span_list(false)
                        .with_target(true),
                )),
        ),
        LogFormat::Pretty => Box::new(tracing_subscriber::fmt::layer().with_target(true)),
    };
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(TRACER_NAME))
        .with_tracked_inactivity(false);
    Registry::default().with(fmt).with(otel).with(filter)
}

/// The subscriber with a provider that exports nothing (tests that only want logs).
pub fn subscriber(config: &TelemetryConfig) -> impl Subscriber + Send + Sync + use<> {
    let provider = tracer_provider(&TelemetryConfig {
        otlp_endpoint: None,
        ..config.clone()
    })
    .expect("a provider without exporter builds");
    subscriber_with(config, &provider, env_filter())
}

/// Installed telemetry; [`Telemetry::shutdown`] flushes spans still buffered.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Exports what is buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("telemetry: flushing spans failed: {e}");
        }
    }
}

/// Installs the subscriber as the global default. An OTLP exporter that cannot be built is
/// reported and tracing goes on without export.
pub fn init(config: &TelemetryConfig) -> Telemetry {
    let provider = tracer_provider(config).unwrap_or_else(|e| {
        eprintln!("telemetry: OTLP export disabled: {e:#}");
        tracer_provider(&TelemetryConfig {
            otlp_endpoint: None,
            ..config.clone()
        })
        .expect("a provider without exporter builds")
    });
    let _ = subscriber_with(config, &provider, env_filter()).try_init();
    if let Some(endpoint) = &config.otlp_endpoint {
        tracing::info!(endpoint = %traces_url(endpoint), "exporting traces over OTLP/HTTP");
    }
    Telemetry { provider }
}

/// The W3C `traceparent` of `span` (`00-<trace id>-<span id>-<flags>`), if it has a valid
/// OpenTelemetry context.
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent")
}

/// `value` lower-cased if it is a well-formed W3C `traceparent` (version 00 layout).
pub fn valid_traceparent(value: &str) -> Option<String> {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (parts.len() == 4
        && hex(parts[0], 2)
        && hex(parts[1], 32)
        && hex(parts[2], 16)
        && hex(parts[3], 2))
    .then(|| value.to_ascii_lowercase())
}

/// Makes `span` a child of the remote span named by a W3C `traceparent`; an absent or invalid
/// value leaves `span` the root of a new trace.
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(value) = traceparent else { return };
    let carrier = HashMap::from([("traceparent".to_string(), value.to_string())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    if cx.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed: then there is nothing to link.
        let _ = span.set_parent(cx);
    }
}

/// JSON event format plus `trace_id` and `span_id` of the event's span.
struct WithTraceIds<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let ids = ctx.lookup_current().and_then(|span| {
            tracing::dispatcher::get_default(|d| {
                tracing_opentelemetry::get_otel_context(&span.id(), d)
            })
        });
        let ids = ids.and_then(|cx| {
            let sc = cx.span().span_context().clone();
            sc.is_valid().then(|| {
                format!(
                    "\"trace_id\":\"{}\",\"span_id\":\"{}\",",
                    sc.trace_id(),
                    sc.span_id()
                )
            })
        });
        let Some(ids) = ids else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::with_capacity(256);
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => {
                writer.write_char('{')?;
                writer.write_str(&ids)?;
                writer.write_str(rest)
            }
            None => writer.write_str(&line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{traces_url, valid_traceparent};

    #[test]
    fn only_well_formed_traceparents_pass() {
        let tp = "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01";
        assert_eq!(
            valid_traceparent(tp).as_deref(),
            Some(tp.to_ascii_lowercase().as_str())
        );
        assert_eq!(valid_traceparent("00-abc-def-01"), None);
        assert_eq!(valid_traceparent("garbage"), None);
    }

    #[test]
    fn the_traces_path_is_added_once() {
        assert_eq!(
            traces_url("http://collector:4318"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector:4318/"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }
}
