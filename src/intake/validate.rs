//! Validation of a send request: every bad field is reported at once, before any database
//! work, so bad input can never leave anything behind.

use std::collections::{BTreeSet, HashMap};

use crate::config::IntakeConfig;
use crate::domain::{self, PhoneNumber, SegmentCount, SenderId, SmsType};

/// Field -> problem, as returned in a problem's `errors` member.
pub use crate::domain::FieldErrors;

/// At most this many operator names in a request's preference.
const MAX_OPERATOR_PREFERENCES: usize = 10;

/// What a caller asked for, before validation (the HTTP body minus authentication).
#[derive(Debug, Clone, Default)]
pub struct SendInput<'a> {
    pub text: &'a str,
    pub recipients: &'a [String],
    pub sms_type: Option<&'a str>,
    pub allow_partial: bool,
    pub validity_seconds: Option<i64>,
    pub operators: Option<&'a [String]>,
    /// The sender id asked for (`from`); absent: the customer's default.
    pub from: Option<&'a str>,
    /// The customer's reference of the request.
    pub reference: Option<&'a str>,
}

/// A validated request, ready to be accepted.
#[derive(Debug, Clone)]
pub struct SendCommand {
    pub customer_id: i64,
    pub text: String,
    pub count: SegmentCount,
    pub recipients: Vec<PhoneNumber>,
    pub sms_type: SmsType,
    pub allow_partial: bool,
    pub validity_seconds: Option<u32>,
    /// Operator preference; empty means the configured order.
    pub operators: Vec<String>,
    /// The sender id asked for, well-formed; whether it is the customer's is checked in the
    /// acceptance transaction. `None`: the customer's default sender, if it has one.
    pub from: Option<SenderId>,
    /// The customer's reference of the request (`reference`), checked.
    pub reference: Option<String>,
    /// W3C traceparent of the request, carried to the delivery path.
    pub traceparent: Option<String>,
    /// SHA-256 of the API key the caller presented, when it was taken from the key cache
    /// without a query: the acceptance transaction checks it against the customer's current
    /// key, so a rotated key stops working at once in every process.
    pub api_key_hash: Option<[u8; 32]>,
    /// The configured rate limits, for customers without limits of their own.
    pub default_limits: DefaultLimits,
}

/// The configured per-customer rate limits (0: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultLimits {
    pub requests_per_sec: u32,
    pub recipients_per_sec: u32,
    pub burst_us: i64,
}

impl DefaultLimits {
    pub fn of(config: &IntakeConfig) -> Self {
        Self {
            requests_per_sec: config.customer_requests_per_sec,
            recipients_per_sec: config.customer_recipients_per_sec,
            burst_us: i64::try_from(config.customer_rate_burst.as_micros()).unwrap_or(i64::MAX),
        }
    }
}

