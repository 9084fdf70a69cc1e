//! MySQL / MariaDB settings: the URL (a secret) and the pool's bounds.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::reader::Reader;
use super::redact_url;

/// MySQL / MariaDB.
#[derive(Clone)]
pub struct DatabaseConfig {
    /// `DATABASE_URL` (may hold a password).
    pub url: SecretString,
    /// `DB_MAX_CONNECTIONS`: upper bound of the pool.
    pub max_connections: u32,
    /// `DB_MIN_CONNECTIONS`: connections kept open when idle.
    pub min_connections: u32,
    /// `DB_ACQUIRE_TIMEOUT_MS`: waiting longer than this for a connection is a 503.
    pub acquire_timeout: Duration,
    /// `DB_STATEMENT_CACHE`: prepared statements kept per connection (see `db::batch`).
    pub statement_cache: usize,
    /// `RUN_MIGRATIONS`: apply pending migrations when `serve` starts.
    pub run_migrations: bool,
}

impl DatabaseConfig {
    pub(super) fn read(r: &mut Reader) -> Self {
        let database = Self {
            url: SecretString::from(
                r.string("DATABASE_URL", "mysql://root@127.0.0.1:3306/sms_gateway"),
            ),
            max_connections: r.ranged("DB_MAX_CONNECTIONS", 20, 1, 1_000),
            min_connections: r.ranged("DB_MIN_CONNECTIONS", 0, 0, 1_000),
            acquire_timeout: r.millis("DB_ACQUIRE_TIMEOUT_MS", 5_000, 10, 120_000),
            statement_cache: r.ranged("DB_STATEMENT_CACHE", 512, 16, 4_096),
            run_migrations: r.bool("RUN_MIGRATIONS", true),
        };
        r.require_scheme("DATABASE_URL", &database.url, &["mysql://", "mariadb://"]);
        if database.min_connections > database.max_connections {
            r.problem("DB_MIN_CONNECTIONS: must not exceed DB_MAX_CONNECTIONS");
        }
        database
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_cache", &self.statement_cache)
            .field("run_migrations", &self.run_migrations)
            .finish()
    }
}
