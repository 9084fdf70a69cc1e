//! Typed, validated configuration read from the environment (and an optional `.env`).
//!
//! Every variable is documented in `.env.example`. [`Config::from_env`] reads all of them,
//! collects every problem and reports them together, each naming its variable, so that a bad
//! deployment fails at start-up with one readable message. Secrets are held as
//! [`SecretString`] and never appear in `Debug` output or logs.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::{DefaultCountry, SmsType};

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
}

/// The HTTP API.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `LISTEN_ADDR`: where the API listens.
    pub listen_addr: SocketAddr,
    /// `ADMIN_TOKEN`: bearer token of `/admin/*` and `POST /balance/add`.
    pub admin_token: SecretString,
    /// `MAX_BODY_BYTES`: largest accepted request body.
    pub max_body_bytes: usize,
    /// `REQUEST_TIMEOUT_MS`: a request not answered within this gets a 503.
    pub request_timeout: Duration,
    /// `SHUTDOWN_TIMEOUT_SECS`: how long a graceful shutdown waits for in-flight work.
    pub shutdown_timeout: Duration,
    /// `IDEMPOTENCY_TTL_SECS`: how long an `Idempotency-Key` and its response are kept.
    pub idempotency_ttl: Duration,
}

/// MySQL / MariaDB.
#[derive(Clone)]
pub struct DatabaseConfig {
    /// `DATABASE_URL` (may hold a password).
    pub url: SecretString,
    /// `DB_MAX_CONNECTIONS`: upper bound of the pool.
    pub max_connections: u32,
    /// `DB_MIN_CONNECTIONS`: connections kept open when idle.
    pub min_connections: u32,
    /// `DB_ACQUIRE_TIMEOUT_MS`: waiting longer than this for a connection is a 503.
    pub acquire_timeout: Duration,
    /// `DB_STATEMENT_CACHE`: prepared statements kept per connection (see `db::batch`).
    pub statement_cache: usize,
    /// `RUN_MIGRATIONS`: apply pending migrations when `serve` starts.
    pub run_migrations: bool,
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_cache", &self.statement_cache)
            .field("run_migrations", &self.run_migrations)
            .finish()
    }
}

/// RabbitMQ.
#[derive(Clone)]
pub struct AmqpConfig {
    /// `AMQP_URL` (may hold a password).
    pub url: SecretString,
    /// `AMQP_EXCHANGE`: durable direct exchange the outbox publishes to.
    pub exchange: String,
    /// `AMQP_QUEUE_NORMAL`: queue of normal messages.
    pub queue_normal: String,
    /// `AMQP_QUEUE_EXPRESS`: queue of express messages.
    pub queue_express: String,
    /// `AMQP_PREFETCH`: unacknowledged deliveries per consumer channel.
    pub prefetch: u16,
    /// `AMQP_QUORUM_QUEUES`: declare quorum queues (for a RabbitMQ cluster).
    pub quorum_queues: bool,
}

impl fmt::Debug for AmqpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpConfig")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("exchange", &self.exchange)
            .field("queue_normal", &self.queue_normal)
            .field("queue_express", &self.queue_express)
            .field("prefetch", &self.prefetch)
            .field("quorum_queues", &self.quorum_queues)
            .finish()
    }
}

/// Rules and prices of `POST /sms/send`.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    /// `PRICE_NORMAL`: credits per segment of a normal message.
    pub price_normal: i64,
    /// `PRICE_EXPRESS`: credits per segment of an express message.
    pub price_express: i64,
    /// `MAX_SEGMENTS`: longest accepted text, in segments.
    pub max_segments: u32,
    /// `MAX_RECIPIENTS`: recipients per request (at most 1,000, the contract's ceiling).
    pub max_recipients: usize,
    /// `DEFAULT_COUNTRY_CODE`: country of local numbers such as `0912...`; unset rejects them.
    pub default_country: Option<DefaultCountry>,
    /// `MAX_VALIDITY_SECS`: the largest `validity_seconds` a request may ask for.
    pub max_validity: Duration,
    /// `INTAKE_GROUP_COMMIT`: coalesce concurrent acceptances into shared transactions
    /// (requests with an `Idempotency-Key` always take their own transaction).
    pub group_commit: bool,
    /// `INTAKE_EXECUTORS`: group-commit shards of customers, each committing one batch at a
    /// time (see `intake::group_commit`).
    pub executors: usize,
}

