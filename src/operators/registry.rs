//! [`OperatorRegistry`]: the configured operators, each once, and each lane's order;
//! [`OperatorRegistry::send`] routes a message by preference and fails over, asking an
//! operator whose answer is in doubt again before any other; [`OperatorRegistry::lookup`]
//! asks the routed operators whether one already has a message.

use std::sync::Arc;

use anyhow::bail;
use secrecy::{ExposeSecret, SecretString};

use super::throttle::ThrottleSettings;
use super::{
    BreakerSettings, GuardedOperator, HttpOperator, OperatorError, OperatorStatus, OutboundSms,
    SmsOperator,
};
use crate::config::OperatorConfig;
use crate::domain::SmsType;

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
                &ThrottleSettings::from(config),
                &config.api_key,
                lanes_of(&config.name),
            )));
        }
        Ok(Self::assemble(all, &names_of(normal), &names_of(express)))
    }

    /// For tests: the normal lane is `normal` in that order, each operator with its breaker
    /// settings and delivery-report key (and no cap); the express lane is `express_names` in that order
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
                Arc::new(GuardedOperator::new(
                    op,
                    &settings,
                    &ThrottleSettings::default(),
                    &key,
                    lanes,
                ))
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
    /// stops (`Rejected`, no failover); retryable, rate-limited (429), throttled (its limits
    /// would make the send wait too long) and circuit-open move on to the next. `AllFailed` when none accepted it (with no attempts if nothing was routed).
    ///
    /// A failure in doubt ([`OperatorError::is_in_doubt`]: the operator may have the message)
    /// does not move on at once: the operator is first looked up by the message's reference
    /// when it has a `status_url` (found: `Sent` with its id, no other operator is called),
    /// and otherwise, or when it has no such message, sent the same message (same reference)
    /// once more; an operator honouring the reference answers that with its first id. Only
    /// when that fails too does the next operator get the message. When the operator's limits
    /// refuse that repeat ([`OperatorError::Throttled`]), nobody else gets it now: `AllFailed`,
    /// and the recipient's retry asks again.
    pub async fn send(
        &self,
        sms_type: SmsType,
        preference: &[String],
        sms: &OutboundSms,
    ) -> SendOutcome {
        let mut attempts = Vec::new();
        for op in self.route(sms_type, preference) {
            let mut result = op.send(sms).await;
            if let Err(e) = &result
                && e.is_in_doubt()
            {
                tracing::warn!(operator = op.name(), reference = %sms.reference, error = %e, "operator answer in doubt; asking it again");
                attempts.push((op.name().to_string(), e.to_string()));
                result = self.resolve_in_doubt(&op, sms).await;
                // Its limits refused the repeat: the operator may still have the message, so
                // no other operator gets it now; the retry looks it up or repeats it first.
                if let Err(e @ OperatorError::Throttled(_)) = &result {
                    tracing::warn!(operator = op.name(), reference = %sms.reference, error = %e, "repeat of a send in doubt throttled; retrying later rather than failing over");
                    attempts.push((op.name().to_string(), e.to_string()));
                    return SendOutcome::AllFailed { attempts };
                }
            }
            match result {
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

    /// After a send to `op` ended in doubt: its message id for the reference if its lookup
    /// finds one, else the answer to one more send of the same message.
    async fn resolve_in_doubt(
        &self,
        op: &GuardedOperator,
        sms: &OutboundSms,
    ) -> Result<String, OperatorError> {
        match op.lookup(&sms.reference).await {
            Ok(Some(message_id)) => {
                tracing::info!(operator = op.name(), reference = %sms.reference, %message_id, "operator has the message in doubt");
                return Ok(message_id);
            }
            Ok(None) | Err(OperatorError::NoStatusUrl) => {}
            Err(e) => {
                tracing::warn!(operator = op.name(), reference = %sms.reference, error = %e, "lookup of a message in doubt failed; sending it again");
            }
        }
        op.send(sms).await
    }

    /// Whether one of the operators `send` would route to already has a message under
    /// `reference`: asks, in routing order, those with a `status_url` (the others are
    /// skipped, as are those whose breaker is open); the first that has it wins, as
    /// `(operator, message_id)`. A lookup that fails is logged and counts as "not known":
    /// `None` means the caller should send.
    ///
    /// For a recipient taken again after an attempt whose outcome is unknown (a crash, a lost
    /// record, a timeout), so that it is recorded SENT instead of being sent twice.
    pub async fn lookup(
        &self,
        sms_type: SmsType,
        preference: &[String],
        reference: &str,
    ) -> Option<(String, String)> {
        for op in self.route(sms_type, preference) {
            match op.lookup(reference).await {
                Ok(Some(message_id)) => {
                    tracing::info!(operator = op.name(), %reference, %message_id, "operator already has the message");
                    return Some((op.name().to_string(), message_id));
                }
                Ok(None) | Err(OperatorError::NoStatusUrl | OperatorError::CircuitOpen) => {}
                Err(e) => {
                    tracing::warn!(operator = op.name(), %reference, error = %e, "operator lookup failed; counted as not known");
                }
            }
        }
        None
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
        && a.status_url == b.status_url
        && a.api_key.expose_secret() == b.api_key.expose_secret()
        && a.timeout_ms == b.timeout_ms
        && a.breaker_failures == b.breaker_failures
        && a.breaker_open_ms == b.breaker_open_ms
        && a.breaker_max_open_ms == b.breaker_max_open_ms
        && a.max_rps == b.max_rps
        && a.max_wait_ms() == b.max_wait_ms()
}
