//! Acceptance in the database: the one money path, for a single request and for a group
//! commit's batch alike (a single request is a batch of one).
//!
//! Inside the caller's transaction it locks the balance rows of every customer involved
//! (`FOR UPDATE`, in primary-key order, so concurrent transactions never deadlock on each
//! other), checks keys taken from the key cache, decides each request in order against the
//! running balance ([`charge_for`]), then charges with one conditional UPDATE (which also
//! saves each customer's fair-order and rate-limit state) and writes the ledger, request,
//! status and outbox rows with multi-row statements (`db::batch`), and adds them to the daily
//! counters (`db::daily`, one statement). The caller commits (docs/DESIGN.md).

use std::collections::{BTreeSet, HashMap};

use uuid::Uuid;

use super::SendCommand;
pub use super::charge::charge_for;
use super::charge::{Shortfall, limits_of};
use super::personal;
use super::record::{Plan, record};
use crate::db::{Tx, fair_share as fair, ledger};
use crate::domain::fair_share;
use crate::domain::{Encoding, PhoneNumber, SmsType};

/// An accepted request.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub sms_identifier: Uuid,
    pub accepted: Vec<PhoneNumber>,
    /// Recipients left out because the balance did not cover them (`allow_partial` only).
    pub rejected: Vec<PhoneNumber>,
    pub segments: u32,
    pub encoding: Encoding,
    pub cost: i64,
    /// Balance after the charge.
    pub balance: i64,
    /// The sender id it goes out from: the one asked for, else the customer's default.
    pub sender: Option<String>,
    /// Personalized bulk: the accepted messages' own segments and encodings, in order (empty
    /// for one text).
    pub personal: Vec<crate::domain::SegmentCount>,
}

/// The result of [`accept`].
#[derive(Debug, Clone)]
pub enum Outcome {
    Accepted(Accepted),
    /// Nothing was written; the caller must roll back (or simply drop the transaction).
    InsufficientBalance {
        balance: i64,
        required: i64,
    },
    /// The customer has no balance row.
    UnknownCustomer,
    /// [`SendCommand::api_key_hash`] is no longer the customer's key (rotated since it was
    /// cached). Nothing was written.
    UnknownKey,
    /// [`SendCommand::from`] is not one of the customer's sender ids. Nothing was written.
    UnknownSender,
    /// The customer is over one of its rate limits. Nothing was written.
    RateLimited {
        limit: Limit,
        per_second: u32,
        /// When the request would be admitted.
        retry_after: std::time::Duration,
    },
}

/// Which per-customer limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Requests,
    Recipients,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::Recipients => "recipients",
        }
    }
}

/// One request of [`accept_many`]: the command and its price per segment.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub cmd: &'a SendCommand,
    pub price: i64,
}

/// Accepts a validated command inside `tx` (see the module documentation). The caller
/// commits when the outcome is [`Outcome::Accepted`], and rolls back otherwise.
pub async fn accept(
    tx: &mut Tx,
    cmd: &SendCommand,
    price_per_segment: i64,
) -> Result<Outcome, sqlx::Error> {
    let request = Request {
        cmd,
        price: price_per_segment,
    };
    let mut outcomes = accept_many(tx, &[request], |_| false).await?;
    Ok(outcomes
        .pop()
        .flatten()
        .expect("a request nobody abandoned has an outcome"))
}

