//! Upstream operators: each behind its own circuit breaker, tried in the lane's order with
//! failover.
//!
//! - [`SmsOperator`]: one upstream provider; [`http::HttpOperator`] speaks the wire protocol.
//! - [`GuardedOperator`]: an operator with its [`circuit_breaker::CircuitBreaker`], counters and
//!   the key its delivery reports must carry.
//! - [`OperatorRegistry`]: the configured operators and the order of each lane. An operator
//!   listed in both lanes is one [`GuardedOperator`] (one breaker, one set of counters).
//!   [`OperatorRegistry::send`] fails over on transient errors and stops on a permanent one.

pub mod circuit_breaker;
pub mod http;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::bail;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tracing::Instrument;
use utoipa::ToSchema;

pub use circuit_breaker::{BreakerSettings, CircuitBreaker, CircuitState};
pub use http::HttpOperator;

use crate::config::OperatorConfig;
use crate::domain::SmsType;
use crate::state::sha256;

/// What an operator is asked to deliver.
#[derive(Debug, Clone)]
pub struct OutboundSms {
    /// Recipient in E.164.
    pub to: String,
    /// The text.
    pub text: String,
    /// Our reference: `"<status row id>"`.
    pub reference: String,
}

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OperatorError {
    /// 5xx, timeout, connection error: try the next operator / later.
    #[error("transient: {0}")]
    Retryable(String),
    /// 4xx (except 408 and 429): the operator refuses this message for good; no failover.
    #[error("permanent: {0}")]
    Permanent(String),
    /// 429: treat as transient.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// The operator's circuit breaker is open; not called.
    #[error("circuit open")]
    CircuitOpen,
}

/// The future of [`SmsOperator::send`]: the operator's message id, or why not.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<String, OperatorError>> + Send + 'a>>;

/// One upstream provider.
pub trait SmsOperator: Send + Sync {
    /// Its unique name (configuration, preferences, history, `POST /dlr/{name}`).
    fn name(&self) -> &str;
    /// Hands one message over; resolves to the operator's message id.
    fn send<'a>(&'a self, sms: &'a OutboundSms) -> SendFuture<'a>;
}

/// Outcome counters of one operator.
#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    sent: AtomicU64,
    transient_failures: AtomicU64,
    permanent_failures: AtomicU64,
}

/// An operator behind its circuit breaker, with counters.
pub struct GuardedOperator {
    operator: Arc<dyn SmsOperator>,
    breaker: CircuitBreaker,
    dlr_key_hash: [u8; 32],
    lanes: Vec<SmsType>,
    counters: Counters,
}

impl GuardedOperator {
    fn new(
        operator: Arc<dyn SmsOperator>,
        settings: &BreakerSettings,
        dlr_key: &SecretString,
        lanes: Vec<SmsType>,
    ) -> Self {
        Self {
            breaker: CircuitBreaker::new(operator.name(), settings),
            operator,
            dlr_key_hash: sha256(dlr_key.expose_secret().as_bytes()),
            lanes,
            counters: Counters::default(),
        }
    }

    /// The operator's name.
    pub fn name(&self) -> &str {
        self.operator.name()
    }