impl IntakeConfig {
    /// Credits per segment for a message type.
    pub fn price(&self, sms_type: SmsType) -> i64 {
        match sms_type {
            SmsType::Normal => self.price_normal,
            SmsType::Express => self.price_express,
        }
    }
}

/// One upstream operator, as written in `OPERATORS` / `EXPRESS_OPERATORS`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// Unique name; used in `operators` preferences, history and `POST /dlr/{name}`.
    pub name: String,
    /// Where messages are posted (the contract's operator wire protocol).
    pub url: String,
    /// Sent as `Authorization: Bearer`; the operator uses it for delivery reports too.
    pub api_key: SecretString,
    /// Timeout of one call.
    #[serde(default = "default_operator_timeout_ms")]
    pub timeout_ms: u64,
    /// Consecutive transient failures that open the circuit breaker.
    #[serde(default = "default_breaker_failures")]
    pub breaker_failures: u32,
    /// First open interval of the breaker; doubles on each re-open up to `breaker_max_open_ms`.
    #[serde(default = "default_breaker_open_ms")]
    pub breaker_open_ms: u64,
    /// Longest open interval of the breaker.
    #[serde(default = "default_breaker_max_open_ms")]
    pub breaker_max_open_ms: u64,
}

impl OperatorConfig {
    /// An operator with the default timeout and breaker settings.
    pub fn new(name: impl Into<String>, url: impl Into<String>, api_key: SecretString) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            api_key,
            timeout_ms: default_operator_timeout_ms(),
            breaker_failures: default_breaker_failures(),
            breaker_open_ms: default_breaker_open_ms(),
            breaker_max_open_ms: default_breaker_max_open_ms(),
        }
    }
}

fn default_operator_timeout_ms() -> u64 {
    2_000
}
fn default_breaker_failures() -> u32 {
    5
}
fn default_breaker_open_ms() -> u64 {
    1_000
}
fn default_breaker_max_open_ms() -> u64 {
    30_000
}

impl fmt::Debug for OperatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("api_key", &"[redacted]")
            .field("timeout_ms", &self.timeout_ms)
            .field("breaker_failures", &self.breaker_failures)
            .field("breaker_open_ms", &self.breaker_open_ms)
            .field("breaker_max_open_ms", &self.breaker_max_open_ms)
            .finish()
    }
}

/// The operator lists. When both are `None` the gateway runs built-in mock operators.
#[derive(Debug, Clone, Default)]
pub struct OperatorsConfig {
    /// `OPERATORS`: ordered list used for normal messages (and express unless overridden).
    pub normal: Option<Vec<OperatorConfig>>,
    /// `EXPRESS_OPERATORS`: ordered list for express messages; defaults to `OPERATORS`.
    pub express: Option<Vec<OperatorConfig>>,
}

impl OperatorsConfig {
    /// True when neither list is configured and built-in mock operators stand in.
    pub fn uses_builtin_mocks(&self) -> bool {
        self.normal.is_none() && self.express.is_none()
    }

    /// Names usable for a message type (what a request's `operators` preference may name).
    pub fn names_for(&self, sms_type: SmsType) -> BTreeSet<String> {
        let list = match sms_type {
            SmsType::Express => self.express.as_ref().or(self.normal.as_ref()),
            SmsType::Normal => self.normal.as_ref().or(self.express.as_ref()),
        };
        match list {
            Some(ops) => ops.iter().map(|o| o.name.clone()).collect(),
            None => BUILTIN_MOCK_NAMES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Names of the built-in mock operators started when no operator is configured.
pub const BUILTIN_MOCK_NAMES: [&str; 2] = ["mock-a", "mock-b"];

/// Outbox publishers and delivery workers.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// `PUBLISHERS_EXPRESS`: outbox publisher tasks for the express lane.
    pub publishers_express: usize,
    /// `PUBLISHERS_NORMAL`: outbox publisher tasks for the normal lane.
    pub publishers_normal: usize,
    /// `OUTBOX_BATCH_SIZE`: rows claimed per publisher round trip.
    pub outbox_batch_size: u32,
    /// `OUTBOX_LEASE_SECS`: a claimed row not published within this is reclaimed.
    pub outbox_lease: Duration,
    /// `WORKERS_EXPRESS`: concurrent express deliveries per process.
    pub workers_express: usize,
    /// `WORKERS_NORMAL`: concurrent normal deliveries per process.
    pub workers_normal: usize,
    /// `WORKERS_NORMAL_DB`: database transactions the normal lane runs at once per process,
    /// so a normal backlog leaves the database room for express (which never waits).
    pub workers_normal_db: usize,
    /// `DEFAULT_VALIDITY_SECS`: retry window of a message that did not ask for one.
    pub default_validity: Duration,
    /// `DELIVERY_LEASE_SECS`: how long a worker holds a recipient it is sending; a worker that
    /// dies mid-send delays its recipients by this much. Keep it above the sum of the
    /// operators' timeouts.
    pub delivery_lease: Duration,
}

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

/// One or more invalid variables.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    /// `VARIABLE: what is wrong` lines.
    pub problems: Vec<String>,
}

/// Reads variables, remembering every problem instead of stopping at the first.
struct Reader<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    fn raw(&self, name: &str) -> Option<String> {
        (self.get)(name).filter(|v| !v.trim().is_empty())
    }

