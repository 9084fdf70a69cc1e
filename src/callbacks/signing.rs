//! Signing callbacks: `X-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]`, each `v1` the
//! HMAC-SHA256 of `"<t>.<body>"` under one of the customer's secrets (the current one, and
//! the previous one during the grace after a rotation), as Stripe does. docs/API.md shows how
//! a receiver checks it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::hashing::{hex, hmac_sha256};

/// The header carrying the signatures.
pub const SIGNATURE_HEADER: &str = "x-signature";

/// A new signing secret: `whsec_` and 43 base64url characters (256 random bits).
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// One signature: hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = Vec::with_capacity(body.len() + 21);
    signed.extend_from_slice(timestamp.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    hex(&hmac_sha256(secret.as_bytes(), &signed))
}

/// The `X-Signature` value: the timestamp and a `v1` per secret, the current one first.
pub fn signature_header(timestamp: i64, body: &[u8], secrets: &[&str]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&sign(secret, timestamp, body));
    }
    header
}

/// Whether `header` carries a valid signature of `body` under `secret`, made within
/// `tolerance_secs` of `now` (a receiver's check; the tests' and the load test's receiver).
pub fn verify(header: &str, body: &[u8], secret: &str, now: i64, tolerance_secs: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v),
            _ => {}
        }
    }
    let Some(t) = timestamp else {
        return false;
    };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    let expected = sign(secret, t, body);
    signatures.iter().any(|s| {
        s.len() == expected.len()
            && bool::from(subtle::ConstantTimeEq::ct_eq(
                s.as_bytes(),
                expected.as_bytes(),
            ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_under_its_secret_only_and_only_while_fresh() {
        let body = br#"{"events":[]}"#;
        let header = signature_header(1_700_000_000, body, &["whsec_new", "whsec_old"]);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(header.matches("v1=").count(), 2);
        assert!(verify(&header, body, "whsec_new", 1_700_000_010, 300));
        assert!(verify(&header, body, "whsec_old", 1_700_000_010, 300));
        assert!(!verify(&header, body, "whsec_other", 1_700_000_010, 300));
        assert!(!verify(&header, b"{}", "whsec_new", 1_700_000_010, 300));
        assert!(!verify(&header, body, "whsec_new", 1_700_001_000, 300));
        // The documented construction: HMAC-SHA256("<t>.<body>") in hex.
        let expected = hex(&hmac_sha256(b"whsec_new", b"1700000000.{\"events\":[]}"));
        assert_eq!(sign("whsec_new", 1_700_000_000, body), expected);
        // And what docs/API.md's Python computes for it.
        assert_eq!(
            expected,
            "44ac46e25d138c488384054bbe6da6ca4cd8bafcc719c06afe7fb47f9a6e1466"
        );
        assert!(new_secret().starts_with("whsec_"));
        assert_ne!(new_secret(), new_secret());
    }
}
