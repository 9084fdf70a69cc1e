//! The load tester's operator: answers the gateway's operator wire protocol (`POST /send`
//! with `{"to", "text", "reference"}`, answered `200 {"message_id"}` after `--latency-ms`) and
//! records, per message, when it arrived. Arrival times are read from the text's tag (see
//! [`crate::text`]), so `run` can match them with the acceptance time of the request without
//! asking the gateway anything.
//!
//! It deduplicates by `reference`, as an operator honouring the gateway's idempotency key
//! would: a send whose reference it has seen is answered with the first send's message id and
//! delivered no second time. It counts such repeated calls, and the messages it would have
//! delivered twice all the same (the same request, sequence and recipient under another
//! reference): those are duplicates no operator-side deduplication could catch.
//!
//! `GET /status?reference=` answers `200 {"message_id", "status"}` for a reference it has
//! taken and 404 otherwise (the gateway's `status_url` lookup, counted in `lookups`).
//!
//! `run --e2e --operator-listen ADDR` embeds it; `sms-loadtest operator` runs it alone, and
//! then `GET /arrivals?run=<hex id>` hands a run its arrivals (`run --operator-url`).

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sms_gateway::operators::wire::{MessageStatus, OperatorAccepted, OperatorSend, StatusQuery};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock;
use crate::text::parse_tag;

/// One message as the operator saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrival {
    /// The request's sequence number in its run.
    pub seq: u32,
    /// Arrival time, microseconds since the Unix epoch ([`clock::now_us`]).
    pub at_us: u64,
    /// The gateway's `reference` as a number ([`reference_key`]), to count repeated calls.
    pub reference: u64,
}

/// Arrivals per run id, and counters.
#[derive(Default)]
pub struct Recorder {
    /// The arrivals of each run, in arrival order.
    runs: Mutex<HashMap<u32, Vec<Arrival>>>,
    /// Every send received.
    pub received: AtomicU64,
    /// Sends whose text carried no tag (another load, or a hand-made message).
    pub untagged: AtomicU64,
    /// Per run, how many arrived (read by progress without taking the lock).
    counts: Mutex<HashMap<u32, Arc<AtomicU64>>>,
    /// Deduplication: the message id answered for each reference, and each delivered
    /// message's (run, sequence, recipient).
    dedupe: Mutex<Dedupe>,
    /// Sends whose reference had been seen (answered with the first message id).
    pub repeated: AtomicU64,
    /// Messages delivered although one with the same run, sequence and recipient was already
    /// delivered under another reference.
    pub duplicates_delivered: AtomicU64,
    /// Status lookups by reference, and those that found the message.
    pub lookups: AtomicU64,
    pub lookups_found: AtomicU64,
}

#[derive(Default)]
struct Dedupe {
    message_ids: HashMap<String, String>,
    delivered: HashSet<(u32, u32, String)>,
}

/// A reference as the number arrivals carry: the gateway's numeric reference itself, any
/// other text hashed.
pub fn reference_key(reference: &str) -> u64 {
    reference.parse().unwrap_or_else(|_| {
        let mut h = DefaultHasher::new();
        reference.hash(&mut h);
        h.finish()
    })
}

impl Recorder {
    /// A counter that follows `run`'s arrivals.
    pub fn counter(&self, run: u32) -> Arc<AtomicU64> {
        self.counts.lock().unwrap().entry(run).or_default().clone()
    }

