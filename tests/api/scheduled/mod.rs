//! Scheduled sending (`send_at`) and cancelling (`POST /sms/{sms_identifier}/cancel`), against
//! the real database and broker: held without broker load until due, then delivered; charged
//! at acceptance and refunded exactly once by a cancel, also when it races the workers.

mod cancel;
mod sending;

use chrono::{DateTime, Utc};

use crate::helpers::TestApp;

/// `send_at` this far from now, as RFC 3339 (milliseconds, UTC), and as the instant it
/// names.
fn at(from_now: chrono::Duration) -> (DateTime<Utc>, String) {
    let text = (Utc::now() + from_now).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    (shown(&serde_json::Value::from(text.as_str())), text)
}

/// An RFC 3339 timestamp of an answer.
fn shown(v: &serde_json::Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

/// How many of a request's recipients are in `status`.
async fn in_status(app: &TestApp, sms_id: &str, status: &str) -> i64 {
    sqlx::query_scalar("select count(*) from sms_status where sms_identifier = ? and status = ?")
        .bind(sms_id)
        .bind(status)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// The status of a request's outbox row, if it has one.
async fn outbox_status(app: &TestApp, sms_id: &str) -> Option<String> {
    sqlx::query_scalar("select status from outbox_events where sms_identifier = ?")
        .bind(sms_id)
        .fetch_optional(&app.db)
        .await
        .unwrap()
}

/// The promotion and the cancel lock without gaps: their transactions are READ COMMITTED,
/// and the pool's sessions stay REPEATABLE READ afterwards.
#[tokio::test]
async fn read_committed_transactions_are_so_and_leave_the_session_alone() {
    let app = crate::helpers::spawn_app().await;
    let mut tx = sms_gateway::db::begin_read_committed(&app.db)
        .await
        .unwrap();
    sqlx::query("select count(*) from user_balances for update")
        .execute(&mut *tx)
        .await
        .unwrap();
    // information_schema.innodb_trx is refreshed every 100 ms.
    let mut seen = None;
    for _ in 0..50 {
        seen = sqlx::query_scalar::<_, String>(
            "select trx_isolation_level from information_schema.innodb_trx \
             where trx_mysql_thread_id = connection_id()",
        )
        .fetch_optional(&mut *tx)
        .await
        .unwrap();
        if seen.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(seen.as_deref(), Some("READ COMMITTED"));
    tx.commit().await.unwrap();
    let mut conn = app.db.acquire().await.unwrap();
    let session: String = sqlx::query_scalar("select @@session.tx_isolation")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(session, "REPEATABLE-READ");
    drop(conn);
    app.finish().await;
}
