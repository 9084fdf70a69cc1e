//! Delivery-status callbacks: how the dispatcher posts events to customers' endpoints, how
//! long it retries, and which targets it may reach.

use std::net::IpAddr;
use std::time::Duration;

use super::reader::Reader;

/// The callback dispatcher (`crate::callbacks`).
#[derive(Debug, Clone)]
pub struct CallbacksConfig {
    /// `CALLBACK_BATCH_MAX`: events in one POST at most.
    pub batch_max: u32,
    /// `CALLBACK_CONCURRENCY`: customers posted to at once by one process (one POST per
    /// customer at a time, so a slow endpoint holds one of these and nothing else).
    pub concurrency: usize,
    /// `CALLBACK_TIMEOUT_MS`: the whole POST (connect, send, answer); also bounds the
    /// connect alone.
    pub timeout: Duration,
    /// `CALLBACK_MAX_RESPONSE_BYTES`: what is read of an answer's body at most (the rest is
    /// discarded with the connection).
    pub max_response_bytes: usize,
    /// `CALLBACK_RETRY_PERIOD_SECS`: how long a failing event is retried (exponential
    /// backoff from `CALLBACK_RETRY_BASE_MS` up to `CALLBACK_RETRY_MAX_SECS`) before it is
    /// parked.
    pub retry_period: Duration,
    /// `CALLBACK_RETRY_BASE_MS`: the first retry's delay.
    pub retry_base: Duration,
    /// `CALLBACK_RETRY_MAX_SECS`: the longest delay between two tries.
    pub retry_max: Duration,
    /// `CALLBACK_POLL_MS`: how often the dispatcher looks for due events.
    pub poll: Duration,
    /// `CALLBACK_SECRET_GRACE_SECS`: after a rotation, the previous secret signs too (a
    /// second `v1=`) this long.
    pub secret_grace: Duration,
    /// `CALLBACK_LOG_DAYS`: days the delivery log (`GET /callbacks/deliveries`) is kept.
    pub log_days: u32,
    /// `CALLBACK_ALLOWED_HOSTS`: targets allowed although private, loopback or link-local:
    /// comma-separated host names (exact, case-insensitive) and CIDRs (`10.0.0.0/8`,
    /// `127.0.0.1/32`, `fd00::/8`). Empty: only public addresses.
    pub allowed: AllowList,
}

/// Hosts and networks a callback may reach although they are not public.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    /// Host names, lowercase.
    pub hosts: Vec<String>,
    /// Networks: an address and its prefix length.
    pub networks: Vec<(IpAddr, u8)>,
}

impl AllowList {
    /// Parses `CALLBACK_ALLOWED_HOSTS`'s value.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut list = Self::default();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if let Some((addr, len)) = item.split_once('/') {
                let addr: IpAddr = addr
                    .parse()
                    .map_err(|_| format!("{item:?} is not a CIDR (address/prefix)"))?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                let len: u8 = len
                    .parse()
                    .ok()
                    .filter(|l| *l <= max)
                    .ok_or_else(|| format!("{item:?}: the prefix must be 0-{max}"))?;
                list.networks.push((addr, len));
            } else if let Ok(addr) = item.parse::<IpAddr>() {
                list.networks
                    .push((addr, if addr.is_ipv4() { 32 } else { 128 }));
            } else {
                list.hosts.push(item.to_ascii_lowercase());
            }
        }
        Ok(list)
    }

    /// Whether a host name is allowed as such (whatever it resolves to).
    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Whether an address is in one of the allowed networks.
    pub fn allows_addr(&self, addr: IpAddr) -> bool {
        self.networks
            .iter()
            .any(|(net, len)| in_network(addr, *net, *len))
    }
}

fn in_network(addr: IpAddr, net: IpAddr, len: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

impl CallbacksConfig {
    pub(super) fn read(r: &mut Reader) -> Self {
        let raw = r.string("CALLBACK_ALLOWED_HOSTS", "");
        let allowed = AllowList::parse(&raw).unwrap_or_else(|e| {
            r.problem(format!("CALLBACK_ALLOWED_HOSTS: {e}"));
            AllowList::default()
        });
        Self {
            batch_max: r.ranged("CALLBACK_BATCH_MAX", 100, 1, 1_000),
            concurrency: r.ranged("CALLBACK_CONCURRENCY", 256, 1, 1_024),
            timeout: r.millis("CALLBACK_TIMEOUT_MS", 5_000, 100, 60_000),
            max_response_bytes: r.ranged("CALLBACK_MAX_RESPONSE_BYTES", 65_536, 0, 10_485_760),
            retry_period: r.secs("CALLBACK_RETRY_PERIOD_SECS", 86_400, 1, 30 * 86_400),
            retry_base: r.millis("CALLBACK_RETRY_BASE_MS", 5_000, 10, 3_600_000),
            retry_max: r.secs("CALLBACK_RETRY_MAX_SECS", 3_600, 1, 86_400),
            poll: r.millis("CALLBACK_POLL_MS", 100, 10, 60_000),
            secret_grace: r.secs("CALLBACK_SECRET_GRACE_SECS", 86_400, 0, 30 * 86_400),
            log_days: r.ranged("CALLBACK_LOG_DAYS", 7, 1, 365),
            allowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_reads_hosts_addresses_and_networks() {
        let list = AllowList::parse(" Receiver.local, 127.0.0.1 ,10.0.0.0/8, fd00::/8").unwrap();
        assert!(list.allows_host("receiver.LOCAL."));
        assert!(!list.allows_host("other.local"));
        assert!(list.allows_addr("127.0.0.1".parse().unwrap()));
        assert!(!list.allows_addr("127.0.0.2".parse().unwrap()));
        assert!(list.allows_addr("10.200.3.4".parse().unwrap()));
        assert!(list.allows_addr("fd12::1".parse().unwrap()));
        assert!(!list.allows_addr("fe80::1".parse().unwrap()));
        assert!(AllowList::parse("10.0.0.0/33").is_err());
        assert!(AllowList::parse("10.0.0/8").is_err());
        assert_eq!(AllowList::parse("").unwrap(), AllowList::default());
    }
}
