//! Validation of a send request: every bad field is reported at once, before any database
//! work, so bad input can never leave anything behind.

use std::collections::{BTreeSet, HashMap};

use super::personal::{self, Personal, PersonalMessage};
use super::text::check_text;
use crate::config::IntakeConfig;
use crate::domain::{self, PhoneNumber, SegmentCount, SenderId, SmsType};

/// Field -> problem, as returned in a problem's `errors` member.
pub use crate::domain::FieldErrors;

/// At most this many operator names in a request's preference.
const MAX_OPERATOR_PREFERENCES: usize = 10;

/// What a caller asked for, before validation (the HTTP body minus authentication).
#[derive(Debug, Clone, Default)]
pub struct SendInput<'a> {
    /// The one text of every recipient (absent with `messages`).
    pub text: Option<&'a str>,
    pub recipients: Option<&'a [String]>,
    /// Personalized bulk: a text per recipient, instead of `text` and `recipients`.
    pub messages: Option<&'a [PersonalMessage]>,
    pub sms_type: Option<&'a str>,
    pub allow_partial: bool,
    pub validity_seconds: Option<i64>,
    pub operators: Option<&'a [String]>,
    /// The sender id asked for (`from`); absent: the customer's default.
    pub from: Option<&'a str>,
    /// The customer's reference of the request.
    pub reference: Option<&'a str>,
    /// When to send it (RFC 3339); absent: at once.
    pub send_at: Option<&'a str>,
    /// Where its recipients' delivery-status callbacks go instead of the customer's webhook.
    pub callback_url: Option<&'a str>,
}

/// A validated request, ready to be accepted.
#[derive(Debug, Clone)]
pub struct SendCommand {
    pub customer_id: i64,
    /// The text of every recipient; empty in a personalized request.
    pub text: String,
    /// Of `text`; in a personalized request, of all its messages together
    /// ([`personal::total`]).
    pub count: SegmentCount,
    pub recipients: Vec<PhoneNumber>,
    /// Personalized bulk: each recipient's own text, at the recipient's index; empty when
    /// every recipient gets `text`.
    pub personal: Vec<Personal>,
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
    /// When it is due (`send_at` ahead of now); `None`: at once.
    pub send_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Its own callback URL (`callback_url`), well-formed.
    pub callback_url: Option<String>,
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

    let (count, recipients, personal) = match (input.messages, input.text, input.recipients) {
        (Some(messages), None, None) => {
            let (recipients, personal) = personal::validate_messages(messages, config, &mut errors);
            (personal::total(&personal), recipients, personal)
        }
        (Some(_), _, _) => {
            errors.add(
                "messages",
                "give either messages or text and recipients, not both",
            );
            (domain::segments::count(""), Vec::new(), Vec::new())
        }
        (None, text, raw) => {
            let count = match text {
                Some(text) => check_text("text", text, config, &mut errors),
                None => {
                    errors.add("text", "required (or messages)");
                    domain::segments::count("")
                }
            };
            let recipients = match raw {
                Some(raw) => check_recipients(raw, config, &mut errors),
                None => {
                    errors.add("recipients", "required (or messages)");
                    Vec::new()
                }
            };
            (count, recipients, Vec::new())
        }
    };

    let from = errors.parse("from", input.from, SenderId::parse);
    if let Some(reference) = input.reference
        && let Err(e) = domain::sender_id::check_reference(reference)
    {
        errors.add("reference", e);
    }
    if let Some(url) = input.callback_url
        && let Err(e) = domain::callback_url::parse(url)
    {
        errors.add("callback_url", e);
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

    let send_at =
        super::schedule::check_send_at(input.send_at, chrono::Utc::now(), config, &mut errors);

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

    let overflows = if personal.is_empty() {
        domain::cost(
            recipients.len() as u64,
            count.segments,
            config.price(sms_type),
        )
        .is_none()
    } else {
        domain::cost(1, count.segments, config.price(sms_type)).is_none()
    };
    if errors.is_empty() && overflows {
        let field = if personal.is_empty() {
            "recipients"
        } else {
            "messages"
        };
        errors.add(field, "the cost of this request overflows");
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(SendCommand {
        customer_id,
        text: input.text.unwrap_or_default().to_string(),
        count,
        recipients,
        personal,
        sms_type,
        allow_partial: input.allow_partial,
        validity_seconds,
        operators,
        from,
        reference: input.reference.map(str::to_string),
        send_at,
        callback_url: input.callback_url.map(str::to_string),
        traceparent: None,
        api_key_hash: None,
        default_limits: DefaultLimits::of(config),
    })
}

/// Parses `recipients`: 1 to `MAX_RECIPIENTS` numbers, no duplicates after normalization.
fn check_recipients(
    raw: &[String],
    config: &IntakeConfig,
    errors: &mut FieldErrors,
) -> Vec<PhoneNumber> {
    let mut recipients = Vec::with_capacity(raw.len());
    if raw.is_empty() {
        errors.add("recipients", "at least one recipient is required");
    } else if raw.len() > config.max_recipients {
        errors.add(
            "recipients",
            format!(
                "{} recipients given; at most {} per request",
                raw.len(),
                config.max_recipients
            ),
        );
    } else {
        let mut first_index: HashMap<PhoneNumber, usize> = HashMap::new();
        for (i, raw) in raw.iter().enumerate() {
            match PhoneNumber::parse(raw, config.default_country.as_ref()) {
                Ok(number) => {
                    if let Some(first) = first_index.get(&number) {
                        errors.add(
                            &format!("recipients[{i}]"),
                            format!("duplicate of recipients[{first}] ({number})"),
                        );
                    } else {
                        first_index.insert(number.clone(), i);
                        recipients.push(number);
                    }
                }
                Err(e) => errors.add(&format!("recipients[{i}]"), e.to_string()),
            }
        }
    }
    recipients
}

#[cfg(test)]
mod tests;
