//! The callback outbox (`callback_events`): the events of state changes a customer is told
//! about, written by the transaction of each change (`sent`, `reports`, `delivery`,
//! `cancel`), claimed per customer by the dispatcher (`crate::callbacks`), deleted once
//! delivered, retried with backoff, parked when the retry period is over; and the
//! customers' callback settings (`settings`) and the log of POSTs (`log`).

pub mod log;
pub mod settings;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, MySqlConnection, MySqlPool};

use super::batch;

/// An event to queue: the status row that changed, its new state and what goes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewEvent<'a> {
    pub customer_id: i64,
    pub status_id: i64,
    /// SENT, DELIVERED, UNDELIVERED, FAILED or CANCELLED.
    pub status: &'a str,
    /// The operator (SENT), the report (DELIVERED, UNDELIVERED) or the failure reason.
    pub detail: Option<&'a str>,
    /// Credits refunded with the change (FAILED, CANCELLED).
    pub refund: Option<i64>,
}

/// Queues `events` (from a change's own transaction): one multi-row statement per
/// [`batch::insert_chunks`] chunk. An event already queued (the same status row reaching the
/// same state, which the state machine never allows twice) is left as it is.
pub async fn insert(
    conn: &mut MySqlConnection,
    events: &[NewEvent<'_>],
) -> Result<(), sqlx::Error> {
    for chunk in batch::insert_chunks(events) {
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "insert ignore into callback_events (customer_id, status_id, status, detail, refund) ",
        );
        qb.push_values(chunk, |mut b, e| {
            b.push_bind(e.customer_id)
                .push_bind(e.status_id)
                .push_bind(e.status)
                .push_bind(e.detail.map(|d| d.chars().take(255).collect::<String>()))
                .push_bind(e.refund);
        });
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Queues the event of one status row's change when its request or its customer has a
/// callback URL (a consistent, non-locking read first; no row when neither has one).
pub async fn insert_if_wanted(
    conn: &mut MySqlConnection,
    status_id: i64,
    status: &str,
    detail: Option<&str>,
    refund: Option<i64>,
) -> Result<(), sqlx::Error> {
    let customer: Option<i64> = sqlx::query_scalar(
        "select s.user_id from sms_status s join sms_requests r on r.id = s.request_id \
         join customers c on c.id = s.user_id \
         where s.id = ? and (r.callback_url is not null or c.callback_url is not null)",
    )
    .bind(status_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(customer_id) = customer else {
        return Ok(());
    };
    insert(
        conn,
        &[NewEvent {
            customer_id,
            status_id,
            status,
            detail,
            refund,
        }],
    )
    .await
}

/// What [`claim`] took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claimed {
    /// The events claimed, oldest first.
    pub ids: Vec<i64>,
    /// Due events looked at (`peek` when more were due than it reads).
    pub peeked: usize,
}

/// Claims, for `lease_ms`, the due pending events of at most `customers` customers: those
/// whose events are the oldest among the first `peek` due events of customers other than
/// `skip` (those this dispatcher is serving now), their events in that window, at most
/// `per_customer` each.
///
/// One READ COMMITTED transaction: the due events are read in the order of the due index
/// (no sort, however deep the backlog) `for update skip locked`, so two dispatchers never
/// take the same event, and only the chosen customers' events get the lease `claimed_until`
/// (a process that died gives them back when it runs out); the rest were only locked until
/// the commit. READ COMMITTED locks no gaps, so the state changes inserting new events never
/// wait for a claim.
pub async fn claim(
    pool: &MySqlPool,
    skip: &[i64],
    peek: u32,
    customers: usize,
    per_customer: usize,
    lease_ms: u64,
) -> Result<Claimed, sqlx::Error> {
    let mut tx = super::begin_read_committed(pool).await?;
    let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
        "select id, customer_id from callback_events force index (idx_callback_events_due) \
         where state = 'pending' and next_attempt_at <= now(6) \
         and (claimed_until is null or claimed_until < now(6))",
    );
    if !skip.is_empty() {
        qb.push(" and customer_id not in ");
        batch::push_in_list(&mut qb, &skip[..skip.len().min(batch::MAX_ROWS)]);
    }
    qb.push(" order by next_attempt_at, id limit ")
        .push_bind(peek)
        .push(" for update skip locked");
    let due: Vec<(i64, i64)> = qb.build_query_as().fetch_all(&mut *tx).await?;
    let ids = choose(&due, customers, per_customer);
    if ids.is_empty() {
        tx.rollback().await?;
        return Ok(Claimed {
            ids,
            peeked: due.len(),
        });
    }
    for chunk in batch::key_chunks(&ids) {
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "update callback_events set claimed_until = now(6) + interval ",
        );
        qb.push_bind(lease_ms * 1_000)
            .push(" microsecond where id in ");
        batch::push_in_list(&mut qb, chunk);
        qb.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(Claimed {
        ids,
        peeked: due.len(),
    })
}

/// The ids of `due` (`(id, customer)`, oldest first) that belong to its first `customers`
/// customers, the first `per_customer` of each, in order.
fn choose(due: &[(i64, i64)], customers: usize, per_customer: usize) -> Vec<i64> {
    let mut taken: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    due.iter()
        .filter(|(_, customer)| {
            if !taken.contains_key(customer) && taken.len() >= customers {
                return false;
            }
            let n = taken.entry(*customer).or_insert(0);
            *n += 1;
            *n <= per_customer
        })
        .map(|(id, _)| *id)
        .collect()
}

/// Gives claimed events back at once (claimed, but no slot was free to post them).
pub async fn release(pool: &MySqlPool, ids: &[i64]) -> Result<u64, sqlx::Error> {
    batch::execute_per_chunk(pool, ids, |qb| {
        qb.push("update callback_events set claimed_until = null where id in ");
    })
    .await
}

/// A claimed event with what its payload says, where it goes and how it is signed.
#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub id: i64,
    pub customer_id: i64,
    pub status: String,
    pub occurred_at: DateTime<Utc>,
    pub detail: Option<String>,
    pub refund: Option<i64>,
    pub attempts: i32,
    pub sms_identifier: String,
    pub recipient: String,
    pub client_reference: Option<String>,
    /// The sender id the request was sent from.
    pub sender: Option<String>,
    pub sms_type: String,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub accepted_at: DateTime<Utc>,
    /// Where it goes: its request's `callback_url`, or the customer's; `None` when neither
    /// has one any more.
    pub url: Option<String>,
    /// The customer's signing secret (`None` until it has one).
    pub secret: Option<String>,
    /// The secret before the last rotation, while it still signs.
    pub previous_secret: Option<String>,
}