/// Validates `input` against the configured limits and operator names.
pub fn validate(
    customer_id: i64,
    input: &SendInput<'_>,
    config: &IntakeConfig,
    operator_names: impl Fn(SmsType) -> BTreeSet<String>,
) -> Result<SendCommand, FieldErrors> {
    let mut errors = FieldErrors::new();

    let sms_type = match input.sms_type {
        None => SmsType::Normal,
        Some(t) => t.parse().unwrap_or_else(|e: String| {
            errors.insert("type".into(), e);
            SmsType::Normal
        }),
    };

    let count = domain::segments::count(input.text);
    if input.text.trim().is_empty() {
        errors.insert("text".into(), "must not be empty".into());
    } else if input.text.contains('\0') {
        errors.insert("text".into(), "must not contain NUL characters".into());
    } else if count.segments > config.max_segments {
        errors.insert(
            "text".into(),
            format!(
                "is {} segments long ({}); at most {} are allowed",
                count.segments, count.encoding, config.max_segments
            ),
        );
    }

    let mut recipients = Vec::with_capacity(input.recipients.len());
    if input.recipients.is_empty() {
        errors.insert(
            "recipients".into(),
            "at least one recipient is required".into(),
        );
    } else if input.recipients.len() > config.max_recipients {
        errors.insert(
            "recipients".into(),
            format!(
                "{} recipients given; at most {} per request",
                input.recipients.len(),
                config.max_recipients
            ),
        );
    } else {
        let mut first_index: HashMap<PhoneNumber, usize> = HashMap::new();
        for (i, raw) in input.recipients.iter().enumerate() {
            match PhoneNumber::parse(raw, config.default_country.as_ref()) {
                Ok(number) => {
                    if let Some(first) = first_index.get(&number) {
                        errors.insert(
                            format!("recipients[{i}]"),
                            format!("duplicate of recipients[{first}] ({number})"),
                        );
                    } else {
                        first_index.insert(number.clone(), i);
                        recipients.push(number);
                    }
                }
                Err(e) => {
                    errors.insert(format!("recipients[{i}]"), e.to_string());
                }
            }
        }
    }

    let from = errors.parse("from", input.from, SenderId::parse);
    if let Some(reference) = input.reference
        && let Err(e) = domain::sender_id::check_reference(reference)
    {
        errors.add("reference", e);
    }

    let validity_seconds = match input.validity_seconds {
        None => None,
        Some(v) => {
            let max = config.max_validity.as_secs();
            match u32::try_from(v) {
                Ok(v) if v >= 1 && u64::from(v) <= max => Some(v),
                _ => {
                    errors.insert(
                        "validity_seconds".into(),
                        format!("must be between 1 and {max}"),
                    );
                    None
                }
            }
        }
    };

    let mut operators = Vec::new();
    if let Some(names) = input.operators {
        let known = operator_names(sms_type);
        if names.len() > MAX_OPERATOR_PREFERENCES {
            errors.insert(
                "operators".into(),
                format!("at most {MAX_OPERATOR_PREFERENCES} operators"),
            );
        } else {
            for (i, name) in names.iter().enumerate() {
                if !known.contains(name) {
                    errors.insert(
                        format!("operators[{i}]"),
                        format!(
                            "unknown operator {name:?} for {sms_type} messages; known: {}",
                            known.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    );
                } else if operators.contains(name) {
                    errors.insert(format!("operators[{i}]"), format!("{name:?} listed twice"));
                } else {
                    operators.push(name.clone());
                }
            }
        }
    }

    if errors.is_empty()
        && domain::cost(
            recipients.len() as u64,
            count.segments,
            config.price(sms_type),
        )
        .is_none()
    {
        errors.insert(
            "recipients".into(),
            "the cost of this request overflows".into(),
        );
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(SendCommand {
        customer_id,
        text: input.text.to_string(),
        count,
        recipients,
        sms_type,
        allow_partial: input.allow_partial,
        validity_seconds,
        operators,
        from,
        reference: input.reference.map(str::to_string),
        traceparent: None,
        api_key_hash: None,
        default_limits: DefaultLimits::of(config),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config() -> IntakeConfig {
        IntakeConfig {
            price_normal: 1,
            price_express: 2,
            max_segments: 10,
            max_recipients: 1_000,
            default_country: Some("98".parse().unwrap()),
            max_validity: Duration::from_secs(86_400),
            group_commit: true,
            executors: 1,
            timeout: Duration::from_secs(3),
            resolve_timeout: Duration::from_secs(5),
            customer_requests_per_sec: 0,
            customer_recipients_per_sec: 0,
            customer_rate_burst: Duration::from_secs(1),
            normal_backlog_limit: 0,
        }
    }

    fn names(_: SmsType) -> BTreeSet<String> {
        BTreeSet::from(["opA".to_string(), "opB".to_string()])
    }

    fn recipients(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_valid_request_is_normalized() {
        let r = recipients(&["09121234567", "+98 912 765 4321"]);
        let cmd = validate(
            1,
            &SendInput {
                text: "hi",
                recipients: &r,
                sms_type: Some("EXPRESS"),
                ..Default::default()
            },
            &config(),
            names,
        )
        .unwrap();
        assert_eq!(cmd.sms_type, SmsType::Express);
        assert_eq!(cmd.recipients[0].as_str(), "+989121234567");
        assert_eq!(cmd.recipients[1].as_str(), "+989127654321");
        assert_eq!(cmd.count.segments, 1);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let r = recipients(&["09121234567", "+989121234567", "12"]);
        let ops = recipients(&["opA", "nope", "opA"]);
        let errors = validate(
            1,
            &SendInput {
                text: "   ",
                recipients: &r,
                sms_type: Some("urgent"),
                validity_seconds: Some(0),
                operators: Some(&ops),
                ..Default::default()
            },
            &config(),
            names,
        )
        .unwrap_err();
        let keys: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "operators[1]",
                "operators[2]",
                "recipients[1]",
                "recipients[2]",
                "text",
                "type",
                "validity_seconds"
            ]
        );
        assert!(errors["recipients[1]"].contains("duplicate of recipients[0]"));
    }

    #[test]
    fn limits_are_enforced() {
        let many: Vec<String> = (0..1_001).map(|i| format!("+98912{i:07}")).collect();
        let errors = validate(
            1,
            &SendInput {
                text: "hi",
                recipients: &many,
                ..Default::default()
            },
            &config(),
            names,
        )
        .unwrap_err();
        assert!(errors["recipients"].contains("at most 1000"));

        let long = "a".repeat(153 * 10 + 1);
        let r = recipients(&["+989121234567"]);
        let errors = validate(
            1,
            &SendInput {
                text: &long,
                recipients: &r,
                ..Default::default()
            },
            &config(),
            names,
        )
        .unwrap_err();
        assert!(errors["text"].contains("11 segments"));

        let errors = validate(
            1,
            &SendInput {
                text: "hi",
                recipients: &[],
                ..Default::default()
            },
            &config(),
            names,
        )
        .unwrap_err();
        assert!(errors.contains_key("recipients"));
    }
}