    fn parse<T: FromStr>(&mut self, name: &str, default: T) -> T
    where
        T::Err: fmt::Display,
    {
        match self.raw(name) {
            None => default,
            Some(v) => match v.trim().parse() {
                Ok(t) => t,
                Err(e) => {
                    self.problems.push(format!("{name}: {e} (got {v:?})"));
                    default
                }
            },
        }
    }

    fn ranged<T>(&mut self, name: &str, default: T, min: T, max: T) -> T
    where
        T: FromStr + PartialOrd + Copy + fmt::Display,
        T::Err: fmt::Display,
    {
        let v = self.parse(name, default);
        if v < min || v > max {
            self.problems
                .push(format!("{name}: must be between {min} and {max} (got {v})"));
            return default;
        }
        v
    }

    fn bool(&mut self, name: &str, default: bool) -> bool {
        match self.raw(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => default,
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => true,
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => false,
            Some(v) => {
                self.problems
                    .push(format!("{name}: expected true or false (got {v:?})"));
                default
            }
        }
    }

    fn string(&mut self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or_else(|| default.to_string())
    }

    fn millis(&mut self, name: &str, default: u64, min: u64, max: u64) -> Duration {
        Duration::from_millis(self.ranged(name, default, min, max))
    }

    fn secs(&mut self, name: &str, default: u64, min: u64, max: u64) -> Duration {
        Duration::from_secs(self.ranged(name, default, min, max))
    }

    fn operators(&mut self, name: &str) -> Option<Vec<OperatorConfig>> {
        let raw = self.raw(name)?;
        let ops: Vec<OperatorConfig> = match serde_json::from_str(&raw) {
            Ok(ops) => ops,
            Err(e) => {
                self.problems.push(format!(
                    "{name}: expected a JSON array of {{\"name\", \"url\", \"api_key\", \"timeout_ms\"}} objects: {e}"
                ));
                return None;
            }
        };
        if ops.is_empty() {
            self.problems
                .push(format!("{name}: the list is empty; unset it instead"));
        }
        let mut seen = BTreeSet::new();
        for op in &ops {
            if !is_operator_name(&op.name) {
                self.problems.push(format!(
                    "{name}: operator name {:?} must be 1-64 characters of a-z, A-Z, 0-9, '-' or '_'",
                    op.name
                ));
            }
            if !seen.insert(op.name.clone()) {
                self.problems
                    .push(format!("{name}: operator {:?} is listed twice", op.name));
            }
            if !(op.url.starts_with("http://") || op.url.starts_with("https://")) {
                self.problems.push(format!(
                    "{name}: operator {:?} url must start with http:// or https://",
                    op.name
                ));
            }
            if op.api_key.expose_secret().is_empty() {
                self.problems.push(format!(
                    "{name}: operator {:?} has an empty api_key",
                    op.name
                ));
            }
            if !(1..=120_000).contains(&op.timeout_ms) {
                self.problems.push(format!(
                    "{name}: operator {:?} timeout_ms must be between 1 and 120000",
                    op.name
                ));
            }
            if op.breaker_failures == 0 || op.breaker_open_ms == 0 {
                self.problems.push(format!(
                    "{name}: operator {:?} breaker settings must be positive",
                    op.name
                ));
            }
        }
        Some(ops)
    }
}

