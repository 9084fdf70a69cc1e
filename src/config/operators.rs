//! The upstream operators: each one's URL, key, timeout, breaker thresholds and throughput
//! cap ([`OperatorConfig`]) and the two lanes' lists ([`OperatorsConfig`]).

use std::collections::BTreeSet;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::reader::Reader;
use crate::domain::SmsType;

/// One upstream operator, as written in `OPERATORS` / `EXPRESS_OPERATORS`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// Unique name; used in `operators` preferences, history and `POST /dlr/{name}`.
    pub name: String,
    /// Where messages are posted (the contract's operator wire protocol).
    pub url: String,
    /// Where the operator answers `GET ?reference=` with the message it has under that
    /// reference (200 `{"message_id", "status"}`, 404 when none), if it offers that. A send
    /// whose outcome is in doubt is looked up there before it is sent again.
    #[serde(default)]
    pub status_url: Option<String>,
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
    /// Sends per second this worker process makes to the operator at most (a token bucket,
    /// burst `max(1, max_rps / 10)`); `None`: no cap. Per process: with N worker processes
    /// the operator sees up to N times this.
    #[serde(default)]
    pub max_rps: Option<u32>,
    /// Longest wait for a send's token (the cap, or the slower rate after a 429); a send that
    /// would wait longer goes to the lane's next operator at once, as if this one were busy.
    /// 0: never wait. Not given: [`OperatorConfig::DEFAULT_MAX_WAIT_MS`] with a `max_rps`, 0
    /// without (an operator without a cap that a 429 slowed is skipped while it has no token,
    /// and its leases need no room for waits); read it through
    /// [`OperatorConfig::max_wait_ms`].
    #[serde(default, rename = "max_wait_ms")]
    pub max_wait_ms_given: Option<u64>,
}

impl OperatorConfig {
    /// `timeout_ms` when not given.
    pub const DEFAULT_TIMEOUT_MS: u64 = 2_000;
    /// `max_wait_ms` of an operator with a `max_rps` when not given.
    pub const DEFAULT_MAX_WAIT_MS: u64 = 1_000;
    /// Highest `max_rps` accepted.
    pub const MAX_RPS_LIMIT: u32 = 100_000;
    /// Highest `max_wait_ms` accepted.
    pub const MAX_WAIT_MS_LIMIT: u64 = 60_000;

    /// An operator with the default timeout and breaker settings.
    pub fn new(name: impl Into<String>, url: impl Into<String>, api_key: SecretString) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            status_url: None,
            api_key,
            timeout_ms: default_operator_timeout_ms(),
            breaker_failures: default_breaker_failures(),
            breaker_open_ms: default_breaker_open_ms(),
            breaker_max_open_ms: default_breaker_max_open_ms(),
            max_rps: None,
            max_wait_ms_given: None,
        }
    }

    /// The longest a send waits for its token: `max_wait_ms` as given, else
    /// [`OperatorConfig::DEFAULT_MAX_WAIT_MS`] for an operator with a cap and 0 without.
    pub fn max_wait_ms(&self) -> u64 {
        self.max_wait_ms_given.unwrap_or(if self.max_rps.is_some() {
            Self::DEFAULT_MAX_WAIT_MS
        } else {
            0
        })
    }

    /// What one of a send's calls to this operator may hold a lease for, on average, for
    /// `DELIVERY_LEASE_SECS`' check ([`super::delivery::minimum_lease`], which counts
    /// [`super::delivery::CALLS_PER_OPERATOR`] calls per operator): its timeout, plus half of
    /// `max_wait_ms`, because two of those calls (the send and its repeat in doubt) may first
    /// wait for a token and the two lookups never do.
    pub fn lease_call_ms(&self) -> u64 {
        self.timeout_ms + self.max_wait_ms().div_ceil(2)
    }

    /// The same operator, declaring `status_url`.
    pub fn with_status_url(self, status_url: impl Into<String>) -> Self {
        Self {
            status_url: Some(status_url.into()),
            ..self
        }
    }
}

