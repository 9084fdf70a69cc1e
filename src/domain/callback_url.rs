//! Callback URLs (a customer's webhook, a request's `callback_url`): their form. Where they
//! may point (no private, loopback or link-local target) is checked by the dispatcher when it
//! connects, and by the settings endpoint when one is set (`crate::callbacks::guard`).

use reqwest::Url;

/// The longest callback URL accepted.
pub const MAX_LEN: usize = 2048;

/// Parses a callback URL: an absolute `http` or `https` URL with a host, at most
/// [`MAX_LEN`] characters, without a user, password or fragment.
pub fn parse(raw: &str) -> Result<Url, &'static str> {
    if raw.is_empty() || raw.len() > MAX_LEN {
        return Err("must be 1-2048 characters");
    }
    let url = Url::parse(raw).map_err(|_| "must be an absolute http:// or https:// URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user or password (the signature authenticates the gateway)");
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_http_urls_with_a_host_are_callback_urls() {
        assert!(parse("https://hooks.example.com/sms?x=1").is_ok());
        assert!(parse("http://127.0.0.1:8080/cb").is_ok());
        for bad in [
            "",
            "hooks.example.com/sms",
            "ftp://example.com/x",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "file:///etc/passwd",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&format!("https://e.com/{}", "a".repeat(MAX_LEN))).is_err());
    }
}
