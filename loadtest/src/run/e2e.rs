//! End to end: where this run's operator arrivals are counted (the operator embedded in the
//! process, or a separate `sms-loadtest operator` asked over HTTP), the drain after the load,
//! and matching arrivals with acceptances by sequence number.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use tokio_util::sync::CancellationToken;

use super::RunArgs;
use super::collect::Accept;
use super::options::Target;
use crate::kannel::Smsc;
use crate::operator::{Arrival, ArrivalsAnswer, Operator};
use crate::report::{self, EndToEnd, Sample, TypedHistograms, round1, round2};

/// Where the arrivals of a run are read.
pub enum Arrivals {
    /// The operator runs in this process (`--operator-listen`).
    Embedded {
        /// The operator.
        operator: Operator,
        /// Follows the run's arrivals without taking the recorder's lock.
        counter: Arc<AtomicU64>,
        /// The run id.
        run: u32,
    },
    /// Kannel's fake SMSC, read by this process (`--target kannel --kannel-smsc`).
    Kannel {
        /// The client of the fake SMSC.
        smsc: Smsc,
        /// Follows the run's arrivals.
        counter: Arc<AtomicU64>,
        /// The run id.
        run: u32,
    },
    /// A separate `sms-loadtest operator` (`--operator-url`).
    Remote {
        /// The run's client.
        client: reqwest::Client,
        /// The operator's base URL.
        url: String,
        /// The run id.
        run: u32,
    },
}

impl Arrivals {
    /// The source `opts` asks for: with `--e2e`, an operator answering after `latency` started
    /// on `--operator-listen` (serving until `stop` fires); otherwise, or without it, the
    /// `--operator-url` if any.
    pub async fn start(
        opts: &RunArgs,
        latency: Duration,
        client: &reqwest::Client,
        run: u32,
        stop: CancellationToken,
    ) -> anyhow::Result<Option<Self>> {
        if opts.target == Target::Kannel {
            return match (opts.e2e, opts.kannel_smsc) {
                (true, Some(addr)) => {
                    let smsc = Smsc::start(addr, stop).await?;
                    eprintln!("run {run:08x}: reading Kannel's fake SMSC at {addr}");
                    let counter = smsc.recorder.counter(run);
                    Ok(Some(Self::Kannel { smsc, counter, run }))
                }
                (true, None) => bail!("--target kannel --e2e needs --kannel-smsc ADDR"),
                (false, _) => Ok(None),
            };
        }
        match (&opts.operator_listen, &opts.operator_url) {
            (Some(addr), _) if opts.e2e => {
                let operator = Operator::new(latency);
                let bound = operator.start(*addr, stop).await?;
                eprintln!(
                    "run {run:08x}: operator listening on http://{bound}/send (latency {} ms)",
                    latency.as_millis()
                );
                let counter = operator.recorder.counter(run);
                Ok(Some(Self::Embedded {
                    operator,
                    counter,
                    run,
                }))
            }
            (_, Some(url)) => Ok(Some(Self::Remote {
                client: client.clone(),
                url: url.clone(),
                run,
            })),
            (None, None) if opts.e2e => {
                bail!("--e2e needs --operator-listen ADDR or --operator-url URL")
            }
            _ => Ok(None),
        }
    }

    /// Whether the operator runs in this process.
    pub fn is_embedded(&self) -> bool {
        matches!(self, Self::Embedded { .. })
    }

    /// Arrivals so far (0 while a remote operator does not answer).
    pub async fn count(&self) -> u64 {
        match self {
            Self::Embedded { counter, .. } | Self::Kannel { counter, .. } => {
                counter.load(Ordering::Relaxed)
            }
            Self::Remote { client, url, run } => fetch(client, url, *run, true)
                .await
                .map_or(0, |a| a.count as u64),
        }
    }

