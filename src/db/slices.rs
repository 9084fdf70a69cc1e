//! What a worker reads before sending a slice, for many queue messages at once: their
//! requests and each slice's open recipients, in two statements whatever the number of
//! messages (one each per message cost two round trips for every one-recipient request,
//! docs/BENCHMARKS.md "What one SMS costs").

use std::collections::HashMap;

use sqlx::{FromRow, MySql, MySqlPool, QueryBuilder};

use super::batch;
use super::delivery::OpenRecipient;
use super::messages::{RequestRow, request_columns};

/// Slices loaded by one call at most (the statement texts stay few: the recipients' union is
/// padded to a power of two of subqueries).
pub const MAX_SLICES: usize = 64;

/// One slice to load: its request and the status row it starts after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceKey {
    pub request_id: i64,
    pub after_id: i64,
}

/// A slice's request and its first `limit` open recipients.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub request: RequestRow,
    pub recipients: Vec<OpenRecipient>,
}

/// Open: PENDING, or SENDING without a live lease.
macro_rules! open_condition {
    () => {
        "(status = 'PENDING' or (status = 'SENDING' and (locked_until is null \
         or locked_until < now(6))))"
    };
}

#[derive(FromRow)]
struct KeyedRecipient {
    k: i64,
    id: i64,
    recipient: String,
    attempts: i32,
    body: Option<String>,
}

impl From<KeyedRecipient> for OpenRecipient {
    fn from(row: KeyedRecipient) -> Self {
        OpenRecipient {
            id: row.id,
            recipient: row.recipient,
            attempts: row.attempts,
            body: row.body,
        }
    }
}

/// For each key, in order: its request (`None` when there is none) with the first `limit`
/// recipients after `after_id` that are PENDING, or SENDING without a live lease, in id order
/// (what [`super::delivery::open_recipients`] reads for one). At most [`MAX_SLICES`] keys.
///
/// # Panics
/// With more than [`MAX_SLICES`] keys.
pub async fn load(
    pool: &MySqlPool,
    keys: &[SliceKey],
    limit: usize,
) -> Result<Vec<Option<Loaded>>, sqlx::Error> {
    assert!(keys.len() <= MAX_SLICES, "{} slices", keys.len());
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<i64> = keys.iter().map(|k| k.request_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut qb = QueryBuilder::<MySql>::new(concat!(
        "select ",
        request_columns!(),
        " from sms_requests where id in "
    ));
    batch::push_in_list(&mut qb, &ids);
    let requests: HashMap<i64, RequestRow> = qb
        .build_query_as::<RequestRow>()
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();

    let mut recipients: Vec<Vec<OpenRecipient>> = keys.iter().map(|_| Vec::new()).collect();
    // A request of at most `limit` recipients fits in one slice: all of them are read in one
    // `in` list, `after_id` applied here. Only slices of bigger requests need a subquery each
    // with its own order and limit; MariaDB plans every subquery of a union on its own, which
    // cost more than running it (docs/BENCHMARKS.md "What one SMS costs", cut 7).
    let (mut whole, mut sliced) = (Vec::new(), Vec::new());
    for (position, key) in keys.iter().copied().enumerate() {
        match requests.get(&key.request_id) {
            Some(r) if usize::try_from(r.recipients).is_ok_and(|n| n <= limit) => {
                whole.push((position, key));
            }
            Some(_) => sliced.push((position, key)),
            None => {}
        }
    }
    if !whole.is_empty() {
        let mut ids: Vec<i64> = whole.iter().map(|(_, k)| k.request_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut by_request: HashMap<i64, Vec<OpenRecipient>> = HashMap::new();
        for chunk in batch::key_chunks(&ids) {
            let mut qb = QueryBuilder::<MySql>::new(
                "select request_id as k, id, recipient, attempts, body \
                 from sms_status force index (uq_sms_status_request_recipient) where request_id in ",
            );
            batch::push_in_list(&mut qb, chunk);
            qb.push(concat!(" and ", open_condition!()));
            for row in qb
                .build_query_as::<KeyedRecipient>()
                .fetch_all(pool)
                .await?
            {
                by_request.entry(row.k).or_default().push(row.into());
            }
        }
        for (position, key) in whole {
            if let Some(rows) = by_request.get(&key.request_id) {
                recipients[position] = rows
                    .iter()
                    .filter(|r| r.id > key.after_id)
                    .cloned()
                    .collect();
            }
        }
    }
    if !sliced.is_empty() {
        let mut qb = QueryBuilder::<MySql>::new("");
        let padded = sliced.len().next_power_of_two();
        for slot in 0..padded {
            let (request_id, after_id) = sliced
                .get(slot)
                .map_or((-1, 0), |(_, k)| (k.request_id, k.after_id));
            if slot > 0 {
                qb.push(" union all ");
            }
            qb.push(format!(
                "(select {slot} as k, id, recipient, attempts, body from sms_status \
                 force index (uq_sms_status_request_recipient) "
            ))
            .push("where request_id = ")
            .push_bind(request_id)
            .push(" and id > ")
            .push_bind(after_id)
            .push(concat!(" and ", open_condition!(), " order by id limit "))
            .push_bind(limit as u64)
            .push(")");
        }
        for row in qb
            .build_query_as::<KeyedRecipient>()
            .fetch_all(pool)
            .await?
        {
            if let Some((position, _)) = usize::try_from(row.k).ok().and_then(|s| sliced.get(s)) {
                recipients[*position].push(row.into());
            }
        }
    }
    Ok(keys
        .iter()
        .zip(recipients)
        .map(|(k, mut recipients)| {
            requests.get(&k.request_id).map(|request| {
                recipients.sort_unstable_by_key(|r| r.id);
                Loaded {
                    request: request.clone(),
                    recipients,
                }
            })
        })
        .collect())
}
