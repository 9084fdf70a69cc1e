//! Time: one clock for acceptance and arrival times (microseconds since the Unix epoch,
//! monotonic within the process), and the CPU time of this process.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The process's anchor: an instant and the Unix time it stands for, in µs.
static ANCHOR: OnceLock<(Instant, u64)> = OnceLock::new();

/// Microseconds since the Unix epoch, read from a monotonic clock anchored once per process
/// (so latencies within the process never go backwards, and a separate operator process on the
/// same machine gives comparable times).
pub fn now_us() -> u64 {
    let (instant, unix_us) = ANCHOR.get_or_init(|| {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as u64;
        (Instant::now(), unix)
    });
    unix_us + instant.elapsed().as_micros() as u64
}

/// User and system CPU seconds this process has used so far (getrusage).
pub fn cpu_seconds() -> (f64, f64) {
    // SAFETY: getrusage only writes the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return (0.0, 0.0);
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_is_monotonic_and_close_to_the_wall_clock() {
        let a = now_us();
        let b = now_us();
        assert!(b >= a);
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64;
        assert!(wall.abs_diff(b) < 1_000_000);
        let (user, sys) = cpu_seconds();
        assert!(user + sys >= 0.0);
    }
}
