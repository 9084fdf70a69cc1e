//! `send_at`: when a scheduled request is due. Checked with the other fields, before any
//! database work: malformed, further in the past than `SEND_AT_SKEW_SECS` or further ahead
//! than `MAX_SCHEDULE_AHEAD_SECS` is a 400 naming `send_at`, with nothing charged; within the
//! skew (the caller's clock behind ours) the request is sent at once, as without `send_at`.

use chrono::{DateTime, Utc};

use crate::config::IntakeConfig;
use crate::domain::FieldErrors;

/// The due time of a request asked to go out at `raw` (RFC 3339), seen at `now`: `None` for
/// at once (absent, or not after `now`), else the instant. A bad value is noted in `errors`.
pub fn check_send_at(
    raw: Option<&str>,
    now: DateTime<Utc>,
    config: &IntakeConfig,
    errors: &mut FieldErrors,
) -> Option<DateTime<Utc>> {
    let raw = raw?;
    let Ok(at) = DateTime::parse_from_rfc3339(raw.trim()).map(|t| t.with_timezone(&Utc)) else {
        errors.add(
            "send_at",
            "must be an RFC 3339 timestamp, e.g. 2026-12-24T18:00:00Z",
        );
        return None;
    };
    let skew = chrono::Duration::from_std(config.send_at_skew).unwrap_or_default();
    let ahead = chrono::Duration::from_std(config.max_schedule_ahead).unwrap_or_default();
    if at < now - skew {
        errors.add(
            "send_at",
            format!(
                "is in the past (more than {} s before now, {})",
                config.send_at_skew.as_secs(),
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        );
        return None;
    }
    if at > now + ahead {
        errors.add(
            "send_at",
            format!(
                "is more than {} s ahead (MAX_SCHEDULE_AHEAD_SECS)",
                config.max_schedule_ahead.as_secs()
            ),
        );
        return None;
    }
    (at > now).then_some(at)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn config() -> IntakeConfig {
        let get = |name: &str| (name == "ADMIN_TOKEN").then(|| "t".repeat(16));
        let mut c = crate::config::Config::from_lookup(&get)
            .expect("the defaults are valid")
            .intake;
        c.send_at_skew = Duration::from_secs(60);
        c.max_schedule_ahead = Duration::from_secs(86_400);
        c
    }

    fn check(raw: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, FieldErrors> {
        let mut errors = FieldErrors::new();
        let at = check_send_at(Some(raw), now, &config(), &mut errors);
        if errors.is_empty() {
            Ok(at)
        } else {
            Err(errors)
        }
    }

    #[test]
    fn a_time_ahead_within_the_horizon_is_scheduled_in_utc() {
        let now: DateTime<Utc> = "2026-12-05T10:00:00Z".parse().unwrap();
        // Now itself, in another offset: not ahead, so at once.
        assert_eq!(check("2026-12-05T13:30:00+03:30", now).unwrap(), None);
        let at = check("2026-12-05T14:00:00+03:30", now).unwrap();
        assert_eq!(at, Some("2026-12-05T10:30:00Z".parse().unwrap()));
        let at = check("2026-12-06T10:00:00Z", now).unwrap();
        assert_eq!(at, Some("2026-12-06T10:00:00Z".parse().unwrap()));
    }

    #[test]
    fn a_time_just_past_is_sent_at_once_and_an_older_one_is_refused() {
        let now: DateTime<Utc> = "2026-12-05T10:00:00Z".parse().unwrap();
        assert_eq!(check("2026-12-05T09:59:30Z", now).unwrap(), None);
        assert_eq!(check("2026-12-05T10:00:00Z", now).unwrap(), None);
        let errors = check("2026-12-05T09:58:59Z", now).unwrap_err();
        assert!(errors["send_at"].contains("in the past"), "{errors:?}");
    }

    #[test]
    fn beyond_the_horizon_or_malformed_is_refused() {
        let now: DateTime<Utc> = "2026-12-05T10:00:00Z".parse().unwrap();
        let errors = check("2026-12-06T10:00:01Z", now).unwrap_err();
        assert!(errors["send_at"].contains("ahead"), "{errors:?}");
        for bad in ["tomorrow", "2026-12-06", "2026-12-06 10:00:00", ""] {
            let errors = check(bad, now).unwrap_err();
            assert!(errors["send_at"].contains("RFC 3339"), "{bad}: {errors:?}");
        }
    }
}