/// True for names allowed in URLs and metrics labels.
pub fn is_operator_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut r = Reader {
            get,
            problems: Vec::new(),
        };

        let listen_addr = r.parse("LISTEN_ADDR", SocketAddr::from(([0, 0, 0, 0], 8080)));
        let admin_token = match r.raw("ADMIN_TOKEN") {
            Some(t) if t.trim().len() >= 16 => SecretString::from(t.trim().to_string()),
            Some(_) => {
                r.problems
                    .push("ADMIN_TOKEN: must be at least 16 characters".into());
                SecretString::from(String::new())
            }
            None => {
                r.problems.push(
                    "ADMIN_TOKEN: required (the bearer token of the admin endpoints); see .env.example"
                        .into(),
                );
                SecretString::from(String::new())
            }
        };
        let http = HttpConfig {
            listen_addr,
            admin_token,
            max_body_bytes: r.ranged("MAX_BODY_BYTES", 256 * 1024, 1024, 16 * 1024 * 1024),
            request_timeout: r.millis("REQUEST_TIMEOUT_MS", 10_000, 100, 300_000),
            shutdown_timeout: r.secs("SHUTDOWN_TIMEOUT_SECS", 30, 1, 3_600),
            idempotency_ttl: r.secs("IDEMPOTENCY_TTL_SECS", 86_400, 60, 30 * 86_400),
        };

        let database = DatabaseConfig {
            url: SecretString::from(
                r.string("DATABASE_URL", "mysql://root@127.0.0.1:3306/sms_gateway"),
            ),
            max_connections: r.ranged("DB_MAX_CONNECTIONS", 20, 1, 1_000),
            min_connections: r.ranged("DB_MIN_CONNECTIONS", 0, 0, 1_000),
            acquire_timeout: r.millis("DB_ACQUIRE_TIMEOUT_MS", 5_000, 10, 120_000),
            statement_cache: r.ranged("DB_STATEMENT_CACHE", 512, 16, 4_096),
            run_migrations: r.bool("RUN_MIGRATIONS", true),
        };
        if !database.url.expose_secret().starts_with("mysql://")
            && !database.url.expose_secret().starts_with("mariadb://")
        {
            r.problems
                .push("DATABASE_URL: must start with mysql:// or mariadb://".into());
        }
        if database.min_connections > database.max_connections {
            r.problems
                .push("DB_MIN_CONNECTIONS: must not exceed DB_MAX_CONNECTIONS".into());
        }

        let amqp = AmqpConfig {
            url: SecretString::from(r.string("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")),
            exchange: r.string("AMQP_EXCHANGE", "sms"),
            queue_normal: r.string("AMQP_QUEUE_NORMAL", "sms.normal"),
            queue_express: r.string("AMQP_QUEUE_EXPRESS", "sms.express"),
            prefetch: r.ranged("AMQP_PREFETCH", 64, 1, 10_000),
            quorum_queues: r.bool("AMQP_QUORUM_QUEUES", false),
        };
        if !amqp.url.expose_secret().starts_with("amqp://")
            && !amqp.url.expose_secret().starts_with("amqps://")
        {
            r.problems
                .push("AMQP_URL: must start with amqp:// or amqps://".into());
        }

        let default_country = match r.raw("DEFAULT_COUNTRY_CODE") {
            None => None,
            Some(v) if v.trim().eq_ignore_ascii_case("none") => None,
            Some(v) => match v.trim().parse::<DefaultCountry>() {
                Ok(c) => Some(c),
                Err(e) => {
                    r.problems
                        .push(format!("DEFAULT_COUNTRY_CODE: {e} (got {v:?})"));
                    None
                }
            },
        };
        let intake = IntakeConfig {
            price_normal: r.ranged("PRICE_NORMAL", 1, 0, 1_000_000),
            price_express: r.ranged("PRICE_EXPRESS", 2, 0, 1_000_000),
            max_segments: r.ranged("MAX_SEGMENTS", 10, 1, 255),
            max_recipients: r.ranged("MAX_RECIPIENTS", 1_000, 1, 1_000),
            default_country,
            max_validity: r.secs("MAX_VALIDITY_SECS", 7 * 86_400, 1, 30 * 86_400),
            group_commit: r.bool("INTAKE_GROUP_COMMIT", true),
            executors: r.ranged("INTAKE_EXECUTORS", 1, 1, 64),
        };

        let operators = OperatorsConfig {
            normal: r.operators("OPERATORS"),
            express: r.operators("EXPRESS_OPERATORS"),
        };

        let delivery = DeliveryConfig {
            publishers_express: r.ranged("PUBLISHERS_EXPRESS", 4, 0, 256),
            publishers_normal: r.ranged("PUBLISHERS_NORMAL", 2, 0, 256),
            outbox_batch_size: r.ranged("OUTBOX_BATCH_SIZE", 200, 1, 5_000),
            outbox_lease: r.secs("OUTBOX_LEASE_SECS", 30, 1, 3_600),
            workers_express: r.ranged("WORKERS_EXPRESS", 32, 0, 10_000),
            workers_normal: r.ranged("WORKERS_NORMAL", 32, 0, 10_000),
            workers_normal_db: r.ranged("WORKERS_NORMAL_DB", 4, 1, 10_000),
            default_validity: r.secs("DEFAULT_VALIDITY_SECS", 86_400, 1, 30 * 86_400),
            delivery_lease: r.secs("DELIVERY_LEASE_SECS", 60, 1, 3_600),
        };

        let telemetry = TelemetryConfig {
            log_format: r.parse("LOG_FORMAT", LogFormat::Json),
            otlp_endpoint: r.raw("OTEL_EXPORTER_OTLP_ENDPOINT"),
            service_name: r.string("OTEL_SERVICE_NAME", "sms-gateway"),
        };

        if !r.problems.is_empty() {
            return Err(ConfigError {
                problems: r.problems,
            });
        }
        Ok(Config {
            http,
            database,
            amqp,
            intake,
            operators,
            delivery,
            telemetry,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(&move |k| map.get(k).cloned())
    }

    const TOKEN: (&str, &str) = ("ADMIN_TOKEN", "0123456789abcdef-admin");

    #[test]
    fn defaults_point_at_localhost() {
        let c = config(&[TOKEN]).unwrap();
        assert_eq!(c.http.listen_addr.port(), 8080);
        assert!(c.database.url.expose_secret().contains("127.0.0.1:3306"));
        assert!(c.amqp.url.expose_secret().contains("127.0.0.1:5672"));
        assert_eq!(c.intake.price_normal, 1);
        assert_eq!(c.intake.price_express, 2);
        assert_eq!(c.intake.max_segments, 10);
        assert!(c.operators.uses_builtin_mocks());
    }

    #[test]
    fn every_problem_is_reported_with_its_variable() {
        let err = config(&[
            ("LISTEN_ADDR", "nope"),
            ("PRICE_NORMAL", "-1"),
            ("MAX_RECIPIENTS", "5000"),
            ("DEFAULT_COUNTRY_CODE", "XX"),
            ("OPERATORS", "[{\"name\":\"a\"}]"),
        ])
        .unwrap_err();
        let text = err.to_string();
        for var in [
            "ADMIN_TOKEN",
            "LISTEN_ADDR",
            "PRICE_NORMAL",
            "MAX_RECIPIENTS",
            "DEFAULT_COUNTRY_CODE",
            "OPERATORS",
        ] {
            assert!(text.contains(var), "{var} missing from {text}");
        }
    }

    #[test]
    fn operators_are_parsed_and_validated() {
        let ok = config(&[
            TOKEN,
            (
                "OPERATORS",
                r#"[{"name":"opA","url":"http://127.0.0.1:9091/send","api_key":"k1","timeout_ms":500},
                    {"name":"opB","url":"http://127.0.0.1:9092/send","api_key":"k2"}]"#,
            ),
        ])
        .unwrap();
        let ops = ok.operators.normal.as_ref().unwrap();
        assert_eq!(ops[1].timeout_ms, 2_000);
        assert_eq!(
            ok.operators.names_for(SmsType::Express),
            BTreeSet::from(["opA".to_string(), "opB".to_string()])
        );

        let dup = config(&[
            TOKEN,
            (
                "OPERATORS",
                r#"[{"name":"a","url":"http://x/send","api_key":"k"},{"name":"a","url":"ftp://x","api_key":""}]"#,
            ),
        ])
        .unwrap_err()
        .to_string();
        assert!(dup.contains("listed twice"));
        assert!(dup.contains("http://"));
        assert!(dup.contains("empty api_key"));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = config(&[
            TOKEN,
            ("DATABASE_URL", "mysql://app:hunter2@db:3306/sms"),
            ("AMQP_URL", "amqp://app:rabbitpw@mq:5672/%2f"),
            (
                "OPERATORS",
                r#"[{"name":"a","url":"http://x/send","api_key":"operator-secret"}]"#,
            ),
        ])
        .unwrap();
        let debug = format!("{c:?}");
        for secret in [
            "hunter2",
            "rabbitpw",
            "operator-secret",
            "0123456789abcdef-admin",
        ] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        assert!(debug.contains("mysql://app:***@db:3306/sms"));
    }

    #[test]
    fn short_admin_token_is_refused() {
        let err = config(&[("ADMIN_TOKEN", "short")]).unwrap_err();
        assert!(err.to_string().contains("ADMIN_TOKEN: must be at least 16"));
    }
}
