//! What a request costs and whether the balance covers it ([`charge_for`]), and which rate
//! limits apply to its customer: the decisions of the acceptance, kept apart from its writes.

use super::{DefaultLimits, SendCommand};
use crate::db::fair_share as fair;
use crate::domain::rate_limit::Rate;

/// The limits of a customer: its own where the admin set them, else the configured ones.
pub(super) fn limits_of(setting: &fair::Settings, defaults: DefaultLimits) -> (Rate, Rate) {
    let per_second =
        |own: Option<i32>, default: u32| own.map_or(default, |v| u32::try_from(v).unwrap_or(0));
    (
        Rate {
            per_second: per_second(setting.max_requests_per_sec, defaults.requests_per_sec),
            burst_us: defaults.burst_us,
        },
        Rate {
            per_second: per_second(setting.max_recipients_per_sec, defaults.recipients_per_sec),
            burst_us: defaults.burst_us,
        },
    )
}

/// The balance does not cover a request (`Outcome::InsufficientBalance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    pub balance: i64,
    pub required: i64,
}

/// How many recipients `balance` covers and what they cost: `(take, cost)`, or the
/// [`Shortfall`] to answer. All of them, or with `allow_partial` as many as
/// the balance covers (at least one).
pub fn charge_for(
    cmd: &SendCommand,
    price_per_segment: i64,
    balance: i64,
) -> Result<(usize, i64), Shortfall> {
    if !cmd.personal.is_empty() {
        return charge_personal(cmd, price_per_segment, balance);
    }
    let unit = i64::from(cmd.count.segments) * price_per_segment;
    let wanted = cmd.recipients.len();
    let covered = if unit == 0 {
        wanted
    } else {
        usize::try_from(balance.max(0) / unit)
            .unwrap_or(usize::MAX)
            .min(wanted)
    };
    let take = if covered == wanted {
        wanted
    } else if cmd.allow_partial && covered > 0 {
        covered
    } else {
        return Err(Shortfall {
            balance,
            required: unit * wanted as i64,
        });
    };
    Ok((take, unit * take as i64))
}

/// [`charge_for`] of a personalized request: each message costs its own segments; with
/// `allow_partial` the longest first run of messages the balance covers (a later, cheaper one
/// is not taken out of order).
fn charge_personal(
    cmd: &SendCommand,
    price_per_segment: i64,
    balance: i64,
) -> Result<(usize, i64), Shortfall> {
    let (mut take, mut cost) = (0, 0i64);
    for p in &cmd.personal {
        let next = cost + i64::from(p.count.segments) * price_per_segment;
        if next > balance.max(0) {
            break;
        }
        (take, cost) = (take + 1, next);
    }
    let wanted = cmd.personal.len();
    if take == wanted || (cmd.allow_partial && take > 0) {
        Ok((take, cost))
    } else {
        Err(Shortfall {
            balance,
            required: i64::from(cmd.count.segments) * price_per_segment,
        })
    }
}
