//! The test harness itself: a test cannot skip its end-of-test checks.

use crate::helpers::{TestApp, database_exists, spawn_app};

#[tokio::test]
async fn a_test_app_dropped_without_finish_fails_its_test_and_still_drops_its_database() {
    let app: TestApp = spawn_app().await;
    let server = app.services.database_server_url.clone();
    let name = app.db_name().to_string();
    assert!(database_exists(&server, &name).await);

    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(app)));

    let payload = dropped.expect_err("dropping a TestApp without finish() must panic");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("without calling finish()") && message.contains(&name),
        "the panic names the database and the missing finish(): {message:?}"
    );
    assert!(
        message.contains("a_test_app_dropped_without_finish"),
        "the panic names the test: {message:?}"
    );
    assert!(
        !database_exists(&server, &name).await,
        "the database {name} was left behind"
    );
}

#[tokio::test]
async fn a_finished_test_app_drops_quietly_and_leaves_no_database() {
    let app = spawn_app().await;
    let server = app.services.database_server_url.clone();
    let name = app.db_name().to_string();
    app.finish().await;
    assert!(!database_exists(&server, &name).await);
}
