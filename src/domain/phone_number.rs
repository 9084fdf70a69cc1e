//! Recipient phone numbers: normalizes outside input to validated E.164 with
//! the `phonenumber` crate (a port of Google's libphonenumber), and owns the
//! default country used for local forms such as "09121234567".
//!
//! Accepted input, after trimming: at most [`MAX_INPUT_CHARS`] characters of
//! ASCII digits, spaces, `-`, `.`, `(`, `)` and one leading `+`. A leading
//! `00` is read as the international prefix, like `+`. Numbers with `+`/`00`
//! are parsed on their own; any other number is a local form and is parsed
//! for the [`DefaultCountry`]. The result must be a valid number for its
//! country according to libphonenumber's metadata, and at most 15 digits.

use std::fmt;
use std::str::FromStr;

use phonenumber::country::Id;
use phonenumber::metadata::DATABASE;

/// Longest input (in characters, after trimming) that is handed to the
/// parser. Longer input is rejected as [`PhoneNumberError::TooLong`].
pub const MAX_INPUT_CHARS: usize = 32;

/// Most digits an E.164 number may have, country code included.
const MAX_E164_DIGITS: usize = 15;

/// Leading digits [`PhoneNumber::masked`] keeps after the `+`.
const MASK_KEEP_HEAD: usize = 5;
/// Trailing digits [`PhoneNumber::masked`] keeps.
const MASK_KEEP_TAIL: usize = 2;
/// Fewest digits [`PhoneNumber::masked`] hides.
const MASK_MIN_HIDDEN: usize = 4;

/// Region code libphonenumber uses for non-geographic calling codes
/// (e.g. +800); it cannot serve as a default country.
const NON_GEOGRAPHIC_REGION: &str = "001";

/// A validated E.164 number, e.g. "+989121234567".
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

/// Why an input is not accepted as a phone number. The messages are short
/// and meant for API clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneNumberError {
    /// Nothing but whitespace was given.
    #[error("phone number is empty")]
    Empty,
    /// Over [`MAX_INPUT_CHARS`] characters, or more digits than a phone
    /// number can have.
    #[error("phone number is too long")]
    TooLong,
    /// A character other than digits, spaces, `-`, `.`, `(`, `)` and a
    /// leading `+`.
    #[error("phone number may contain only digits, spaces, '-', '.', '(', ')' and a leading '+'")]
    InvalidCharacters,
    /// A local form was given and no default country is configured.
    #[error(
        "local number given but no DEFAULT_COUNTRY_CODE is configured; use the international +<country code> form"
    )]
    NoCountryCode,
    /// The input could not be read as a phone number at all (e.g. too few
    /// digits).
    #[error("not a recognizable phone number")]
    Unparseable,
    /// It parsed, but is not a valid number for its country (or the calling
    /// code is unknown).
    #[error("not a valid phone number for its country")]
    Invalid,
}

