//! Rules and prices of `POST /sms/send`, and how acceptances are grouped into transactions.

use std::time::Duration;

use super::reader::Reader;
use crate::domain::{DefaultCountry, SmsType};

/// Rules and prices of `POST /sms/send`.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    /// `PRICE_NORMAL`: credits per segment of a normal message.
    pub price_normal: i64,
    /// `PRICE_EXPRESS`: credits per segment of an express message.
    pub price_express: i64,
    /// `MAX_SEGMENTS`: longest accepted text, in segments.
    pub max_segments: u32,
    /// `MAX_RECIPIENTS`: recipients per request (at most 1,000, the contract's ceiling).
    pub max_recipients: usize,
    /// `DEFAULT_COUNTRY_CODE`: country of local numbers such as `0912...`; unset rejects them.
    pub default_country: Option<DefaultCountry>,
    /// `MAX_VALIDITY_SECS`: the largest `validity_seconds` a request may ask for.
    pub max_validity: Duration,
    /// `INTAKE_GROUP_COMMIT`: coalesce concurrent acceptances into shared transactions
    /// (requests with an `Idempotency-Key` always take their own transaction).
    pub group_commit: bool,
    /// `INTAKE_EXECUTORS`: group-commit shards of customers, each committing one batch at a
    /// time (see `intake::group_commit`).
    pub executors: usize,
    /// `INTAKE_TIMEOUT_MS`: bound of an acceptance transaction up to its commit, and of the
    /// commit itself. Past it nothing is charged (503), or the commit's fate is looked up.
    pub timeout: Duration,
    /// `INTAKE_RESOLVE_TIMEOUT_MS`: how long a commit whose outcome is unknown (connection
    /// lost during COMMIT, commit timed out) is looked up before the answer says so.
    pub resolve_timeout: Duration,
    /// `CUSTOMER_MAX_REQUESTS_PER_SEC`: requests a second a customer may send unless the
    /// admin set its own (0: unlimited).
    pub customer_requests_per_sec: u32,
    /// `CUSTOMER_MAX_RECIPIENTS_PER_SEC`: recipients a second, likewise.
    pub customer_recipients_per_sec: u32,
    /// `CUSTOMER_RATE_BURST_MS`: how far ahead of its rate a customer may send in a burst.
    pub customer_rate_burst: Duration,
    /// `MAX_SCHEDULE_AHEAD_SECS`: how far ahead `send_at` may be (default 30 days, at most
    /// 366 days).
    pub max_schedule_ahead: Duration,
    /// `SEND_AT_SKEW_SECS`: how far in the past a `send_at` may be and still be accepted (sent
    /// at once): the caller's clock may run behind ours.
    pub send_at_skew: Duration,
    /// `NORMAL_BACKLOG_LIMIT`: normal recipients waiting in the outbox beyond which normal
    /// sends get 503 with `Retry-After` (express is still accepted); 0: no limit.
    pub normal_backlog_limit: u64,
}

impl IntakeConfig {
    /// Credits per segment for a message type.
    pub fn price(&self, sms_type: SmsType) -> i64 {
        match sms_type {
            SmsType::Normal => self.price_normal,
            SmsType::Express => self.price_express,
        }
    }

    pub(super) fn read(r: &mut Reader) -> Self {
        let default_country = match r.raw("DEFAULT_COUNTRY_CODE") {
            None => None,
            Some(v) if v.trim().eq_ignore_ascii_case("none") => None,
            Some(v) => match v.trim().parse::<DefaultCountry>() {
                Ok(c) => Some(c),
                Err(e) => {
                    r.problem(format!("DEFAULT_COUNTRY_CODE: {e} (got {v:?})"));
                    None
                }
            },
        };
        Self {
            price_normal: r.ranged("PRICE_NORMAL", 1, 0, 1_000_000),
            price_express: r.ranged("PRICE_EXPRESS", 2, 0, 1_000_000),
            max_segments: r.ranged("MAX_SEGMENTS", 10, 1, 255),
            max_recipients: r.ranged("MAX_RECIPIENTS", 1_000, 1, 1_000),
            default_country,
            max_validity: r.secs("MAX_VALIDITY_SECS", 7 * 86_400, 1, 30 * 86_400),
            group_commit: r.bool("INTAKE_GROUP_COMMIT", true),
            executors: r.ranged("INTAKE_EXECUTORS", 1, 1, 64),
            timeout: r.millis("INTAKE_TIMEOUT_MS", 3_000, 10, 60_000),
            resolve_timeout: r.millis("INTAKE_RESOLVE_TIMEOUT_MS", 5_000, 10, 120_000),
            customer_requests_per_sec: r.ranged(
                "CUSTOMER_MAX_REQUESTS_PER_SEC",
                10_000,
                0,
                1_000_000,
            ),
            customer_recipients_per_sec: r.ranged(
                "CUSTOMER_MAX_RECIPIENTS_PER_SEC",
                200_000,
                0,
                100_000_000,
            ),
            customer_rate_burst: r.millis("CUSTOMER_RATE_BURST_MS", 1_000, 1, 60_000),
            max_schedule_ahead: r.secs("MAX_SCHEDULE_AHEAD_SECS", 30 * 86_400, 60, 366 * 86_400),
            send_at_skew: r.secs("SEND_AT_SKEW_SECS", 60, 0, 3_600),
            normal_backlog_limit: r.ranged("NORMAL_BACKLOG_LIMIT", 2_000_000, 0, 1_000_000_000),
        }
    }
}