    /// Waits until `expected` messages have arrived or `timeout` has passed; returns the
    /// seconds waited.
    pub async fn drain(&self, expected: u64, timeout: Duration) -> f64 {
        let start = Instant::now();
        while self.count().await < expected && start.elapsed() < timeout {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        start.elapsed().as_secs_f64()
    }

    /// Every arrival of the run, and how many arrivals belonged to no run of this process
    /// (only an embedded operator knows).
    pub async fn collect(&self) -> anyhow::Result<(Vec<Arrival>, u64)> {
        match self {
            Self::Embedded { operator, run, .. } => Ok((
                operator.recorder.arrivals(*run),
                operator.recorder.foreign(*run),
            )),
            Self::Kannel { smsc, run, .. } => {
                Ok((smsc.recorder.arrivals(*run), smsc.recorder.foreign(*run)))
            }
            Self::Remote { client, url, run } => {
                let a = fetch(client, url, *run, false).await?;
                let arrivals = a
                    .arrivals
                    .into_iter()
                    .map(|(seq, at_us, reference)| Arrival {
                        seq,
                        at_us,
                        reference,
                    })
                    .collect();
                Ok((arrivals, 0))
            }
        }
    }
}

/// `GET <url>/arrivals?run=<run>` of a separate operator.
async fn fetch(
    client: &reqwest::Client,
    url: &str,
    run: u32,
    count_only: bool,
) -> anyhow::Result<ArrivalsAnswer> {
    let mut url = format!("{}/arrivals?run={run:08x}", url.trim_end_matches('/'));
    if count_only {
        url.push_str("&count_only=true");
    }
    Ok(client.get(url).send().await?.json().await?)
}

/// Matches arrivals with acceptances by sequence number.
pub fn match_arrivals(
    accepts: &[Option<Accept>],
    arrivals: &[Arrival],
    foreign: u64,
    accepted_recipients: u64,
    drain_s: f64,
    timeline: &[Sample],
    load_s: f64,
) -> EndToEnd {
    let mut latency = TypedHistograms::new();
    let mut seen = HashSet::with_capacity(arrivals.len());
    let mut e = EndToEnd {
        arrivals: arrivals.len() as u64,
        foreign,
        drain_s: round2(drain_s),
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
        latency.record(us, acc.express);
    }
    e.missing = accepted_recipients.saturating_sub(distinct_matched);
    e.latency = latency.latency();
    e.latency_by_type = latency.latency_by_type();
    let steady = report::steady_state(timeline, load_s);
    e.steady_arrivals_per_s = round1(steady.arrivals_per_s);
    e.steady_accepted_per_s = round1(steady.accepted_per_s);
    e.backlog_growth_per_s = round1(steady.backlog_growth_per_s);
    e.backlog_flat = steady.flat;
    e.backlog_at_end = timeline
        .iter()
        .rev()
        .find(|s| s.t <= load_s + 1.0)
        .map_or(0, |s| s.accepted_recipients as i64 - s.arrivals as i64);
    e
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

    #[tokio::test]
    async fn a_remote_operator_is_counted_and_collected_over_http() {
        use crate::text::{TextKind, tagged_text};
        use sms_gateway::operators::wire::OperatorSend;

        let operator = Operator::new(Duration::ZERO);
        let stop = CancellationToken::new();
        let addr = operator
            .start("127.0.0.1:0".parse().unwrap(), stop.clone())
            .await
            .unwrap();
        let client = reqwest::Client::new();
        for (seq, reference) in [(3, "30"), (4, "40")] {
            client
                .post(format!("http://{addr}/send"))
                .json(&OperatorSend {
                    to: "+989121234567".into(),
                    text: tagged_text(TextKind::Gsm, 0xbeef, seq),
                    reference: reference.into(),
                    from: None,
                })
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap();
        }
        let remote = Arrivals::Remote {
            client,
            url: format!("http://{addr}/"),
            run: 0xbeef,
        };
        assert!(!remote.is_embedded());
        assert_eq!(remote.count().await, 2);
        assert!(remote.drain(2, Duration::from_secs(5)).await < 5.0);
        let (arrivals, foreign) = remote.collect().await.unwrap();
        assert_eq!(
            arrivals
                .iter()
                .map(|a| (a.seq, a.reference))
                .collect::<Vec<_>>(),
            [(3, 30), (4, 40)]
        );
        assert_eq!(foreign, 0);
        stop.cancel();
        // An operator that does not answer counts as nothing arrived.
        let gone = Arrivals::Remote {
            client: reqwest::Client::new(),
            url: "http://127.0.0.1:1".into(),
            run: 0xbeef,
        };
        assert_eq!(gone.count().await, 0);
    }
}