    /// Sends through the breaker: [`OperatorError::CircuitOpen`] without calling the operator
    /// while it is open.
    pub async fn send(&self, sms: &OutboundSms) -> Result<String, OperatorError> {
        let span = tracing::info_span!(
            "operator.send",
            otel.kind = "client",
            operator.name = %self.name(),
            outcome = tracing::field::Empty,
        );
        async {
            let c = &self.counters;
            c.calls.fetch_add(1, Ordering::Relaxed);
            let started = std::time::Instant::now();
            let result = self.breaker.call(self.operator.send(sms)).await;
            let took = started.elapsed();
            let (counter, outcome) = match &result {
                Ok(_) => (Some(&c.sent), "success"),
                Err(OperatorError::Retryable(_)) => (Some(&c.transient_failures), "retryable"),
                Err(OperatorError::RateLimited(_)) => (Some(&c.transient_failures), "rate_limited"),
                Err(OperatorError::Permanent(_)) => (Some(&c.permanent_failures), "permanent"),
                // counted by the breaker's hook
                Err(OperatorError::CircuitOpen) => (None, "circuit_open"),
            };
            if let Some(counter) = counter {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            tracing::Span::current().record("outcome", outcome);
            crate::metrics::operator_call(self.name(), outcome, counter.is_some().then_some(took));
            result
        }
        .instrument(span)
        .await
    }

    /// Whether `key` is this operator's key (delivery reports carry it as a bearer token).
    /// Constant time: compares SHA-256 digests.
    pub fn verify_key(&self, key: &str) -> bool {
        bool::from(sha256(key.as_bytes()).ct_eq(&self.dlr_key_hash))
    }

    /// Its breaker's state.
    pub fn circuit(&self) -> CircuitState {
        self.breaker.state()
    }

    /// The lanes that list it.
    pub fn lanes(&self) -> &[SmsType] {
        &self.lanes
    }

    /// Counters and breaker state.
    pub fn status(&self) -> OperatorStatus {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let c = &self.counters;
        OperatorStatus {
            name: self.name().to_string(),
            circuit: self.breaker.state().as_str().to_string(),
            calls: g(&c.calls),
            sent: g(&c.sent),
            transient_failures: g(&c.transient_failures),
            permanent_failures: g(&c.permanent_failures),
            rejected_by_circuit: self.breaker.rejected(),
            lanes: self.lanes.clone(),
        }
    }
}

/// An operator's health, for `GET /admin/operators` and tests.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OperatorStatus {
    /// Operator name.
    pub name: String,
    /// `"closed"` | `"open"` | `"half_open"`.
    pub circuit: String,
    /// Sends asked of it, including those its open breaker refused
    /// (`sent + transient_failures + permanent_failures + rejected_by_circuit`, once finished).
    pub calls: u64,
    /// Accepted by the operator.
    pub sent: u64,
    /// 5xx, 408, 429, timeouts, connection errors, unusable answers.
    pub transient_failures: u64,
    /// Other 4xx: the message was refused.
    pub permanent_failures: u64,
    /// Refused by the open breaker without a call.
    pub rejected_by_circuit: u64,
    /// The lanes that list it.
    pub lanes: Vec<SmsType>,
}

/// Result of [`OperatorRegistry::send`].
#[derive(Debug, Clone)]
pub enum SendOutcome {
    /// An operator accepted the message.
    Sent {
        /// Who took it.
        operator: String,
        /// Its id for the message (delivery reports name it).
        message_id: String,
    },
    /// An operator refused the message for good; no other operator was tried.
    Rejected {
        /// Who refused it.
        operator: String,
        /// The operator's answer.
        reason: String,
    },
    /// Every routed operator failed transiently (or none was routed); try again later.
    AllFailed {
        /// (operator, reason) per attempt, in order.
        attempts: Vec<(String, String)>,
    },
}

/// The configured operators and lane orders.
pub struct OperatorRegistry {
    /// Every operator once: normal lane order, then express-only ones.
    all: Vec<Arc<GuardedOperator>>,
    normal: Vec<Arc<GuardedOperator>>,
    express: Vec<Arc<GuardedOperator>>,
}

impl OperatorRegistry {
    /// From configuration: HTTP operators sharing one pooled client. Each list is a lane's
    /// order; an empty list means that lane uses the other list (both empty is an error).
    /// The same name in both lists is the same [`GuardedOperator`] (one breaker per operator)
    /// and must be configured identically in both.
    ///
    /// `OperatorsConfig` with both lists `None` is not handled here: the caller passes configs
    /// for the built-in mocks (see [`crate::config::BUILTIN_MOCK_NAMES`]).
    pub fn from_config(
        normal: &[OperatorConfig],
        express: &[OperatorConfig],
    ) -> anyhow::Result<Self> {
        let (normal, express) = match (normal.is_empty(), express.is_empty()) {
            (true, true) => bail!("no operators configured"),
            (true, false) => (express, express),
            (false, true) => (normal, normal),
            (false, false) => (normal, express),
        };
        for (lane, list) in [("normal", normal), ("express", express)] {
            for (i, op) in list.iter().enumerate() {
                if list[..i].iter().any(|o| o.name == op.name) {
                    bail!("operator {:?} is listed twice in the {lane} lane", op.name);
                }
            }
        }
        for e in express {
            if let Some(n) = normal.iter().find(|n| n.name == e.name)
                && !same_operator(n, e)
            {
                bail!(
                    "operator {:?} is configured differently in OPERATORS and EXPRESS_OPERATORS",
                    e.name
                );
            }
        }
        let client = HttpOperator::shared_client()?;
        let lanes_of = |name: &str| {
            let mut lanes = Vec::new();
            if normal.iter().any(|o| o.name == name) {
                lanes.push(SmsType::Normal);
            }
            if express.iter().any(|o| o.name == name) {
                lanes.push(SmsType::Express);
            }
            lanes
        };
        let mut all: Vec<Arc<GuardedOperator>> = Vec::new();
        for config in normal.iter().chain(express) {
            if all.iter().any(|g| g.name() == config.name) {
                continue;
            }
            all.push(Arc::new(GuardedOperator::new(
                Arc::new(HttpOperator::new(config, client.clone())),
                &BreakerSettings::from(config),
                &config.api_key,
                lanes_of(&config.name),
            )));
        }
        Ok(Self::assemble(all, &names_of(normal), &names_of(express)))
    }

