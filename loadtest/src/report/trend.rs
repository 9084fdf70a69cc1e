//! The backlog trend: from the per-second timeline, the steady-state rates over the second half
//! of the load phase and whether the backlog (accepted minus arrived) stays flat.

use super::Sample;

/// The steady-state figures of a run (see [`steady_state`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SteadyState {
    /// Operator arrivals per second.
    pub arrivals_per_s: f64,
    /// Accepted recipients per second.
    pub accepted_per_s: f64,
    /// Least-squares slope of the backlog, recipients per second.
    pub backlog_growth_per_s: f64,
    /// The backlog grew by less than 2 % of the accepted rate (or 10/s).
    pub flat: bool,
}

impl SteadyState {
    /// What a window too short to measure gives.
    const UNKNOWN: Self = Self {
        arrivals_per_s: 0.0,
        accepted_per_s: 0.0,
        backlog_growth_per_s: 0.0,
        flat: false,
    };
}

/// Least-squares slope of `y` over `t`; 0 with fewer than two points.
pub fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mt = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let cov: f64 = points.iter().map(|p| (p.0 - mt) * (p.1 - my)).sum();
    let var: f64 = points.iter().map(|p| (p.0 - mt).powi(2)).sum();
    if var == 0.0 { 0.0 } else { cov / var }
}

/// The steady state over the second half of the load phase (samples with `t` in
/// `[load_s / 2, load_s + 0.5]`, or the whole load phase when that holds fewer than two).
pub fn steady_state(timeline: &[Sample], load_s: f64) -> SteadyState {
    let end = load_s + 0.5;
    let mut window: Vec<&Sample> = timeline
        .iter()
        .filter(|s| s.t >= load_s / 2.0 - 1e-9 && s.t <= end)
        .collect();
    if window.len() < 2 {
        window = timeline.iter().filter(|s| s.t <= end).collect();
    }
    let (Some(first), Some(last)) = (window.first(), window.last()) else {
        return SteadyState::UNKNOWN;
    };
    let span = last.t - first.t;
    if span <= 0.0 {
        return SteadyState::UNKNOWN;
    }
    let accepted_per_s = (last.accepted_recipients - first.accepted_recipients) as f64 / span;
    let backlog_growth_per_s = slope(
        &window
            .iter()
            .map(|s| (s.t, s.accepted_recipients as f64 - s.arrivals as f64))
            .collect::<Vec<_>>(),
    );
    SteadyState {
        arrivals_per_s: (last.arrivals - first.arrivals) as f64 / span,
        accepted_per_s,
        backlog_growth_per_s,
        flat: backlog_growth_per_s <= (0.02 * accepted_per_s).max(10.0),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A sample where every accepted request had one recipient and nothing is in flight.
    pub fn sample(t: f64, accepted_recipients: u64, arrivals: u64) -> Sample {
        Sample {
            t,
            accepted: accepted_recipients,
            accepted_recipients,
            arrivals,
            in_flight: 0,
        }
    }

    #[test]
    fn the_backlog_trend_tells_flat_from_growing() {
        // Accepted at a constant rate, delivered 100 recipients behind: flat.
        let flat: Vec<Sample> = (0..=20)
            .map(|t| sample(t as f64, t * 1_000, (t * 1_000).saturating_sub(100)))
            .collect();
        let s = steady_state(&flat, 20.0);
        assert!((s.arrivals_per_s - 1_000.0).abs() < 1e-6);
        assert!((s.accepted_per_s - 1_000.0).abs() < 1e-6);
        assert!(s.backlog_growth_per_s.abs() < 1e-6);
        assert!(s.flat);
        // Delivered at 80 % of the accepted rate: the backlog grows by the rest.
        let growing: Vec<Sample> = (0..=20)
            .map(|t| sample(t as f64, t * 1_000, t * 800))
            .collect();
        let s = steady_state(&growing, 20.0);
        assert!((s.arrivals_per_s - 800.0).abs() < 1e-6);
        assert!((s.backlog_growth_per_s - 200.0).abs() < 1e-6);
        assert!(!s.flat);
        assert_eq!(slope(&[(1.0, 5.0)]), 0.0);
        // A 3 s run sampled at 0, 1, 2 and 3.2 s: too few samples in the second half, so the
        // whole load phase is used.
        let short = [
            sample(0.0, 0, 0),
            sample(1.0, 100, 90),
            sample(2.0, 200, 190),
            sample(3.2, 300, 290),
        ];
        let s = steady_state(&short, 2.6);
        assert!(
            (s.arrivals_per_s - 95.0).abs() < 1e-6 && (s.accepted_per_s - 100.0).abs() < 1e-6,
            "{s:?}"
        );
        assert!(s.flat);
        assert_eq!(steady_state(&[], 5.0), SteadyState::UNKNOWN);
    }
}
