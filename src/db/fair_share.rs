//! The state of the fair order and of the per-customer limits (docs/DESIGN.md "Fair delivery",
//! "Per-customer limits"): the lanes' virtual clocks, each customer's weight and limits, and
//! per customer the virtual finish of its queued work per lane and its limits' theoretical
//! arrival times (on its balance row, which intake locks anyway).

use std::collections::HashMap;

use sqlx::MySqlPool;

use super::{Tx, batch};
use crate::domain::SmsType;

/// A virtual time per lane: the lanes' clocks, or the finish of a customer's queued work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaneTimes {
    pub normal: i64,
    pub express: i64,
}

impl LaneTimes {
    pub fn of(&self, lane: SmsType) -> i64 {
        match lane {
            SmsType::Normal => self.normal,
            SmsType::Express => self.express,
        }
    }
}

/// Reads both lanes' clocks (two primary-key rows).
pub async fn clocks<'e>(db: impl sqlx::MySqlExecutor<'e>) -> Result<LaneTimes, sqlx::Error> {
    let rows: Vec<(i32, i64)> = sqlx::query_as("select priority, vtime from lane_clocks")
        .fetch_all(db)
        .await?;
    let mut clocks = LaneTimes::default();
    for (priority, vtime) in rows {
        if priority == SmsType::Express.priority() {
            clocks.express = vtime;
        } else if priority == SmsType::Normal.priority() {
            clocks.normal = vtime;
        }
    }
    Ok(clocks)
}

/// Raises a lane's clock to `vtime` (never lowers it).
pub async fn raise_clock(pool: &MySqlPool, lane: SmsType, vtime: i64) -> Result<(), sqlx::Error> {
    sqlx::query("update lane_clocks set vtime = greatest(vtime, ?) where priority = ?")
        .bind(vtime)
        .bind(lane.priority())
        .execute(pool)
        .await?;
    Ok(())
}

/// What acceptance needs of a customer besides its balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The current key hash (to check keys taken from the key cache).
    pub api_key_hash: Vec<u8>,
    pub weight: i32,
    /// Its own limits (`None`: the configured default; 0: unlimited).
    pub max_requests_per_sec: Option<i32>,
    pub max_recipients_per_sec: Option<i32>,
    /// Its sender ids (`super::senders`), the default one first when it has one.
    pub senders: Senders,
}

/// A customer's sender ids, as acceptance reads them with its settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Senders {
    /// The one used when a send names no sender.
    pub default: Option<String>,
    /// All of them, the default included.
    pub all: Vec<String>,
}

impl Senders {
    /// From the subquery's `group_concat`: comma separated, the default marked with a leading
    /// `*` (neither character can be part of a sender id).
    fn parse(list: Option<&str>) -> Self {
        let mut senders = Self::default();
        for item in list
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
        {
            let sender = match item.strip_prefix('*') {
                Some(default) => {
                    senders.default = Some(default.to_string());
                    default
                }
                None => item,
            };
            senders.all.push(sender.to_string());
        }
        senders
    }

    pub fn contains(&self, sender: &str) -> bool {
        self.all.iter().any(|s| s == sender)
    }
}

/// The settings of `ids` (absent: no such customer). Read without locking, in one statement
/// with the customers' sender ids (a subquery on `customer_senders`' primary key; at most
/// `senders::MAX_PER_CUSTOMER` of them, so the `group_concat` stays within its 1,024 bytes).
pub async fn settings(tx: &mut Tx, ids: &[i64]) -> Result<HashMap<i64, Settings>, sqlx::Error> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in batch::key_chunks(ids) {
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "select id, api_key_hash, weight, max_requests_per_sec, max_recipients_per_sec, \
             (select group_concat(if(s.is_default = 1, concat('*', s.sender), s.sender) \
             separator ',') from customer_senders s where s.customer_id = customers.id) \
             from customers force index (primary) where id in ",
        );
        batch::push_in_list(&mut qb, chunk);
        type Row = (i64, Vec<u8>, i32, Option<i32>, Option<i32>, Option<String>);
        let rows: Vec<Row> = qb.build_query_as().fetch_all(&mut **tx).await?;
        out.extend(
            rows.into_iter()
                .map(|(id, api_key_hash, weight, rq, rc, senders)| {
                    (
                        id,
                        Settings {
                            api_key_hash,
                            weight,
                            max_requests_per_sec: rq,
                            max_recipients_per_sec: rc,
                            senders: Senders::parse(senders.as_deref()),
                        },
                    )
                }),
        );
    }
    Ok(out)
}

/// What acceptance leaves on a customer's balance row besides the balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountState {
    pub customer_id: i64,
    /// Virtual finish of its queued work per lane.
    pub vfinish: LaneTimes,
    /// Theoretical arrival times of its request and recipient limits (microseconds).
    pub tat_requests: i64,
    pub tat_recipients: i64,
}

/// Saves [`AccountState`]s. Runs inside the acceptance transaction, on balance rows it has
/// locked.
pub async fn save_states(tx: &mut Tx, states: &[AccountState]) -> Result<(), sqlx::Error> {
    for chunk in batch::key_chunks(states) {
        let column = |f: fn(&AccountState) -> i64| -> Vec<(i64, i64)> {
            chunk.iter().map(|s| (s.customer_id, f(s))).collect()
        };
        let ids: Vec<i64> = chunk.iter().map(|s| s.customer_id).collect();
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "update user_balances force index (primary) set vfinish_normal = case user_id",
        );
        batch::push_case_arms(&mut qb, &column(|s| s.vfinish.normal));
        qb.push(" end, vfinish_express = case user_id");
        batch::push_case_arms(&mut qb, &column(|s| s.vfinish.express));
        qb.push(" end, tat_requests = case user_id");
        batch::push_case_arms(&mut qb, &column(|s| s.tat_requests));
        qb.push(" end, tat_recipients = case user_id");
        batch::push_case_arms(&mut qb, &column(|s| s.tat_recipients));
        qb.push(" end where user_id in ");
        batch::push_in_list(&mut qb, &ids);
        qb.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// A customer's weight and limits as the admin set them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shares {
    pub weight: i32,
    pub max_requests_per_sec: Option<i32>,
    pub max_recipients_per_sec: Option<i32>,
}

/// The shares of a customer, if it exists.
pub async fn shares(pool: &MySqlPool, customer_id: i64) -> Result<Option<Shares>, sqlx::Error> {
    let row: Option<(i32, Option<i32>, Option<i32>)> = sqlx::query_as(
        "select weight, max_requests_per_sec, max_recipients_per_sec from customers where id = ?",
    )
    .bind(customer_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(weight, rq, rc)| Shares {
        weight,
        max_requests_per_sec: rq,
        max_recipients_per_sec: rc,
    }))
}

/// Sets a customer's weight and limits; false when there is no such customer.
pub async fn set_shares(
    pool: &MySqlPool,
    customer_id: i64,
    shares: &Shares,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "update customers set weight = ?, max_requests_per_sec = ?, max_recipients_per_sec = ? \
         where id = ?",
    )
    .bind(shares.weight)
    .bind(shares.max_requests_per_sec)
    .bind(shares.max_recipients_per_sec)
    .bind(customer_id)
    .execute(pool)
    .await?
    .rows_affected()
        > 0)
}
