//! Credits: integers only, every product checked for overflow.

/// Cost of sending `segments` segments to `recipients` recipients at `price` credits per
/// segment; `None` if it does not fit in an `i64` (callers reject such a request).
pub fn cost(recipients: u64, segments: u32, price: i64) -> Option<i64> {
    let recipients = i64::try_from(recipients).ok()?;
    recipients
        .checked_mul(i64::from(segments))?
        .checked_mul(price)
}

#[cfg(test)]
mod tests {
    use super::cost;

    #[test]
    fn cost_is_recipients_times_segments_times_price() {
        assert_eq!(cost(2, 1, 1), Some(2));
        assert_eq!(cost(1_000, 10, 2), Some(20_000));
        assert_eq!(cost(3, 2, 0), Some(0));
    }

    #[test]
    fn overflow_is_detected() {
        assert_eq!(cost(u64::MAX, 1, 1), None);
        assert_eq!(cost(1_000, 255, i64::MAX / 1_000), None);
    }
}
