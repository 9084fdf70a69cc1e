//! The HTTP API's settings: listen address, admin token, body and time limits, the
//! connection limits of the server, and the API-key caches.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;

use super::reader::Reader;

/// The HTTP API.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `LISTEN_ADDR`: where the API listens.
    pub listen_addr: SocketAddr,
    /// `ADMIN_TOKEN`: bearer token of `/admin/*` and `POST /balance/add`.
    pub admin_token: SecretString,
    /// `MAX_BODY_BYTES`: largest accepted request body.
    pub max_body_bytes: usize,
    /// `REQUEST_TIMEOUT_MS`: a request not answered within this gets a 503.
    pub request_timeout: Duration,
    /// `SHUTDOWN_TIMEOUT_SECS`: how long a graceful shutdown waits for in-flight work.
    pub shutdown_timeout: Duration,
    /// `IDEMPOTENCY_TTL_SECS`: how long an `Idempotency-Key` and its response are kept.
    pub idempotency_ttl: Duration,
    /// `HTTP_MAX_CONNECTIONS`: connections served at once; beyond it the server stops
    /// accepting and new connections wait in the listen backlog.
    pub max_connections: usize,
    /// `HTTP_HEADER_TIMEOUT_MS`: a request whose first byte arrived must have its whole head
    /// (request line and headers) within this, else its connection is closed.
    pub header_timeout: Duration,
    /// `HTTP_IDLE_TIMEOUT_SECS`: a keep-alive connection with no request for this long is
    /// closed.
    pub idle_timeout: Duration,
    /// `NEGATIVE_KEY_CACHE_SIZE`: refused API-key hashes remembered (the oldest evicted).
    pub negative_key_cache_size: usize,
    /// `KEY_LOOKUP_CONCURRENCY`: API-key lookup queries at once for keys in neither cache.
    pub key_lookup_concurrency: usize,
}

impl HttpConfig {
    pub(super) fn read(r: &mut Reader) -> Self {
        let listen_addr = r.parse("LISTEN_ADDR", SocketAddr::from(([0, 0, 0, 0], 8080)));
        let admin_token = match r.raw("ADMIN_TOKEN") {
            Some(t) if t.trim().len() >= 16 => SecretString::from(t.trim().to_string()),
            Some(_) => {
                r.problem("ADMIN_TOKEN: must be at least 16 characters");
                SecretString::from(String::new())
            }
            None => {
                r.problem(
                    "ADMIN_TOKEN: required (the bearer token of the admin endpoints); see .env.example",
                );
                SecretString::from(String::new())
            }
        };
        Self {
            listen_addr,
            admin_token,
            max_body_bytes: r.ranged("MAX_BODY_BYTES", 256 * 1024, 1024, 16 * 1024 * 1024),
            request_timeout: r.millis("REQUEST_TIMEOUT_MS", 10_000, 100, 300_000),
            shutdown_timeout: r.secs("SHUTDOWN_TIMEOUT_SECS", 30, 1, 3_600),
            idempotency_ttl: r.secs("IDEMPOTENCY_TTL_SECS", 86_400, 60, 30 * 86_400),
            max_connections: r.ranged("HTTP_MAX_CONNECTIONS", 10_000, 1, 1_000_000),
            header_timeout: r.millis("HTTP_HEADER_TIMEOUT_MS", 10_000, 100, 300_000),
            idle_timeout: r.secs("HTTP_IDLE_TIMEOUT_SECS", 60, 1, 3_600),
            negative_key_cache_size: r.ranged("NEGATIVE_KEY_CACHE_SIZE", 100_000, 1, 10_000_000),
            key_lookup_concurrency: r.ranged("KEY_LOOKUP_CONCURRENCY", 4, 1, 1_000),
        }
    }
}
