//! Logging: a `tracing` subscriber writing JSON (or human-readable) lines to stdout, filtered
//! by `RUST_LOG`. Building the subscriber is separate from installing it so tests can
//! install one once.

use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{LogFormat, TelemetryConfig};

/// Default filter when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,lapin=warn,tower_http=info";

/// Builds the subscriber.
pub fn subscriber(config: &TelemetryConfig) -> impl Subscriber + Send + Sync {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = match config.log_format {
        LogFormat::Json => Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_target(true),
        ),
        LogFormat::Pretty => Box::new(tracing_subscriber::fmt::layer().with_target(true)),
    };
    Registry::default().with(fmt).with(filter)
}

/// Installs the subscriber as the global default.
pub fn init(config: &TelemetryConfig) {
    let _ = subscriber(config).try_init();
}
