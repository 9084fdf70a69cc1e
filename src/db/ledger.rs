//! Balances and the ledger (`user_transactions`). Every balance change in the gateway goes
//! through [`credit`] or [`debit`], which write the ledger row in the same transaction, so
//! `balance = sum(ledger)` holds at every commit.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, MySqlPool, Row};

use super::{Tx, batch};

/// Kind of a ledger row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// Balance given when the customer was created.
    Initial,
    /// `POST /balance/add`.
    Topup,
    /// Accepted SMS.
    Charge,
    /// A message that finally failed.
    Refund,
}

impl EntryType {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Topup => "topup",
            Self::Charge => "charge",
            Self::Refund => "refund",
        }
    }
}

/// One ledger row as listed by `GET /balance`.
#[derive(Debug, Clone, FromRow)]
pub struct LedgerRow {
    pub id: i64,
    pub transaction_id: String,
    pub amount: i64,
    pub transaction_type: String,
    pub description: Option<String>,
    pub sms_identifier: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What a balance change needs besides the amount.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub customer_id: i64,
    pub entry_type: EntryType,
    pub transaction_id: &'a str,
    pub description: Option<&'a str>,
    pub sms_identifier: Option<&'a str>,
}

async fn insert_entry(tx: &mut Tx, entry: &Entry<'_>, amount: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into user_transactions \
         (user_id, amount, transaction_type, description, transaction_id, sms_identifier) \
         values (?, ?, ?, ?, ?, ?)",
    )
    .bind(entry.customer_id)
    .bind(amount)
    .bind(entry.entry_type.as_str())
    .bind(entry.description)
    .bind(entry.transaction_id)
    .bind(entry.sms_identifier)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds `amount` (> 0) credits. Returns the new balance, or `None` if the customer has no
/// balance row. A second call with the same `transaction_id` fails with a unique violation.
pub async fn credit(
    tx: &mut Tx,
    entry: &Entry<'_>,
    amount: i64,
) -> Result<Option<i64>, sqlx::Error> {
    debug_assert!(amount > 0);
    let updated = sqlx::query("update user_balances set balance = balance + ? where user_id = ?")
        .bind(amount)
        .bind(entry.customer_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if updated == 0 {
        return Ok(None);
    }
    insert_entry(tx, entry, amount).await?;
    balance(&mut **tx, entry.customer_id).await
}

/// Takes `amount` (>= 0) credits if the balance covers them. Returns `false`, changing nothing,
/// when it does not: the condition is in the UPDATE itself, so no interleaving can overdraft.
pub async fn debit(tx: &mut Tx, entry: &Entry<'_>, amount: i64) -> Result<bool, sqlx::Error> {
    if amount == 0 {
        return Ok(true);
    }
    let updated = sqlx::query(
        "update user_balances set balance = balance - ? where user_id = ? and balance >= ?",
    )
    .bind(amount)
    .bind(entry.customer_id)
    .bind(amount)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    insert_entry(tx, entry, -amount).await?;
    Ok(true)
}

/// A customer's balance (through the pool, or inside a transaction: `&mut **tx`).
pub async fn balance<'e>(
    executor: impl sqlx::MySqlExecutor<'e>,
    customer_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query("select balance from user_balances where user_id = ?")
        .bind(customer_id)
        .fetch_optional(executor)
        .await?
        .map(|r| r.try_get(0))
        .transpose()
}

