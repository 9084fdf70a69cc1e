//! The recorders of the abuse limits: HTTP connections (the cap and the timeouts of the
//! server) and API keys (the negative key cache and the lookup gate).

use super::catalog::*;

/// Why the server closed an HTTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpTimeout {
    /// A request's head did not arrive within `HTTP_HEADER_TIMEOUT_MS`.
    Header,
    /// No request for `HTTP_IDLE_TIMEOUT_SECS` on a keep-alive connection.
    Idle,
}

impl HttpTimeout {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpTimeout::Header => "header_timeout",
            HttpTimeout::Idle => "idle_timeout",
        }
    }
}

/// Records the cap of open HTTP connections.
pub fn http_connections_max(connections: usize) {
    HTTP_CONNECTIONS_MAX
        .gauge::<&str>([])
        .set(connections as f64);
}

/// Records an HTTP connection accepted (+1) or ended (-1).
pub fn http_connections_open(delta: f64) {
    HTTP_CONNECTIONS_OPEN.gauge::<&str>([]).increment(delta);
}

/// Records an HTTP connection the server closed for a timeout.
pub fn http_connection_timed_out(reason: HttpTimeout) {
    HTTP_CONNECTIONS_CLOSED
        .counter([reason.as_str()])
        .increment(1);
}

/// Records an API key refused from the negative key cache.
pub fn api_key_negative_cache_hit() {
    API_KEY_NEGATIVE_CACHE_HITS.counter::<&str>([]).increment(1);
}

/// Records an API-key lookup starting (+1) or ending (-1) its wait at the lookup gate.
pub fn api_key_lookups_waiting(delta: f64) {
    API_KEY_LOOKUPS_WAITING.gauge::<&str>([]).increment(delta);
}
