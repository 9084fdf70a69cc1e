//! `AppState(Arc<App>)`: what every HTTP handler shares.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use sqlx::MySqlPool;

use crate::config::Config;
use crate::hashing::sha256;
use crate::intake::group_commit::GroupCommit;
use crate::operators::OperatorRegistry;
use crate::queue::Broker;

/// How often the normal backlog is sampled for backpressure.
pub const BACKLOG_SAMPLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Shared application context.
pub struct App {
    /// The validated configuration.
    pub config: Config,
    /// The bounded database pool.
    pub db: MySqlPool,
    /// The supervised RabbitMQ connection (readiness, and the roles that use it).
    pub broker: Arc<Broker>,
    /// The operators (delivery reports are authenticated by their keys); `None` in a process
    /// that neither sends nor receives reports.
    pub operators: Option<Arc<OperatorRegistry>>,
    /// SHA-256 of `ADMIN_TOKEN`, compared in constant time.
    pub admin_token_hash: [u8; 32],
    /// Set when shutdown starts: readiness turns false so load balancers stop sending.
    draining: AtomicBool,
    /// Whether `/readyz` needs the broker (roles without intake: publisher, worker). Intake
    /// does not: the outbox absorbs a broker outage.
    pub broker_gates_readiness: bool,
    /// Group commit of acceptances, started on first use.
    group_commit: OnceLock<GroupCommit>,
    /// Customer keys this process has seen valid (`POST /sms/send` only).
    pub key_cache: KeyCache,
    /// Normal recipients waiting in the outbox, as last sampled ([`App::normal_backlog_over`]).
    normal_backlog: OnceLock<Arc<std::sync::atomic::AtomicU64>>,
}

impl App {
    /// Builds the context.
    pub fn new(config: Config, db: MySqlPool, broker: Arc<Broker>) -> Self {
        use secrecy::ExposeSecret;
        let admin_token_hash = sha256(config.http.admin_token.expose_secret().as_bytes());
        Self {
            config,
            db,
            broker,
            operators: None,
            admin_token_hash,
            draining: AtomicBool::new(false),
            broker_gates_readiness: false,
            group_commit: OnceLock::new(),
            key_cache: KeyCache::default(),
            normal_backlog: OnceLock::new(),
        }
    }

    /// The normal backlog (recipients waiting in the outbox) when it is over `limit` (0: no
    /// limit). Sampled every [`BACKLOG_SAMPLE`] by a task started on the first call (on the
    /// current runtime), which reads at most `limit` outbox rows; until the first sample the
    /// backlog counts as 0.
    pub fn normal_backlog_over(&self, limit: u64) -> Option<u64> {
        use std::sync::atomic::Ordering;
        if limit == 0 {
            return None;
        }
        let sample = self.normal_backlog.get_or_init(|| {
            let sample = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let (db, mine) = (self.db.clone(), sample.clone());
            tokio::spawn(async move {
                // Ends with the app: the task's copy is the last one left.
                while Arc::strong_count(&mine) > 1 {
                    let priority = crate::domain::SmsType::Normal.priority();
                    match crate::db::outbox::waiting_recipients(&db, priority, limit).await {
                        Ok(n) => mine.store(n, Ordering::Relaxed),
                        Err(e) => tracing::warn!(error = %e, "cannot sample the normal backlog"),
                    }
                    tokio::time::sleep(BACKLOG_SAMPLE).await;
                }
            });
            sample
        });
        let backlog = sample.load(Ordering::Relaxed);
        (backlog >= limit).then_some(backlog)
    }

    /// The group-commit front of intake (its tasks start on the first call, on the current
    /// tokio runtime).
    pub fn group_commit(&self) -> &GroupCommit {
        self.group_commit.get_or_init(|| {
            GroupCommit::start(
                self.db.clone(),
                self.config.intake.executors,
                crate::intake::Bounds::of(&self.config.intake),
            )
        })
    }

    /// Attaches the operator registry.
    pub fn with_operators(mut self, operators: Arc<OperatorRegistry>) -> Self {
        self.operators = Some(operators);
        self
    }

    /// Makes `/readyz` fail while the broker is unreachable (publisher and worker roles).
    pub fn with_broker_gating_readiness(mut self, gates: bool) -> Self {
        self.broker_gates_readiness = gates;
        self
    }

    /// Marks the process as shutting down.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// True once shutdown started.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// The handler state: cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// Customer API keys this process has seen valid: SHA-256 of the key -> customer id.
///
/// Only `POST /sms/send` uses it, and only to skip the key lookup query: a request with a
/// cached key carries the key's hash into its acceptance transaction, which checks it against
/// the customer's current key (one statement per group-commit batch instead of one query per
/// request). A rotated key therefore stops working at once in every process, as without the
/// cache. Unknown keys are never cached. Bounded: emptied when it reaches
/// [`KeyCache::CAPACITY`] entries.
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<[u8; 32], i64>>,
}

impl KeyCache {
    /// Most keys held (about 6 MB).
    pub const CAPACITY: usize = 100_000;

    /// The customer of a key seen valid before.
    pub fn get(&self, hash: &[u8; 32]) -> Option<i64> {
        self.lock().get(hash).copied()
    }

    /// Remembers a key just found valid.
    pub fn insert(&self, hash: [u8; 32], customer: i64) {
        let mut keys = self.lock();
        if keys.len() >= Self::CAPACITY {
            keys.clear();
        }
        keys.insert(hash, customer);
    }

    /// Forgets a key found no longer valid.
    pub fn remove(&self, hash: &[u8; 32]) {
        self.lock().remove(hash);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], i64>> {
        // The map stays consistent whatever a panicking holder did: every operation is one call.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}
