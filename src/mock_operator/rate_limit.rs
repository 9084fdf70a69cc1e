//! The mock operator's own limit: at most `max_rps` sends per second, counted in fixed
//! one-second windows, as many operators count them.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Sends admitted in the current one-second window.
pub(super) struct RateLimit {
    max_per_second: u32,
    window: Mutex<(Instant, u32)>,
}

impl RateLimit {
    /// A limit of `max_per_second` sends (at least 1).
    pub(super) fn new(max_per_second: u32) -> Self {
        Self {
            max_per_second: max_per_second.max(1),
            window: Mutex::new((Instant::now(), 0)),
        }
    }

    /// Whether one more send fits in the current window (it is counted if so).
    pub(super) fn admit(&self) -> bool {
        let now = Instant::now();
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if now.saturating_duration_since(window.0) >= Duration::from_secs(1) {
            *window = (now, 0);
        }
        if window.1 >= self.max_per_second {
            return false;
        }
        window.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn admits_max_per_second_then_refuses_until_the_next_window() {
        let limit = RateLimit::new(3);
        let admitted: Vec<bool> = (0..5).map(|_| limit.admit()).collect();
        assert_eq!(admitted, [true, true, true, false, false]);
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(!limit.admit());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(limit.admit());
    }
}