fn default_operator_timeout_ms() -> u64 {
    OperatorConfig::DEFAULT_TIMEOUT_MS
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
            .field("status_url", &self.status_url)
            .field("api_key", &"[redacted]")
            .field("timeout_ms", &self.timeout_ms)
            .field("breaker_failures", &self.breaker_failures)
            .field("breaker_open_ms", &self.breaker_open_ms)
            .field("breaker_max_open_ms", &self.breaker_max_open_ms)
            .field("max_rps", &self.max_rps)
            .field("max_wait_ms", &self.max_wait_ms())
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

    pub(super) fn read(r: &mut Reader) -> Self {
        Self {
            normal: read_list(r, "OPERATORS"),
            express: read_list(r, "EXPRESS_OPERATORS"),
        }
    }
}

/// Names of the built-in mock operators started when no operator is configured.
pub const BUILTIN_MOCK_NAMES: [&str; 2] = ["mock-a", "mock-b"];

/// One operator list: a JSON array of [`OperatorConfig`], every entry checked.
fn read_list(r: &mut Reader, name: &str) -> Option<Vec<OperatorConfig>> {
    let raw = r.raw(name)?;
    let ops: Vec<OperatorConfig> = match serde_json::from_str(&raw) {
        Ok(ops) => ops,
        Err(e) => {
            r.problem(format!(
                "{name}: expected a JSON array of {{\"name\", \"url\", \"api_key\", \"timeout_ms\"}} objects: {e}"
            ));
            return None;
        }
    };
    if ops.is_empty() {
        r.problem(format!("{name}: the list is empty; unset it instead"));
    }
    let mut seen = BTreeSet::new();
    for op in &ops {
        if !is_operator_name(&op.name) {
            r.problem(format!(
                "{name}: operator name {:?} must be 1-64 characters of a-z, A-Z, 0-9, '-' or '_'",
                op.name
            ));
        }
        if !seen.insert(op.name.clone()) {
            r.problem(format!("{name}: operator {:?} is listed twice", op.name));
        }
        if !is_http_url(&op.url) {
            r.problem(format!(
                "{name}: operator {:?} url must start with http:// or https://",
                op.name
            ));
        }
        if let Some(status_url) = &op.status_url
            && !is_http_url(status_url)
        {
            r.problem(format!(
                "{name}: operator {:?} status_url must start with http:// or https://",
                op.name
            ));
        }
        if op.api_key.expose_secret().is_empty() {
            r.problem(format!(
                "{name}: operator {:?} has an empty api_key",
                op.name
            ));
        }
        if !(1..=120_000).contains(&op.timeout_ms) {
            r.problem(format!(
                "{name}: operator {:?} timeout_ms must be between 1 and 120000",
                op.name
            ));
        }
        if op.breaker_failures == 0 || op.breaker_open_ms == 0 {
            r.problem(format!(
                "{name}: operator {:?} breaker settings must be positive",
                op.name
            ));
        }
        if let Some(rps) = op.max_rps
            && !(1..=OperatorConfig::MAX_RPS_LIMIT).contains(&rps)
        {
            r.problem(format!(
                "{name}: operator {:?} max_rps must be between 1 and {} (leave it out for no cap)",
                op.name,
                OperatorConfig::MAX_RPS_LIMIT
            ));
        }
        if op.max_wait_ms() > OperatorConfig::MAX_WAIT_MS_LIMIT {
            r.problem(format!(
                "{name}: operator {:?} max_wait_ms must be between 0 and {}",
                op.name,
                OperatorConfig::MAX_WAIT_MS_LIMIT
            ));
        }
    }
    Some(ops)
}

/// An `http://` or `https://` URL.
fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// True for names allowed in URLs and metrics labels.
pub fn is_operator_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
