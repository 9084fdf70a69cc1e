//! `run`: drives `POST /sms/send` in an open loop (`--rate`) or a closed loop
//! (`--concurrency`), measures intake, and with `--e2e` matches operator arrivals with
//! acceptances (see [`crate::operator`]).

use std::collections::{BTreeMap, HashSet};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use sms_gateway::http::sms::{SendRequest, SendResponse};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::clock::{self, now_us};
use crate::keys;
use crate::operator::{Arrival, ArrivalsAnswer, Operator};
use crate::report::{
    self, AcceptToSent, BucketLatency, Cpu, EndToEnd, Intake, Latency, Report, RunConfig, Sample,
};
use crate::schedule::{Plan, RateSchedule};
use crate::text::TextMix;

/// The gateway's acceptance-to-SENT histogram (read from `GET /metrics` when it exists).
const ACCEPT_TO_SENT: &str = "smsgw_delivery_accept_to_sent_seconds";

/// Everything `run` was told.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub base_url: String,
    pub keys: PathBuf,
    pub customers: Option<usize>,
    pub hot: bool,
    pub rate: Option<f64>,
    pub concurrency: Option<usize>,
    /// Closed loop: at most this many requests.
    pub requests: Option<u64>,
    pub connections: usize,
    pub duration: Duration,
    pub recipients: usize,
    pub express_ratio: f64,
    pub text: TextMix,
    pub e2e: bool,
    pub operator_listen: Option<SocketAddr>,
    pub operator_url: Option<String>,
    pub operator_latency: Duration,
    pub drain_timeout: Duration,
    pub timeout: Duration,
    pub admin_token: Option<String>,
    pub resume_dispatch: bool,
    pub seed: u64,
    pub out: Option<PathBuf>,
    pub progress: Progress,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Progress {
    /// A bar on a terminal, otherwise a line every 5 s.
    Auto,
    Bar,
    Lines,
    None,
}

/// Live counters, shared by request tasks, the sampler and the progress display.
#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    accepted: AtomicU64,
    accepted_recipients: AtomicU64,
    non_accepted: AtomicU64,
    in_flight: AtomicU64,
    max_lag_us: AtomicU64,
}

/// What one request came to.
struct Outcome {
    seq: u32,
    express: bool,
    /// Open loop: the due time; closed loop: when it was sent.
    started_us: u64,
    answered_us: u64,
    result: Result<Answer, &'static str>,
}

enum Answer {
    Accepted { recipients: u64 },
    Status(u16),
}

/// What the request tasks share.
struct Shared {
    client: reqwest::Client,
    send_url: String,
    auth: Vec<HeaderValue>,
    plan: Plan,
    run_id: u32,
    counters: Counters,
}

/// One acceptance, kept for matching with arrivals.
#[derive(Clone, Copy)]
struct Accept {
    at_us: u64,
    express: bool,
}

impl Shared {
    async fn send(&self, seq: u64, started_us: u64) -> Outcome {
        let pick = self.plan.pick(seq);
        let body = SendRequest {
            text: crate::text::tagged_text(pick.kind, self.run_id, seq as u32),
            recipients: self.plan.recipients_of(seq),
            sms_type: Some(if pick.express { "express" } else { "normal" }.into()),
            customer_id: None,
            allow_partial: false,
            validity_seconds: None,
            operators: None,
        };
        let body = serde_json::to_vec(&body).expect("request serializes");
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        self.counters.in_flight.fetch_add(1, Ordering::Relaxed);
        let result = self.post(pick.customer, body).await;
        self.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        let answered_us = now_us();
        match &result {
            Ok(Answer::Accepted { recipients }) => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .accepted_recipients
                    .fetch_add(*recipients, Ordering::Relaxed);
            }
            _ => {
                self.counters.non_accepted.fetch_add(1, Ordering::Relaxed);
            }
        }
        Outcome {
            seq: seq as u32,
            express: pick.express,
            started_us,
            answered_us,
            result,
        }
    }

    async fn post(&self, customer: usize, body: Vec<u8>) -> Result<Answer, &'static str> {
        let response = self
            .client
            .post(&self.send_url)
            .header(AUTHORIZATION, self.auth[customer].clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(classify)?;
        if status != 202 {
            return Ok(Answer::Status(status));
        }
        match serde_json::from_slice::<SendResponse>(&bytes) {
            Ok(r) => Ok(Answer::Accepted {
                recipients: r.recipients as u64,
            }),
            Err(_) => Err("unreadable 202"),
        }
    }
}