/// The events `ids` with their status rows', requests' and customers' data, in id order.
pub async fn load(pool: &MySqlPool, ids: &[i64]) -> Result<Vec<EventRow>, sqlx::Error> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in batch::key_chunks(ids) {
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "select e.id, e.customer_id, e.status, e.occurred_at, e.detail, e.refund, \
             e.attempts, s.sms_identifier, s.recipient, s.client_reference, s.sender, s.sms_type, \
             s.provider, s.provider_message_id, s.created_at as accepted_at, \
             coalesce(r.callback_url, c.callback_url) as url, c.callback_secret as secret, \
             if(c.callback_previous_until > now(6), c.callback_previous_secret, null) \
             as previous_secret \
             from callback_events e join sms_status s on s.id = e.status_id \
             join sms_requests r on r.id = s.request_id join customers c on c.id = e.customer_id \
             where e.id in ",
        );
        batch::push_in_list(&mut qb, chunk);
        out.extend(qb.build_query_as::<EventRow>().fetch_all(pool).await?);
    }
    out.sort_by_key(|e| e.id);
    out.dedup_by_key(|e| e.id);
    Ok(out)
}

/// Deletes events: delivered, or with nowhere to go any more.
pub async fn delete(pool: &MySqlPool, ids: &[i64]) -> Result<u64, sqlx::Error> {
    batch::execute_per_chunk(pool, ids, |qb| {
        qb.push("delete from callback_events where id in ");
    })
    .await
}

/// What [`retry_later`] did with the events of a failed POST.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retried {
    /// Pending again, due after the delay.
    pub pending: u64,
    /// Parked: their retry period is over.
    pub parked: u64,
}

