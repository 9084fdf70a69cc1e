//! Unit tests of [`super::validate`].

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
        max_schedule_ahead: Duration::from_secs(86_400),
        send_at_skew: Duration::from_secs(60),
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
            text: Some("hi"),
            recipients: Some(&r),
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
            text: Some("   "),
            recipients: Some(&r),
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
            text: Some("hi"),
            recipients: Some(&many),
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
            text: Some(&long),
            recipients: Some(&r),
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
            text: Some("hi"),
            recipients: Some(&[]),
            ..Default::default()
        },
        &config(),
        names,
    )
    .unwrap_err();
    assert!(errors.contains_key("recipients"));
}

#[test]
fn personalized_messages_are_charged_by_their_own_segments_in_order() {
    let message = |to: &str, text: String| PersonalMessage {
        to: to.into(),
        text,
        reference: None,
    };
    let messages = [
        message("+989121234567", "one".into()),
        message("+989121234568", "a".repeat(161)),
        message("+989121234569", "one more".into()),
    ];
    let mut cmd = validate(
        1,
        &SendInput {
            messages: Some(&messages),
            ..Default::default()
        },
        &config(),
        names,
    )
    .unwrap();
    assert_eq!(cmd.count.segments, 4);
    assert_eq!(crate::intake::charge_for(&cmd, 2, 8), Ok((3, 8)));
    assert!(crate::intake::charge_for(&cmd, 1, 3).is_err());
    cmd.allow_partial = true;
    // The first run the balance covers: 1 + 2, not 1 + 1 out of order.
    assert_eq!(crate::intake::charge_for(&cmd, 1, 3), Ok((2, 3)));
    assert_eq!(crate::intake::charge_for(&cmd, 1, 2), Ok((1, 1)));
}
