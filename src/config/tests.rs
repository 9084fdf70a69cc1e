//! Reading the environment: defaults, every problem reported at once, operator lists,
//! secrets kept out of `Debug`.

use std::collections::{BTreeSet, HashMap};

use secrecy::ExposeSecret;

use super::*;
use crate::domain::SmsType;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(&move |k| map.get(k).cloned())
}

const TOKEN: (&str, &str) = ("ADMIN_TOKEN", "0123456789abcdef-admin");

#[test]
fn defaults_point_at_localhost() {
    let c = config(&[TOKEN]).unwrap();
    assert_eq!(c.http.listen_addr.port(), 8080);
    assert!(c.database.url.expose_secret().contains("127.0.0.1:3306"));
    assert!(c.amqp.url.expose_secret().contains("127.0.0.1:5672"));
    assert_eq!(c.intake.price_normal, 1);
    assert_eq!(c.intake.price_express, 2);
    assert_eq!(c.intake.max_segments, 10);
    assert!(c.operators.uses_builtin_mocks());
}

#[test]
fn every_problem_is_reported_with_its_variable() {
    let err = config(&[
        ("LISTEN_ADDR", "nope"),
        ("PRICE_NORMAL", "-1"),
        ("MAX_RECIPIENTS", "5000"),
        ("DEFAULT_COUNTRY_CODE", "XX"),
        ("OPERATORS", "[{\"name\":\"a\"}]"),
    ])
    .unwrap_err();
    let text = err.to_string();
    for var in [
        "ADMIN_TOKEN",
        "LISTEN_ADDR",
        "PRICE_NORMAL",
        "MAX_RECIPIENTS",
        "DEFAULT_COUNTRY_CODE",
        "OPERATORS",
    ] {
        assert!(text.contains(var), "{var} missing from {text}");
    }
}

#[test]
fn operators_are_parsed_and_validated() {
    let ok = config(&[
        TOKEN,
        (
            "OPERATORS",
            r#"[{"name":"opA","url":"http://127.0.0.1:9091/send","api_key":"k1","timeout_ms":500},
                {"name":"opB","url":"http://127.0.0.1:9092/send","api_key":"k2"}]"#,
        ),
    ])
    .unwrap();
    let ops = ok.operators.normal.as_ref().unwrap();
    assert_eq!(ops[1].timeout_ms, 2_000);
    assert_eq!(
        ok.operators.names_for(SmsType::Express),
        BTreeSet::from(["opA".to_string(), "opB".to_string()])
    );

    let dup = config(&[
        TOKEN,
        (
            "OPERATORS",
            r#"[{"name":"a","url":"http://x/send","api_key":"k"},{"name":"a","url":"ftp://x","api_key":""}]"#,
        ),
    ])
    .unwrap_err()
    .to_string();
    assert!(dup.contains("listed twice"));
    assert!(dup.contains("http://"));
    assert!(dup.contains("empty api_key"));
}

