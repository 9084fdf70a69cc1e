//! Fair shares of a lane: start-time fair queuing (Goyal, Vin and Cheng, 1996) over customers.
//!
//! Each lane has a virtual clock, the largest virtual start time a publisher has claimed. Work
//! is tagged at intake: a request of `n` recipients from a customer whose queued work ends at
//! virtual time `f` starts at `max(clock, f)` and ends `n * vstep` later, where `vstep` is
//! [`SCALE`] over the customer's weight. Publishers take the lowest start first. A customer
//! with a long backlog has a far finish time, so a message of another customer, starting at
//! the clock, goes ahead of the backlog's rest; a customer alone still drains at full speed
//! (the order is work-conserving, nothing waits for a slot that nobody uses); and two
//! backlogged customers drain in proportion to their weights. A large request is delivered
//! in slices, each taking its place at its own start time.

/// Virtual time one recipient costs a customer of weight 1.
pub const SCALE: i64 = 1_000_000;
/// The weight of a customer nobody configured.
pub const DEFAULT_WEIGHT: i32 = 100;
/// Recipients of one queue message at most: a larger request is delivered in slices of this
/// many, each claimed at its own virtual start time.
pub const SLICE: usize = 64;
/// The range of a weight.
pub const WEIGHTS: std::ops::RangeInclusive<i32> = 1..=10_000;

/// Virtual time per recipient for a customer of `weight` (clamped to [`WEIGHTS`]).
pub fn vstep(weight: i32) -> i64 {
    SCALE / i64::from(weight.clamp(*WEIGHTS.start(), *WEIGHTS.end()))
}

/// Virtual time per recipient for a customer of the default weight.
pub fn default_vstep() -> i64 {
    vstep(DEFAULT_WEIGHT)
}

/// The virtual start and finish of `recipients` recipients queued by a customer whose queued
/// work ends at `vfinish`, when the lane's clock reads `clock`.
pub fn tag(clock: i64, vfinish: i64, recipients: usize, vstep: i64) -> (i64, i64) {
    let start = clock.max(vfinish);
    let cost = i64::try_from(recipients)
        .unwrap_or(i64::MAX)
        .saturating_mul(vstep);
    (start, start.saturating_add(cost))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_s_requests_queue_behind_each_other_and_a_newcomer_starts_at_the_clock() {
        let step = vstep(DEFAULT_WEIGHT);
        let (s1, f1) = tag(0, 0, 1_000, step);
        let (s2, f2) = tag(0, f1, 1_000, step);
        assert_eq!((s1, s2), (0, f1));
        assert_eq!(f2, 2 * 1_000 * step);
        // Another customer, idle so far, starts at the clock: ahead of the second request.
        let (other, _) = tag(s1, 0, 1, step);
        assert!(other < s2);
    }

    #[test]
    fn an_idle_customer_does_not_bank_credit() {
        // Its last work ended long ago (virtual time 10); the lane has moved on to 5,000.
        assert_eq!(tag(5_000, 10, 1, 1).0, 5_000);
    }

    #[test]
    fn weights_scale_the_share() {
        assert_eq!(vstep(200) * 2, vstep(100));
        assert_eq!(vstep(0), vstep(1));
        assert_eq!(vstep(1_000_000), vstep(10_000));
        assert_eq!(tag(i64::MAX - 1, 0, 10, SCALE).1, i64::MAX);
    }
}
