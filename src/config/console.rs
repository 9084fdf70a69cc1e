//! The web console's sessions: how long one lasts, how long it may sit unused, and when its
//! cookie is `Secure`.

use std::time::Duration;

use super::reader::Reader;

/// When the session cookie carries `Secure` (sent by browsers over HTTPS only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSecure {
    /// When the request came over TLS: the gateway itself speaks plain HTTP, so this means a
    /// TLS-terminating proxy said so with `X-Forwarded-Proto: https` (or `Forwarded:
    /// proto=https`). The default.
    Auto,
    /// Always (the console then works only over HTTPS, or on `localhost` in most browsers).
    Always,
    /// Never (plain-HTTP deployments behind a proxy that hides the scheme).
    Never,
}

/// The console (`/console/`) and its sessions.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// `SESSION_TTL_SECS`: a session ends this long after sign-in, whatever its use.
    pub session_ttl: Duration,
    /// `SESSION_IDLE_SECS`: a session also ends once unused this long.
    pub session_idle: Duration,
    /// `SESSION_COOKIE_SECURE`: `auto` (default), `always` or `never`.
    pub cookie_secure: CookieSecure,
}

impl ConsoleConfig {
    pub(super) fn read(r: &mut Reader) -> Self {
        let cookie_secure = match r
            .string("SESSION_COOKIE_SECURE", "auto")
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "auto" => CookieSecure::Auto,
            "always" => CookieSecure::Always,
            "never" => CookieSecure::Never,
            other => {
                r.problem(format!(
                    "SESSION_COOKIE_SECURE: expected auto, always or never (got {other:?})"
                ));
                CookieSecure::Auto
            }
        };
        Self {
            session_ttl: r.secs("SESSION_TTL_SECS", 8 * 3_600, 60, 30 * 86_400),
            session_idle: r.secs("SESSION_IDLE_SECS", 30 * 60, 60, 30 * 86_400),
            cookie_secure,
        }
    }
}
