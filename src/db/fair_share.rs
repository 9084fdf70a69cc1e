//! The state of the fair order (docs/DESIGN.md "Fair delivery"): the lanes' virtual clocks,
//! each customer's weight, and the virtual finish of each customer's queued work per lane
//! (on its balance row, which intake locks anyway).

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
}

/// The settings of `ids` (absent: no such customer). Read without locking.
pub async fn settings(tx: &mut Tx, ids: &[i64]) -> Result<HashMap<i64, Settings>, sqlx::Error> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in batch::key_chunks(ids) {
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "select id, api_key_hash, weight from customers force index (primary) where id in ",
        );
        batch::push_in_list(&mut qb, chunk);
        let rows: Vec<(i64, Vec<u8>, i32)> = qb.build_query_as().fetch_all(&mut **tx).await?;
        out.extend(rows.into_iter().map(|(id, api_key_hash, weight)| {
            (
                id,
                Settings {
                    api_key_hash,
                    weight,
                },
            )
        }));
    }
    Ok(out)
}

/// Sets the virtual finish of customers' queued work: `(customer, normal, express)`. Runs
/// inside the acceptance transaction, on balance rows it has locked.
pub async fn set_finishes(tx: &mut Tx, finishes: &[(i64, i64, i64)]) -> Result<(), sqlx::Error> {
    for chunk in batch::key_chunks(finishes) {
        let normal: Vec<(i64, i64)> = chunk.iter().map(|(id, n, _)| (*id, *n)).collect();
        let express: Vec<(i64, i64)> = chunk.iter().map(|(id, _, e)| (*id, *e)).collect();
        let ids: Vec<i64> = chunk.iter().map(|(id, _, _)| *id).collect();
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "update user_balances force index (primary) set vfinish_normal = case user_id",
        );
        batch::push_case_arms(&mut qb, &normal);
        qb.push(" end, vfinish_express = case user_id");
        batch::push_case_arms(&mut qb, &express);
        qb.push(" end where user_id in ");
        batch::push_in_list(&mut qb, &ids);
        qb.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Sets a customer's weight; false when there is no such customer.
pub async fn set_weight(
    pool: &MySqlPool,
    customer_id: i64,
    weight: i32,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("update customers set weight = ? where id = ?")
        .bind(weight)
        .bind(customer_id)
        .execute(pool)
        .await?
        .rows_affected()
        > 0)
}