#[test]
fn a_status_url_is_optional_and_must_be_http() {
    let ok = config(&[
        TOKEN,
        (
            "OPERATORS",
            r#"[{"name":"opA","url":"http://x/send","api_key":"k1","status_url":"https://x/status"},
                {"name":"opB","url":"http://y/send","api_key":"k2"}]"#,
        ),
    ])
    .unwrap();
    let ops = ok.operators.normal.as_ref().unwrap();
    assert_eq!(ops[0].status_url.as_deref(), Some("https://x/status"));
    assert_eq!(ops[1].status_url, None);

    let bad = config(&[
        TOKEN,
        (
            "EXPRESS_OPERATORS",
            r#"[{"name":"opA","url":"http://x/send","api_key":"k1","status_url":"x/status"}]"#,
        ),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains(
            r#"EXPRESS_OPERATORS: operator "opA" status_url must start with http:// or https://"#
        ),
        "{bad}"
    );
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let c = config(&[
        TOKEN,
        ("DATABASE_URL", "mysql://app:hunter2@db:3306/sms"),
        ("AMQP_URL", "amqp://app:rabbitpw@mq:5672/%2f"),
        (
            "OPERATORS",
            r#"[{"name":"a","url":"http://x/send","api_key":"operator-secret"}]"#,
        ),
    ])
    .unwrap();
    let debug = format!("{c:?}");
    for secret in [
        "hunter2",
        "rabbitpw",
        "operator-secret",
        "0123456789abcdef-admin",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    assert!(debug.contains("mysql://app:***@db:3306/sms"));
}

#[test]
fn short_admin_token_is_refused() {
    let err = config(&[("ADMIN_TOKEN", "short")]).unwrap_err();
    assert!(err.to_string().contains("ADMIN_TOKEN: must be at least 16"));
}

#[test]
fn an_operator_cap_is_optional_and_bounded() {
    let ok = config(&[
        TOKEN,
        (
            "OPERATORS",
            r#"[{"name":"opA","url":"http://x/send","api_key":"k1","max_rps":50,"max_wait_ms":0},
                {"name":"opB","url":"http://y/send","api_key":"k2"}]"#,
        ),
    ])
    .unwrap();
    let ops = ok.operators.normal.as_ref().unwrap();
    assert_eq!((ops[0].max_rps, ops[0].max_wait_ms()), (Some(50), 0));
    // Not given: a second with a cap, no wait without one.
    assert_eq!((ops[1].max_rps, ops[1].max_wait_ms()), (None, 0));
    let mut capped = ops[1].clone();
    capped.max_rps = Some(10);
    assert_eq!(capped.max_wait_ms(), 1_000);

    let bad = config(&[
        TOKEN,
        (
            "OPERATORS",
            r#"[{"name":"opA","url":"http://x/send","api_key":"k1","max_rps":0},
                {"name":"opB","url":"http://y/send","api_key":"k2","max_rps":100001,"max_wait_ms":60001}]"#,
        ),
    ])
    .unwrap_err()
    .to_string();
    for problem in [
        r#"OPERATORS: operator "opA" max_rps must be between 1 and 100000"#,
        r#"OPERATORS: operator "opB" max_rps must be between 1 and 100000"#,
        r#"OPERATORS: operator "opB" max_wait_ms must be between 0 and 60000"#,
    ] {
        assert!(bad.contains(problem), "{problem} missing from {bad}");
    }
    let negative = config(&[
        TOKEN,
        (
            "OPERATORS",
            r#"[{"name":"opA","url":"http://x/send","api_key":"k1","max_rps":-5}]"#,
        ),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        negative.contains("OPERATORS: expected a JSON array"),
        "{negative}"
    );
}

