//! Scheduled requests in the outbox (docs/DESIGN.md "Scheduled sending"): a row `scheduled`,
//! due at `next_run_at` (its `send_at`), outside the fair order and the backlog until then;
//! the counters of the `smsgw_scheduled_*` gauges (`scheduled_counts`), kept in the
//! transaction of every change to such a row; and the promotion of due rows, which gives each
//! its place in the fair order at that moment.

use std::collections::HashMap;

use sqlx::MySqlPool;

use super::super::{Tx, batch, daily, fair_share as fair, ledger};
use crate::domain::{SmsType, fair_share};

/// Adds `sign` x (one request, its recipients) per `(priority, recipients)` of `rows` to the
/// scheduled counters, one statement per priority, in a [`daily::slot`]. Nothing for no
/// rows. Runs in the transaction that writes, promotes or removes those rows, after their
/// balance rows' locks (every writer takes this lock after those, before the daily ones).
pub async fn count_scheduled(
    tx: &mut Tx,
    rows: &[(i32, i64)],
    sign: i64,
) -> Result<(), sqlx::Error> {
    let mut per_priority: std::collections::BTreeMap<i32, (i64, i64)> = Default::default();
    for (priority, recipients) in rows {
        let e = per_priority.entry(*priority).or_default();
        e.0 += sign;
        e.1 += sign * recipients;
    }
    let slot = daily::slot();
    for (priority, (requests, recipients)) in per_priority {
        sqlx::query(
            "insert into scheduled_counts (priority, slot, requests, recipients) \
             values (?, ?, ?, ?) on duplicate key update \
             requests = requests + values(requests), recipients = recipients + values(recipients)",
        )
        .bind(priority)
        .bind(slot)
        .bind(requests)
        .bind(recipients)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Scheduled requests and their recipients not yet due, of one lane: a read of its
/// [`daily::SLOTS`] counter rows.
pub async fn scheduled_totals(pool: &MySqlPool, lane: SmsType) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "select cast(coalesce(sum(requests), 0) as signed), \
         cast(coalesce(sum(recipients), 0) as signed) \
         from scheduled_counts where priority = ?",
    )
    .bind(lane.priority())
    .fetch_one(pool)
    .await
}

/// A due scheduled row, locked by the promotion.
#[derive(Debug, sqlx::FromRow)]
struct Due {
    id: i64,
    vstep: i64,
    recipients: i64,
    user_id: i64,
}

/// Makes up to `limit` scheduled rows of `lane` that are due pending, each placed in the
/// fair order now, as intake places a request sent at once: at `max(clock, its customer's
/// finish in the lane)`, moving that finish on by its recipients. Returns how many.
///
/// A plain probe of `idx_outbox_due` first (`status = 'scheduled' and priority = ? and
/// next_run_at <= now`: one dive, whatever the number of rows scheduled later), then one
/// short READ COMMITTED transaction: the due rows (`for update skip locked`, so another
/// process's promotion or a cancel holding one is passed by), their customers' balance rows
/// (`for update`, in key order, as intake locks them: `ledger::lock_balances`), the rows made
/// pending with their virtual times, the customers' finish times saved
/// (`fair_share::save_states`) and the counters lowered.
pub async fn promote_scheduled(
    pool: &MySqlPool,
    lane: SmsType,
    clock: i64,
    limit: u32,
) -> Result<u64, sqlx::Error> {
    let any: Option<i64> = sqlx::query_scalar(
        "select id from outbox_events force index (idx_outbox_due) \
         where status = 'scheduled' and priority = ? and next_run_at <= now(6) limit 1",
    )
    .bind(lane.priority())
    .fetch_optional(pool)
    .await?;
    if any.is_none() {
        return Ok(0);
    }
    // READ COMMITTED: the locking read takes the due rows only, no gaps of the index, so an
    // acceptance writing a scheduled row never waits on (or deadlocks with) a promotion.
    let mut tx = super::super::begin_read_committed(pool).await?;
    let due: Vec<Due> = sqlx::query_as(
        "select o.id, o.vstep, o.recipients, r.user_id \
         from outbox_events o force index (idx_outbox_due) \
         join sms_requests r force index (primary) on r.id = o.request_id \
         where o.status = 'scheduled' and o.priority = ? and o.next_run_at <= now(6) \
         order by o.next_run_at, o.id limit ? for update skip locked",
    )
    .bind(lane.priority())
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    if due.is_empty() {
        tx.rollback().await?;
        return Ok(0);
    }
    let customers: Vec<i64> = due.iter().map(|d| d.user_id).collect();
    let mut accounts = ledger::lock_balances(&mut tx, &customers).await?;
    let mut vtimes: Vec<(i64, i64)> = Vec::with_capacity(due.len());
    for d in &due {
        let Some(account) = accounts.get_mut(&d.user_id) else {
            // No balance row (cannot happen: customers are never deleted): at the clock.
            vtimes.push((d.id, clock));
            continue;
        };
        let finish = match lane {
            SmsType::Normal => &mut account.state.vfinish.normal,
            SmsType::Express => &mut account.state.vfinish.express,
        };
        let recipients = usize::try_from(d.recipients.max(1)).unwrap_or(1);
        let (start, end) = fair_share::tag(clock, *finish, recipients, d.vstep);
        *finish = end;
        vtimes.push((d.id, start));
    }
    for chunk in batch::key_chunks(&vtimes) {
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "update outbox_events force index (primary) set status = 'pending', \
             next_run_at = now(6), vtime = case id",
        );
        batch::push_case_arms(&mut qb, chunk);
        qb.push(" end where status = 'scheduled' and id in ");
        let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
        batch::push_in_list(&mut qb, &ids);
        qb.build().execute(&mut *tx).await?;
    }
    let states: Vec<fair::AccountState> = accounts.values().map(|a| a.state).collect();
    fair::save_states(&mut tx, &states).await?;
    let counted: Vec<(i32, i64)> = due
        .iter()
        .map(|d| (lane.priority(), d.recipients))
        .collect();
    count_scheduled(&mut tx, &counted, -1).await?;
    tx.commit().await?;
    Ok(due.len() as u64)
}

/// The scheduled counters, per priority: (requests, recipients) (tests compare them with a
/// recount of the outbox).
pub async fn counters(pool: &MySqlPool) -> Result<HashMap<i32, (i64, i64)>, sqlx::Error> {
    let rows: Vec<(i32, i64, i64)> = sqlx::query_as(
        "select priority, cast(sum(requests) as signed), cast(sum(recipients) as signed) \
         from scheduled_counts group by priority",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(p, a, b)| (p, (a, b))).collect())
}
