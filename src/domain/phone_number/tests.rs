//! Unit and property tests of phone-number parsing, masking and the default country.

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

/// The accepted alphabet, biased towards zeros and nines.
const ALPHABET: &[u8] = b"0123456789 -.()0009";

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1_000))]

    /// Any input over the accepted alphabet (biased towards zeros and nines, with and without
    /// a leading '+', with and without a default country) parses without panicking, and what
    /// it accepts is E.164: a '+' and at most 15 digits, a fixed point of parsing.
    #[test]
    fn arbitrary_allowed_input_never_panics(
        plus in proptest::bool::ANY,
        body in proptest::collection::vec(proptest::sample::select(ALPHABET), 0..24),
        country in 0..3usize,
    ) {
        let countries = [None, Some(iran()), Some("US".parse().unwrap())];
        let body: String = body.into_iter().map(char::from).collect();
        let input = if plus { format!("+{body}") } else { body };
        if let Ok(n) = PhoneNumber::parse(&input, countries[country].as_ref()) {
            let digits = &n.as_str()[1..];
            proptest::prop_assert!(n.as_str().starts_with('+'), "{input:?} -> {n}");
            proptest::prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{input:?} -> {n}");
            proptest::prop_assert!(digits.len() <= 15, "{input:?} -> {n}");
            // The E.164 form is a fixed point.
            let again = PhoneNumber::parse(n.as_str(), None);
            proptest::prop_assert_eq!(again.as_ref(), Ok(&n));
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