    /// Adds an arrival of `run`.
    pub(crate) fn record(&self, run: u32, arrival: Arrival) {
        self.runs
            .lock()
            .unwrap()
            .entry(run)
            .or_default()
            .push(arrival);
        if let Some(c) = self.counts.lock().unwrap().get(&run) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The arrivals of `run` so far (a copy).
    pub fn arrivals(&self, run: u32) -> Vec<Arrival> {
        self.runs
            .lock()
            .unwrap()
            .get(&run)
            .cloned()
            .unwrap_or_default()
    }

    /// The message id already answered for `reference`, or `None` after recording `fresh` as
    /// its id and the tagged message (`tag`, `to`) as delivered.
    fn deduplicate(
        &self,
        reference: &str,
        fresh: &str,
        tag: Option<(u32, u32)>,
        to: &str,
    ) -> Option<String> {
        let mut d = self.dedupe.lock().unwrap();
        if let Some(id) = d.message_ids.get(reference) {
            self.repeated.fetch_add(1, Ordering::Relaxed);
            return Some(id.clone());
        }
        d.message_ids
            .insert(reference.to_string(), fresh.to_string());
        if let Some((run, seq)) = tag
            && !d.delivered.insert((run, seq, to.to_string()))
        {
            self.duplicates_delivered.fetch_add(1, Ordering::Relaxed);
        }
        None
    }

    /// The message id answered for `reference`, if it was taken (counted as a lookup).
    fn look_up(&self, reference: &str) -> Option<String> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let found = self
            .dedupe
            .lock()
            .unwrap()
            .message_ids
            .get(reference)
            .cloned();
        if found.is_some() {
            self.lookups_found.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// How many arrivals of other runs or untagged texts came in.
    pub fn foreign(&self, run: u32) -> u64 {
        let runs = self.runs.lock().unwrap();
        let other: usize = runs
            .iter()
            .filter(|(r, _)| **r != run)
            .map(|(_, v)| v.len())
            .sum();
        other as u64 + self.untagged.load(Ordering::Relaxed)
    }
}

/// A running operator.
#[derive(Clone)]
pub struct Operator {
    /// What arrived.
    pub recorder: Arc<Recorder>,
    /// The delay before each answer.
    latency: Duration,
    /// Makes message ids unique across operator instances (the gateway's
    /// `(provider, provider_message_id)` is unique).
    id_prefix: u32,
    /// The number in the next message id.
    next_id: Arc<AtomicU64>,
}

impl Operator {
    /// An operator answering after `latency`.
    pub fn new(latency: Duration) -> Self {
        Self {
            recorder: Arc::new(Recorder::default()),
            latency,
            id_prefix: rand::random(),
            next_id: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The operator's routes: `POST /send`, `GET /status`, `GET /arrivals`, `GET /stats`.
    fn router(&self) -> Router {
        Router::new()
            .route("/send", post(send))
            .route("/status", get(status))
            .route("/arrivals", get(arrivals))
            .route("/stats", get(stats))
            .with_state(self.clone())
    }

    /// Binds `addr` and serves until `stop` fires; returns the bound address.
    pub async fn start(
        &self,
        addr: SocketAddr,
        stop: CancellationToken,
    ) -> anyhow::Result<SocketAddr> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("operator: cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr()?;
        let app = self.router();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                eprintln!("operator: server error: {e}");
            }
        });
        Ok(local)
    }
}

/// `POST /send`: records the arrival, waits the latency, answers a unique message id.
async fn send(
    State(op): State<Operator>,
    body: Result<Json<OperatorSend>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let at_us = clock::now_us();
    op.recorder.received.fetch_add(1, Ordering::Relaxed);
    let Ok(Json(msg)) = body else {
        return (StatusCode::BAD_REQUEST, "malformed message").into_response();
    };
    let tag = parse_tag(&msg.text);
    match tag {
        Some((run, seq)) => op.recorder.record(
            run,
            Arrival {
                seq,
                at_us,
                reference: reference_key(&msg.reference),
            },
        ),
        None => {
            op.recorder.untagged.fetch_add(1, Ordering::Relaxed);
        }
    }
    if !op.latency.is_zero() {
        tokio::time::sleep(op.latency).await;
    }
    let n = op.next_id.fetch_add(1, Ordering::Relaxed);
    let fresh = format!("lt{:08x}-{n}", op.id_prefix);
    let message_id = op
        .recorder
        .deduplicate(&msg.reference, &fresh, tag, &msg.to)
        .unwrap_or(fresh);
    Json(OperatorAccepted { message_id }).into_response()
}

/// `GET /status?reference=`: the message taken under a reference (`ACCEPTD`: this operator
/// sends no reports), 404 when it has none.
async fn status(
    State(op): State<Operator>,
    query: Result<Query<StatusQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return (StatusCode::BAD_REQUEST, "reference is required").into_response();
    };
    match op.recorder.look_up(&q.reference) {
        Some(message_id) => Json(MessageStatus {
            message_id,
            status: "ACCEPTD".into(),
            from: None,
        })
        .into_response(),
        None => (StatusCode::NOT_FOUND, "no message with that reference").into_response(),
    }
}

/// `GET /arrivals?run=<8 hex digits>[&count_only=true]`.
#[derive(Deserialize)]
struct ArrivalsQuery {
    /// The run id.
    run: String,
    /// Only the count, no list.
    #[serde(default)]
    count_only: bool,
}

/// Compact: `{"count": n, "arrivals": [[seq, at_us, reference], ...]}`.
#[derive(Serialize, Deserialize)]
pub struct ArrivalsAnswer {
    /// Arrivals of the run so far.
    pub count: usize,
    /// Each as `[seq, at_us, reference]`; empty with `count_only`.
    pub arrivals: Vec<(u32, u64, u64)>,
}

/// `GET /arrivals`: a run's arrivals.
async fn arrivals(State(op): State<Operator>, Query(q): Query<ArrivalsQuery>) -> Response {
    let Ok(run) = u32::from_str_radix(&q.run, 16) else {
        return (StatusCode::BAD_REQUEST, "run must be 8 hex digits").into_response();
    };
    let list = op.recorder.arrivals(run);
    let count = list.len();
    let arrivals = if q.count_only {
        Vec::new()
    } else {
        list.iter().map(|a| (a.seq, a.at_us, a.reference)).collect()
    };
    Json(ArrivalsAnswer { count, arrivals }).into_response()
}

/// `GET /stats`: sends received, untagged ones, distinct references, repeated calls,
/// duplicates delivered despite the deduplication, and arrivals per run.
async fn stats(State(op): State<Operator>) -> Json<serde_json::Value> {
    let runs: HashMap<String, usize> = op
        .recorder
        .runs
        .lock()
        .unwrap()
        .iter()
        .map(|(r, v)| (format!("{r:08x}"), v.len()))
        .collect();
    Json(serde_json::json!({
        "received": op.recorder.received.load(Ordering::Relaxed),
        "untagged": op.recorder.untagged.load(Ordering::Relaxed),
        "references": op.recorder.dedupe.lock().unwrap().message_ids.len(),
        "repeated": op.recorder.repeated.load(Ordering::Relaxed),
        "duplicates_delivered": op.recorder.duplicates_delivered.load(Ordering::Relaxed),
        "lookups": op.recorder.lookups.load(Ordering::Relaxed),
        "lookups_found": op.recorder.lookups_found.load(Ordering::Relaxed),
        "runs": runs,
    }))
}

#[cfg(test)]
mod tests;
