//! Personalized bulk: `messages: [{"to", "text", "reference"}]`, each recipient with its own
//! text, segments and price (docs/API.md "Personalized bulk"). Validated here with the same
//! rules as `text` and `recipients`; charged in [`super::accept`] as the sum of its messages.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::text::check_text;
use crate::config::IntakeConfig;
use crate::domain::{Encoding, FieldErrors, PhoneNumber, SegmentCount, sender_id};

/// One message of a personalized request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonalMessage {
    /// The recipient, in any form `recipients` accepts; no two messages to the same number.
    #[schema(example = "+989121234567")]
    pub to: String,
    /// Its text, with the limits of `text`.
    #[schema(example = "Hello Sara, your order 4821 has shipped", min_length = 1)]
    pub text: String,
    /// The caller's reference of this recipient (1-64 characters, no control characters);
    /// absent: the request's `reference`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "order-4821", min_length = 1, max_length = 64)]
    pub reference: Option<String>,
}

/// A validated message's own text, of the recipient at the same index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personal {
    pub text: String,
    pub count: SegmentCount,
    pub reference: Option<String>,
}

/// Validates `messages` into recipients and their texts (same order), noting every bad field
/// as `messages[i].to` / `.text` / `.reference`.
pub fn validate_messages(
    messages: &[PersonalMessage],
    config: &IntakeConfig,
    errors: &mut FieldErrors,
) -> (Vec<PhoneNumber>, Vec<Personal>) {
    let (mut recipients, mut personal) = (Vec::new(), Vec::new());
    if messages.is_empty() {
        errors.add("messages", "at least one message is required");
        return (recipients, personal);
    }
    if messages.len() > config.max_recipients {
        errors.add(
            "messages",
            format!(
                "{} messages given; at most {} per request",
                messages.len(),
                config.max_recipients
            ),
        );
        return (recipients, personal);
    }
    recipients.reserve(messages.len());
    personal.reserve(messages.len());
    let mut first_index: HashMap<PhoneNumber, usize> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        let count = check_text(&format!("messages[{i}].text"), &m.text, config, errors);
        if let Some(reference) = &m.reference
            && let Err(e) = sender_id::check_reference(reference)
        {
            errors.add(&format!("messages[{i}].reference"), e);
        }
        match PhoneNumber::parse(&m.to, config.default_country.as_ref()) {
            Ok(number) => {
                if let Some(first) = first_index.get(&number) {
                    errors.add(
                        &format!("messages[{i}].to"),
                        format!("duplicate of messages[{first}].to ({number})"),
                    );
                } else {
                    first_index.insert(number.clone(), i);
                    recipients.push(number);
                    personal.push(Personal {
                        text: m.text.clone(),
                        count,
                        reference: m.reference.clone(),
                    });
                }
            }
            Err(e) => errors.add(&format!("messages[{i}].to"), e.to_string()),
        }
    }
    (recipients, personal)
}

/// The segments of the first `take` recipients of a request whose text is `count` for every
/// recipient, or whose recipients have their own texts (`personal`, personalized bulk).
pub fn segments_of(count: SegmentCount, personal: &[Personal], take: usize) -> i64 {
    if personal.is_empty() {
        take as i64 * i64::from(count.segments)
    } else {
        i64::from(total(&personal[..take.min(personal.len())]).segments)
    }
}

/// The segments and encoding of these messages together: the sum of their segments, UCS-2
/// when any of them is.
pub fn total(personal: &[Personal]) -> SegmentCount {
    personal.iter().fold(
        SegmentCount {
            encoding: Encoding::Gsm7,
            segments: 0,
            units: 0,
        },
        |acc, p| SegmentCount {
            encoding: if p.count.encoding == Encoding::Ucs2 {
                Encoding::Ucs2
            } else {
                acc.encoding
            },
            segments: acc.segments.saturating_add(p.count.segments),
            units: acc.units.saturating_add(p.count.units),
        },
    )
}
