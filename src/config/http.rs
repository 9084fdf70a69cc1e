//! The HTTP API's settings: listen address, admin token, body and time limits.

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
        }
    }
}