#[test]
fn the_lease_covers_the_waits_for_tokens() {
    // Three operators at 2 s timeouts and 500 ms waits: 2 x 3 x (4 x 2 s + 2 x 0.5 s) + 1 s.
    let three = |wait: u64| {
        let op = |n: &str| {
            format!(
                r#"{{"name":"{n}","url":"http://{n}/send","api_key":"k","max_wait_ms":{wait}}}"#
            )
        };
        format!("[{},{},{}]", op("a"), op("b"), op("c"))
    };
    assert!(config(&[TOKEN, ("OPERATORS", &three(500))]).is_ok());
    let err = config(&[
        TOKEN,
        ("OPERATORS", &three(500)),
        ("DELIVERY_LEASE_SECS", "54"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("DELIVERY_LEASE_SECS: 54 s is shorter"),
        "{err}"
    );
    assert!(err.contains("(55 s"), "{err}");
    // Longer waits need a longer lease.
    assert!(config(&[TOKEN, ("OPERATORS", &three(2_000))]).is_err());
    // Without max_rps or max_wait_ms nothing waits: the lease is what it was (49 s here).
    let plain = r#"[{"name":"a","url":"http://a/send","api_key":"k"},
                    {"name":"b","url":"http://b/send","api_key":"k"},
                    {"name":"c","url":"http://c/send","api_key":"k"}]"#;
    assert!(config(&[TOKEN, ("OPERATORS", plain), ("DELIVERY_LEASE_SECS", "49")]).is_ok());
    // A cap brings the default wait of a second: 2 x 3 x (8 s + 2 s) + 1 s.
    let capped = plain.replace(r#""api_key":"k""#, r#""api_key":"k","max_rps":10"#);
    assert!(config(&[TOKEN, ("OPERATORS", &capped)]).is_err());
    assert!(config(&[TOKEN, ("OPERATORS", &capped), ("DELIVERY_LEASE_SECS", "61")]).is_ok());
}

#[test]
fn connection_limits_and_key_caches_have_defaults_and_ranges() {
    let c = config(&[TOKEN]).unwrap();
    assert_eq!(c.http.max_connections, 10_000);
    assert_eq!(c.http.header_timeout.as_millis(), 10_000);
    assert_eq!(c.http.idle_timeout.as_secs(), 60);
    assert_eq!(c.http.negative_key_cache_size, 100_000);
    assert_eq!(c.http.key_lookup_concurrency, 4);

    let set = config(&[
        TOKEN,
        ("HTTP_MAX_CONNECTIONS", "3"),
        ("HTTP_HEADER_TIMEOUT_MS", "250"),
        ("HTTP_IDLE_TIMEOUT_SECS", "2"),
        ("NEGATIVE_KEY_CACHE_SIZE", "10"),
        ("KEY_LOOKUP_CONCURRENCY", "2"),
    ])
    .unwrap();
    assert_eq!(set.http.max_connections, 3);
    assert_eq!(set.http.header_timeout.as_millis(), 250);
    assert_eq!(set.http.idle_timeout.as_secs(), 2);
    assert_eq!(set.http.negative_key_cache_size, 10);
    assert_eq!(set.http.key_lookup_concurrency, 2);

    let err = config(&[
        TOKEN,
        ("HTTP_MAX_CONNECTIONS", "0"),
        ("HTTP_HEADER_TIMEOUT_MS", "10"),
        ("HTTP_IDLE_TIMEOUT_SECS", "0"),
        ("NEGATIVE_KEY_CACHE_SIZE", "0"),
        ("KEY_LOOKUP_CONCURRENCY", "many"),
    ])
    .unwrap_err()
    .to_string();
    for var in [
        "HTTP_MAX_CONNECTIONS: must be between 1 and 1000000",
        "HTTP_HEADER_TIMEOUT_MS: must be between 100 and 300000",
        "HTTP_IDLE_TIMEOUT_SECS: must be between 1 and 3600",
        "NEGATIVE_KEY_CACHE_SIZE: must be between 1 and 10000000",
        "KEY_LOOKUP_CONCURRENCY",
    ] {
        assert!(err.contains(var), "{var} missing from {err}");
    }
}

#[test]
fn console_sessions_last_8_h_or_30_min_unused_and_their_cookie_is_secure_over_tls() {
    let c = config(&[TOKEN]).unwrap();
    assert_eq!(
        c.console.session_ttl,
        std::time::Duration::from_secs(8 * 3_600)
    );
    assert_eq!(
        c.console.session_idle,
        std::time::Duration::from_secs(1_800)
    );
    assert_eq!(c.console.cookie_secure, CookieSecure::Auto);
    let c = config(&[
        TOKEN,
        ("SESSION_COOKIE_SECURE", "Always"),
        ("SESSION_TTL_SECS", "600"),
        ("SESSION_IDLE_SECS", "120"),
    ])
    .unwrap();
    assert_eq!(c.console.cookie_secure, CookieSecure::Always);
    assert_eq!(c.console.session_ttl, std::time::Duration::from_secs(600));
    assert_eq!(c.console.session_idle, std::time::Duration::from_secs(120));
    let err = config(&[
        TOKEN,
        ("SESSION_COOKIE_SECURE", "maybe"),
        ("SESSION_TTL_SECS", "5"),
        ("SESSION_IDLE_SECS", "0"),
    ])
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("SESSION_COOKIE_SECURE"), "{text}");
    assert!(text.contains("SESSION_TTL_SECS"), "{text}");
    assert!(text.contains("SESSION_IDLE_SECS"), "{text}");
}
