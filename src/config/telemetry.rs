//! Logs and traces: the log format and where spans are exported.

use std::str::FromStr;

use super::reader::Reader;

/// Logs and traces.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `LOG_FORMAT`: `json` (default) or `pretty`.
    pub log_format: LogFormat,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: where spans go; unset disables export.
    pub otlp_endpoint: Option<String>,
    /// `OTEL_SERVICE_NAME`: the service name on exported spans.
    pub service_name: String,
}

impl TelemetryConfig {
    pub(super) fn read(r: &mut Reader) -> Self {
        Self {
            log_format: r.parse("LOG_FORMAT", LogFormat::Json),
            otlp_endpoint: r.raw("OTEL_EXPORTER_OTLP_ENDPOINT"),
            service_name: r.string("OTEL_SERVICE_NAME", "sms-gateway"),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "pretty" | "text" => Ok(Self::Pretty),
            _ => Err("expected json or pretty".into()),
        }
    }
}
