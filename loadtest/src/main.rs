//! `sms-loadtest`: load generator for sms-gateway.
//!
//! - `seed`: creates customers with balances (admin API or database) and writes their keys.
//! - `run`: drives `POST /sms/send` (open or closed loop), measures intake and, with `--e2e`,
//!   acceptance-to-operator latency through an operator embedded in the load tester.
//! - `operator`: that operator on its own, for a run in another process.
//!
//! Modules: [`text`] (text mix and tags), [`schedule`] (rate schedule, per-request choices),
//! [`keys`] (keys file), [`seed`], [`run`], [`operator`], [`report`] (JSON and table),
//! [`clock`] (time, CPU).

mod clock;
mod keys;
mod operator;
mod report;
mod run;
mod schedule;
mod seed;
mod text;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::text::TextMix;

#[derive(Debug, Parser)]
#[command(
    name = "sms-loadtest",
    version,
    about = "Load generator for sms-gateway"
)]
struct Cli {
    /// Tokio worker threads.
    #[arg(long, global = true, default_value_t = 2)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Via {
    /// `POST /admin/customers` with the admin token.
    Api,
    /// Multi-row inserts into the gateway's database.
    Db,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create customers with balances and write their API keys to a file.
    Seed {
        /// How many customers.
        #[arg(long, short = 'n', default_value_t = 1_000)]
        customers: usize,
        /// Balance of each, in credits.
        #[arg(long, default_value_t = 1_000_000_000)]
        balance: i64,
        #[arg(long, value_enum, default_value = "api")]
        via: Via,
        /// The gateway (for --via api).
        #[arg(long, env = "GATEWAY_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The admin token (for --via api).
        #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// Concurrent API calls.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// The gateway's database (for --via db).
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        /// Customer names are <prefix>-<n> (default: lt-<random>).
        #[arg(long)]
        prefix: Option<String>,
        /// Keys file: `customer_id<TAB>api_key` lines, or JSON if it ends in .json.
        #[arg(long, default_value = "keys.txt")]
        out: PathBuf,
    },
    /// Drive traffic at the gateway and report throughput and latency.
    Run(Box<RunArgs>),
    /// Delete a gateway's exchange and queues (the dead-letter pair included) after a test.
    CleanupAmqp {
        #[arg(long, env = "AMQP_URL", hide_env_values = true)]
        amqp_url: String,
        #[arg(long, env = "AMQP_EXCHANGE")]
        exchange: String,
        #[arg(long, env = "AMQP_QUEUE_NORMAL")]
        queue_normal: String,
        #[arg(long, env = "AMQP_QUEUE_EXPRESS")]
        queue_express: String,
    },
    /// Run the load tester's operator alone (wire protocol on POST /send, GET /arrivals).
    Operator {
        #[arg(long, default_value = "127.0.0.1:9191")]
        listen: SocketAddr,
        /// Delay before answering each send.
        #[arg(long, default_value_t = 2)]
        latency_ms: u64,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[arg(long, env = "GATEWAY_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Keys file written by `seed`.
    #[arg(long, default_value = "keys.txt")]
    keys: PathBuf,
    /// Use the first N keys (default: all).
    #[arg(long, conflicts_with = "hot")]
    customers: Option<usize>,
    /// Send everything as the first customer.
    #[arg(long)]
    hot: bool,
    /// Open loop: requests per second.
    #[arg(long, conflicts_with = "concurrency")]
    rate: Option<f64>,
    /// Closed loop: requests in flight.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Closed loop: stop after this many requests (or at --duration, whichever comes first).
    #[arg(long, requires = "concurrency")]
    requests: Option<u64>,
    /// Open loop: connections (the most requests in flight).
    #[arg(long, default_value_t = 256)]
    connections: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Recipients per request.
    #[arg(long, default_value_t = 1)]
    recipients: usize,
    /// Share of express requests, 0-1.
    #[arg(long, default_value_t = 0.0)]
    express_ratio: f64,
    /// gsm, ucs2, multipart or mix (70/20/10).
    #[arg(long, default_value = "gsm")]
    text: TextMix,
    /// Measure acceptance to operator arrival (needs --operator-listen or --operator-url).
    #[arg(long)]
    e2e: bool,
    /// Embed the operator on this address (the gateway's OPERATORS url must point at it).
    #[arg(long)]
    operator_listen: Option<SocketAddr>,
    /// Or read arrivals from a separate `sms-loadtest operator` at this base URL.
    #[arg(long, conflicts_with = "operator_listen")]
    operator_url: Option<String>,
    /// Latency of the embedded operator.
    #[arg(long, default_value_t = 2)]
    operator_latency_ms: u64,
    /// After the load, wait at most this many seconds for the messages to arrive.
    #[arg(long, default_value_t = 30.0)]
    drain_timeout: f64,
    /// Per-request timeout, seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Admin token (for --resume-dispatch).
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// POST /admin/dispatch/resume once the operator listens (for a backlog built paused).
    #[arg(long)]
    resume_dispatch: bool,
    /// Seed of the per-request choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the JSON report here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Progress display.
    #[arg(long, value_enum, default_value = "auto")]
    progress: run::Progress,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sms-loadtest: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sms-loadtest: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Seed {
            customers,
            balance,
            via,
            url,
            admin_token,
            concurrency,
            database_url,
            prefix,
            out,
        } => {
            let prefix = prefix.unwrap_or_else(|| format!("lt-{:08x}", rand::random::<u32>()));
            let keys = match via {
                Via::Api => {
                    let token = admin_token.ok_or_else(|| {
                        anyhow::anyhow!("--via api needs --admin-token (or ADMIN_TOKEN)")
                    })?;
                    seed::via_api(&url, &token, &prefix, customers, balance, concurrency).await?
                }
                Via::Db => {
                    let db = database_url.ok_or_else(|| {
                        anyhow::anyhow!("--via db needs --database-url (or DATABASE_URL)")
                    })?;
                    seed::via_db(&db, &prefix, customers, balance).await?
                }
            };
            keys::write(&out, &keys)?;
            eprintln!("seed: wrote {} keys to {}", keys.len(), out.display());
            Ok(())
        }
        Command::Run(a) => {
            let opts = run::RunOptions {
                base_url: a.url,
                keys: a.keys,
                customers: a.customers,
                hot: a.hot,
                rate: a.rate,
                concurrency: a.concurrency,
                requests: a.requests,
                connections: a.connections,
                duration: secs(a.duration, "--duration")?,
                recipients: a.recipients,
                express_ratio: a.express_ratio,
                text: a.text,
                e2e: a.e2e,
                operator_listen: a.operator_listen,
                operator_url: a.operator_url,
                operator_latency: Duration::from_millis(a.operator_latency_ms),
                drain_timeout: secs(a.drain_timeout, "--drain-timeout")?,
                timeout: secs(a.timeout, "--timeout")?,
                admin_token: a.admin_token,
                resume_dispatch: a.resume_dispatch,
                seed: a.seed,
                out: a.out,
                progress: a.progress,
            };
            let report = run::run(opts).await?;
            print!("{}", report.table());
            Ok(())
        }
        Command::CleanupAmqp {
            amqp_url,
            exchange,
            queue_normal,
            queue_express,
        } => cleanup_amqp(&amqp_url, &exchange, &[&queue_normal, &queue_express]).await,
        Command::Operator { listen, latency_ms } => {
            let op = operator::Operator::new(Duration::from_millis(latency_ms));
            let stop = tokio_util::sync::CancellationToken::new();
            let addr = op.start(listen, stop.clone()).await?;
            eprintln!(
                "operator: listening on http://{addr}/send (latency {latency_ms} ms); GET /arrivals?run=<id>, GET /stats; Ctrl-C stops"
            );
            tokio::signal::ctrl_c().await?;
            stop.cancel();
            eprintln!(
                "operator: {} sends received",
                op.recorder
                    .received
                    .load(std::sync::atomic::Ordering::Relaxed)
            );
            Ok(())
        }
    }
}

/// Deletes the queues (and `<exchange>.dead`), then the exchange and `<exchange>.dlx`, as the
/// gateway's topology names them.
async fn cleanup_amqp(url: &str, exchange: &str, queues: &[&str]) -> anyhow::Result<()> {
    let conn = lapin::Connection::connect(url, Default::default()).await?;
    let ch = conn.create_channel().await?;
    let dead = format!("{exchange}.dead");
    for q in queues.iter().copied().chain([dead.as_str()]) {
        ch.queue_delete(q.into(), lapin::options::QueueDeleteOptions::default())
            .await?;
    }
    for e in [exchange.to_string(), format!("{exchange}.dlx")] {
        ch.exchange_delete(
            e.as_str().into(),
            lapin::options::ExchangeDeleteOptions::default(),
        )
        .await?;
    }
    let _ = conn.close(200, "bye".into()).await;
    Ok(())
}

fn secs(v: f64, name: &str) -> anyhow::Result<Duration> {
    if !(v.is_finite() && v > 0.0) {
        anyhow::bail!("{name} must be a positive number of seconds");
    }
    Ok(Duration::from_secs_f64(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_consistent_and_parses_a_bench_run() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "sms-loadtest",
            "run",
            "--rate",
            "500",
            "--duration",
            "60",
            "--recipients",
            "10",
            "--express-ratio",
            "0.1",
            "--text",
            "mix",
            "--e2e",
            "--operator-listen",
            "127.0.0.1:9191",
        ])
        .unwrap();
        let Command::Run(a) = cli.command else {
            panic!("not run")
        };
        assert_eq!(a.rate, Some(500.0));
        assert_eq!(a.text, TextMix::Mix);
        assert!(
            Cli::try_parse_from(["sms-loadtest", "run", "--rate", "1", "--concurrency", "2"])
                .is_err()
        );
    }
}
