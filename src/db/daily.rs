//! Daily counters (`daily_counts`): per customer, UTC day of acceptance and type, what was
//! accepted and how its recipients ended. Writers call [`add`] inside the transaction of the
//! change they count; `GET /reports/daily` reads them with [`report`].
//!
//! Each counter is spread over [`SLOTS`] rows: one transaction adds to one slot, picked by
//! [`slot`] (round robin in the process), so concurrent transactions of one customer and day
//! lock different rows; [`report`] sums the slots (docs/DESIGN.md "Daily reports").

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{FromRow, MySql, MySqlPool, QueryBuilder};

use super::{Tx, batch};
use crate::domain::SmsType;

/// Rows each counter is spread over (the `slot` column, 0..SLOTS-1).
pub const SLOTS: u32 = 16;

static NEXT_SLOT: AtomicU32 = AtomicU32::new(0);

/// The slot for the next transaction: round robin, started at the process id so that
/// processes do not all begin on slot 0.
pub fn slot() -> u16 {
    let n = NEXT_SLOT
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_add(std::process::id());
    (n % SLOTS) as u16
}

/// The counters of one customer, day and type: what a transaction adds, or a report's sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, FromRow)]
pub struct Counts {
    pub requests: i64,
    pub recipients: i64,
    pub segments: i64,
    pub cost: i64,
    pub delivered: i64,
    pub undelivered: i64,
    pub failed: i64,
    pub refunded: i64,
    pub cancelled: i64,
}

impl Counts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &Counts) {
        self.requests += other.requests;
        self.recipients += other.recipients;
        self.segments += other.segments;
        self.cost += other.cost;
        self.delivered += other.delivered;
        self.undelivered += other.undelivered;
        self.failed += other.failed;
        self.refunded += other.refunded;
        self.cancelled += other.cancelled;
    }
}

/// Where an increment is counted: the customer, the UTC day its request was accepted, the
/// type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub customer_id: i64,
    pub day: NaiveDate,
    pub sms_type: SmsType,
}

impl Key {
    /// The key of a request of `customer_id` accepted at `accepted_at`.
    pub fn of(customer_id: i64, accepted_at: DateTime<Utc>, sms_type: SmsType) -> Self {
        Self {
            customer_id,
            day: accepted_at.date_naive(),
            sms_type,
        }
    }
}

/// Adds `increments` to their counters inside `tx`, in one statement: increments of one key
/// are merged, the rows are sorted by key (two transactions lock shared rows in the same
/// order) and padded to a power of two with zero increments of the last key (one statement
/// text per size, as in `batch`). All go to one [`slot`]. Call it last in the transaction,
/// after the locks of the change it counts, so every writer takes the counter lock last.
pub async fn add(tx: &mut Tx, increments: &[(Key, Counts)]) -> Result<(), sqlx::Error> {
    let mut merged: BTreeMap<Key, Counts> = BTreeMap::new();
    for (key, counts) in increments {
        merged.entry(*key).or_default().add(counts);
    }
    let rows: Vec<(Key, Counts)> = merged.into_iter().collect();
    let slot = slot();
    for chunk in rows.chunks(batch::MAX_ROWS) {
        let mut qb: QueryBuilder<MySql> = QueryBuilder::new(
            "insert into daily_counts (user_id, day, sms_type, slot, requests, recipients, \
             segments, cost, delivered, undelivered, failed, refunded, cancelled) ",
        );
        let last = chunk[chunk.len() - 1].0;
        let padding = (last, Counts::default());
        let padded = chunk.iter().chain(std::iter::repeat_n(
            &padding,
            chunk.len().next_power_of_two() - chunk.len(),
        ));
        qb.push_values(padded, |mut b, (key, c)| {
            b.push_bind(key.customer_id)
                .push_bind(key.day)
                .push_bind(key.sms_type.as_str())
                .push_bind(slot)
                .push_bind(c.requests)
                .push_bind(c.recipients)
                .push_bind(c.segments)
                .push_bind(c.cost)
                .push_bind(c.delivered)
                .push_bind(c.undelivered)
                .push_bind(c.failed)
                .push_bind(c.refunded)
                .push_bind(c.cancelled);
        });
        qb.push(
            " on duplicate key update requests = requests + values(requests), \
             recipients = recipients + values(recipients), \
             segments = segments + values(segments), cost = cost + values(cost), \
             delivered = delivered + values(delivered), \
             undelivered = undelivered + values(undelivered), \
             failed = failed + values(failed), refunded = refunded + values(refunded), \
             cancelled = cancelled + values(cancelled)",
        );
        qb.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// One line of a report: a customer's counts of one day and type, its slots summed.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ReportRow {
    #[sqlx(rename = "user_id")]
    pub customer_id: i64,
    pub day: NaiveDate,
    pub sms_type: SmsType,
    #[sqlx(flatten)]
    pub counts: Counts,
}

/// The counts of `customer_id` (or of every customer), days `from..=to`, of one type or
/// both, ordered by day, customer and type. Reads at most days x types x [`SLOTS`] rows per
/// customer, through the primary key (one customer) or `idx_daily_counts_day` (all); at most
/// `limit` lines.
pub async fn report(
    pool: &MySqlPool,
    customer_id: Option<i64>,
    from: NaiveDate,
    to: NaiveDate,
    sms_type: Option<SmsType>,
    limit: u32,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    let mut qb: QueryBuilder<MySql> = QueryBuilder::new(
        "select user_id, day, sms_type, \
         cast(sum(requests) as signed) as requests, cast(sum(recipients) as signed) as recipients, \
         cast(sum(segments) as signed) as segments, cast(sum(cost) as signed) as cost, \
         cast(sum(delivered) as signed) as delivered, \
         cast(sum(undelivered) as signed) as undelivered, \
         cast(sum(failed) as signed) as failed, cast(sum(refunded) as signed) as refunded, \
         cast(sum(cancelled) as signed) as cancelled \
         from daily_counts where day between ",
    );
    qb.push_bind(from).push(" and ").push_bind(to);
    if let Some(id) = customer_id {
        qb.push(" and user_id = ").push_bind(id);
    }
    if let Some(t) = sms_type {
        qb.push(" and sms_type = ").push_bind(t.as_str());
    }
    qb.push(" group by day, user_id, sms_type order by day, user_id, sms_type limit ")
        .push_bind(limit);
    qb.build_query_as().fetch_all(pool).await
}
