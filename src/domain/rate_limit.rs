//! Rate limits as the generic cell rate algorithm (GCRA): one timestamp per limit, the
//! theoretical arrival time (TAT) of the next unit, so a limit's whole state is one column.
//! A request of `cost` units at `now` is admitted when the TAT after it is at most `burst`
//! ahead of `now`, or when nothing is outstanding (a request larger than the burst still
//! goes, and the ones after it wait for its cost). All times in microseconds.

/// A limit: `per_second` units a second (0: unlimited), with bursts of `burst_us`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst_us: i64,
}

impl Rate {
    /// The TAT after admitting `cost` units at `now`, or how long to wait (microseconds)
    /// before they would be admitted.
    pub fn admit(&self, tat: i64, now: i64, cost: u64) -> Result<i64, i64> {
        if self.per_second == 0 {
            return Ok(tat);
        }
        let increment = i64::try_from(i128::from(cost) * 1_000_000 / i128::from(self.per_second))
            .unwrap_or(i64::MAX);
        let from = tat.max(now);
        let next = from.saturating_add(increment);
        if from == now || next - now <= self.burst_us {
            Ok(next)
        } else {
            Err((next - self.burst_us - now).max(1).min(from - now))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rate;

    const SECOND: i64 = 1_000_000;

    #[test]
    fn a_burst_then_exactly_the_rate() {
        let rate = Rate {
            per_second: 10,
            burst_us: SECOND,
        };
        let (mut tat, now) = (0, 100 * SECOND);
        let mut admitted = 0;
        while let Ok(next) = rate.admit(tat, now, 1) {
            tat = next;
            admitted += 1;
        }
        // A second's worth at once.
        assert_eq!(admitted, 10);
        let wait = rate.admit(tat, now, 1).unwrap_err();
        assert_eq!(wait, SECOND / 10);
        assert!(rate.admit(tat, now + wait, 1).is_ok());
        // Over ten seconds, ten a second.
        let mut count = 0;
        for t in (0..10 * SECOND).step_by(1_000) {
            if let Ok(next) = rate.admit(tat, now + wait + t, 1) {
                tat = next;
                count += 1;
            }
        }
        assert!((99..=101).contains(&count), "{count}");
    }

    #[test]
    fn a_request_larger_than_the_burst_goes_alone_and_the_next_waits_for_it() {
        let rate = Rate {
            per_second: 100,
            burst_us: SECOND,
        };
        let tat = rate.admit(0, SECOND, 1_000).unwrap();
        assert_eq!(tat, 11 * SECOND);
        let wait = rate.admit(tat, SECOND, 1).unwrap_err();
        assert_eq!(wait, 9 * SECOND + SECOND / 100);
    }

    #[test]
    fn zero_is_unlimited() {
        let rate = Rate {
            per_second: 0,
            burst_us: 0,
        };
        assert_eq!(rate.admit(5, 1, u64::MAX), Ok(5));
    }
}
