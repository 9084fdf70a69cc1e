//! The shared pause switch of dispatch to operators.

use sqlx::MySqlPool;

/// Whether dispatch is paused.
pub async fn is_paused(pool: &MySqlPool) -> Result<bool, sqlx::Error> {
    let paused: Option<bool> = sqlx::query_scalar("select paused from dispatch_state where id = 1")
        .fetch_optional(pool)
        .await?;
    Ok(paused.unwrap_or(false))
}

/// Pauses or resumes dispatch.
pub async fn set_paused(pool: &MySqlPool, paused: bool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into dispatch_state (id, paused) values (1, ?) on duplicate key update paused = ?",
    )
    .bind(paused)
    .bind(paused)
    .execute(pool)
    .await?;
    Ok(())
}
