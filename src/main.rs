//! The `sms-gateway` command: `serve`, `migrate`, `customer create`, `mock-operator`.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sms_gateway::config::Config;
use sms_gateway::startup::{self, Role};
use sms_gateway::{accounts, db, telemetry};
use tokio_util::sync::CancellationToken;

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
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sms-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.telemetry);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "sms-gateway failed");
            eprintln!("sms-gateway: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command {
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
