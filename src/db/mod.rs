//! MySQL/MariaDB access: the pool, the embedded migrations and one repository module per table
//! group. Repository functions take an executor or `&mut Transaction` and return `sqlx::Error`,
//! so callers decide what belongs in one transaction.

pub mod batch;
pub mod callbacks;
pub mod cancel;
pub mod customers;
pub mod daily;
pub mod delivery;
pub mod dispatch;
pub mod fair_share;
pub mod held_reports;
pub mod idempotency;
pub mod lane_sent;
pub mod ledger;
pub mod messages;
pub mod outbox;
pub mod reports;
pub mod senders;
pub mod sent;
pub mod sessions;
pub mod slices;

use std::str::FromStr;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::{MySql, MySqlConnection, MySqlPool, Transaction};

use crate::backoff::{Backoff, Jitter};
use crate::config::DatabaseConfig;

/// A MySQL transaction.
pub type Tx = Transaction<'static, MySql>;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Parses `DATABASE_URL` into connect options (UTC session time zone, as every DATETIME is UTC).
///
/// The statement cache (`DB_STATEMENT_CACHE`) holds every statement text the gateway uses
/// (see [`batch`] and docs/DESIGN.md), so a connection never evicts one: an eviction costs a
/// `COM_STMT_CLOSE` that stalls the connection's next statement on sqlx 0.9.0.
pub fn connect_options(config: &DatabaseConfig) -> Result<MySqlConnectOptions, sqlx::Error> {
    Ok(MySqlConnectOptions::from_str(config.url.expose_secret())?
        .timezone(Some("+00:00".to_string()))
        .charset("utf8mb4")
        .statement_cache_capacity(config.statement_cache))
}

/// A connection that went back to the pool less than this long ago is handed out again
/// without a ping (as HikariCP's `aliveBypassWindowMs`); one idle longer is pinged first and
/// replaced if the ping fails. What a ping catches is a connection closed while it sat idle
/// (the server's `wait_timeout`, a firewall's idle timeout: minutes or hours); the pool hands
/// out its connections in turn, so at 500 ms about half of the acquires under load still pinged.
pub const ALIVE_WITHOUT_PING: Duration = Duration::from_secs(5);

