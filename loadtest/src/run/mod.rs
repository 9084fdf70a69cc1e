//! `run`: drives `POST /sms/send` in an open loop (`--rate`) or a closed loop
//! (`--concurrency`), measures intake, and with `--e2e` matches operator arrivals with
//! acceptances (see [`crate::operator`]).
//!
//! [`run`] goes through the phases in order: set-up ([`send`], [`e2e`]), load ([`load`], with
//! [`progress`] sampling and [`collect`] adding up the outcomes), drain ([`e2e`]), then the
//! report, with the gateway's own figures from [`gateway_metrics`].

mod collect;
mod e2e;
mod gateway_metrics;
mod load;
mod options;
mod progress;
mod send;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::header::HeaderValue;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::clock::{self, now_us};
use crate::keys;
use crate::report::{Cpu, Intake, Report, RunConfig, round1, round2};
use crate::schedule::{Plan, RateSchedule};
use collect::Collector;
use e2e::{Arrivals, match_arrivals};
use gateway_metrics::{accept_to_sent, scrape};
pub use options::RunArgs;
use options::{Target, Timings};
pub use progress::Progress;
use progress::Sampler;
use send::{Endpoint, Outcome, Shared};

/// Runs the load and returns the report (also written to `--out` and printed).
pub async fn run(opts: RunArgs) -> anyhow::Result<Report> {
    let t = opts.timings()?;
    let gateway = opts.target == Target::Gateway;
    let all_keys = if gateway {
        keys::read(&opts.keys)?
    } else {
        Vec::new()
    };
    let customers = check(&opts, all_keys.len())?;
    let base = opts.url.trim_end_matches('/').to_string();
    let connections = opts.concurrency.unwrap_or(opts.connections).max(1);
    let client = reqwest::Client::builder()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(connections)
        .timeout(t.timeout)
        .build()?;
    let run_id: u32 = rand::random();
    let auth = all_keys[..customers.min(all_keys.len())]
        .iter()
        .map(|k| HeaderValue::from_str(&format!("Bearer {}", k.api_key)))
        .collect::<Result<Vec<_>, _>>()
        .context("an API key is not a valid header value")?;
    let shared = Arc::new(Shared {
        client: client.clone(),
        endpoint: if gateway {
            Endpoint::Gateway(format!("{base}/sms/send"))
        } else {
            Endpoint::Kannel {
                base: base.clone(),
                user: opts.kannel_user.clone(),
                password: opts.kannel_password.clone(),
            }
        },
        auth,
        plan: Plan {
            seed: opts.seed,
            customers,
            express_ratio: opts.express_ratio,
            text: opts.text,
            recipients: opts.recipients,
        },
        run_id,
        counters: Default::default(),
    });

    // The operator, embedded or separate.
    let stop = CancellationToken::new();
    let arrivals = Arrivals::start(&opts, t.operator_latency, &client, run_id, stop.clone())
        .await?
        .map(Arc::new);
    if opts.resume_dispatch {
        let token = opts
            .admin_token
            .as_deref()
            .context("--resume-dispatch needs --admin-token")?;
        resume_dispatch(&client, &base, token).await?;
    }
    let receiver = match opts.callbacks_listen {
        Some(listen) if gateway => {
            let r = crate::callbacks::Receiver::start(listen, stop.clone()).await?;
            r.register(&client, &base, &all_keys[..customers], listen)
                .await?;
            Some(r)
        }
        Some(_) => bail!("--callbacks-listen needs --target gateway"),
        None => None,
    };
    let metrics_before = if opts.e2e && gateway {
        Some(scrape(&client, &base).await)
    } else {
        None
    };

    // Progress and sampling.
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let cpu_start = clock::cpu_seconds();
    let start = Instant::now();
    let start_us = now_us();
    let timeline = Arc::new(Mutex::new(Vec::new()));
    let sampler_stop = CancellationToken::new();
    let sampler = tokio::spawn(
        Sampler {
            shared: shared.clone(),
            arrivals: arrivals.clone(),
            start,
            duration: t.duration,
            progress: opts.progress,
            timeline: timeline.clone(),
        }
        .run_until_stopped(sampler_stop.clone()),
    );

    // The load.
    let collected = drive(&opts, t.duration, &shared, connections, start, start_us).await?;
    let load_end_us = collected.last_answer_us.max(start_us);
    let load_s = (load_end_us - start_us) as f64 / 1e6;

    // Drain: wait for this run's messages to reach the operator.
    let accepted_recipients = shared.counters.accepted_recipients.load(Ordering::Relaxed);
    let e2e_arrivals = arrivals.as_deref().filter(|_| opts.e2e);
    let drain_s = match e2e_arrivals {
        Some(a) => a.drain(accepted_recipients, t.drain_timeout).await,
        None => 0.0,
    };
    let callbacks = match &receiver {
        Some(r) => {
            let waited = r.drain(accepted_recipients, t.drain_timeout).await;
            Some(r.report(accepted_recipients, drain_s + waited))
        }
        None => None,
    };
    sampler_stop.cancel();
    let _ = sampler.await;
    let cpu_end = clock::cpu_seconds();
    let wall_s = start.elapsed().as_secs_f64();
    let timeline = timeline.lock().unwrap().clone();

    let e2e = match e2e_arrivals {
        Some(a) => {
            let (list, foreign) = a.collect().await?;
            Some(match_arrivals(
                &collected.accepts,
                &list,
                foreign,
                accepted_recipients,
                drain_s,
                &timeline,
                load_s,
            ))
        }
        None => None,
    };
    let accept_to_sent = match metrics_before {
        Some(before) => Some(accept_to_sent(before, scrape(&client, &base).await)),
        None => None,
    };
    stop.cancel();

    let user_s = cpu_end.0 - cpu_start.0;
    let sys_s = cpu_end.1 - cpu_start.1;
    let embedded = arrivals.as_deref().is_some_and(Arrivals::is_embedded);
    let report = Report {
        tool: format!("sms-loadtest {}", env!("CARGO_PKG_VERSION")),
        run_id: format!("{run_id:08x}"),
        started_at,
        config: run_config(&opts, &t, base, connections, customers, embedded),
        load_s: round2(load_s),
        intake: intake(&shared, &collected, load_s),
        e2e,
        accept_to_sent,
        callbacks,
        loadtest_cpu: Cpu {
            user_s: round2(user_s),
            sys_s: round2(sys_s),
            wall_s: round2(wall_s),
            cores: ((user_s + sys_s) / wall_s.max(1e-9) * 1_000.0).round() / 1_000.0,
        },
        timeline,
    };
    if let Some(path) = &opts.out {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

/// Checks the options against each other and the keys file; returns how many keys are used.
fn check(opts: &RunArgs, keys: usize) -> anyhow::Result<usize> {
    if opts.target == Target::Kannel {
        if opts.recipients != 1 || opts.express_ratio != 0.0 || opts.hot || opts.resume_dispatch {
            bail!(
                "--target kannel sends one normal recipient a request: no --recipients, --express-ratio, --hot or --resume-dispatch"
            );
        }
        if opts.rate.is_some() == opts.concurrency.is_some() {
            bail!("give exactly one of --rate (open loop) and --concurrency (closed loop)");
        }
        return Ok(1);
    }
    let customers = if opts.hot {
        1
    } else {
        opts.customers.unwrap_or(keys)
    };
    if customers == 0 || customers > keys {
        bail!("--customers {customers}: the keys file has {keys} keys");
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
    Ok(customers)
}

/// `POST /admin/dispatch/resume`.
async fn resume_dispatch(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<()> {
    let r = client
        .post(format!("{base}/admin/dispatch/resume"))
        .bearer_auth(token)
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("POST /admin/dispatch/resume answered {}", r.status());
    }
    Ok(())
}

/// Runs the open or the closed loop and collects every outcome.
async fn drive(
    opts: &RunArgs,
    duration: Duration,
    shared: &Arc<Shared>,
    connections: usize,
    start: Instant,
    start_us: u64,
) -> anyhow::Result<Collector> {
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
        let schedule = RateSchedule { rate };
        load::open_loop(
            shared,
            schedule,
            duration,
            connections,
            start,
            start_us,
            &tx,
        )
        .await;
    } else {
        load::closed_loop(shared, connections, duration, opts.requests, &tx).await;
    }
    drop(tx);
    Ok(collector.await?)
}

/// The intake figures of the report.
fn intake(shared: &Shared, collected: &Collector, load_s: f64) -> Intake {
    let c = &shared.counters;
    let accepted = c.accepted.load(Ordering::Relaxed);
    let accepted_recipients = c.accepted_recipients.load(Ordering::Relaxed);
    let per_s = |n: u64| if load_s > 0.0 { n as f64 / load_s } else { 0.0 };
    Intake {
        requests: c.requests.load(Ordering::Relaxed),
        accepted,
        accepted_recipients,
        accepted_per_s: round1(per_s(accepted)),
        recipients_per_s: round1(per_s(accepted_recipients)),
        status_5xx: collected.status_5xx(),
        rejections: collected.rejections.clone(),
        errors: collected.errors.clone(),
        latency: collected.latency.latency(),
        latency_by_type: collected.latency.latency_by_type(),
        max_schedule_lag_ms: c.max_lag_us.load(Ordering::Relaxed) as f64 / 1_000.0,
    }
}

/// What the run was asked to do, as the report states it.
fn run_config(
    opts: &RunArgs,
    t: &Timings,
    base_url: String,
    connections: usize,
    customers: usize,
    embedded_operator: bool,
) -> RunConfig {
    RunConfig {
        base_url,
        target: match opts.target {
            Target::Gateway => "gateway",
            Target::Kannel => "kannel",
        }
        .into(),
        mode: if opts.rate.is_some() {
            "open"
        } else {
            "closed"
        }
        .into(),
        rate: opts.rate,
        concurrency: opts.concurrency,
        connections,
        duration_s: t.duration.as_secs_f64(),
        recipients: opts.recipients,
        express_ratio: opts.express_ratio,
        customers,
        hot: opts.hot,
        text: opts.text.as_str().into(),
        e2e: opts.e2e,
        operator_latency_ms: embedded_operator.then_some(t.operator_latency.as_millis() as u64),
        seed: opts.seed,
    }
}
