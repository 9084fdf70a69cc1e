//! The gateway's connections run in UTC whatever the server's time zone, so `now(6)` and the
//! DATETIME columns it fills agree with the UTC timestamps the API reports.

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_pool_connection_uses_utc_as_its_session_time_zone() {
    let app = spawn_app().await;
    // Several connections at once, so more than the first one is checked.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut conn = app.db.acquire().await.unwrap();
        let (zone, offset): (String, i64) = sqlx::query_as(
            "select @@session.time_zone, \
             cast(timestampdiff(second, utc_timestamp(6), now(6)) as signed)",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        assert_eq!(zone, "+00:00");
        assert_eq!(
            offset, 0,
            "now() differs from utc_timestamp() by {offset} s"
        );
        held.push(conn);
    }
    drop(held);
    app.finish().await;
}
