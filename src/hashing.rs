//! Digests of secrets and their constant-time comparison: API keys, the admin token and the
//! operators' delivery-report keys are kept only as SHA-256 and checked with
//! [`matches_digest`].

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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
    fn a_secret_matches_only_its_own_digest() {
        let digest = sha256(b"secret");
        assert!(matches_digest("secret", &digest));
        assert!(!matches_digest("secreT", &digest));
        assert!(!matches_digest("", &digest));
    }
}
