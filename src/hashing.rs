//! Digests of secrets and their constant-time comparison: API keys, the admin token and the
//! operators' delivery-report keys are kept only as SHA-256 and checked with
//! [`matches_digest`]; callbacks are signed with [`hmac_sha256`].

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Lowercase hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Whether `secret` hashes to `digest`. Constant time in the digest comparison, so the answer
/// says nothing about how much of a guess was right.
pub fn matches_digest(secret: &str, digest: &[u8; 32]) -> bool {
    bool::from(sha256(secret.as_bytes()).ct_eq(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // RFC 4231, test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_secret_matches_only_its_own_digest() {
        let digest = sha256(b"secret");
        assert!(matches_digest("secret", &digest));
        assert!(!matches_digest("secreT", &digest));
        assert!(!matches_digest("", &digest));
    }
}