    /// For tests: the normal lane is `normal` in that order, each operator with its breaker
    /// settings and delivery-report key; the express lane is `express_names` in that order
    /// (each must be in `normal`), or the normal order when `express_names` is empty.
    ///
    /// # Panics
    /// On an express name missing from `normal` or a name listed twice.
    pub fn from_operators(
        normal: Vec<(Arc<dyn SmsOperator>, BreakerSettings, SecretString)>,
        express_names: &[&str],
    ) -> Self {
        let names: Vec<String> = normal
            .iter()
            .map(|(o, _, _)| o.name().to_string())
            .collect();
        let express_names: Vec<String> = if express_names.is_empty() {
            names.clone()
        } else {
            express_names.iter().map(|s| s.to_string()).collect()
        };
        for (i, n) in names.iter().enumerate() {
            assert!(!names[..i].contains(n), "operator {n:?} is listed twice");
        }
        for e in &express_names {
            assert!(
                names.contains(e),
                "express operator {e:?} is not in the normal list"
            );
        }
        let all = normal
            .into_iter()
            .map(|(op, settings, key)| {
                let mut lanes = vec![SmsType::Normal];
                if express_names.iter().any(|e| e == op.name()) {
                    lanes.push(SmsType::Express);
                }
                Arc::new(GuardedOperator::new(op, &settings, &key, lanes))
            })
            .collect();
        Self::assemble(all, &names, &express_names)
    }

    /// The registry of `all`, with each lane's operators picked by name in order.
    fn assemble(
        all: Vec<Arc<GuardedOperator>>,
        normal: &[impl AsRef<str>],
        express: &[impl AsRef<str>],
    ) -> Self {
        fn pick(
            all: &[Arc<GuardedOperator>],
            names: &[impl AsRef<str>],
        ) -> Vec<Arc<GuardedOperator>> {
            names
                .iter()
                .filter_map(|n| all.iter().find(|g| g.name() == n.as_ref()).cloned())
                .collect()
        }
        let (normal, express) = (pick(&all, normal), pick(&all, express));
        Self {
            all,
            normal,
            express,
        }
    }

    /// The operator called `name`, in whichever lane.
    pub fn get(&self, name: &str) -> Option<&Arc<GuardedOperator>> {
        self.all.iter().find(|g| g.name() == name)
    }

    /// A lane's operators in its configured order.
    pub fn lane(&self, sms_type: SmsType) -> &[Arc<GuardedOperator>] {
        match sms_type {
            SmsType::Normal => &self.normal,
            SmsType::Express => &self.express,
        }
    }

    /// Operators to try, in order: `preference` empty -> the lane's configured order; one
    /// name -> only it; several -> those in the given order. Names not in the lane are skipped
    /// (intake already validated them), as are repeats.
    pub fn route(&self, sms_type: SmsType, preference: &[String]) -> Vec<Arc<GuardedOperator>> {
        let lane = self.lane(sms_type);
        if preference.is_empty() {
            return lane.to_vec();
        }
        let mut routed: Vec<Arc<GuardedOperator>> = Vec::with_capacity(preference.len());
        for name in preference {
            if routed.iter().any(|g| g.name() == name) {
                continue;
            }
            if let Some(g) = lane.iter().find(|g| g.name() == name) {
                routed.push(g.clone());
            }
        }
        routed
    }

