//! `sms-loadtest`: load generator for sms-gateway (seed customers, drive traffic, report).
//!
//! This is the skeleton of the CLI; the `seed` and `run` commands arrive with the benchmark
//! work (see docs/BENCHMARKS.md). It already parses its arguments so the command exists.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "sms-loadtest",
    version,
    about = "Load generator for sms-gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create customers with balances and write their API keys to a file.
    Seed,
    /// Drive traffic at the gateway and report throughput and latency.
    Run,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    eprintln!(
        "sms-loadtest: `{:?}` is not implemented yet (tracked by the load-test issue)",
        cli.command
    );
    std::process::ExitCode::from(2)
}
