//! The sampler: once a second it records a [`Sample`] of the live counters in the timeline and
//! shows progress (a bar on a terminal, or a line every 5 s).

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use super::e2e::Arrivals;
use super::send::Shared;
use crate::report::Sample;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Progress {
    /// A bar on a terminal, otherwise a line every 5 s.
    Auto,
    /// A bar.
    Bar,
    /// A line every 5 s.
    Lines,
    /// Nothing.
    None,
}

/// What the sampler reads and where it writes.
pub struct Sampler {
    /// The counters of the request tasks.
    pub shared: Arc<Shared>,
    /// Where arrivals are counted, if anywhere.
    pub arrivals: Option<Arc<Arrivals>>,
    /// The start of the run.
    pub start: Instant,
    /// The load's duration (the bar's length).
    pub duration: Duration,
    /// How to show progress.
    pub progress: Progress,
    /// The samples so far.
    pub timeline: Arc<Mutex<Vec<Sample>>>,
}

impl Sampler {
    /// Samples every second until `stop` fires.
    pub async fn run_until_stopped(self, stop: CancellationToken) {
        let bar = match self.progress {
            Progress::Bar => true,
            Progress::Auto => std::io::stderr().is_terminal(),
            Progress::Lines | Progress::None => false,
        };
        let lines = !bar && self.progress != Progress::None;
        let pb = bar.then(|| {
            let pb = ProgressBar::new(self.duration.as_secs().max(1));
            pb.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} s  {msg}")
                    .expect("progress template")
                    .progress_chars("=> "),
            );
            pb
        });
        let c = &self.shared.counters;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = (0u64, 0u64, Instant::now());
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.cancelled() => break,
            }
            let arrived = match &self.arrivals {
                Some(a) => a.count().await,
                None => 0,
            };
            let t = self.start.elapsed();
            let s = Sample {
                t: (t.as_secs_f64() * 1_000.0).round() / 1_000.0,
                accepted: c.accepted.load(Ordering::Relaxed),
                accepted_recipients: c.accepted_recipients.load(Ordering::Relaxed),
                arrivals: arrived,
                in_flight: c.in_flight.load(Ordering::Relaxed),
            };
            self.timeline.lock().unwrap().push(s);
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
                pb.set_position(t.as_secs().min(self.duration.as_secs()));
                pb.set_message(msg);
            } else if lines && t.as_secs().is_multiple_of(5) {
                eprintln!("  {:>5.0} s  {msg}", t.as_secs_f64());
            }
        }
        if let Some(pb) = pb {
            pb.finish_and_clear();
        }
    }
}
