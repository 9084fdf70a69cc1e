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
mod tests;
