//! The `sms-gateway` command: `serve`, `migrate`, `customer create`, `mock-operator`.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sms_gateway::config::Config;
use sms_gateway::mock_operator::{MockOperator, MockOperatorConfig};
use sms_gateway::startup::{self, Role};
use sms_gateway::{accounts, db, telemetry};
use tokio_util::sync::CancellationToken;

/// mimalloc instead of glibc's malloc: the gateway allocates and frees small buffers for every
/// request, statement and message, and glibc's malloc and free were ~13 % of its CPU under
/// one-recipient load (docs/BENCHMARKS.md "What one SMS costs").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "sms-gateway", version, about = "Balance-aware SMS gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (API, outbox publishers and delivery workers, or one of them).
    Serve {
        /// Which part to run.
        #[arg(long, value_enum, default_value = "all")]
        role: Role,
    },
    /// Create the database if needed and apply pending migrations.
    Migrate,
    /// Manage customers.
    Customer {
        #[command(subcommand)]
        command: CustomerCommand,
    },
    /// Run a mock operator speaking the operator wire protocol (POST /send, GET /status,
    /// GET /stats); it deduplicates by reference and re-posts refused delivery reports.
    MockOperator(MockOperatorArgs),
}

#[derive(Debug, clap::Args)]
struct MockOperatorArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9091")]
    listen: std::net::SocketAddr,
    /// Name, used as the prefix of message ids.
    #[arg(long, default_value = "mock")]
    name: String,
    /// Bearer key the gateway must send (any key is accepted when unset).
    #[arg(long)]
    api_key: Option<String>,
    /// Delay before answering each send, in milliseconds.
    #[arg(long, default_value_t = 5)]
    latency_ms: u64,
    /// Share of sends failing with 503 (transient), 0.0-1.0.
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    fail_rate: f64,
    /// Share of sends rejected with 400 (permanent), 0.0-1.0.
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    reject_rate: f64,
    /// Where to post delivery reports, e.g. http://127.0.0.1:8080/dlr/opA.
    #[arg(long)]
    dlr_url: Option<String>,
    /// Bearer key of the delivery reports (the operator's api_key in OPERATORS).
    #[arg(long)]
    dlr_key: Option<String>,
    /// Delay before reporting delivery, in milliseconds.
    #[arg(long, default_value_t = 500)]
    dlr_delay_ms: u64,
    /// Share of reports saying UNDELIV, 0.0-1.0.
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    undeliverable_rate: f64,
    /// Sends answered per second at most; beyond, 429 with Retry-After: 1 (no limit when
    /// unset).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_rps: Option<u32>,
}

fn rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err("must be a number between 0.0 and 1.0".into()),
    }
}

#[derive(Debug, Subcommand)]
enum CustomerCommand {
    /// Create a customer and print its JSON (including the API key, shown only once).
    Create {
        /// Unique name.
        #[arg(long)]
        name: String,
        /// Initial balance in credits.
        #[arg(long, default_value_t = 0)]
        balance: i64,
    },
}

fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    if let Command::MockOperator(args) = cli.command {
        // Needs none of the gateway's configuration.
        let _telemetry = telemetry::init(&sms_gateway::config::TelemetryConfig {
            log_format: sms_gateway::config::LogFormat::Json,
            otlp_endpoint: None,
            service_name: "mock-operator".into(),
        });
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        return match runtime.block_on(mock_operator(args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mock-operator: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sms-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    let telemetry = telemetry::init(&config.telemetry);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = match runtime.block_on(run(cli, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "sms-gateway failed");
            eprintln!("sms-gateway: {e:#}");
            ExitCode::FAILURE
        }
    };
    // Spans still buffered are exported before the process ends.
    telemetry.shutdown();
    code
}

async fn mock_operator(args: MockOperatorArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.fail_rate + args.reject_rate <= 1.0,
        "--fail-rate plus --reject-rate must not exceed 1.0"
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let op = MockOperator::new(MockOperatorConfig {
        name: args.name,
        api_key: args.api_key,
        latency: std::time::Duration::from_millis(args.latency_ms),
        fail_rate: args.fail_rate,
        reject_rate: args.reject_rate,
        dlr_url: args.dlr_url,
        dlr_key: args.dlr_key,
        dlr_delay: std::time::Duration::from_millis(args.dlr_delay_ms),
        undeliverable_rate: args.undeliverable_rate,
        max_rps: args.max_rps,
        ..Default::default()
    });
    let stop = CancellationToken::new();
    startup::cancel_on_signal(stop.clone());
    tracing::info!(listen = %args.listen, "mock operator listening (POST /send, GET /status, GET /stats)");
    op.serve(listener, stop).await?;
    Ok(())
}

async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command {
        Command::MockOperator(_) => unreachable!("handled before the configuration is read"),
        Command::Serve { role } => {
            let stop = CancellationToken::new();
            startup::cancel_on_signal(stop.clone());
            startup::run(config, role, stop).await
        }
        Command::Migrate => {
            let created = db::create_database_if_missing(&config.database)
                .await
                .context("connecting to DATABASE_URL")?;
            if created {
                eprintln!("created the database");
            }
            let pool = db::pool(&config.database)?;
            db::migrate(&pool).await.context("applying migrations")?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Customer {
            command: CustomerCommand::Create { name, balance },
        } => {
            let name = name.trim();
            anyhow::ensure!(
                !name.is_empty() && name.chars().count() <= 100,
                "--name must be 1-100 characters"
            );
            anyhow::ensure!(
                (0..=sms_gateway::http::customers::MAX_CREDIT).contains(&balance),
                "--balance must be between 0 and {}",
                sms_gateway::http::customers::MAX_CREDIT
            );
            let pool = db::pool(&config.database)?;
            let mut tx = pool.begin().await.context("connecting to DATABASE_URL")?;
            let created = accounts::create_customer(&mut tx, name, balance)
                .await
                .map_err(|e| {
                    if sms_gateway::http::idempotency::is_unique_violation(&e) {
                        anyhow::anyhow!("a customer named {name:?} already exists")
                    } else {
                        anyhow::Error::new(e).context("creating the customer")
                    }
                })?;
            tx.commit().await?;
            let body = sms_gateway::http::customers::CustomerCreated {
                customer_id: created.customer_id,
                name: name.to_string(),
                api_key: Some(created.api_key),
                balance: created.balance,
            };
            println!("{}", serde_json::to_string_pretty(&body)?);
            Ok(())
        }
    }
}
