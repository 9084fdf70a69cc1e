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

#[derive(FromRow)]
struct KeyedRecipient {
    k: i64,
    id: i64,
    recipient: String,
    attempts: i32,
    body: Option<String>,
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

    // One parenthesized subquery per key (each with its own order and limit, through the
    // request's unique key), labelled with the key's position; padded with subqueries that
    // find nothing.
    let wanted: Vec<(usize, SliceKey)> = keys
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, k)| requests.contains_key(&k.request_id))
        .collect();
    let mut recipients: Vec<Vec<OpenRecipient>> = keys.iter().map(|_| Vec::new()).collect();
    if !wanted.is_empty() {
        let mut qb = QueryBuilder::<MySql>::new("");
        let padded = wanted.len().next_power_of_two();
        for slot in 0..padded {
            let (request_id, after_id) = wanted
                .get(slot)
                .map_or((-1, 0), |(_, k)| (k.request_id, k.after_id));
            if slot > 0 {
                qb.push(" union all ");
            }
            qb.push(format!(
                "(select {slot} as k, id, recipient, attempts, body from sms_status "
            ))
            .push("where request_id = ")
            .push_bind(request_id)
            .push(" and id > ")
            .push_bind(after_id)
            .push(
                " and (status = 'PENDING' or (status = 'SENDING' and (locked_until is null \
                     or locked_until < now(6)))) order by id limit ",
            )
            .push_bind(limit as u64)
            .push(")");
        }
        for row in qb
            .build_query_as::<KeyedRecipient>()
            .fetch_all(pool)
            .await?
        {
            if let Some((position, _)) = usize::try_from(row.k).ok().and_then(|s| wanted.get(s)) {
                recipients[*position].push(OpenRecipient {
                    id: row.id,
                    recipient: row.recipient,
                    attempts: row.attempts,
                    body: row.body,
                });
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