/// Builds the bounded pool. Connections are opened on demand, so the process starts (and
/// reports not-ready) while the database is down, and recovers by itself when it returns.
/// Every connection gets the session time bounds of [`set_time_bounds`].
///
/// sqlx pings every connection it hands out by default: under one-recipient load that was a
/// round trip to MariaDB for every acquire, more pings than statements (docs/BENCHMARKS.md
/// "What one SMS costs", cut 10). A connection in steady use is not pinged
/// ([`ALIVE_WITHOUT_PING`]); one that broke since its last use fails its statement, which the
/// callers treat like any other database error (retried where that is safe, 503 at intake).
pub fn pool(config: &DatabaseConfig) -> Result<MySqlPool, sqlx::Error> {
    let (statement, lock_wait) = (config.statement_timeout, config.lock_wait_timeout);
    Ok(MySqlPoolOptions::new()
        .after_connect(move |conn, _| {
            Box::pin(async move { set_time_bounds(conn, statement, lock_wait).await })
        })
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= ALIVE_WITHOUT_PING {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .max_connections(config.max_connections)
        .min_connections(config.min_connections)
        .acquire_timeout(config.acquire_timeout)
        .idle_timeout(Some(Duration::from_secs(300)))
        .max_lifetime(Some(Duration::from_secs(1_800)))
        .connect_lazy_with(connect_options(config)?))
}

/// Creates the database named in `DATABASE_URL` when it does not exist yet.
pub async fn create_database_if_missing(config: &DatabaseConfig) -> Result<bool, sqlx::Error> {
    let url = config.url.expose_secret();
    if MySql::database_exists(url).await? {
        return Ok(false);
    }
    MySql::create_database(url).await?;
    Ok(true)
}

/// Bounds a session's statements in time, so a stuck server or a full disk turns into an
/// error instead of a hang: `max_statement_time` (MariaDB, seconds; it covers every
/// statement) or, on MySQL, which lacks it, `max_execution_time` (milliseconds, SELECTs
/// only), and `innodb_lock_wait_timeout`. A zero `statement` leaves the server's setting.
pub async fn set_time_bounds(
    conn: &mut MySqlConnection,
    statement: Duration,
    lock_wait: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query("set session innodb_lock_wait_timeout = ?")
        .bind(lock_wait.as_secs().max(1))
        .execute(&mut *conn)
        .await?;
    if statement.is_zero() {
        return Ok(());
    }
    let mariadb = sqlx::query("set session max_statement_time = ?")
        .bind(statement.as_secs_f64())
        .execute(&mut *conn)
        .await;
    match mariadb {
        Ok(_) => Ok(()),
        // 1193: unknown system variable (MySQL).
        Err(sqlx::Error::Database(e))
            if e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .is_some_and(|m| m.number() == 1193) =>
        {
            sqlx::query("set session max_execution_time = ?")
                .bind(statement.as_millis() as u64)
                .execute(&mut *conn)
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// Applies pending migrations, on one connection without a statement time bound (a
/// migration may rewrite a large table).
pub async fn migrate(pool: &MySqlPool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut conn = pool.acquire().await?;
    if let Err(e) = sqlx::query("set session max_statement_time = 0")
        .execute(&mut *conn)
        .await
    {
        tracing::debug!(error = %e, "no max_statement_time to lift (MySQL)");
    }
    MIGRATOR.run(&mut *conn).await
}

/// Cheap liveness probe of the database, bounded by `timeout`.
pub async fn ping(pool: &MySqlPool, timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, sqlx::query("select 1").execute(pool)).await,
        Ok(Ok(_))
    )
}

/// Whether the database can commit a write, bounded by `timeout`: an upsert of the one row of
/// `readiness_probe` (autocommit, so it waits for the log flush). A server that answers
/// `select 1` but cannot write (full disk, read-only, stuck commits) fails it.
pub async fn can_commit(pool: &MySqlPool, timeout: Duration) -> bool {
    let write = sqlx::query(
        "insert into readiness_probe (id, probed_at) values (1, now(6)) \
         on duplicate key update probed_at = now(6)",
    )
    .execute(pool);
    matches!(tokio::time::timeout(timeout, write).await, Ok(Ok(_)))
}

/// Begins a READ COMMITTED transaction (the pool's sessions use REPEATABLE READ): locking
/// reads and updates then lock the rows they take and no gaps between index entries, so
/// inserts by other transactions never wait for them. One round trip (the level applies to
/// this transaction only).
pub async fn begin_read_committed(pool: &MySqlPool) -> Result<Tx, sqlx::Error> {
    pool.begin_with("set transaction isolation level read committed; start transaction")
        .await
}

/// A MySQL/MariaDB error that a retry may not meet again: deadlock (1213), lock wait timeout
/// (1205), too many connections (1040).
pub fn is_transient(e: &dyn sqlx::error::DatabaseError) -> bool {
    let code = e
        .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .map(|m| m.number());
    matches!(code, Some(1213 | 1205 | 1040))
}

/// Whether a database error is a unique-key violation (ER_DUP_ENTRY).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d.is_unique_violation(),
        _ => false,
    }
}

/// [`is_transient`] for any sqlx error.
pub fn is_transient_error(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if is_transient(d.as_ref()))
}

/// Runs `op` again, up to `attempts` times in all, while it fails with a [`transient`
/// error](is_transient_error) (a deadlock's loser, a lock wait timeout), after a short pause
/// that grows with each try. For transactions that are safe to repeat: each run either
/// committed or rolled back as a whole.
pub async fn retry_transient<T, F, Fut>(attempts: u32, mut op: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    // 5 ms, 10 ms, 20 ms ...: a pause of a few milliseconds within one unit of work, short
    // enough that it needs no stop token.
    let mut pauses = Backoff::new(Duration::from_millis(5), Duration::from_millis(100))
        .with_jitter(Jitter::NONE);
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if attempt < attempts && is_transient_error(&e) => {
                tracing::debug!(error = %e, attempt, "transient database error; trying again");
                tokio::time::sleep(pauses.next_delay()).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}
