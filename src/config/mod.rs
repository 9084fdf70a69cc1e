//! Typed, validated configuration read from the environment (and an optional `.env`), one
//! struct per subsystem, each in its own file.
//!
//! Every variable is documented in `.env.example`. [`Config::from_env`] reads all of them,
//! collects every problem and reports them together, each naming its variable, so that a bad
//! deployment fails at start-up with one readable message. Secrets are held as
//! [`secrecy::SecretString`] and never appear in `Debug` output or logs.

mod amqp;
mod callbacks;
mod console;
mod database;
mod delivery;
mod http;
mod intake;
mod operators;
mod reader;
mod reports;
mod telemetry;

pub use amqp::AmqpConfig;
pub use callbacks::{AllowList, CallbacksConfig};
pub use console::{ConsoleConfig, CookieSecure};
pub use database::DatabaseConfig;
pub use delivery::{CALLS_PER_OPERATOR, DeliveryConfig, ROUNDS_PER_TAKE, minimum_lease};
pub use http::HttpConfig;
pub use intake::IntakeConfig;
pub use operators::{BUILTIN_MOCK_NAMES, OperatorConfig, OperatorsConfig, is_operator_name};
pub use reports::ReportsConfig;
pub use telemetry::{LogFormat, TelemetryConfig};

use reader::Reader;
use secrecy::{ExposeSecret, SecretString};

/// The whole configuration, one struct per subsystem.
#[derive(Debug, Clone)]
pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub amqp: AmqpConfig,
    pub intake: IntakeConfig,
    pub operators: OperatorsConfig,
    pub delivery: DeliveryConfig,
    pub telemetry: TelemetryConfig,
    pub reports: ReportsConfig,
    pub callbacks: CallbacksConfig,
    pub console: ConsoleConfig,
}

/// One or more invalid variables.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    /// `VARIABLE: what is wrong` lines.
    pub problems: Vec<String>,
}

/// A URL that may hold a password (`DATABASE_URL`, `AMQP_URL`): kept as a secret, and its
/// `Debug` shows it with the password hidden.
#[derive(Clone)]
pub struct SecretUrl(SecretString);

impl SecretUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(SecretString::from(url.into()))
    }
}

impl ExposeSecret<str> for SecretUrl {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(self.expose_secret()))
    }
}

/// Hides the password of a `scheme://user:password@host/...` URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            if userinfo.contains(':') {
                format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
            } else {
                url.to_string()
            }
        }
        _ => url.to_string(),
    }
}

impl Config {
    /// Reads the process environment (after loading `.env`, if present, in `main`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads variables through `get`; used by tests to configure without touching the process.
    /// Every subsystem is read even after a problem, so that all problems are reported.
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut r = Reader::new(get);
        let config = Config {
            http: HttpConfig::read(&mut r),
            database: DatabaseConfig::read(&mut r),
            amqp: AmqpConfig::read(&mut r),
            intake: IntakeConfig::read(&mut r),
            operators: OperatorsConfig::read(&mut r),
            delivery: DeliveryConfig::read(&mut r),
            telemetry: TelemetryConfig::read(&mut r),
            reports: ReportsConfig::read(&mut r),
            callbacks: CallbacksConfig::read(&mut r),
            console: ConsoleConfig::read(&mut r),
        };
        config.check_lease(&mut r);
        let mut problems = r.into_problems();
        if config.intake.timeout + config.intake.resolve_timeout >= config.http.request_timeout {
            // An acceptance is answered (202 or 503) before the request times out.
            problems.push(
                "INTAKE_TIMEOUT_MS + INTAKE_RESOLVE_TIMEOUT_MS: must be below REQUEST_TIMEOUT_MS"
                    .into(),
            );
        }
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        Ok(config)
    }

    /// `DELIVERY_LEASE_SECS` must outlast the longest send a take may hold on either lane
    /// ([`delivery::minimum_lease`]): a lease that ran out under a live worker lets another
    /// take the recipient and send it again.
    fn check_lease(&self, r: &mut Reader) {
        // EXPRESS_OPERATORS defaults to OPERATORS; neither means the built-in mocks.
        let express = self
            .operators
            .express
            .as_ref()
            .or(self.operators.normal.as_ref());
        let lanes = [self.operators.normal.as_ref(), express];
        let longest = lanes
            .iter()
            .map(|lane| match lane {
                Some(ops) => delivery::minimum_lease(ops.iter().map(|o| o.lease_call_ms())),
                None => delivery::minimum_lease(
                    BUILTIN_MOCK_NAMES
                        .map(|n| OperatorConfig::new(n, "", "".into()).lease_call_ms()),
                ),
            })
            .max()
            .unwrap_or_default();
        if self.delivery.delivery_lease < longest {
            r.problem(format!(
                "DELIVERY_LEASE_SECS: {} s is shorter than the longest send a take may hold \
                 with these operators ({} s: {} rounds of {} calls of each operator at its \
                 timeout_ms, two of them after waiting max_wait_ms for a token, plus 1 s); \
                 raise it or lower the operators' timeout_ms or max_wait_ms",
                self.delivery.delivery_lease.as_secs(),
                longest.as_secs_f64().ceil(),
                delivery::ROUNDS_PER_TAKE,
                delivery::CALLS_PER_OPERATOR,
            ));
        }
    }
}

#[cfg(test)]
mod tests;
