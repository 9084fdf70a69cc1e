//! The shared pause switch of dispatch to operators.

use sqlx::MySqlPool;

/// Whether dispatch is paused.
pub async fn is_paused(pool: &MySqlPool) -> Result<bool, sqlx::Error> {
    let paused: Option<bool> = sqlx::query_scalar("select paused from dispatch_state where id = 1")
        .fetch_optional(pool)
        .await?;
    Ok(paused.unwrap_or(false))
}

/// Whether dispatch is paused, read in a take's transaction in share mode: a pause waits for
/// the take to commit, and a take after the pause's commit sees it (`delivery::claim_many`).
pub async fn is_paused_for_take(conn: &mut sqlx::MySqlConnection) -> Result<bool, sqlx::Error> {
    let paused: Option<bool> =
        sqlx::query_scalar("select paused from dispatch_state where id = 1 lock in share mode")
            .fetch_optional(conn)
            .await?;
    Ok(paused.unwrap_or(false))
}

/// Pauses or resumes dispatch. Returns the recipients in flight once the switch is
/// committed: taken (SENDING under a live lease) before it and not settled yet. No take
/// follows a committed pause; those already taken are still sent (a worker that sees the
/// pause before calling an operator gives its recipient back instead).
pub async fn set_paused(pool: &MySqlPool, paused: bool) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "insert into dispatch_state (id, paused) values (1, ?) on duplicate key update paused = ?",
    )
    .bind(paused)
    .bind(paused)
    .execute(pool)
    .await?;
    in_flight(pool).await
}

/// Recipients SENDING under a live lease (taken, not settled).
pub async fn in_flight(pool: &MySqlPool) -> Result<u64, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "select count(*) from sms_status where status = 'SENDING' and locked_until > now(6)",
    )
    .fetch_one(pool)
    .await?;
    Ok(n.max(0) as u64)
}