    /// Tries the routed operators in order: `Sent` on the first success; a permanent error
    /// stops (`Rejected`, no failover); retryable, rate-limited and circuit-open move on to the
    /// next. `AllFailed` when none accepted it (with no attempts if nothing was routed).
    pub async fn send(
        &self,
        sms_type: SmsType,
        preference: &[String],
        sms: &OutboundSms,
    ) -> SendOutcome {
        let mut attempts = Vec::new();
        for op in self.route(sms_type, preference) {
            match op.send(sms).await {
                Ok(message_id) => {
                    tracing::debug!(operator = op.name(), reference = %sms.reference, %message_id, "operator accepted");
                    return SendOutcome::Sent {
                        operator: op.name().to_string(),
                        message_id,
                    };
                }
                Err(OperatorError::Permanent(reason)) => {
                    tracing::info!(operator = op.name(), reference = %sms.reference, %reason, "operator rejected the message");
                    return SendOutcome::Rejected {
                        operator: op.name().to_string(),
                        reason,
                    };
                }
                Err(e) => {
                    tracing::warn!(operator = op.name(), reference = %sms.reference, error = %e, "operator failed; trying the next");
                    attempts.push((op.name().to_string(), e.to_string()));
                }
            }
        }
        SendOutcome::AllFailed { attempts }
    }

    /// Every operator's name: normal lane order, then express-only ones.
    pub fn names(&self) -> Vec<String> {
        self.all.iter().map(|g| g.name().to_string()).collect()
    }

    /// Every operator's status: normal lane order, then express-only ones.
    pub fn statuses(&self) -> Vec<OperatorStatus> {
        self.all.iter().map(|g| g.status()).collect()
    }
}

fn names_of(list: &[OperatorConfig]) -> Vec<&str> {
    list.iter().map(|o| o.name.as_str()).collect()
}

