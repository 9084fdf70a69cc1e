//! MySQL / MariaDB settings: the URL (a secret) and the pool's bounds.

use std::time::Duration;

use super::SecretUrl;
use super::reader::Reader;

/// MySQL / MariaDB.
#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    /// `DATABASE_URL` (may hold a password).
    pub url: SecretUrl,
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
    /// `DB_STATEMENT_TIMEOUT_MS`: the server aborts a statement running longer than this
    /// (`max_statement_time` on MariaDB, `max_execution_time` for SELECTs on MySQL), set on
    /// every pooled connection; 0 leaves the server's setting. Migrations run without it.
    pub statement_timeout: Duration,
    /// `DB_LOCK_WAIT_TIMEOUT_SECS`: `innodb_lock_wait_timeout` of every pooled connection.
    pub lock_wait_timeout: Duration,
}

impl DatabaseConfig {
    pub(super) fn read(r: &mut Reader) -> Self {
        let database = Self {
            url: r.url(
                "DATABASE_URL",
                "mysql://root@127.0.0.1:3306/sms_gateway",
                &["mysql://", "mariadb://"],
            ),
            max_connections: r.ranged("DB_MAX_CONNECTIONS", 20, 1, 1_000),
            min_connections: r.ranged("DB_MIN_CONNECTIONS", 0, 0, 1_000),
            acquire_timeout: r.millis("DB_ACQUIRE_TIMEOUT_MS", 5_000, 10, 120_000),
            statement_cache: r.ranged("DB_STATEMENT_CACHE", 512, 16, 4_096),
            run_migrations: r.bool("RUN_MIGRATIONS", true),
            statement_timeout: r.millis("DB_STATEMENT_TIMEOUT_MS", 10_000, 0, 3_600_000),
            lock_wait_timeout: r.secs("DB_LOCK_WAIT_TIMEOUT_SECS", 10, 1, 3_600),
        };
        if database.min_connections > database.max_connections {
            r.problem("DB_MIN_CONNECTIONS: must not exceed DB_MAX_CONNECTIONS");
        }
        database
    }
}
