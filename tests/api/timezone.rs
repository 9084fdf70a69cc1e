//! The gateway's connections run in UTC whatever the server's time zone, so `now(6)` and the
//! DATETIME columns it fills agree with the UTC timestamps the API reports.

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_pool_connection_uses_utc_as_its_session_time_zone() {
    let app = spawn_app().await;
    // Several connections at once, so more than the first one is checked.
    let sessions = app.session_time_zones(3).await;
    assert_eq!(sessions.len(), 3);
    for (zone, offset) in sessions {
        assert_eq!(zone, "+00:00");
        assert_eq!(
            offset, 0,
            "now() differs from utc_timestamp() by {offset} s"
        );
    }
    app.finish().await;
}