/// A POST of `ids` failed: each is due again after `delay_ms`, or parked when it has been
/// retried for `period_secs` since its `retry_since`; `error` is kept as its last error.
pub async fn retry_later(
    pool: &MySqlPool,
    ids: &[i64],
    delay_ms: u64,
    period_secs: u64,
    error: &str,
) -> Result<Retried, sqlx::Error> {
    let error: String = error.chars().take(255).collect();
    let mut out = Retried::default();
    for chunk in batch::key_chunks(ids) {
        let mut tx = pool.begin().await?;
        // Assignments apply left to right: `state` reads nothing assigned before it.
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "update callback_events set state = if(retry_since < now(6) - interval ",
        );
        qb.push_bind(period_secs)
            .push(" second, 'parked', 'pending'), attempts = attempts + 1, next_attempt_at = now(6) + interval ")
            .push_bind(delay_ms * 1_000)
            .push(" microsecond, claimed_until = null, last_error = ")
            .push_bind(error.clone())
            .push(" where state = 'pending' and id in ");
        batch::push_in_list(&mut qb, chunk);
        qb.build().execute(&mut *tx).await?;
        let mut qb = sqlx::QueryBuilder::<sqlx::MySql>::new(
            "select cast(sum(state = 'parked') as signed), count(*) from callback_events where id in ",
        );
        batch::push_in_list(&mut qb, chunk);
        let (parked, all): (Option<i64>, i64) = qb.build_query_as().fetch_one(&mut *tx).await?;
        tx.commit().await?;
        let parked = parked.unwrap_or(0).max(0) as u64;
        out.parked += parked;
        out.pending += (all.max(0) as u64).saturating_sub(parked);
    }
    Ok(out)
}

/// A parked event, as `GET /callbacks/parked` lists it.
#[derive(Debug, Clone, FromRow)]
pub struct ParkedRow {
    pub id: i64,
    pub status: String,
    pub sms_identifier: String,
    pub recipient: String,
    pub occurred_at: DateTime<Utc>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub parked_at: DateTime<Utc>,
}

/// A customer's parked events, newest first, with an id below `before_id` (the cursor), at
/// most `limit`.
pub async fn parked(
    pool: &MySqlPool,
    customer_id: i64,
    before_id: Option<i64>,
    limit: u32,
) -> Result<Vec<ParkedRow>, sqlx::Error> {
    sqlx::query_as(
        "select e.id, e.status, s.sms_identifier, s.recipient, e.occurred_at, e.attempts, \
         e.last_error, e.next_attempt_at as parked_at \
         from callback_events e join sms_status s on s.id = e.status_id \
         where e.customer_id = ? and e.state = 'parked' and e.id < ? order by e.id desc limit ?",
    )
    .bind(customer_id)
    .bind(before_id.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Makes a customer's parked events pending again, due now, with a new retry period: all of
/// them, or those of `ids`. Returns how many.
pub async fn replay(
    pool: &MySqlPool,
    customer_id: i64,
    ids: Option<&[i64]>,
) -> Result<u64, sqlx::Error> {
    macro_rules! set_pending {
        () => {
            "update callback_events set state = 'pending', attempts = 0, \
             retry_since = now(6), next_attempt_at = now(6), claimed_until = null \
             where state = 'parked' and customer_id = "
        };
    }
    match ids {
        None => Ok(sqlx::query(concat!(set_pending!(), "?"))
            .bind(customer_id)
            .execute(pool)
            .await?
            .rows_affected()),
        Some(ids) => {
            batch::execute_per_chunk(pool, ids, |qb| {
                qb.push(set_pending!())
                    .push_bind(customer_id)
                    .push(" and id in ");
            })
            .await
        }
    }
}

/// Events pending and parked, over every customer (the samplers' gauges): one count per
/// state, each a range of the due index (index only, not a scan of the rows).
pub async fn totals(pool: &MySqlPool) -> Result<(u64, u64), sqlx::Error> {
    let (pending, parked): (i64, i64) = sqlx::query_as(
        "select (select count(*) from callback_events force index (idx_callback_events_due) \
         where state = 'pending'), \
         (select count(*) from callback_events force index (idx_callback_events_due) \
         where state = 'parked')",
    )
    .fetch_one(pool)
    .await?;
    Ok((pending.max(0) as u64, parked.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::choose;

    #[test]
    fn choose_takes_the_first_customers_events_up_to_the_cap() {
        let due = [(1, 7), (2, 8), (3, 7), (4, 9), (5, 8), (6, 9)];
        assert_eq!(choose(&due, 2, 10), vec![1, 2, 3, 5]);
        assert_eq!(choose(&due, 3, 10), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(choose(&due, 3, 1), vec![1, 2, 4]);
        assert_eq!(choose(&due, 0, 10), Vec::<i64>::new());
        assert_eq!(choose(&[], 5, 10), Vec::<i64>::new());
    }
}
