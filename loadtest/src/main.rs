//! `sms-loadtest`: load generator for sms-gateway.
//!
//! - `seed`: creates customers with balances (admin API or database) and writes their keys.
//! - `run`: drives `POST /sms/send` (open or closed loop), measures intake and, with `--e2e`,
//!   acceptance-to-operator latency through an operator embedded in the load tester.
//! - `operator`: that operator on its own, for a run in another process.
//!
//! - `run --callbacks-listen`: also receives the delivery-status callbacks ([`callbacks`]).
//!
//! Modules: [`text`] (text mix and tags), [`schedule`] (rate schedule, per-request choices),
//! [`keys`] (keys file), [`seed`], [`run`], [`operator`], [`report`] (JSON and table),
//! [`clock`] (time, CPU).

#![warn(clippy::self_named_module_files)]

mod callbacks;
mod clock;
mod kannel;
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

#[derive(Debug, Parser)]
#[command(
    name = "sms-loadtest",
    version,
    about = "Load generator for sms-gateway"
)]
// The command line (no doc comments on clap items below that have none: they would become
// help text).
struct Cli {
    /// Tokio worker threads.
    #[arg(long, global = true, default_value_t = 2)]
    threads: usize,
    // The subcommand.
    #[command(subcommand)]
    command: Command,
}

// `seed --via`: how customers are created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Via {
    /// `POST /admin/customers` with the admin token.
    Api,
    /// Multi-row inserts into the gateway's database.
    Db,
}

// The subcommands.
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
        // Through the admin API or the database.
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
    Run(Box<run::RunArgs>),
    /// Delete a gateway's exchange and queues (the dead-letter pair included) after a test.
    CleanupAmqp {
        // The broker, and the names the gateway was configured with.
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
        // Where to listen.
        #[arg(long, default_value = "127.0.0.1:9191")]
        listen: SocketAddr,
        /// Delay before answering each send.
        #[arg(long, default_value_t = 2)]
        latency_ms: u64,
    },
}

/// Parses the command line, starts the runtime with `--threads` workers and runs the subcommand.
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

/// Runs one subcommand.
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
        Command::Run(args) => {
            let report = run::run(*args).await?;
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
                "operator: listening on http://{addr}/send (latency {latency_ms} ms); GET /status?reference=, GET /arrivals?run=<id>, GET /stats; Ctrl-C stops"
            );
            tokio::signal::ctrl_c().await?;
            stop.cancel();
            let count =
                |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
            eprintln!(
                "operator: {} sends received, {} repeated (same reference), {} delivered twice under another reference, {} lookups ({} found)",
                count(&op.recorder.received),
                count(&op.recorder.repeated),
                count(&op.recorder.duplicates_delivered),
                count(&op.recorder.lookups),
                count(&op.recorder.lookups_found),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::TextMix;
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