/// Whether two configs of the same name describe the same operator.
fn same_operator(a: &OperatorConfig, b: &OperatorConfig) -> bool {
    a.url == b.url
        && a.api_key.expose_secret() == b.api_key.expose_secret()
        && a.timeout_ms == b.timeout_ms
        && a.breaker_failures == b.breaker_failures
        && a.breaker_open_ms == b.breaker_open_ms
        && a.breaker_max_open_ms == b.breaker_max_open_ms
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn sms() -> OutboundSms {
        OutboundSms {
            to: "+989121234567".into(),
            text: "hello".into(),
            reference: "7".into(),
        }
    }

    /// A wiremock operator answering `status` (200 with an id named after the operator).
    async fn server(name: &str, status: u16) -> MockServer {
        let s = MockServer::start().await;
        answer(&s, name, status, Duration::ZERO).await;
        s
    }

    async fn answer(s: &MockServer, name: &str, status: u16, delay: Duration) {
        s.reset().await;
        let mut t = ResponseTemplate::new(status).set_delay(delay);
        if status == 200 {
            t = t.set_body_json(json!({"message_id": format!("{name}-1")}));
        } else {
            t = t.set_body_string("nope");
        }
        Mock::given(method("POST"))
            .and(path("/send"))
            .respond_with(t)
            .mount(s)
            .await;
    }

    async fn received(s: &MockServer) -> usize {
        s.received_requests().await.unwrap().len()
    }

    fn config(name: &str, s: &MockServer) -> OperatorConfig {
        serde_json::from_value(json!({
            "name": name,
            "url": format!("{}/send", s.uri()),
            "api_key": format!("key-{name}"),
            "timeout_ms": 1_000,
        }))
        .unwrap()
    }

    fn http(name: &str, s: &MockServer) -> Arc<dyn SmsOperator> {
        Arc::new(HttpOperator::new(
            &config(name, s),
            HttpOperator::shared_client().unwrap(),
        ))
    }

    fn names(ops: &[Arc<GuardedOperator>]) -> Vec<&str> {
        ops.iter().map(|g| g.name()).collect()
    }

    fn prefs(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    async fn two(a: u16, b: u16) -> (OperatorRegistry, MockServer, MockServer) {
        let (sa, sb) = (server("opA", a).await, server("opB", b).await);
        let reg =
            OperatorRegistry::from_config(&[config("opA", &sa), config("opB", &sb)], &[]).unwrap();
        (reg, sa, sb)
    }

    #[tokio::test]
    async fn fails_over_to_the_next_operator() {
        let (reg, sa, sb) = two(503, 200).await;
        match reg.send(SmsType::Normal, &[], &sms()).await {
            SendOutcome::Sent {
                operator,
                message_id,
            } => assert_eq!((operator.as_str(), message_id.as_str()), ("opB", "opB-1")),
            other => panic!("{other:?}"),
        }
        assert_eq!((received(&sa).await, received(&sb).await), (1, 1));
        let a = reg.get("opA").unwrap().status();
        assert_eq!((a.calls, a.transient_failures, a.sent), (1, 1, 0));
        assert_eq!(reg.get("opB").unwrap().status().sent, 1);
    }

    #[tokio::test]
    async fn a_permanent_rejection_stops_failover() {
        let (reg, _sa, sb) = two(400, 200).await;
        match reg.send(SmsType::Normal, &[], &sms()).await {
            SendOutcome::Rejected { operator, reason } => {
                assert_eq!(operator, "opA");
                assert!(reason.contains("400"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(received(&sb).await, 0);
        assert_eq!(reg.get("opA").unwrap().status().permanent_failures, 1);
    }

    #[tokio::test]
    async fn all_failing_lists_every_attempt() {
        let (reg, _sa, _sb) = two(503, 503).await;
        match reg.send(SmsType::Normal, &[], &sms()).await {
            SendOutcome::AllFailed { attempts } => {
                let ops: Vec<_> = attempts.iter().map(|(o, _)| o.as_str()).collect();
                assert_eq!(ops, ["opA", "opB"]);
                assert!(attempts[0].1.starts_with("transient: 503"), "{attempts:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn preferences_choose_and_order_operators() {
        let (reg, sa, sb) = two(200, 200).await;
        match reg.send(SmsType::Normal, &prefs(&["opB"]), &sms()).await {
            SendOutcome::Sent { operator, .. } => assert_eq!(operator, "opB"),
            other => panic!("{other:?}"),
        }
        assert_eq!((received(&sa).await, received(&sb).await), (0, 1));
        assert_eq!(
            names(&reg.route(SmsType::Normal, &prefs(&["opB"]))),
            ["opB"]
        );
        assert_eq!(
            names(&reg.route(SmsType::Normal, &prefs(&["opB", "opA"]))),
            ["opB", "opA"]
        );
        assert_eq!(
            names(&reg.route(SmsType::Normal, &prefs(&["ghost", "opB", "opB"]))),
            ["opB"]
        );
        assert_eq!(names(&reg.route(SmsType::Normal, &[])), ["opA", "opB"]);

        // with ["opB", "opA"] and B failing, A is the fallback
        answer(&sb, "opB", 503, Duration::ZERO).await;
        match reg
            .send(SmsType::Normal, &prefs(&["opB", "opA"]), &sms())
            .await
        {
            SendOutcome::Sent { operator, .. } => assert_eq!(operator, "opA"),
            other => panic!("{other:?}"),
        }
        assert_eq!((received(&sa).await, received(&sb).await), (1, 1));
    }

    #[tokio::test]
    async fn express_lane_has_its_own_order_and_shares_breakers() {
        let (sa, sb, sc) = (
            server("opA", 200).await,
            server("opB", 200).await,
            server("opC", 200).await,
        );
        let reg = OperatorRegistry::from_config(
            &[config("opA", &sa), config("opB", &sb)],
            &[config("opC", &sc), config("opB", &sb), config("opA", &sa)],
        )
        .unwrap();
        assert_eq!(names(reg.lane(SmsType::Normal)), ["opA", "opB"]);
        assert_eq!(
            names(&reg.route(SmsType::Express, &[])),
            ["opC", "opB", "opA"]
        );
        assert!(Arc::ptr_eq(
            &reg.lane(SmsType::Normal)[1],
            &reg.lane(SmsType::Express)[1]
        ));
        // opC is express-only: a normal preference for it routes nowhere
        assert!(reg.route(SmsType::Normal, &prefs(&["opC"])).is_empty());
        match reg.send(SmsType::Express, &[], &sms()).await {
            SendOutcome::Sent { operator, .. } => assert_eq!(operator, "opC"),
            other => panic!("{other:?}"),
        }
        let statuses = reg.statuses();
        let summary: Vec<_> = statuses
            .iter()
            .map(|s| (s.name.as_str(), s.lanes.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                ("opA", vec![SmsType::Normal, SmsType::Express]),
                ("opB", vec![SmsType::Normal, SmsType::Express]),
                ("opC", vec![SmsType::Express]),
            ]
        );
        assert!(statuses.iter().all(|s| s.circuit == "closed"));
    }

    #[tokio::test]
    async fn config_lists_are_checked() {
        let sa = server("opA", 200).await;
        assert!(OperatorRegistry::from_config(&[], &[]).is_err());
        let reg = OperatorRegistry::from_config(&[], &[config("opA", &sa)]).unwrap();
        assert_eq!(names(reg.lane(SmsType::Normal)), ["opA"]);
        let mut other = config("opA", &sa);
        other.timeout_ms = 5;
        assert!(OperatorRegistry::from_config(&[config("opA", &sa)], &[other]).is_err());
        assert!(
            OperatorRegistry::from_config(&[config("opA", &sa), config("opA", &sa)], &[]).is_err()
        );
    }

    #[tokio::test]
    async fn from_operators_builds_lanes_and_checks_keys() {
        let (sa, sb) = (server("opA", 200).await, server("opB", 200).await);
        let reg = OperatorRegistry::from_operators(
            vec![
                (http("opA", &sa), BreakerSettings::default(), "dlr-a".into()),
                (http("opB", &sb), BreakerSettings::default(), "dlr-b".into()),
            ],
            &["opB"],
        );
        assert_eq!(names(reg.lane(SmsType::Normal)), ["opA", "opB"]);
        assert_eq!(names(reg.lane(SmsType::Express)), ["opB"]);
        let a = reg.get("opA").unwrap();
        assert!(a.verify_key("dlr-a"));
        assert!(!a.verify_key("dlr-b"));
        assert!(!a.verify_key(""));
        assert!(reg.get("nope").is_none());
    }

    fn breaker_registry(s: &MockServer, failures: u32) -> OperatorRegistry {
        OperatorRegistry::from_operators(
            vec![(
                http("opA", s),
                BreakerSettings {
                    failures,
                    open: Duration::from_millis(200),
                    max_open: Duration::from_secs(2),
                },
                "k".into(),
            )],
            &[],
        )
    }

    #[tokio::test]
    async fn breaker_opens_probes_closes_and_reopens() {
        let s = server("opA", 503).await;
        let reg = breaker_registry(&s, 2);
        let op = reg.get("opA").unwrap().clone();

        // two transient failures open it
        for _ in 0..2 {
            assert!(matches!(
                op.send(&sms()).await,
                Err(OperatorError::Retryable(_))
            ));
        }
        assert_eq!(op.status().circuit, "open");
        assert_eq!(received(&s).await, 2);

        // while open: refused without an HTTP call
        assert!(matches!(
            op.send(&sms()).await,
            Err(OperatorError::CircuitOpen)
        ));
        match reg.send(SmsType::Normal, &[], &sms()).await {
            SendOutcome::AllFailed { attempts } => {
                assert_eq!(attempts, [("opA".to_string(), "circuit open".to_string())])
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(received(&s).await, 2);
        let st = op.status();
        assert_eq!(
            (st.calls, st.transient_failures, st.rejected_by_circuit),
            (4, 2, 2)
        );

        // after the interval a probe goes through (half open); its success closes it
        tokio::time::sleep(Duration::from_millis(250)).await;
        answer(&s, "opA", 200, Duration::from_millis(300)).await;
        let probe = tokio::spawn({
            let op = op.clone();
            async move { op.send(&sms()).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(op.status().circuit, "half_open");
        assert_eq!(probe.await.unwrap().unwrap(), "opA-1");
        assert_eq!(op.status().circuit, "closed");
        assert_eq!(received(&s).await, 1);

        // open it again; a failing probe re-opens it, for twice as long (400 ms)
        answer(&s, "opA", 503, Duration::ZERO).await;
        for _ in 0..2 {
            assert!(op.send(&sms()).await.is_err());
        }
        assert_eq!(op.status().circuit, "open");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(matches!(
            op.send(&sms()).await,
            Err(OperatorError::Retryable(_))
        ));
        assert_eq!(op.status().circuit, "open");
        assert_eq!(received(&s).await, 3);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(matches!(
            op.send(&sms()).await,
            Err(OperatorError::CircuitOpen)
        ));
        assert_eq!(received(&s).await, 3);
        tokio::time::sleep(Duration::from_millis(300)).await;
        answer(&s, "opA", 200, Duration::ZERO).await;
        assert!(op.send(&sms()).await.is_ok());
        assert_eq!(op.status().circuit, "closed");
    }

    #[tokio::test]
    async fn permanent_rejections_do_not_open_the_breaker() {
        let s = server("opA", 400).await;
        let reg = breaker_registry(&s, 2);
        for _ in 0..5 {
            assert!(matches!(
                reg.send(SmsType::Normal, &[], &sms()).await,
                SendOutcome::Rejected { .. }
            ));
        }
        let st = reg.get("opA").unwrap().status();
        assert_eq!(st.circuit, "closed");
        assert_eq!(
            (st.calls, st.permanent_failures, st.rejected_by_circuit),
            (5, 5, 0)
        );
        assert_eq!(received(&s).await, 5);
    }
}
