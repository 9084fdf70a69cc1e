//! Builds and runs the gateway for a role, and owns the shutdown token: SIGINT or SIGTERM
//! cancels it, readiness turns false, the HTTP server stops accepting and drains, background
//! tasks stop between units of work, and everything is awaited within `SHUTDOWN_TIMEOUT_SECS`.

mod samplers;
pub mod serve;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::MySqlPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backoff::Backoff;
use crate::config::{Config, OperatorConfig};
use crate::db;
use crate::mock_operator::{MockOperator, MockOperatorConfig};
use crate::operators::OperatorRegistry;
use crate::outbox::PublisherPool;
use crate::queue::Broker;
use crate::state::{App, AppState};
use crate::worker::WorkerPool;

pub use samplers::{KEY_GENERATION_POLL, Samplers, spawn_key_generation_poll, spawn_samplers};

/// Which parts of the gateway a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// API, outbox publishers and delivery workers in one process.
    All,
    /// The HTTP API only.
    Api,
    /// Outbox publishers only.
    Publisher,
    /// Delivery workers only.
    Worker,
}

impl Role {
    /// Whether this role serves HTTP.
    pub fn runs_api(self) -> bool {
        matches!(self, Role::All | Role::Api)
    }

    /// Whether this role delivers to operators.
    pub fn runs_worker(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }

    /// Whether this role publishes the outbox.
    pub fn runs_publisher(self) -> bool {
        matches!(self, Role::All | Role::Publisher)
    }
}

/// Waits for SIGINT or SIGTERM and cancels `token`.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => tracing::info!("SIGINT received; shutting down"),
            _ = term => tracing::info!("SIGTERM received; shutting down"),
        }
        token.cancel();
    });
}

/// Applies migrations, retrying with backoff while the database is unreachable.
pub async fn migrate_with_retry(
    config: &Config,
    pool: &MySqlPool,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(10));
    loop {
        let attempt = async {
            db::create_database_if_missing(&config.database).await?;
            db::migrate(pool).await?;
            anyhow::Ok(())
        };
        match attempt.await {
            Ok(()) => return Ok(()),
            Err(e) if is_connect_error(&e) => {
                tracing::warn!(error = %e, "database unreachable; retrying migrations");
            }
            Err(e) => return Err(e.context("applying migrations")),
        }
        tokio::select! {
            _ = stop.cancelled() => anyhow::bail!("stopped before the database became reachable"),
            _ = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}

fn is_connect_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<sqlx::Error>(),
            Some(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_))
        )
    })
}