/// Decides and writes `requests` inside `tx`, in order. `abandoned(i)` is asked once the
/// balances are locked: a request whose caller has gone away is skipped (`None`, nothing
/// written), so an answer nobody waits for charges nothing. An error leaves `tx` to be rolled
/// back.
pub async fn accept_many(
    tx: &mut Tx,
    requests: &[Request<'_>],
    abandoned: impl Fn(usize) -> bool,
) -> Result<Vec<Option<Outcome>>, sqlx::Error> {
    let customers: Vec<i64> = requests
        .iter()
        .map(|r| r.cmd.customer_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut balances = ledger::lock_balances(tx, &customers).await?;
    // Keys taken from the key cache are checked against the customers' current keys; the
    // limits are checked on the locked rows' state; the weights and the lanes' clocks place
    // each request in the fair order.
    let settings = fair::settings(tx, &customers).await?;
    let clocks = fair::clocks(&mut **tx).await?;
    let mut touched = BTreeSet::new();

    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(requests.len());
    let mut plans = Vec::new();
    let mut debits: HashMap<i64, i64> = HashMap::new();
    for (index, Request { cmd, price }) in requests.iter().enumerate() {
        if abandoned(index) {
            outcomes.push(None);
            continue;
        }
        let setting = settings.get(&cmd.customer_id);
        if let Some(hash) = &cmd.api_key_hash
            && setting.map(|s| s.api_key_hash.as_slice()) != Some(&hash[..])
        {
            outcomes.push(Some(Outcome::UnknownKey));
            continue;
        }
        let (Some(account), Some(setting)) = (balances.get_mut(&cmd.customer_id), setting) else {
            outcomes.push(Some(Outcome::UnknownCustomer));
            continue;
        };
        // The sender is checked against the senders read with the settings, in this
        // transaction: an admin's change applies to the next request in every process.
        let sender = match &cmd.from {
            None => setting.senders.default.clone(),
            Some(from) if setting.senders.contains(from.as_str()) => Some(from.to_string()),
            Some(_) => {
                outcomes.push(Some(Outcome::UnknownSender));
                continue;
            }
        };
        let (requests_rate, recipients_rate) = limits_of(setting, cmd.default_limits);
        let now = account.now_us;
        let state = &mut account.state;
        let admitted = requests_rate
            .admit(state.tat_requests, now, 1)
            .map_err(|wait| (Limit::Requests, requests_rate, wait))
            .and_then(|requests| {
                recipients_rate
                    .admit(state.tat_recipients, now, cmd.recipients.len() as u64)
                    .map(|recipients| (requests, recipients))
                    .map_err(|wait| (Limit::Recipients, recipients_rate, wait))
            });
        let (tat_requests, tat_recipients) = match admitted {
            Ok(tats) => tats,
            Err((limit, rate, wait)) => {
                outcomes.push(Some(Outcome::RateLimited {
                    limit,
                    per_second: rate.per_second,
                    retry_after: std::time::Duration::from_micros(wait.max(0) as u64),
                }));
                continue;
            }
        };
        let balance = &mut account.balance;
        match charge_for(cmd, *price, *balance) {
            Err(Shortfall { balance, required }) => {
                outcomes.push(Some(Outcome::InsufficientBalance { balance, required }));
            }
            Ok((take, cost)) => {
                *balance -= cost;
                state.tat_requests = tat_requests;
                state.tat_recipients = tat_recipients;
                touched.insert(cmd.customer_id);
                let vstep = fair_share::vstep(setting.weight);
                let lane_finish = match cmd.sms_type {
                    SmsType::Normal => &mut state.vfinish.normal,
                    SmsType::Express => &mut state.vfinish.express,
                };
                // A scheduled request takes its place in the fair order when it is due
                // (`db::outbox::promote_scheduled`), not now.
                let vtime = if cmd.send_at.is_none() {
                    let (vtime, end) =
                        fair_share::tag(clocks.of(cmd.sms_type), *lane_finish, take, vstep);
                    *lane_finish = end;
                    vtime
                } else {
                    0
                };
                if cost > 0 {
                    *debits.entry(cmd.customer_id).or_default() += cost;
                }
                let sms_id = Uuid::now_v7().to_string();
                plans.push(Plan {
                    index,
                    transaction_id: format!("charge:{sms_id}"),
                    description: if cmd.personal.is_empty() {
                        format!(
                            "{} {} x {} segment(s)",
                            cmd.sms_type, take, cmd.count.segments
                        )
                    } else {
                        let count = personal::total(&cmd.personal[..take]);
                        format!(
                            "{} {} personalized, {} segment(s)",
                            cmd.sms_type, take, count.segments
                        )
                    },
                    recipients: cmd.recipients[..take]
                        .iter()
                        .map(|p| p.as_str().to_string())
                        .collect(),
                    operators: cmd.operators.join(","),
                    sender,
                    sms_id,
                    take,
                    cost,
                    balance_after: *balance,
                    vtime,
                    vstep,
                    accepted_at: chrono::DateTime::from_timestamp_micros(now).unwrap_or_default(),
                });
                outcomes.push(None);
            }
        }
    }
    if plans.is_empty() {
        return Ok(outcomes);
    }
    let charges: Vec<ledger::Charge> = touched
        .iter()
        .filter_map(|id| {
            balances.get(id).map(|a| ledger::Charge {
                debit: debits.get(id).copied().unwrap_or(0),
                state: a.state,
            })
        })
        .collect();
    record(tx, requests, &plans, &charges).await?;
    for p in plans {
        let cmd = requests[p.index].cmd;
        let personal = &cmd.personal[..p.take.min(cmd.personal.len())];
        let count = if personal.is_empty() {
            cmd.count
        } else {
            personal::total(personal)
        };
        outcomes[p.index] = Some(Outcome::Accepted(Accepted {
            sms_identifier: p.sms_id.parse().expect("a uuid we formatted"),
            accepted: cmd.recipients[..p.take].to_vec(),
            rejected: cmd.recipients[p.take..].to_vec(),
            segments: count.segments,
            encoding: count.encoding,
            cost: p.cost,
            balance: p.balance_after,
            sender: p.sender,
            personal: personal.iter().map(|m| m.count).collect(),
        }));
    }
    Ok(outcomes)
}
