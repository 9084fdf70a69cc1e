//! [`SenderId`]: what a message is sent from, as the recipient's phone shows it: a number
//! (short codes included) or an alphanumeric name; and [`ClientReference`], the customer's
//! own reference of a request or recipient (docs/API.md "Sender ids", "Customer references").

use std::fmt;

/// Longest number sender: E.164's 15 digits.
pub const MAX_NUMBER_DIGITS: usize = 15;
/// Shortest number sender (short codes of 3 digits).
pub const MIN_NUMBER_DIGITS: usize = 3;
/// Longest alphanumeric sender: 11 GSM-7 characters fit the TP-OA field.
pub const MAX_ALPHANUMERIC: usize = 11;
/// Longest customer reference, in characters.
pub const MAX_REFERENCE_CHARS: usize = 64;

/// A well-formed sender id: digits with an optional leading `+` (3-15 digits), or 1-11
/// characters of ASCII letters, digits, space, `.`, `-`, `_` and `&` (all in GSM-7's basic
/// set) with at least one letter and no space at either end. Compared exactly (case
/// included), as operators pass it on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SenderId(String);

impl SenderId {
    /// Parses a sender id, or says why it is not one.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let digits = raw.strip_prefix('+').unwrap_or(raw);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return if (MIN_NUMBER_DIGITS..=MAX_NUMBER_DIGITS).contains(&digits.len()) {
                Ok(Self(raw.to_string()))
            } else {
                Err(format!(
                    "a number sender has {MIN_NUMBER_DIGITS} to {MAX_NUMBER_DIGITS} digits"
                ))
            };
        }
        if raw.starts_with('+') {
            return Err("after a leading + only digits may follow".into());
        }
        let allowed =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '-' | '_' | '&');
        if raw.is_empty() || raw.chars().count() > MAX_ALPHANUMERIC {
            Err(format!(
                "an alphanumeric sender has 1 to {MAX_ALPHANUMERIC} characters"
            ))
        } else if !raw.chars().all(allowed) {
            Err("an alphanumeric sender has only ASCII letters, digits, space, '.', '-', '_' and '&'".into())
        } else if !raw.chars().any(|c| c.is_ascii_alphabetic()) {
            Err("an alphanumeric sender has at least one letter".into())
        } else if raw.starts_with(' ') || raw.ends_with(' ') {
            Err("a sender does not start or end with a space".into())
        } else {
            Ok(Self(raw.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SenderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a customer reference: 1-64 characters, none of them a control character.
pub fn check_reference(raw: &str) -> Result<(), String> {
    let chars = raw.chars().count();
    if chars == 0 || chars > MAX_REFERENCE_CHARS {
        Err(format!("must be 1 to {MAX_REFERENCE_CHARS} characters"))
    } else if raw.chars().any(char::is_control) {
        Err("must not contain control characters".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_are_senders() {
        for ok in [
            "+989121234567",
            "3000",
            "300",
            "ACME",
            "Acme Shop",
            "A1",
            "X.Y-Z_&1",
            "abcdefghijk",
        ] {
            assert_eq!(SenderId::parse(ok).unwrap().as_str(), ok, "{ok}");
        }
    }

    #[test]
    fn malformed_senders_are_refused() {
        for bad in [
            "",
            "+",
            "12",
            "+1234567890123456",
            "+98A",
            "abcdefghijkl",
            "123 456",
            "Acme!",
            " Acme",
            "Acme ",
            "Şirket",
            "a,b",
            "a*b",
        ] {
            assert!(SenderId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn references_are_bounded_and_printable() {
        assert!(check_reference("order-4821/ü").is_ok());
        assert!(check_reference(&"x".repeat(64)).is_ok());
        assert!(check_reference(&"x".repeat(65)).is_err());
        assert!(check_reference("").is_err());
        assert!(check_reference("a\nb").is_err());
    }
}
