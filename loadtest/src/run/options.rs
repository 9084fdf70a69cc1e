//! The flags of `run`, and the durations among them checked and converted once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::Progress;
use crate::text::TextMix;

/// What `run` sends its load to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// The gateway: `POST /sms/send` with the keys of `seed`.
    Gateway,
    /// Kannel's smsbox: `GET /cgi-bin/sendsms` (one recipient a request), for `make
    /// bench-peers`; `--e2e` reads Kannel's fake SMSC (`--kannel-smsc`).
    Kannel,
}

/// The flags of `sms-loadtest run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    // The gateway's base URL (no doc comment: it would become help text).
    #[arg(long, env = "GATEWAY_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// What the load goes to (kannel: --url is smsbox's sendsms base, e.g. http://127.0.0.1:13013).
    #[arg(long, value_enum, default_value = "gateway")]
    pub target: Target,
    /// Kannel: the sendsms-user's username.
    #[arg(long, default_value = "bench")]
    pub kannel_user: String,
    /// Kannel: the sendsms-user's password.
    #[arg(
        long,
        env = "KANNEL_PASSWORD",
        hide_env_values = true,
        default_value = "bench"
    )]
    pub kannel_password: String,
    /// Kannel with --e2e: the fake SMSC's address (bearerbox's `group = smsc`, `smsc = fake`).
    #[arg(long)]
    pub kannel_smsc: Option<SocketAddr>,
    /// Keys file written by `seed`.
    #[arg(long, default_value = "keys.txt")]
    pub keys: PathBuf,
    /// Use the first N keys (default: all).
    #[arg(long, conflicts_with = "hot")]
    pub customers: Option<usize>,
    /// Send everything as the first customer.
    #[arg(long)]
    pub hot: bool,
    /// Open loop: requests per second.
    #[arg(long, conflicts_with = "concurrency")]
    pub rate: Option<f64>,
    /// Closed loop: requests in flight.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Closed loop: stop after this many requests (or at --duration, whichever comes first).
    #[arg(long, requires = "concurrency")]
    pub requests: Option<u64>,
    /// Open loop: connections (the most requests in flight).
    #[arg(long, default_value_t = 256)]
    pub connections: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 30.0)]
    pub duration: f64,
    /// Recipients per request.
    #[arg(long, default_value_t = 1)]
    pub recipients: usize,
    /// Share of express requests, 0-1.
    #[arg(long, default_value_t = 0.0)]
    pub express_ratio: f64,
    /// gsm, ucs2, multipart or mix (70/20/10).
    #[arg(long, default_value = "gsm")]
    pub text: TextMix,
    /// Measure acceptance to operator arrival (needs --operator-listen or --operator-url).
    #[arg(long)]
    pub e2e: bool,
    /// Embed the operator on this address (the gateway's OPERATORS url must point at it).
    #[arg(long)]
    pub operator_listen: Option<SocketAddr>,
    /// Or read arrivals from a separate `sms-loadtest operator` at this base URL.
    #[arg(long, conflicts_with = "operator_listen")]
    pub operator_url: Option<String>,
    /// Latency of the embedded operator.
    #[arg(long, default_value_t = 2)]
    pub operator_latency_ms: u64,
    /// Receive the gateway's delivery-status callbacks on this address: every customer's
    /// webhook is set to it (`PUT /callbacks/settings`; the gateway needs
    /// `CALLBACK_ALLOWED_HOSTS` to reach it), each POST's signature is verified and each
    /// event counted once; the report gets a `callbacks` section.
    #[arg(long)]
    pub callbacks_listen: Option<SocketAddr>,
    /// After the load, wait at most this many seconds for the messages to arrive.
    #[arg(long, default_value_t = 30.0)]
    pub drain_timeout: f64,
    /// Per-request timeout, seconds.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Admin token (for --resume-dispatch).
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// POST /admin/dispatch/resume once the operator listens (for a backlog built paused).
    #[arg(long)]
    pub resume_dispatch: bool,
    /// Seed of the per-request choices.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the JSON report here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Progress display.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: Progress,
}

/// The durations of a run, from the flags given in seconds and milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    /// Of the load (`--duration`).
    pub duration: Duration,
    /// The longest wait for the messages after the load (`--drain-timeout`).
    pub drain_timeout: Duration,
    /// Per request (`--timeout`).
    pub timeout: Duration,
    /// The embedded operator's answer delay (`--operator-latency-ms`).
    pub operator_latency: Duration,
}

impl RunArgs {
    /// The durations, each checked to be a positive number of seconds.
    pub fn timings(&self) -> anyhow::Result<Timings> {
        Ok(Timings {
            duration: secs(self.duration, "--duration")?,
            drain_timeout: secs(self.drain_timeout, "--drain-timeout")?,
            timeout: secs(self.timeout, "--timeout")?,
            operator_latency: Duration::from_millis(self.operator_latency_ms),
        })
    }
}

/// `v` seconds, or an error naming the flag when it is not a positive number.
fn secs(v: f64, name: &str) -> anyhow::Result<Duration> {
    if !(v.is_finite() && v > 0.0) {
        anyhow::bail!("{name} must be a positive number of seconds");
    }
    Ok(Duration::from_secs_f64(v))
}