/// Runs a role until `stop` is cancelled.
pub async fn run(config: Config, role: Role, stop: CancellationToken) -> anyhow::Result<()> {
    let pool = db::pool(&config.database).context("DATABASE_URL")?;
    if config.database.run_migrations {
        migrate_with_retry(&config, &pool, &stop).await?;
    }
    let broker = Broker::new(&config.amqp, format!("sms-gateway/{role:?}").to_lowercase());
    let tracker = TaskTracker::new();
    tracker.spawn(broker.clone().run_until_stopped(stop.clone()));
    spawn_samplers(
        Samplers {
            db: pool.clone(),
            max_connections: config.database.max_connections,
            outbox: role.runs_publisher() || role.runs_api(),
            queues: (role.runs_publisher() || role.runs_worker())
                .then(|| (broker.clone(), config.amqp.clone())),
        },
        &tracker,
        stop.clone(),
    );

    // In `--role all` the publishers have a connection of their own: RabbitMQ blocks a
    // connection that publishes during a memory or disk alarm, and the consumers'
    // acknowledgements must not wait behind it.
    let publishing = if role == Role::All {
        let own = Broker::new(&config.amqp, "sms-gateway/all-publishers");
        tracker.spawn(own.clone().run_until_stopped(stop.clone()));
        own
    } else {
        broker.clone()
    };
    if role.runs_publisher() {
        let publishers = PublisherPool::new(
            pool.clone(),
            publishing.clone(),
            config.amqp.clone(),
            config.delivery.clone(),
        );
        tracing::info!(
            owner = publishers.owner(),
            express = config.delivery.publishers_express,
            normal = config.delivery.publishers_normal,
            "outbox publishers starting"
        );
        publishers.spawn(&tracker, &stop);
        // The callback dispatcher runs where the outbox is published: beside the sending
        // path, never on it (docs/DESIGN.md "Delivery-status callbacks").
        let callbacks = crate::callbacks::Dispatcher::new(pool.clone(), config.callbacks.clone())?;
        callbacks.spawn(&tracker, &stop);
    }

    let operators = Arc::new(build_operators(&config, &tracker, &stop).await?);
    crate::metrics::register_series(&operators.names());
    if role.runs_worker() {
        let workers = WorkerPool::new(
            pool.clone(),
            operators.clone(),
            broker.clone(),
            config.amqp.clone(),
            config.delivery.clone(),
        );
        tracing::info!(
            express = config.delivery.workers_express,
            normal = config.delivery.workers_normal,
            "delivery workers starting"
        );
        workers.spawn(&tracker, &stop);
    }

    let shutdown_timeout = config.http.shutdown_timeout;
    // Readiness needs the broker only where intake is not served (docs/OPERATIONS.md).
    let state = AppState(Arc::new(
        App::new(config, pool.clone(), broker.clone())
            .with_operators(operators)
            .with_broker_gating_readiness(!role.runs_api()),
    ));

    // Every role serves HTTP: the API, or only /healthz, /readyz and /metrics.
    {
        let addr = state.config.http.listen_addr;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding LISTEN_ADDR {addr}"))?;
        let app = if role.runs_api() {
            tracing::info!(%addr, ?role, "HTTP API listening");
            crate::http::router(state.clone())
        } else {
            tracing::info!(%addr, ?role, "health and metrics endpoints listening");
            crate::http::ops_router(state.clone())
        };
        let drain_state = state.clone();
        let http_stop = stop.clone();
        let limits = serve::Limits::of(&state.config.http);
        tracker.spawn(serve::serve(listener, app, limits, async move {
            http_stop.cancelled().await;
            drain_state.start_draining();
        }));
    }
    if role.runs_api() {
        spawn_key_generation_poll(state.clone(), &tracker, stop.clone());
        tracker.spawn(prune_idempotency_keys(state.clone(), stop.clone()));
        tracker.spawn(crate::reports::run_until_stopped(
            state.db.clone(),
            state.config.reports.clone(),
            stop.clone(),
        ));
    }

    stop.cancelled().await;
    state.start_draining();
    tracker.close();
    if tokio::time::timeout(shutdown_timeout, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            timeout_secs = shutdown_timeout.as_secs(),
            "shutdown timeout reached with work still running"
        );
    }
    publishing.close().await;
    broker.close().await;
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Deletes expired idempotency keys in small batches, once a minute.
async fn prune_idempotency_keys(state: AppState, stop: CancellationToken) {
    let ttl = state.config.http.idempotency_ttl.as_secs();
    loop {
        loop {
            match db::idempotency::prune(&state.db, ttl, 1_000).await {
                Ok(1_000) if !stop.is_cancelled() => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "pruning idempotency keys failed");
                    break;
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

/// The operator registry: the configured operators, or, when `OPERATORS` and
/// `EXPRESS_OPERATORS` are both unset, two mock operators started in this process (on
/// ephemeral localhost ports, posting delivery reports to this process's API) so that a fresh
/// start delivers end to end.
pub async fn build_operators(
    config: &Config,
    tracker: &TaskTracker,
    stop: &CancellationToken,
) -> anyhow::Result<OperatorRegistry> {
    if !config.operators.uses_builtin_mocks() {
        let normal = config.operators.normal.clone().unwrap_or_default();
        let express = config.operators.express.clone().unwrap_or_default();
        return OperatorRegistry::from_config(&normal, &express);
    }
    let api_port = config.http.listen_addr.port();
    let mut configs = Vec::new();
    for name in crate::config::BUILTIN_MOCK_NAMES {
        let key = crate::accounts::new_api_key().key;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a built-in mock operator")?;
        let addr = listener.local_addr()?;
        let mock = MockOperator::new(MockOperatorConfig {
            name: name.to_string(),
            api_key: Some(key.clone()),
            latency: Duration::from_millis(5),
            dlr_url: Some(format!("http://127.0.0.1:{api_port}/dlr/{name}")),
            dlr_key: Some(key.clone()),
            dlr_delay: Duration::from_millis(500),
            ..Default::default()
        });
        let stop = stop.clone();
        tracker.spawn(async move {
            if let Err(e) = mock.serve(listener, stop).await {
                tracing::error!(error = %e, "built-in mock operator failed");
            }
        });
        tracing::info!(operator = name, %addr, "built-in mock operator started (no OPERATORS configured)");
        configs.push(
            OperatorConfig::new(name, format!("http://{addr}/send"), key.into())
                .with_status_url(format!("http://{addr}/status")),
        );
    }
    OperatorRegistry::from_config(&configs, &[])
}