/// A page of a customer's ledger, newest first, strictly older than `before_id` when given.
pub async fn list(
    pool: &MySqlPool,
    customer_id: i64,
    before_id: Option<i64>,
    limit: u32,
) -> Result<Vec<LedgerRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, transaction_id, amount, transaction_type, description, sms_identifier, created_at \
         from user_transactions where user_id = ? and id < ? order by id desc limit ?",
    )
    .bind(customer_id)
    .bind(before_id.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Locks the balance rows of `customer_ids` (`FOR UPDATE`, in primary-key order, so concurrent
/// batches never deadlock on each other) and returns them; unknown customers are absent.
/// Here and in [`charge_many`] the primary key is forced: with few customers the optimizer
/// scans the table, locking every customer's balance for the whole acceptance transaction
/// (tests/api/locking.rs).
pub async fn lock_balances(
    tx: &mut Tx,
    customer_ids: &[i64],
) -> Result<std::collections::HashMap<i64, Account>, sqlx::Error> {
    let mut sorted = customer_ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut balances = std::collections::HashMap::with_capacity(sorted.len());
    for chunk in batch::key_chunks(&sorted) {
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "select user_id, balance, vfinish_normal, vfinish_express, tat_requests, \
             tat_recipients, cast(unix_timestamp(now(6)) * 1000000 as signed) \
             from user_balances force index (primary) where user_id in ",
        );
        batch::push_in_list(&mut qb, chunk);
        qb.push(" order by user_id for update");
        type Row = (i64, i64, i64, i64, i64, i64, i64);
        let rows: Vec<Row> = qb.build_query_as().fetch_all(&mut **tx).await?;
        balances.extend(rows.into_iter().map(
            |(id, balance, normal, express, tat_requests, tat_recipients, now_us)| {
                let state = crate::db::fair_share::AccountState {
                    customer_id: id,
                    vfinish: crate::db::fair_share::LaneTimes { normal, express },
                    tat_requests,
                    tat_recipients,
                };
                (
                    id,
                    Account {
                        balance,
                        state,
                        now_us,
                    },
                )
            },
        ));
    }
    Ok(balances)
}

/// A locked balance row: the balance, the fair-order and rate-limit state
/// (`db::fair_share`), and the database's clock when it was read (microseconds since the
/// epoch; one clock for every api process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    pub balance: i64,
    pub state: crate::db::fair_share::AccountState,
    pub now_us: i64,
}

/// One customer's part of an acceptance batch: what it is debited (zero or more) and the
/// fair-order and rate-limit state its balance row keeps (`db::fair_share`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    pub debit: i64,
    pub state: crate::db::fair_share::AccountState,
}

/// Charges several customers at once, one [`Charge`] per customer: each balance is debited
/// only if it covers the debit, and its state is saved in the same update (one row change
/// per customer, not two); then one ledger row per `entries` item is written. Returns false
/// if any balance did not cover its debit: the caller must roll back.
pub async fn charge_many(
    tx: &mut Tx,
    charges: &[Charge],
    entries: &[(Entry<'_>, i64)],
) -> Result<bool, sqlx::Error> {
    for chunk in batch::key_chunks(charges) {
        let column = |f: fn(&Charge) -> i64| -> Vec<(i64, i64)> {
            chunk.iter().map(|c| (c.state.customer_id, f(c))).collect()
        };
        let debits = column(|c| c.debit);
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "update user_balances force index (primary) set balance = balance - case user_id",
        );
        batch::push_case_arms(&mut qb, &debits);
        qb.push(" end, vfinish_normal = case user_id");
        batch::push_case_arms(&mut qb, &column(|c| c.state.vfinish.normal));
        qb.push(" end, vfinish_express = case user_id");
        batch::push_case_arms(&mut qb, &column(|c| c.state.vfinish.express));
        qb.push(" end, tat_requests = case user_id");
        batch::push_case_arms(&mut qb, &column(|c| c.state.tat_requests));
        qb.push(" end, tat_recipients = case user_id");
        batch::push_case_arms(&mut qb, &column(|c| c.state.tat_recipients));
        qb.push(" end where user_id in ");
        let ids: Vec<i64> = chunk.iter().map(|c| c.state.customer_id).collect();
        batch::push_in_list(&mut qb, &ids);
        // The condition sees the balance before the update; rows affected counts the rows
        // matched (the connection sets CLIENT_FOUND_ROWS), changed or not.
        qb.push(" and balance >= case user_id");
        batch::push_case_arms(&mut qb, &debits);
        qb.push(" end");
        let updated = qb.build().execute(&mut **tx).await?.rows_affected();
        if updated != chunk.len() as u64 {
            return Ok(false);
        }
    }
    for chunk in batch::insert_chunks(entries) {
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "insert into user_transactions \
             (user_id, amount, transaction_type, description, transaction_id, sms_identifier) ",
        );
        qb.push_values(chunk, |mut b, (entry, amount)| {
            b.push_bind(entry.customer_id)
                .push_bind(*amount)
                .push_bind(entry.entry_type.as_str())
                .push_bind(entry.description)
                .push_bind(entry.transaction_id)
                .push_bind(entry.sms_identifier);
        });
        qb.build().execute(&mut **tx).await?;
    }
    Ok(true)
}