fn classify(e: reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "other"
    }
}

/// Collects outcomes into histograms and the acceptance table.
struct Collector {
    all: Histogram<u64>,
    by_type: [Histogram<u64>; 2],
    rejections: BTreeMap<u16, u64>,
    errors: BTreeMap<String, u64>,
    accepts: Vec<Option<Accept>>,
    last_answer_us: u64,
}

impl Collector {
    fn new() -> Self {
        Self {
            all: report::new_histogram(),
            by_type: [report::new_histogram(), report::new_histogram()],
            rejections: BTreeMap::new(),
            errors: BTreeMap::new(),
            accepts: Vec::new(),
            last_answer_us: 0,
        }
    }

    fn add(&mut self, o: Outcome) {
        self.last_answer_us = self.last_answer_us.max(o.answered_us);
        match o.result {
            Ok(Answer::Accepted { .. }) => {
                let us = o.answered_us.saturating_sub(o.started_us).max(1);
                self.all.saturating_record(us);
                self.by_type[o.express as usize].saturating_record(us);
                let i = o.seq as usize;
                if self.accepts.len() <= i {
                    self.accepts.resize(i + 1, None);
                }
                self.accepts[i] = Some(Accept {
                    at_us: o.answered_us,
                    express: o.express,
                });
            }
            Ok(Answer::Status(s)) => *self.rejections.entry(s).or_default() += 1,
            Err(kind) => *self.errors.entry(kind.to_string()).or_default() += 1,
        }
    }
}

fn type_name(express: bool) -> &'static str {
    if express { "express" } else { "normal" }
}

