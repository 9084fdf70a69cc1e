//! The throttle on tokio's paused clock: the cap's bucket, bounded waits, the slowdown after a
//! 429 (once per round, `Retry-After`, the floor) and the additive recovery.

use std::sync::Arc;

use super::*;

fn capped(max_rps: u32, max_wait_ms: u64) -> Throttle {
    Throttle::new(
        "t",
        &ThrottleSettings {
            max_rps: Some(max_rps),
            max_wait: Duration::from_millis(max_wait_ms),
        },
    )
}

fn uncapped(max_wait_ms: u64) -> Throttle {
    Throttle::new(
        "t",
        &ThrottleSettings {
            max_rps: None,
            max_wait: Duration::from_millis(max_wait_ms),
        },
    )
}

/// Takes `n` tokens one after the other; how long that took.
async fn take(t: &Throttle, n: usize) -> Duration {
    let started = Instant::now();
    for _ in 0..n {
        t.acquire().await.expect("admitted");
    }
    started.elapsed()
}

/// Whether `d` is `ms` milliseconds, give or take the timer's millisecond.
fn about(d: Duration, ms: u64) -> bool {
    d.abs_diff(Duration::from_millis(ms)) <= Duration::from_millis(1)
}

fn rps(t: &Throttle) -> Option<f64> {
    t.status().effective_rps
}

#[test]
fn the_burst_is_a_tenth_of_a_second_and_at_least_one() {
    assert_eq!(burst(1.0), 1.0);
    assert_eq!(burst(15.0), 1.0);
    assert_eq!(burst(50.0), 5.0);
    assert_eq!(burst(1_000.0), 100.0);
}

#[tokio::test(start_paused = true)]
async fn the_cap_admits_its_burst_then_one_send_per_token() {
    let t = capped(100, 1_000);
    assert_eq!(
        take(&t, 10).await,
        Duration::ZERO,
        "the burst of 10 at once"
    );
    // 100 more at 100/s: one second.
    let took = take(&t, 100).await;
    assert!(about(took, 1_000), "{took:?}");
    let s = t.status();
    assert_eq!((s.waits, s.skips, s.throttled), (100, 0, false));
    assert_eq!(s.effective_rps, Some(100.0));
    // Idle, the bucket fills up to its burst only.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(take(&t, 10).await, Duration::ZERO);
    assert!(take(&t, 1).await >= Duration::from_millis(9));
}

#[tokio::test(start_paused = true)]
async fn concurrent_sends_queue_for_their_tokens() {
    let t = Arc::new(capped(10, 10_000));
    let started = Instant::now();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let t = t.clone();
            tokio::spawn(async move {
                t.acquire().await.unwrap();
                started.elapsed()
            })
        })
        .collect();
    let mut done = Vec::new();
    for task in tasks {
        done.push(task.await.unwrap());
    }
    done.sort();
    // 1 at once, then one per 100 ms: the 20th after 1.9 s, never two closer than that.
    assert_eq!(done[0], Duration::ZERO);
    assert!(about(done[19], 1_900), "{done:?}");
    for pair in done.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(99), "{done:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_send_that_would_wait_past_max_wait_is_refused_at_once() {
    let t = capped(10, 150);
    t.acquire().await.unwrap(); // the burst
    let waiting = {
        let started = Instant::now();
        // 100 ms away: waits.
        let permit = t.acquire().await.unwrap();
        assert!(permit.waited);
        started.elapsed()
    };
    assert!(about(waiting, 100), "{waiting:?}");
    // Two sends reserve the next two tokens (100 and 200 ms away): the second is refused.
    let t = Arc::new(t);
    let first = tokio::spawn({
        let t = t.clone();
        async move { t.acquire().await.map(|_| ()) }
    });
    tokio::task::yield_now().await;
    let refused = t.acquire().await.unwrap_err();
    assert!(about(refused.wait, 200), "{refused:?}");
    assert!(first.await.unwrap().is_ok());
    let s = t.status();
    assert_eq!((s.waits, s.skips), (2, 1));
    // The refusal took no token: the next one is 100 ms away.
    let started = Instant::now();
    t.acquire().await.unwrap();
    assert!(about(started.elapsed(), 100), "{:?}", started.elapsed());
}

