//! Customer accounts: API key generation and creation (shared by the admin endpoint and the
//! `customer create` command).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::db::{self, Tx, ledger};
use crate::hashing::sha256;

/// A freshly generated API key: shown once, stored only as its SHA-256.
pub struct NewApiKey {
    /// The key itself (`sk_` + 43 base64url characters, 256 random bits).
    pub key: String,
    /// Its SHA-256, what the database keeps.
    pub hash: [u8; 32],
    /// The first characters, kept to tell keys apart.
    pub hint: String,
}

/// Generates an API key from the operating system's CSPRNG-seeded thread RNG.
pub fn new_api_key() -> NewApiKey {
    let bytes: [u8; 32] = rand::random();
    let key = format!("sk_{}", URL_SAFE_NO_PAD.encode(bytes));
    NewApiKey {
        hash: sha256(key.as_bytes()),
        hint: key[..7].to_string(),
        key,
    }
}

/// A created customer.
pub struct NewCustomer {
    pub customer_id: i64,
    pub api_key: String,
    pub balance: i64,
}

/// Creates a customer with an initial balance (booked as an `initial` ledger row) and bumps
/// the key generation in the same transaction. A taken name surfaces as a unique violation.
pub async fn create_customer(
    tx: &mut Tx,
    name: &str,
    initial_balance: i64,
) -> Result<NewCustomer, sqlx::Error> {
    let key = new_api_key();
    let customer_id = db::customers::insert(tx, name, &key.hash, &key.hint).await?;
    db::customers::bump_key_generation(tx).await?;
    let mut balance = 0;
    if initial_balance > 0 {
        let transaction_id = format!("initial:{customer_id}");
        balance = ledger::credit(
            tx,
            &ledger::Entry {
                customer_id,
                entry_type: ledger::EntryType::Initial,
                transaction_id: &transaction_id,
                description: Some("initial balance"),
                sms_identifier: None,
            },
            initial_balance,
        )
        .await?
        .unwrap_or(initial_balance);
    }
    Ok(NewCustomer {
        customer_id,
        api_key: key.key,
        balance,
    })
}

/// Replaces a customer's API key and bumps the key generation in the same transaction; the
/// old key stops working at commit. `None` if unknown.
pub async fn rotate_api_key(tx: &mut Tx, customer_id: i64) -> Result<Option<String>, sqlx::Error> {
    let key = new_api_key();
    if !db::customers::set_key(tx, customer_id, &key.hash, &key.hint).await? {
        return Ok(None);
    }
    db::customers::bump_key_generation(tx).await?;
    Ok(Some(key.key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hashed() {
        let a = new_api_key();
        let b = new_api_key();
        assert_ne!(a.key, b.key);
        assert_eq!(a.key.len(), 46);
        assert!(a.key.starts_with("sk_"));
        assert_eq!(a.hash, sha256(a.key.as_bytes()));
        assert!(a.key.starts_with(&a.hint));
    }
}