/// Runs the load and returns the report (also written to `--out` and printed).
pub async fn run(opts: RunOptions) -> anyhow::Result<Report> {
    let all_keys = keys::read(&opts.keys)?;
    let customers = if opts.hot {
        1
    } else {
        opts.customers.unwrap_or(all_keys.len())
    };
    if customers == 0 || customers > all_keys.len() {
        bail!(
            "--customers {customers}: the keys file has {} keys",
            all_keys.len()
        );
    }
    if opts.rate.is_some() == opts.concurrency.is_some() {
        bail!("give exactly one of --rate (open loop) and --concurrency (closed loop)");
    }
    if !(0.0..=1.0).contains(&opts.express_ratio) {
        bail!("--express-ratio must be between 0 and 1");
    }
    if opts.recipients == 0 {
        bail!("--recipients must be at least 1");
    }
    let base = opts.base_url.trim_end_matches('/').to_string();
    let connections = opts.concurrency.unwrap_or(opts.connections).max(1);
    let client = reqwest::Client::builder()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(connections)
        .timeout(opts.timeout)
        .build()?;
    let run_id = clock::random_u32();
    let auth = all_keys[..customers]
        .iter()
        .map(|k| HeaderValue::from_str(&format!("Bearer {}", k.api_key)))
        .collect::<Result<Vec<_>, _>>()
        .context("an API key is not a valid header value")?;
    let shared = Arc::new(Shared {
        client: client.clone(),
        send_url: format!("{base}/sms/send"),
        auth,
        plan: Plan {
            seed: opts.seed,
            customers,
            express_ratio: opts.express_ratio,
            text: opts.text,
            recipients: opts.recipients,
        },
        run_id,
        counters: Counters::default(),
    });

    // The operator, embedded or separate.
    let stop = CancellationToken::new();
    let mut embedded: Option<Operator> = None;
    if opts.e2e {
        match (&opts.operator_listen, &opts.operator_url) {
            (Some(addr), _) => {
                let op = Operator::new(opts.operator_latency);
                let bound = op.start(*addr, stop.clone()).await?;
                eprintln!(
                    "run {run_id:08x}: operator listening on http://{bound}/send (latency {} ms)",
                    opts.operator_latency.as_millis()
                );
                embedded = Some(op);
            }
            (None, Some(_)) => {}
            (None, None) => bail!("--e2e needs --operator-listen ADDR or --operator-url URL"),
        }
    }
    let arrivals_counter: Arc<AtomicU64> = match &embedded {
        Some(op) => op.recorder.counter(run_id),
        None => Arc::new(AtomicU64::new(0)),
    };
    if opts.resume_dispatch {
        let token = opts
            .admin_token
            .as_deref()
            .context("--resume-dispatch needs --admin-token")?;
        let r = client
            .post(format!("{base}/admin/dispatch/resume"))
            .bearer_auth(token)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("POST /admin/dispatch/resume answered {}", r.status());
        }
    }
    let metrics_before = if opts.e2e {
        Some(scrape(&client, &base).await)
    } else {
        None
    };

    // Progress and sampling.
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let cpu_start = clock::cpu_seconds();
    let start = Instant::now();
    let start_us = now_us();
    let timeline = Arc::new(std::sync::Mutex::new(Vec::<Sample>::new()));
    let sampler_stop = CancellationToken::new();
    let sampler = tokio::spawn(sample_until_stopped(
        shared.clone(),
        arrivals_counter.clone(),
        opts.operator_url
            .clone()
            .map(|u| (client.clone(), u, run_id)),
        start,
        opts.duration,
        opts.progress,
        timeline.clone(),
        sampler_stop.clone(),
    ));

    // The load.
    let (tx, mut rx) = mpsc::unbounded_channel::<Outcome>();
    let collector = tokio::spawn(async move {
        let mut c = Collector::new();
        while let Some(o) = rx.recv().await {
            c.add(o);
        }
        c
    });
    if let Some(rate) = opts.rate {
        if rate <= 0.0 {
            bail!("--rate must be positive");
        }
        open_loop(
            &shared,
            RateSchedule { rate },
            opts.duration,
            connections,
            start,
            start_us,
            &tx,
        )
        .await;
    } else {
        closed_loop(&shared, connections, opts.duration, opts.requests, &tx).await;
    }
    drop(tx);
    let collected = collector.await?;
    let load_end_us = collected.last_answer_us.max(start_us);
    let load_s = (load_end_us - start_us) as f64 / 1e6;

    // Drain: wait for this run's messages to reach the operator.
    let accepted_recipients = shared.counters.accepted_recipients.load(Ordering::Relaxed);
    let drain_start = Instant::now();
    if opts.e2e {
        loop {
            let arrived = match &opts.operator_url {
                Some(url) => remote_count(&client, url, run_id).await.unwrap_or(0),
                None => arrivals_counter.load(Ordering::Relaxed),
            };
            if arrived >= accepted_recipients || drain_start.elapsed() >= opts.drain_timeout {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let drain_s = drain_start.elapsed().as_secs_f64();
    sampler_stop.cancel();
    let _ = sampler.await;
    let cpu_end = clock::cpu_seconds();
    let wall_s = start.elapsed().as_secs_f64();

    let e2e = if opts.e2e {
        let (arrivals, foreign) = match (&embedded, &opts.operator_url) {
            (Some(op), _) => (op.recorder.arrivals(run_id), op.recorder.foreign(run_id)),
            (None, Some(url)) => (remote_arrivals(&client, url, run_id).await?, 0),
            (None, None) => unreachable!(),
        };
        let timeline = timeline.lock().unwrap().clone();
        Some(match_arrivals(
            &collected.accepts,
            &arrivals,
            foreign,
            accepted_recipients,
            drain_s,
            &timeline,
            load_s,
        ))
    } else {
        None
    };
    let accept_to_sent = match metrics_before {
        Some(before) => Some(accept_to_sent(before, scrape(&client, &base).await)),
        None => None,
    };
    stop.cancel();

    let c = &shared.counters;
    let accepted = c.accepted.load(Ordering::Relaxed);
    let per_s = |n: u64| if load_s > 0.0 { n as f64 / load_s } else { 0.0 };
    let intake = Intake {
        requests: c.requests.load(Ordering::Relaxed),
        accepted,
        accepted_recipients,
        accepted_per_s: round1(per_s(accepted)),
        recipients_per_s: round1(per_s(accepted_recipients)),
        status_5xx: collected
            .rejections
            .iter()
            .filter(|(s, _)| **s >= 500)
            .map(|(_, n)| n)
            .sum(),
        rejections: collected.rejections.clone(),
        errors: collected.errors.clone(),
        latency: Latency::from_histogram(&collected.all),
        latency_by_type: [false, true]
            .into_iter()
            .filter_map(|e| {
                Latency::from_histogram(&collected.by_type[e as usize])
                    .map(|l| (type_name(e).to_string(), l))
            })
            .collect(),
        max_schedule_lag_ms: c.max_lag_us.load(Ordering::Relaxed) as f64 / 1_000.0,
    };
    let user_s = cpu_end.0 - cpu_start.0;
    let sys_s = cpu_end.1 - cpu_start.1;
    let report = Report {
        tool: format!("sms-loadtest {}", env!("CARGO_PKG_VERSION")),
        run_id: format!("{run_id:08x}"),
        started_at,
        config: RunConfig {
            base_url: base,
            mode: if opts.rate.is_some() {
                "open"
            } else {
                "closed"
            }
            .into(),
            rate: opts.rate,
            concurrency: opts.concurrency,
            connections,
            duration_s: opts.duration.as_secs_f64(),
            recipients: opts.recipients,
            express_ratio: opts.express_ratio,
            customers,
            hot: opts.hot,
            text: opts.text.as_str().into(),
            e2e: opts.e2e,
            operator_latency_ms: embedded
                .is_some()
                .then_some(opts.operator_latency.as_millis() as u64),
            seed: opts.seed,
        },
        load_s: round1(load_s * 10.0) / 10.0,
        intake,
        e2e,
        accept_to_sent,
        loadtest_cpu: Cpu {
            user_s: round1(user_s * 10.0) / 10.0,
            sys_s: round1(sys_s * 10.0) / 10.0,
            wall_s: round1(wall_s * 10.0) / 10.0,
            cores: ((user_s + sys_s) / wall_s.max(1e-9) * 1_000.0).round() / 1_000.0,
        },
        timeline: timeline.lock().unwrap().clone(),
    };
    if let Some(path) = &opts.out {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

async fn open_loop(
    shared: &Arc<Shared>,
    schedule: RateSchedule,
    duration: Duration,
    connections: usize,
    start: Instant,
    start_us: u64,
    tx: &mpsc::UnboundedSender<Outcome>,
) {
    let total = schedule.total(duration);
    let permits = Arc::new(Semaphore::new(connections));
    let mut next = 0u64;
    while next < total {
        let due_now = schedule.due_by(start.elapsed()).min(total);
        while next < due_now {
            let due = schedule.due(next);
            // Waits when every connection is busy: the client runs behind schedule, and the
            // latency (from the due time) shows it.
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let lag = start.elapsed().saturating_sub(due).as_micros() as u64;
            shared.counters.max_lag_us.fetch_max(lag, Ordering::Relaxed);
            let shared = shared.clone();
            let tx = tx.clone();
            let seq = next;
            let started_us = start_us + due.as_micros() as u64;
            tokio::spawn(async move {
                let outcome = shared.send(seq, started_us).await;
                drop(permit);
                let _ = tx.send(outcome);
            });
            next += 1;
        }
        if next < total {
            tokio::time::sleep_until((start + schedule.due(next)).into()).await;
        }
    }
    // Wait for the last answers.
    let _ = permits.acquire_many(connections as u32).await;
}

async fn closed_loop(
    shared: &Arc<Shared>,
    concurrency: usize,
    duration: Duration,
    limit: Option<u64>,
    tx: &mpsc::UnboundedSender<Outcome>,
) {
    let limit = limit.unwrap_or(u64::MAX);
    let next = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let shared = shared.clone();
        let next = next.clone();
        let tx = tx.clone();
        tasks.spawn(async move {
            while Instant::now() < deadline {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= limit {
                    break;
                }
                let outcome = shared.send(seq, now_us()).await;
                let _ = tx.send(outcome);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

#[allow(clippy::too_many_arguments)]
async fn sample_until_stopped(
    shared: Arc<Shared>,
    arrivals: Arc<AtomicU64>,
    remote: Option<(reqwest::Client, String, u32)>,
    start: Instant,
    duration: Duration,
    progress: Progress,
    timeline: Arc<std::sync::Mutex<Vec<Sample>>>,
    stop: CancellationToken,
) {
    let bar = match progress {
        Progress::Bar => true,
        Progress::Auto => std::io::stderr().is_terminal(),
        Progress::Lines | Progress::None => false,
    };
    let lines = !bar && progress != Progress::None;
    let pb = bar.then(|| {
        let pb = ProgressBar::new(duration.as_secs().max(1));
        pb.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} s  {msg}")
                .expect("progress template")
                .progress_chars("=> "),
        );
        pb
    });
    let c = &shared.counters;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = (0u64, 0u64, Instant::now());
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        let arrived = match &remote {
            Some((client, url, run)) => {
                let n = remote_count(client, url, *run).await.unwrap_or(0);
                arrivals.store(n, Ordering::Relaxed);
                n
            }
            None => arrivals.load(Ordering::Relaxed),
        };
        let t = start.elapsed();
        let s = Sample {
            t: (t.as_secs_f64() * 1_000.0).round() / 1_000.0,
            accepted: c.accepted.load(Ordering::Relaxed),
            accepted_recipients: c.accepted_recipients.load(Ordering::Relaxed),
            arrivals: arrived,
            in_flight: c.in_flight.load(Ordering::Relaxed),
        };
        timeline.lock().unwrap().push(s);
        let dt = last.2.elapsed().as_secs_f64().max(1e-3);
        let msg = format!(
            "accepted {} ({:.0}/s), rejected {}, in flight {}, arrived {} ({:.0}/s), backlog {}",
            s.accepted,
            (s.accepted - last.0) as f64 / dt,
            c.non_accepted.load(Ordering::Relaxed),
            s.in_flight,
            s.arrivals,
            (s.arrivals.saturating_sub(last.1)) as f64 / dt,
            s.accepted_recipients as i64 - s.arrivals as i64,
        );
        last = (s.accepted, s.arrivals, Instant::now());
        if let Some(pb) = &pb {
            pb.set_position(t.as_secs().min(duration.as_secs()));
            pb.set_message(msg);
        } else if lines && t.as_secs().is_multiple_of(5) {
            eprintln!("  {:>5.0} s  {msg}", t.as_secs_f64());
        }
    }
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
}

async fn remote_count(client: &reqwest::Client, url: &str, run: u32) -> anyhow::Result<u64> {
    let a: ArrivalsAnswer = client
        .get(format!(
            "{}/arrivals?run={run:08x}&count_only=true",
            url.trim_end_matches('/')
        ))
        .send()
        .await?
        .json()
        .await?;
    Ok(a.count as u64)
}

async fn remote_arrivals(
    client: &reqwest::Client,
    url: &str,
    run: u32,
) -> anyhow::Result<Vec<Arrival>> {
    let a: ArrivalsAnswer = client
        .get(format!(
            "{}/arrivals?run={run:08x}",
            url.trim_end_matches('/')
        ))
        .send()
        .await?
        .json()
        .await?;
    Ok(a.arrivals
        .into_iter()
        .map(|(seq, at_us, reference)| Arrival {
            seq,
            at_us,
            reference,
        })
        .collect())
}

/// Matches arrivals with acceptances by sequence number.
fn match_arrivals(
    accepts: &[Option<Accept>],
    arrivals: &[Arrival],
    foreign: u64,
    accepted_recipients: u64,
    drain_s: f64,
    timeline: &[Sample],
    load_s: f64,
) -> EndToEnd {
    let mut all = report::new_histogram();
    let mut by_type = [report::new_histogram(), report::new_histogram()];
    let mut seen = HashSet::with_capacity(arrivals.len());
    let mut e = EndToEnd {
        arrivals: arrivals.len() as u64,
        foreign,
        drain_s: round1(drain_s * 10.0) / 10.0,
        ..Default::default()
    };
    let mut distinct_matched = 0u64;
    for a in arrivals {
        let Some(Some(acc)) = accepts.get(a.seq as usize) else {
            // A request this run sent but never saw accepted (e.g. its answer timed out).
            e.foreign += 1;
            continue;
        };
        e.matched += 1;
        if !seen.insert(a.reference) {
            e.duplicates += 1;
            continue;
        }
        distinct_matched += 1;
        let us = if a.at_us < acc.at_us {
            e.before_acceptance += 1;
            1
        } else {
            (a.at_us - acc.at_us).max(1)
        };
        all.saturating_record(us);
        by_type[acc.express as usize].saturating_record(us);
    }
    e.missing = accepted_recipients.saturating_sub(distinct_matched);
    e.latency = Latency::from_histogram(&all);
    e.latency_by_type = [false, true]
        .into_iter()
        .filter_map(|x| {
            Latency::from_histogram(&by_type[x as usize]).map(|l| (type_name(x).to_string(), l))
        })
        .collect();
    let (arr, acc, growth, flat) = report::steady_state(timeline, load_s);
    e.steady_arrivals_per_s = round1(arr);
    e.steady_accepted_per_s = round1(acc);
    e.backlog_growth_per_s = round1(growth);
    e.backlog_flat = flat;
    e.backlog_at_end = timeline
        .iter()
        .rev()
        .find(|s| s.t <= load_s + 1.0)
        .map_or(0, |s| s.accepted_recipients as i64 - s.arrivals as i64);
    e
}

/// `GET /metrics`: the body, or why there is none.
async fn scrape(client: &reqwest::Client, base: &str) -> Result<String, String> {
    let r = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .map_err(|e| format!("GET /metrics failed: {}", classify(e)))?;
    if !r.status().is_success() {
        return Err(format!("GET /metrics answered {}", r.status()));
    }
    r.text().await.map_err(|e| format!("GET /metrics: {e}"))
}

fn accept_to_sent(before: Result<String, String>, after: Result<String, String>) -> AcceptToSent {
    let (before, after) = match (before, after) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(e), _) | (_, Err(e)) => {
            return AcceptToSent {
                available: false,
                note: Some(e),
                by_type: BTreeMap::new(),
            };
        }
    };
    let b = report::parse_prom_histogram(&before, ACCEPT_TO_SENT, "type");
    let a = report::parse_prom_histogram(&after, ACCEPT_TO_SENT, "type");
    if a.is_empty() {
        return AcceptToSent {
            available: false,
            note: Some(format!("the gateway does not export {ACCEPT_TO_SENT}")),
            by_type: BTreeMap::new(),
        };
    }
    AcceptToSent {
        available: true,
        note: None,
        by_type: a
            .iter()
            .map(|(t, h)| {
                let d = report::histogram_delta(h, b.get(t));
                (t.clone(), BucketLatency::from_seconds(&d))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_matched_by_sequence_and_counted() {
        let accepts = vec![
            Some(Accept {
                at_us: 1_000,
                express: false,
            }),
            None,
            Some(Accept {
                at_us: 2_000,
                express: true,
            }),
        ];
        let arrivals = [
            Arrival {
                seq: 0,
                at_us: 6_000,
                reference: 1,
            },
            Arrival {
                seq: 0,
                at_us: 7_000,
                reference: 1,
            },
            Arrival {
                seq: 1,
                at_us: 7_000,
                reference: 2,
            },
            Arrival {
                seq: 2,
                at_us: 1_500,
                reference: 3,
            },
        ];
        let e = match_arrivals(&accepts, &arrivals, 5, 3, 0.5, &[], 10.0);
        assert_eq!(e.arrivals, 4);
        assert_eq!(e.matched, 3);
        assert_eq!(e.duplicates, 1);
        assert_eq!(e.foreign, 6);
        assert_eq!(e.before_acceptance, 1);
        assert_eq!(e.missing, 1);
        assert_eq!(e.latency_by_type["normal"].count, 1);
        assert!((e.latency_by_type["normal"].p50_ms - 5.0).abs() < 0.01);
        assert_eq!(e.latency_by_type["express"].count, 1);
    }

    #[test]
    fn a_gateway_without_the_histogram_is_tolerated() {
        let a = accept_to_sent(Ok(String::new()), Ok("smsgw_other 1\n".into()));
        assert!(!a.available);
        assert!(a.note.unwrap().contains(ACCEPT_TO_SENT));
        let a = accept_to_sent(
            Err("GET /metrics answered 404 Not Found".into()),
            Ok(String::new()),
        );
        assert!(!a.available);
        let with = format!(
            "{ACCEPT_TO_SENT}_bucket{{type=\"express\",le=\"0.05\"}} 3\n{ACCEPT_TO_SENT}_bucket{{type=\"express\",le=\"+Inf\"}} 3\n{ACCEPT_TO_SENT}_count{{type=\"express\"}} 3\n{ACCEPT_TO_SENT}_sum{{type=\"express\"}} 0.06\n"
        );
        let a = accept_to_sent(Ok(String::new()), Ok(with));
        assert!(a.available);
        assert_eq!(a.by_type["express"].count, 3.0);
        assert_eq!(a.by_type["express"].mean_ms, Some(20.0));
    }
}