impl PhoneNumber {
    /// Parses and validates `input`, returning its E.164 form.
    ///
    /// Input starting with `+` or `00` is international and parsed without a
    /// region; anything else is a local form parsed for `default_country`,
    /// and is [`PhoneNumberError::NoCountryCode`] when that is `None`.
    ///
    /// # Errors
    ///
    /// A [`PhoneNumberError`] saying why the input is not accepted; its
    /// message can be shown to the API client as is.
    pub fn parse(
        input: &str,
        default_country: Option<&DefaultCountry>,
    ) -> Result<Self, PhoneNumberError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(PhoneNumberError::Empty);
        }
        // Bounded: looks at no more than MAX_INPUT_CHARS + 1 characters.
        if input.chars().nth(MAX_INPUT_CHARS).is_some() {
            return Err(PhoneNumberError::TooLong);
        }

        let (international, rest) = if let Some(rest) = input.strip_prefix('+') {
            (true, rest)
        } else if let Some(rest) = input.strip_prefix("00") {
            (true, rest)
        } else {
            (false, input)
        };
        if !rest.chars().all(is_allowed_char) {
            return Err(PhoneNumberError::InvalidCharacters);
        }

        let parsed = if international {
            // The crate only knows a region's own IDD (e.g. "00" for IR,
            // "011" for US), so hand it the "+" form instead of "00".
            let mut plus = String::with_capacity(rest.len() + 1);
            plus.push('+');
            plus.push_str(rest);
            phonenumber::parse(None, &plus)
        } else {
            let country = default_country.ok_or(PhoneNumberError::NoCountryCode)?;
            phonenumber::parse(Some(country.region), input)
        }
        .map_err(map_parse_error)?;

        let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
        let digits = e164.bytes().filter(u8::is_ascii_digit).count();
        if digits > MAX_E164_DIGITS {
            return Err(PhoneNumberError::TooLong);
        }
        if !parsed.is_valid() {
            return Err(PhoneNumberError::Invalid);
        }
        debug_assert!(e164.starts_with('+') && digits == e164.len() - 1);
        Ok(Self(e164))
    }

    /// The E.164 form, e.g. "+989121234567".
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The E.164 form as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }

    /// For logs: keep the leading + and country code-ish prefix and last 2 digits, mask the rest, e.g. "+98912*****67".
    ///
    /// Keeps up to 5 leading digits and 2 trailing digits, and always hides
    /// at least 4 digits (fewer leading digits are kept for short numbers).
    pub fn masked(&self) -> String {
        let digits = self.0.strip_prefix('+').unwrap_or(&self.0);
        let n = digits.len();
        let tail = if n > MASK_KEEP_TAIL + MASK_MIN_HIDDEN {
            MASK_KEEP_TAIL
        } else {
            0
        };
        let head = MASK_KEEP_HEAD.min(n.saturating_sub(tail + MASK_MIN_HIDDEN));
        let mut out = String::with_capacity(n + 1);
        out.push('+');
        out.push_str(&digits[..head]);
        out.extend(std::iter::repeat_n('*', n - head - tail));
        out.push_str(&digits[n - tail..]);
        out
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Characters allowed after the optional leading `+` / `00`.
fn is_allowed_char(c: char) -> bool {
    matches!(c, '0'..='9' | ' ' | '-' | '.' | '(' | ')')
}

fn map_parse_error(err: phonenumber::ParseError) -> PhoneNumberError {
    use phonenumber::ParseError as E;
    match err {
        E::TooLong => PhoneNumberError::TooLong,
        E::InvalidCountryCode => PhoneNumberError::Invalid,
        E::NoNumber | E::TooShortAfterIdd | E::TooShortNsn | E::MalformedInteger(_) => {
            PhoneNumberError::Unparseable
        }
    }
}

/// The country used for local forms such as "09121234567"; from `DEFAULT_COUNTRY_CODE`.
///
/// Parsed from a calling code (`"98"`, `"+98"`, mapped to the code's main
/// region, e.g. `"1"` to US) or an ISO 3166 region (`"IR"`, `"ir"`). Only
/// regions present in libphonenumber's metadata are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultCountry {
    calling_code: u16,
    region: Id,
    /// The same region as a string borrowed from the static metadata.
    region_code: &'static str,
}

impl DefaultCountry {
    /// The country calling code, e.g. 98.
    pub fn calling_code(&self) -> u16 {
        self.calling_code
    }

    /// The ISO 3166-1 alpha-2 region, e.g. "IR".
    pub fn region(&self) -> &'static str {
        self.region_code
    }

    /// The region as the `phonenumber` crate's identifier.
    pub fn region_id(&self) -> Id {
        self.region
    }

    /// Builds the default country from a region present in the metadata.
    fn from_region(region: &str) -> Option<Self> {
        // DATABASE is a static, so its metadata (and region names) live for
        // the whole program.
        let meta = DATABASE.by_id(region)?;
        Some(Self {
            calling_code: meta.country_code(),
            region: meta.id().parse().ok()?,
            region_code: meta.id(),
        })
    }

    /// Maps a calling code to its main region (e.g. 1 -> US, 7 -> RU).
    fn from_calling_code(code: u16) -> Option<Self> {
        let regions = DATABASE.by_code(&code)?;
        let geographic = || regions.iter().filter(|m| m.id() != NON_GEOGRAPHIC_REGION);
        // A code with a single region (such as 98) does not flag it as main.
        let meta = geographic()
            .find(|m| m.is_main_country_for_code())
            .or_else(|| geographic().next())?;
        Self::from_region(meta.id())
    }
}

