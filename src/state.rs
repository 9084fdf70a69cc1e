//! `AppState(Arc<App>)`: what every HTTP handler shares.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use sqlx::MySqlPool;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::Config;
use crate::db;
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
    /// Customer keys this process has seen valid or refused, and the gate of their lookups.
    pub key_cache: KeyCache,
    /// Normal recipients waiting in the outbox, as last sampled ([`App::normal_backlog_over`]).
    normal_backlog: OnceLock<Arc<std::sync::atomic::AtomicU64>>,
}

impl App {
    /// Builds the context.
    pub fn new(config: Config, db: MySqlPool, broker: Arc<Broker>) -> Self {
        use secrecy::ExposeSecret;
        let admin_token_hash = sha256(config.http.admin_token.expose_secret().as_bytes());
        let key_cache = KeyCache::new(
            config.http.negative_key_cache_size,
            config.http.key_lookup_concurrency,
        );
        Self {
            config,
            db,
            broker,
            operators: None,
            admin_token_hash,
            draining: AtomicBool::new(false),
            broker_gates_readiness: false,
            group_commit: OnceLock::new(),
            key_cache,
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

/// The API keys this process knows: those it has seen valid, those it refused, and the gate
/// that bounds the lookup queries of keys in neither (docs/DESIGN.md, "API keys").
///
/// - **Valid** keys (SHA-256 of the key -> customer id) skip the gate, never the check:
///   `POST /sms/send` carries the hash into its acceptance transaction, which compares it with
///   the customer's current key (one statement per group-commit batch), and every other
///   endpoint checks it with a query ([`KeyCache::confirm`]). A rotated key therefore stops
///   working at once in every process. Bounded: emptied when it reaches
///   [`KeyCache::CAPACITY`] entries.
/// - **Refused** keys are answered 401 without a query. Bounded by `NEGATIVE_KEY_CACHE_SIZE`
///   (the oldest is evicted). A key can only become valid through a creation or a rotation,
///   which bumps the database's key generation: this process empties its refused keys at once
///   when it creates or rotates, and within one poll (500 ms) when another process does
///   ([`KeyCache::observe_generation`]). A lookup that raced with an emptying does not
///   remember its refusal (the epoch it started in is gone).
/// - Lookups of keys in neither go through a gate of `KEY_LOOKUP_CONCURRENCY` queries at once,
///   so a flood of random keys holds at most that many pool connections.
#[derive(Debug)]
pub struct KeyCache {
    valid: Mutex<HashMap<[u8; 32], i64>>,
    refused: Mutex<Refused>,
    gate: Semaphore,
}

/// The refused key hashes, oldest first for eviction.
#[derive(Debug)]
struct Refused {
    hashes: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
    capacity: usize,
    /// Bumped by every emptying: a refusal found in an older epoch is not remembered.
    epoch: u64,
    /// The database's key generation last observed (`None` before the first poll).
    generation: Option<u64>,
}

impl Refused {
    fn empty(&mut self) {
        // New sets: a full one's memory is given back.
        self.hashes = HashSet::new();
        self.order = VecDeque::new();
        self.epoch += 1;
    }
}

impl KeyCache {
    /// Most valid keys held (about 6 MB).
    pub const CAPACITY: usize = 100_000;

    /// Caches holding at most `refused_capacity` refused keys, looking up at most
    /// `lookup_concurrency` unknown keys at once.
    pub fn new(refused_capacity: usize, lookup_concurrency: usize) -> Self {
        Self {
            valid: Mutex::new(HashMap::new()),
            refused: Mutex::new(Refused {
                hashes: HashSet::new(),
                order: VecDeque::new(),
                capacity: refused_capacity.max(1),
                epoch: 0,
                generation: None,
            }),
            gate: Semaphore::new(lookup_concurrency.max(1)),
        }
    }

    /// The customer of a key seen valid before.
    pub fn get(&self, hash: &[u8; 32]) -> Option<i64> {
        relock(&self.valid).get(hash).copied()
    }

    /// Remembers a key just found valid.
    pub fn insert(&self, hash: [u8; 32], customer: i64) {
        let mut keys = relock(&self.valid);
        if keys.len() >= Self::CAPACITY {
            keys.clear();
        }
        keys.insert(hash, customer);
    }

    /// Forgets a key found no longer valid.
    pub fn remove(&self, hash: &[u8; 32]) {
        relock(&self.valid).remove(hash);
    }

    /// The customer of a key in neither cache, or `None` (then remembered as refused): refused
    /// keys are answered without a query, the others wait for a turn at the gate.
    pub async fn lookup(
        &self,
        db: &MySqlPool,
        hash: &[u8; 32],
    ) -> Result<Option<i64>, sqlx::Error> {
        if self.is_refused(hash) {
            return Ok(None);
        }
        let _turn = self.turn().await;
        // Concurrent requests with the same key waited together: the first one's answer.
        if let Some(id) = self.get(hash) {
            return Ok(Some(id));
        }
        if self.is_refused(hash) {
            return Ok(None);
        }
        let epoch = relock(&self.refused).epoch;
        let found = db::customers::find_by_key_hash(db, hash).await?;
        match found {
            Some(id) => self.insert(*hash, id),
            None => self.refuse(*hash, epoch),
        }
        Ok(found)
    }

    /// Checks a key taken from the valid keys (one query, no turn at the gate): false, and the
    /// key forgotten and refused, when it is no longer `customer`'s key.
    pub async fn confirm(
        &self,
        db: &MySqlPool,
        hash: &[u8; 32],
        customer: i64,
    ) -> Result<bool, sqlx::Error> {
        let epoch = relock(&self.refused).epoch;
        let found = db::customers::find_by_key_hash(db, hash).await?;
        if found == Some(customer) {
            return Ok(true);
        }
        self.remove(hash);
        if found.is_none() {
            self.refuse(*hash, epoch);
        }
        Ok(false)
    }

    /// Whether a key was refused before (counted as a negative-cache hit).
    pub fn is_refused(&self, hash: &[u8; 32]) -> bool {
        let hit = relock(&self.refused).hashes.contains(hash);
        if hit {
            crate::metrics::api_key_negative_cache_hit();
        }
        hit
    }

    /// Remembers a refused key, unless the refused keys were emptied since `epoch` (the
    /// lookup may predate the creation that emptied them); the oldest is evicted when full.
    fn refuse(&self, hash: [u8; 32], epoch: u64) {
        let mut refused = relock(&self.refused);
        if refused.epoch != epoch || !refused.hashes.insert(hash) {
            return;
        }
        refused.order.push_back(hash);
        while refused.order.len() > refused.capacity {
            if let Some(oldest) = refused.order.pop_front() {
                refused.hashes.remove(&oldest);
            }
        }
    }

    /// Forgets every refused key (a key was created or rotated).
    pub fn forget_refused(&self) {
        relock(&self.refused).empty();
    }

    /// Takes the database's key generation as polled: when it is not the one seen last (or
    /// is the first seen), forgets every refused key and returns true.
    pub fn observe_generation(&self, generation: u64) -> bool {
        let mut refused = relock(&self.refused);
        if refused.generation == Some(generation) {
            return false;
        }
        refused.empty();
        refused.generation = Some(generation);
        true
    }

    /// The key generation last observed, `None` before the first poll.
    pub fn observed_generation(&self) -> Option<u64> {
        relock(&self.refused).generation
    }

    /// How many refused keys are held.
    pub fn refused_len(&self) -> usize {
        relock(&self.refused).hashes.len()
    }

    /// A turn at the lookup gate; a lookup that has to wait is counted while it waits (also
    /// when its request is dropped meanwhile).
    async fn turn(&self) -> SemaphorePermit<'_> {
        if let Ok(permit) = self.gate.try_acquire() {
            return permit;
        }
        struct Waiting;
        impl Drop for Waiting {
            fn drop(&mut self) {
                crate::metrics::api_key_lookups_waiting(-1.0);
            }
        }
        crate::metrics::api_key_lookups_waiting(1.0);
        let _waiting = Waiting;
        self.gate
            .acquire()
            .await
            .expect("the key lookup gate is never closed")
    }
}

/// Locks a cache; it stays consistent whatever a panicking holder did (every change is made
/// under one lock).
fn relock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn refused_keys_are_bounded_and_the_oldest_is_evicted() {
        let cache = KeyCache::new(3, 1);
        for n in 0..5 {
            cache.refuse(hash(n), 0);
        }
        assert_eq!(cache.refused_len(), 3);
        assert!(!cache.is_refused(&hash(0)) && !cache.is_refused(&hash(1)));
        assert!((2..5).all(|n| cache.is_refused(&hash(n))));
        // A key refused twice takes one place.
        cache.refuse(hash(4), 0);
        assert_eq!(cache.refused_len(), 3);
        assert!(cache.is_refused(&hash(2)));
    }

    #[test]
    fn a_refusal_from_before_an_emptying_is_not_remembered() {
        let cache = KeyCache::new(10, 1);
        let epoch = relock(&cache.refused).epoch;
        cache.forget_refused();
        cache.refuse(hash(1), epoch);
        assert!(!cache.is_refused(&hash(1)));
    }

    #[test]
    fn a_new_generation_empties_the_refused_keys() {
        let cache = KeyCache::new(10, 1);
        assert!(
            cache.observe_generation(7),
            "the first generation seen empties"
        );
        let epoch = relock(&cache.refused).epoch;
        cache.refuse(hash(1), epoch);
        assert!(!cache.observe_generation(7));
        assert!(cache.is_refused(&hash(1)));
        assert!(cache.observe_generation(8));
        assert!(!cache.is_refused(&hash(1)));
    }
}
