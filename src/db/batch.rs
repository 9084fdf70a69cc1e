//! Multi-row statements with a bounded set of texts.
//!
//! sqlx prepares every statement and keeps it in a per-connection LRU cache keyed by its SQL
//! text (100 entries by default). A multi-row statement whose text follows its row count
//! (`in (?, ?, ?)`, `values (...), (...)`) produces a new text for almost every batch size, so
//! the cache churns: every miss is a prepare round trip, and every eviction sends a
//! `COM_STMT_CLOSE`. sqlx 0.9.0 flushes that packet on its own over a socket without
//! `TCP_NODELAY` (sqlx issue #4335), so the next command waits for the server's delayed ACK
//! (docs/DESIGN.md).
//!
//! Every batched statement is therefore built for a power-of-two row count up to
//! [`MAX_ROWS`], giving at most 11 texts per statement kind:
//! - IN lists and `CASE` arms are padded to the next power of two by repeating their last
//!   value (a repeated key selects, locks or updates nothing more);
//! - multi-row INSERTs are split into power-of-two chunks, largest first (1,000 rows =
//!   512 + 256 + 128 + 64 + 32 + 8).

use sqlx::{Encode, MySql, QueryBuilder, Type};

/// The most rows (or IN-list values) one statement carries: at up to 15 placeholders per row
/// (a request row; a status row has 9) this stays far below MySQL's 65,535 placeholders per
/// statement.
pub const MAX_ROWS: usize = 1_024;

/// Splits `items` into chunks whose lengths are powers of two no larger than [`MAX_ROWS`],
/// largest first, for multi-row INSERTs.
pub fn insert_chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let len = 1usize << rest.len().min(MAX_ROWS).ilog2();
        let (chunk, tail) = rest.split_at(len);
        rest = tail;
        Some(chunk)
    })
}

/// Splits `keys` into chunks of at most [`MAX_ROWS`] for IN lists (each then padded by
/// [`padded`] or [`push_in_list`]).
pub fn key_chunks<T>(keys: &[T]) -> std::slice::Chunks<'_, T> {
    keys.chunks(MAX_ROWS)
}

/// `values` followed by copies of its last value up to the next power of two. Empty stays
/// empty.
pub fn padded<T: Copy>(values: &[T]) -> impl Iterator<Item = T> + '_ {
    let extra = values.len().next_power_of_two() - values.len();
    let last = values.last().copied();
    values
        .iter()
        .copied()
        .chain(std::iter::repeat_n(last, extra).flatten())
}

/// Pushes `(?, ?, ...)` binding `values`, padded to a power of two.
///
/// # Panics
/// When `values` is empty or longer than [`MAX_ROWS`] (callers split with [`key_chunks`]).
pub fn push_in_list<'t, T>(qb: &mut QueryBuilder<MySql>, values: &[T])
where
    T: Copy + Encode<'t, MySql> + Type<MySql> + 't,
{
    assert!(
        !values.is_empty() && values.len() <= MAX_ROWS,
        "IN list of {} values",
        values.len()
    );
    qb.push("(");
    let mut sep = qb.separated(", ");
    for value in padded(values) {
        sep.push_bind(value);
    }
    qb.push(")");
}

/// Pushes ` when ? then ?` for each `(key, value)` of `arms` (the arms of a `case <column>`),
/// padded to a power of two like [`padded`]: a repeated arm changes nothing.
pub fn push_case_arms<'t, K, V>(qb: &mut QueryBuilder<MySql>, arms: &[(K, V)])
where
    K: Copy + Encode<'t, MySql> + Type<MySql> + 't,
    V: Copy + Encode<'t, MySql> + Type<MySql> + 't,
{
    for (key, value) in padded(arms) {
        qb.push(" when ")
            .push_bind(key)
            .push(" then ")
            .push_bind(value);
    }
}

/// Runs one statement per [`key_chunks`] chunk of `keys` on `pool`: `head` pushes the text
/// up to its IN list, which follows padded ([`push_in_list`]); returns the rows affected in
/// all.
pub async fn execute_per_chunk<'t, T>(
    pool: &sqlx::MySqlPool,
    keys: &[T],
    head: impl Fn(&mut QueryBuilder<MySql>),
) -> Result<u64, sqlx::Error>
where
    T: Copy + Encode<'t, MySql> + Type<MySql> + 't,
{
    let mut affected = 0;
    for chunk in key_chunks(keys) {
        let mut qb = QueryBuilder::<MySql>::new("");
        head(&mut qb);
        push_in_list(&mut qb, chunk);
        affected += qb.build().execute(pool).await?.rows_affected();
    }
    Ok(affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lengths(n: usize) -> Vec<usize> {
        let items: Vec<usize> = (0..n).collect();
        let chunks: Vec<&[usize]> = insert_chunks(&items).collect();
        // Nothing lost, nothing repeated, order kept.
        assert_eq!(chunks.concat(), items);
        chunks.iter().map(|c| c.len()).collect()
    }

    #[test]
    fn insert_chunks_are_powers_of_two_largest_first() {
        assert!(lengths(0).is_empty());
        assert_eq!(lengths(1), [1]);
        assert_eq!(lengths(3), [2, 1]);
        assert_eq!(lengths(64), [64]);
        assert_eq!(lengths(1_000), [512, 256, 128, 64, 32, 8]);
        assert_eq!(lengths(2_500), [1_024, 1_024, 256, 128, 64, 4]);
        for n in 0..3_000 {
            let l = lengths(n);
            assert!(l.iter().all(|c| c.is_power_of_two() && *c <= MAX_ROWS));
            assert!(l.windows(2).all(|w| w[0] >= w[1]), "{n}: {l:?}");
        }
    }

    #[test]
    fn padding_repeats_the_last_value_up_to_a_power_of_two() {
        assert_eq!(padded::<i64>(&[]).count(), 0);
        assert_eq!(padded(&[7]).collect::<Vec<_>>(), [7]);
        assert_eq!(padded(&[1, 2, 3]).collect::<Vec<_>>(), [1, 2, 3, 3]);
        assert_eq!(
            padded(&[1, 2, 3, 4, 5]).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 5, 5, 5]
        );
    }

    #[test]
    fn in_lists_have_one_text_per_power_of_two() {
        let mut texts = std::collections::HashSet::new();
        for n in 1..=MAX_ROWS {
            let values: Vec<i64> = (0..n as i64).collect();
            let mut qb = QueryBuilder::<MySql>::new("select 1 where 1 in ");
            push_in_list(&mut qb, &values);
            texts.insert(qb.sql().as_str().to_owned());
        }
        assert_eq!(texts.len(), 11);
    }
}