impl fmt::Display for DefaultCountry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{} ({})", self.calling_code, self.region_code)
    }
}

/// `DEFAULT_COUNTRY_CODE` is neither a known calling code nor a known region.
///
/// The message does not repeat the variable's name or value (the field holds
/// the rejected input), so callers can prefix both.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a country calling code such as \"98\" or \"+98\", or a region such as \"IR\"")]
pub struct InvalidDefaultCountry(pub String);

impl FromStr for DefaultCountry {
    type Err = InvalidDefaultCountry;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let found = if (1..=3).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        {
            digits.parse().ok().and_then(Self::from_calling_code)
        } else if trimmed.len() == 2 && trimmed.bytes().all(|b| b.is_ascii_alphabetic()) {
            Self::from_region(&trimmed.to_ascii_uppercase())
        } else {
            None
        };
        found.ok_or_else(|| InvalidDefaultCountry(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iran() -> DefaultCountry {
        "98".parse().unwrap()
    }

    fn parse_ir(input: &str) -> Result<String, PhoneNumberError> {
        PhoneNumber::parse(input, Some(&iran())).map(PhoneNumber::into_string)
    }

    #[test]
    fn iranian_local_form_uses_default_country() {
        assert_eq!(parse_ir("09121234567").unwrap(), "+989121234567");
        // Without the trunk prefix, and with the code but no '+'.
        assert_eq!(parse_ir("9121234567").unwrap(), "+989121234567");
        assert_eq!(parse_ir("989121234567").unwrap(), "+989121234567");
        // Punctuation and surrounding whitespace are fine.
        assert_eq!(parse_ir(" (0912) 123-4567 ").unwrap(), "+989121234567");
        assert_eq!(parse_ir("0912.123.4567").unwrap(), "+989121234567");
        // Tehran landline.
        assert_eq!(parse_ir("02112345678").unwrap(), "+982112345678");
    }

    #[test]
    fn international_forms() {
        for input in [
            "+98 912 123 4567",
            "+989121234567",
            "00989121234567",
            "0098 912 123 4567",
        ] {
            assert_eq!(parse_ir(input).unwrap(), "+989121234567", "{input}");
            // No default country needed.
            let n = PhoneNumber::parse(input, None).unwrap();
            assert_eq!(n.as_str(), "+989121234567", "{input}");
        }
    }

    #[test]
    fn foreign_numbers_ignore_the_default_country() {
        assert_eq!(parse_ir("+14155552671").unwrap(), "+14155552671");
        assert_eq!(parse_ir("+1 (415) 555-2671").unwrap(), "+14155552671");
        assert_eq!(parse_ir("+447911123456").unwrap(), "+447911123456");
        assert_eq!(parse_ir("+4915123456789").unwrap(), "+4915123456789");
        // Italian landlines keep their leading 0 in E.164.
        assert_eq!(parse_ir("+39 06 1234 5678").unwrap(), "+390612345678");
    }

    #[test]
    fn local_form_for_another_default_country() {
        let us: DefaultCountry = "+1".parse().unwrap();
        let n = PhoneNumber::parse("(415) 555-2671", Some(&us)).unwrap();
        assert_eq!(n.as_str(), "+14155552671");
    }

    #[test]
    fn invalid_numbers_are_rejected() {
        assert_eq!(parse_ir("0912"), Err(PhoneNumberError::Invalid));
        // 12 digits, one too many for an Iranian mobile (old client data).
        assert_eq!(parse_ir("091285284834"), Err(PhoneNumberError::Invalid));
        // Not an assigned US range.
        assert_eq!(parse_ir("+15555555555"), Err(PhoneNumberError::Invalid));
        // Unknown calling code.
        assert_eq!(parse_ir("+999 1234 5678"), Err(PhoneNumberError::Invalid));
        // The trunk prefix followed by the country code is not a local form.
        assert_eq!(parse_ir("0989121234567"), Err(PhoneNumberError::Invalid));
    }

    #[test]
    fn unparseable_input() {
        assert_eq!(parse_ir("+"), Err(PhoneNumberError::Unparseable));
        assert_eq!(parse_ir("00"), Err(PhoneNumberError::Unparseable));
        assert_eq!(parse_ir("1"), Err(PhoneNumberError::Unparseable));
        assert_eq!(parse_ir("---"), Err(PhoneNumberError::Unparseable));
        // The crate fails on an all-zero national number...
        assert_eq!(
            parse_ir("0 000 000 000"),
            Err(PhoneNumberError::Unparseable)
        );
        // ...while leading "00" makes it international, with calling code 0.
        assert_eq!(parse_ir("0000000000000"), Err(PhoneNumberError::Invalid));
    }

    #[test]
    fn bad_characters_are_rejected() {
        for input in [
            "hello",
            "0912abc4567",
            "+98+9121234567",
            "98+9121234567",
            "0912_123",
            "+98 912 123 4567 ext 1",
            "tel:+989121234567",
            "۰۹۱۲۱۲۳۴۵۶۷",
            "0912\u{a0}1234567",
        ] {
            assert_eq!(
                parse_ir(input),
                Err(PhoneNumberError::InvalidCharacters),
                "{input}"
            );
        }
    }

    #[test]
    fn empty_and_too_long() {
        assert_eq!(parse_ir(""), Err(PhoneNumberError::Empty));
        assert_eq!(parse_ir("  \t\n"), Err(PhoneNumberError::Empty));
        // 16 digits: more than E.164 allows.
        assert_eq!(
            parse_ir("+1234567890123456"),
            Err(PhoneNumberError::TooLong)
        );
        // 15 digits is allowed by E.164 but not a valid US number.
        assert_eq!(parse_ir("+123456789012345"), Err(PhoneNumberError::Invalid));
        // Over the crate's own national-number limit.
        assert_eq!(
            parse_ir("99999999999999999999"),
            Err(PhoneNumberError::TooLong)
        );
        // 32 characters is still parsed, 33 is not even looked at.
        let at_limit = format!("+98 912 123 4567{}", " ".repeat(15)) + "-";
        assert_eq!(at_limit.chars().count(), MAX_INPUT_CHARS);
        assert_eq!(parse_ir(&at_limit).unwrap(), "+989121234567");
        let over = format!("{at_limit}-");
        assert_eq!(parse_ir(&over), Err(PhoneNumberError::TooLong));
        assert_eq!(parse_ir(&"ж".repeat(33)), Err(PhoneNumberError::TooLong));
        assert_eq!(
            parse_ir(&"9".repeat(10_000)),
            Err(PhoneNumberError::TooLong)
        );
    }

    #[test]
    fn local_form_without_default_country() {
        assert_eq!(
            PhoneNumber::parse("09121234567", None),
            Err(PhoneNumberError::NoCountryCode)
        );
        // Character errors are still reported first.
        assert_eq!(
            PhoneNumber::parse("hello", None),
            Err(PhoneNumberError::InvalidCharacters)
        );
    }

    #[test]
    fn default_country_from_calling_code_or_region() {
        for input in ["98", "+98", "IR", "ir", " Ir "] {
            let c: DefaultCountry = input.parse().unwrap();
            assert_eq!(c.calling_code(), 98, "{input}");
            assert_eq!(c.region(), "IR", "{input}");
            assert_eq!(c.region_id(), Id::IR, "{input}");
            assert_eq!(c, iran());
        }
        // Shared calling codes map to their main region.
        let nanp: DefaultCountry = "1".parse().unwrap();
        assert_eq!((nanp.calling_code(), nanp.region()), (1, "US"));
        let seven: DefaultCountry = "+7".parse().unwrap();
        assert_eq!(seven.region(), "RU");
        let gb: DefaultCountry = "44".parse().unwrap();
        assert_eq!(gb.region(), "GB");
        // A region sharing a code keeps its own identity.
        let ca: DefaultCountry = "ca".parse().unwrap();
        assert_eq!((ca.calling_code(), ca.region()), (1, "CA"));
        assert_eq!(iran().to_string(), "+98 (IR)");
    }

    #[test]
    fn invalid_default_country_is_rejected() {
        for input in [
            "999", "XX", "", "+", "0", "800", "0098", "IRN", "Iran", "9 8", "+IR",
        ] {
            let err = input.parse::<DefaultCountry>().unwrap_err();
            assert_eq!(err, InvalidDefaultCountry(input.to_owned()));
            assert!(
                err.to_string()
                    .starts_with("expected a country calling code")
            );
        }
    }

    #[test]
    fn arbitrary_allowed_input_never_panics() {
        // Deterministic xorshift over the accepted alphabet (biased towards
        // zeros and nines), with and without a default country.
        const ALPHABET: &[u8] = b"0123456789 -.()0009";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let countries = [None, Some(iran()), Some("US".parse().unwrap())];
        for _ in 0..1_000 {
            let mut input = String::new();
            if next() % 2 == 0 {
                input.push('+');
            }
            for _ in 0..next() % 24 {
                input.push(char::from(
                    ALPHABET[(next() % ALPHABET.len() as u64) as usize],
                ));
            }
            let country = countries[(next() % 3) as usize];
            if let Ok(n) = PhoneNumber::parse(&input, country.as_ref()) {
                let digits = &n.as_str()[1..];
                assert!(n.as_str().starts_with('+'), "{input:?} -> {n}");
                assert!(
                    digits.bytes().all(|b| b.is_ascii_digit()),
                    "{input:?} -> {n}"
                );
                assert!(digits.len() <= 15, "{input:?} -> {n}");
                // The E.164 form is a fixed point.
                assert_eq!(PhoneNumber::parse(n.as_str(), None).as_ref(), Ok(&n));
            }
        }
    }

    #[test]
    fn masked_hides_the_middle_digits() {
        let n = PhoneNumber::parse("09121234567", Some(&iran())).unwrap();
        assert_eq!(n.masked(), "+98912*****67");
        let us = PhoneNumber::parse("+14155552671", None).unwrap();
        assert_eq!(us.masked(), "+14155****71");
        // Short numbers keep fewer leading digits, never fewer than 4 hidden.
        assert_eq!(PhoneNumber("+6831234".into()).masked(), "+6****34");
        assert_eq!(PhoneNumber("+12345".into()).masked(), "+1****");
        assert_eq!(PhoneNumber("+1".into()).masked(), "+*");
        assert_eq!(PhoneNumber("+".into()).masked(), "+");
    }

    #[test]
    fn display_serialize_and_accessors() {
        let n = PhoneNumber::parse("+98 912 123 4567", None).unwrap();
        assert_eq!(n.to_string(), "+989121234567");
        assert_eq!(n.as_str(), "+989121234567");
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"+989121234567\"");
        assert_eq!(n.clone().into_string(), "+989121234567");
    }

    #[test]
    fn error_messages_are_short_user_facing_text() {
        assert_eq!(
            PhoneNumberError::Invalid.to_string(),
            "not a valid phone number for its country"
        );
        assert!(
            PhoneNumberError::NoCountryCode
                .to_string()
                .starts_with("local number given but no DEFAULT_COUNTRY_CODE is configured")
        );
        for e in [
            PhoneNumberError::Empty,
            PhoneNumberError::TooLong,
            PhoneNumberError::InvalidCharacters,
            PhoneNumberError::NoCountryCode,
            PhoneNumberError::Unparseable,
            PhoneNumberError::Invalid,
        ] {
            let msg = e.to_string();
            assert!(!msg.is_empty() && msg.len() < 120, "{msg}");
        }
    }
}