#[tokio::test(start_paused = true)]
async fn a_429_halves_the_rate_once_per_round_and_never_below_the_floor() {
    let t = capped(100, 10_000);
    // A second at the full rate, so the observed rate is the cap.
    take(&t, 110).await;
    let in_flight: Vec<Permit> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(t.acquire().await.unwrap());
        }
        v
    };
    // Three calls of the same round answered 429: one halving.
    for permit in &in_flight {
        t.on_rate_limited(*permit, None);
    }
    assert_eq!(rps(&t), Some(50.0));
    let s = t.status();
    assert!(s.throttled);
    assert_eq!(s.rate_limited, 3);
    // The slower rate holds: 50 sends take about a second.
    let took = take(&t, 50).await;
    assert!(took >= Duration::from_millis(979), "{took:?}");
    // A call of the new round answered 429 halves again; halving ends at the floor.
    for _ in 0..20 {
        let permit = t.acquire().await.unwrap();
        t.on_rate_limited(permit, None);
    }
    assert_eq!(rps(&t), Some(FLOOR_RPS));
    // A 429 is no reason for the breaker: the throttle only slows down.
    assert_eq!(t.status().skips, 0);
}

#[tokio::test(start_paused = true)]
async fn successes_bring_the_rate_back_additively_to_the_cap() {
    let t = capped(100, 10_000);
    take(&t, 110).await;
    let permit = t.acquire().await.unwrap();
    t.on_rate_limited(permit, None);
    assert_eq!(rps(&t), Some(50.0));
    // A tenth of the cap per second of successes: +10 after one second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    t.on_success();
    assert_eq!(rps(&t), Some(60.0));
    // A long idle gap credits one second at most.
    tokio::time::sleep(Duration::from_secs(30)).await;
    t.on_success();
    assert_eq!(rps(&t), Some(70.0));
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        t.on_success();
    }
    assert_eq!(rps(&t), Some(100.0));
    assert!(!t.status().throttled, "recovered");
    // Back at the cap, further successes change nothing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    t.on_success();
    assert_eq!(rps(&t), Some(100.0));
}

#[tokio::test(start_paused = true)]
async fn retry_after_holds_every_send_for_that_long_bounded() {
    let t = capped(100, 2_000);
    let permit = t.acquire().await.unwrap();
    t.on_rate_limited(permit, Some(Duration::from_secs(1)));
    // Held for 1 s: within max_wait, the next send waits for it.
    let started = Instant::now();
    assert!(t.acquire().await.unwrap().waited);
    assert!(started.elapsed() >= Duration::from_secs(1));
    // Successes during the hold credit nothing.
    t.on_rate_limited(t.acquire().await.unwrap(), Some(Duration::from_secs(3)));
    let held = rps(&t);
    t.on_success();
    assert_eq!(rps(&t), held);
    // 3 s is past max_wait (2 s): refused at once, until the hold is nearly over.
    assert!(t.acquire().await.is_err());
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(t.acquire().await.is_ok());
    // An operator asking for an hour is held for RETRY_AFTER_LIMIT only.
    let t = capped(100, 60_000);
    let permit = t.acquire().await.unwrap();
    t.on_rate_limited(permit, Some(Duration::from_secs(3_600)));
    let started = Instant::now();
    t.acquire().await.unwrap();
    assert_eq!(started.elapsed(), RETRY_AFTER_LIMIT);
}

#[tokio::test(start_paused = true)]
async fn an_operator_without_a_cap_is_slowed_by_429s_then_unlimited_again() {
    let t = uncapped(10_000);
    assert_eq!(take(&t, 1_000).await, Duration::ZERO, "unlimited");
    assert_eq!(rps(&t), None);
    // Called at about 40/s when it answers 429: limited to half of that.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for _ in 0..40 {
        t.acquire().await.unwrap();
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let permit = t.acquire().await.unwrap();
    t.on_rate_limited(permit, None);
    let slowed = rps(&t).expect("limited now");
    assert!((19.0..=21.5).contains(&slowed), "{slowed}");
    assert!(t.status().throttled);
    let took = take(&t, 20).await;
    assert!(took >= Duration::from_millis(900), "{took:?}");
    // Recovery to the rate it was called at (+4/s per second), then no limit at all.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        t.on_success();
    }
    assert_eq!(rps(&t), None);
    assert!(!t.status().throttled);
    assert_eq!(take(&t, 100).await, Duration::ZERO);
}
