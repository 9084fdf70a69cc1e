//! The keys file written by `seed` and read by `run`: one `customer_id<TAB>api_key` per line
//! (blank lines and `#` comments ignored), or a JSON array of `{"customer_id", "api_key"}`
//! when the file name ends in `.json`.

use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// A customer and its API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerKey {
    /// The gateway's customer id.
    pub customer_id: i64,
    /// Its API key, in clear.
    pub api_key: String,
}

/// Parses a keys file's content (TSV or JSON, recognised by its first character).
pub fn parse(content: &str) -> anyhow::Result<Vec<CustomerKey>> {
    if content.trim_start().starts_with('[') {
        return serde_json::from_str(content).context("keys file: invalid JSON");
    }
    let mut keys = Vec::new();
    for (i, line) in content.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((id, key)) = line.split_once('\t') else {
            bail!("keys file line {}: expected customer_id<TAB>api_key", i + 1);
        };
        let customer_id = id
            .trim()
            .parse()
            .with_context(|| format!("keys file line {}: bad customer id {id:?}", i + 1))?;
        let api_key = key.trim();
        if api_key.is_empty() || api_key.contains(char::is_whitespace) {
            bail!("keys file line {}: bad api key", i + 1);
        }
        keys.push(CustomerKey {
            customer_id,
            api_key: api_key.to_string(),
        });
    }
    Ok(keys)
}

/// Renders keys as TSV, or as JSON when `json`.
pub fn render(keys: &[CustomerKey], json: bool) -> String {
    if json {
        return serde_json::to_string_pretty(keys).expect("keys serialize") + "\n";
    }
    let mut out = String::with_capacity(keys.len() * 56);
    for k in keys {
        out.push_str(&format!("{}\t{}\n", k.customer_id, k.api_key));
    }
    out
}

/// Reads a keys file.
pub fn read(path: &Path) -> anyhow::Result<Vec<CustomerKey>> {
    let content =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let keys = parse(&content).with_context(|| format!("in {}", path.display()))?;
    if keys.is_empty() {
        bail!("{} holds no keys", path.display());
    }
    Ok(keys)
}

/// Writes a keys file, JSON when its name ends in `.json`.
pub fn write(path: &Path, keys: &[CustomerKey]) -> anyhow::Result<()> {
    let json = path.extension().is_some_and(|e| e == "json");
    std::fs::write(path, render(keys, json)).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<CustomerKey> {
        vec![
            CustomerKey {
                customer_id: 7,
                api_key: "sk_abc".into(),
            },
            CustomerKey {
                customer_id: 12,
                api_key: "sk_def-_x".into(),
            },
        ]
    }

    #[test]
    fn tsv_and_json_round_trip() {
        for json in [false, true] {
            assert_eq!(parse(&render(&keys(), json)).unwrap(), keys());
        }
        assert_eq!(render(&keys(), false), "7\tsk_abc\n12\tsk_def-_x\n");
    }

    #[test]
    fn comments_blank_lines_and_crlf_are_tolerated() {
        let text = "# customer_id\tapi_key\r\n\r\n7\tsk_abc\r\n  12\tsk_def-_x  \n";
        assert_eq!(parse(text).unwrap(), keys());
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let err = parse("7\tsk_abc\n8 sk_nope\n").unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = parse("x\tsk_abc\n").unwrap_err().to_string();
        assert!(err.contains("bad customer id"), "{err}");
        let err = parse("1\t\n").unwrap_err().to_string();
        assert!(err.contains("bad api key"), "{err}");
        assert!(parse("[{\"customer_id\": 1}]").is_err());
    }
}
