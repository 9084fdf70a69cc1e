//! Where a callback may go: public addresses only, unless `CALLBACK_ALLOWED_HOSTS` names the
//! host or a network holding the address. The check runs where the connection is made: the
//! dispatcher's HTTP client resolves names through [`Guard`] (a `reqwest` DNS resolver), which
//! refuses a name any of whose addresses is not allowed, and the client connects only to the
//! addresses it returned, so a name that resolves differently a second time (DNS rebinding)
//! cannot slip through. Literal addresses in a URL never reach a resolver and are checked by
//! [`Guard::check_literal`] before the POST.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Host;

use crate::config::AllowList;

/// The longest a name's resolution may take.
const DNS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// A target refused: private, loopback, link-local or otherwise not public, and not allowed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("refused: {0}")]
pub struct Refused(pub String);

/// Why a name gave no address to connect to.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Unusable {
    /// It resolves to an address that may not be reached.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// It does not resolve (now): a failure like an unreachable host, retried.
    #[error("{0}")]
    Unresolved(String),
}

/// The target check and the dispatcher's DNS resolver.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    allowed: Arc<AllowList>,
}

impl Guard {
    /// A guard allowing, besides public addresses, what `allowed` names.
    pub fn new(allowed: AllowList) -> Self {
        Self {
            allowed: Arc::new(allowed),
        }
    }

    /// Whether `addr` may be reached when named by `host` (a name, or the address itself).
    fn allows(&self, host: &str, addr: IpAddr) -> bool {
        is_public(addr) || self.allowed.allows_host(host) || self.allowed.allows_addr(addr)
    }

    /// Refuses a URL whose host is a literal address that may not be reached; names are
    /// checked when they are resolved.
    pub fn check_literal(&self, url: &Url) -> Result<(), Refused> {
        let addr = match url.host() {
            Some(Host::Ipv4(a)) => IpAddr::V4(a),
            Some(Host::Ipv6(a)) => IpAddr::V6(a),
            _ => return Ok(()),
        };
        if self.allows(&addr.to_string(), addr) {
            Ok(())
        } else {
            Err(Refused(format!("{addr} is not a public address")))
        }
    }

    /// The addresses `host` may be reached at (all of them), or why not: a name with any
    /// address that is not allowed is refused as a whole.
    pub async fn resolve_host(&self, host: &str) -> Result<Vec<SocketAddr>, Unusable> {
        let lookup = tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host, 0)))
            .await
            .map_err(|_| {
                Unusable::Unresolved(format!("{host} did not resolve within {DNS_TIMEOUT:?}"))
            })?;
        let addrs: Vec<SocketAddr> = lookup
            .map_err(|e| Unusable::Unresolved(format!("{host} does not resolve: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(Unusable::Unresolved(format!("{host} has no address")));
        }
        if let Some(bad) = addrs.iter().find(|a| !self.allows(host, a.ip())) {
            return Err(Refused(format!(
                "{host} resolves to {}, not a public address",
                bad.ip()
            ))
            .into());
        }
        Ok(addrs)
    }

    /// Checks a URL as the dispatcher will reach it: its literal address, or every address
    /// its name resolves to now (the settings endpoint refuses a private target at once).
    pub async fn check_url(&self, url: &Url) -> Result<(), Unusable> {
        self.check_literal(url)?;
        match url.host() {
            Some(Host::Domain(name)) => self.resolve_host(name).await.map(|_| ()),
            _ => Ok(()),
        }
    }
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.clone();
        Box::pin(async move {
            let addrs = guard.resolve_host(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Whether an address is public: not loopback, private, link-local, shared (CGNAT),
/// unspecified, broadcast, multicast, documentation or reserved; an IPv4-mapped or
/// IPv4-compatible IPv6 address counts as its IPv4 address.
pub fn is_public(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(a),
        },
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    let [b0, b1, b2, _] = a.octets();
    !(a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_documentation()
        || b0 == 0
        || (b0 == 100 && (64..128).contains(&b1))
        || (b0 == 192 && b1 == 0 && b2 == 0)
        || (b0 == 198 && (b1 == 18 || b1 == 19))
        || b0 >= 240)
}

fn is_public_v6(a: Ipv6Addr) -> bool {
    let s = a.segments();
    !(a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        // NAT64 (64:ff9b::/96) and IPv4-compatible (::/96) embed an IPv4 address.
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0])
        || s[..6] == [0, 0, 0, 0, 0, 0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip(private)), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip(public)), "{public}");
        }
    }

    #[test]
    fn literal_private_targets_are_refused_unless_allowed() {
        let url = |s: &str| Url::parse(s).unwrap();
        let strict = Guard::default();
        assert!(strict.check_literal(&url("http://127.0.0.1:9/x")).is_err());
        assert!(strict.check_literal(&url("http://[::1]:9/x")).is_err());
        assert!(
            strict
                .check_literal(&url("http://169.254.169.254/"))
                .is_err()
        );
        assert!(strict.check_literal(&url("http://8.8.8.8/")).is_ok());
        let lenient = Guard::new(AllowList::parse("127.0.0.0/8").unwrap());
        assert!(lenient.check_literal(&url("http://127.0.0.1:9/x")).is_ok());
        assert!(lenient.check_literal(&url("http://10.0.0.1/x")).is_err());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_unless_allowed() {
        let strict = Guard::default();
        let e = strict.resolve_host("localhost").await.unwrap_err();
        assert!(matches!(e, Unusable::Refused(_)), "{e}");
        assert!(e.to_string().contains("not a public address"), "{e}");
        let by_name = Guard::new(AllowList::parse("localhost").unwrap());
        assert!(!by_name.resolve_host("localhost").await.unwrap().is_empty());
    }
}
