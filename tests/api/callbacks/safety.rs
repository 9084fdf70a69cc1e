//! Outbound safety: private, loopback and link-local targets are refused (at the settings
//! and at the connection, names and literal addresses alike) unless allowed.

use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock as WireMock, MockServer, ResponseTemplate};

use super::callback_app;
use crate::helpers::mock;

#[tokio::test]
async fn private_targets_are_refused_at_the_settings_and_at_the_connection() {
    let a = mock("opA", 0.0, 0.0).await;
    // No allow-list: only public addresses.
    let app = callback_app(&[("opA", &a)], &[("CALLBACK_ALLOWED_HOSTS", "")]).await;
    let (_, key) = app.create_customer("acme", 10).await;
    let hook = MockServer::start().await;
    WireMock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let port = hook.address().port();
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        "http://169.254.169.254/latest/meta-data".to_string(),
        "http://10.0.0.1/".to_string(),
        "http://[::1]/".to_string(),
    ] {
        let r = app.put_callback_url(&key, Some(&url)).await;
        let problem = r.assert_problem(400);
        assert!(
            problem.to_string().contains("not a public address"),
            "{url}: {problem}"
        );
    }
    // A request's own URL is checked where the connection is made: literal and named.
    for url in [
        format!("http://127.0.0.1:{port}/literal"),
        format!("http://localhost:{port}/named"),
    ] {
        let sms_id = app
            .send_ok(
                &key,
                json!({"text": "hi", "recipients": ["+989121234567"], "callback_url": url}),
            )
            .await;
        app.wait_for_status(&key, &sms_id, &["SENT"]).await;
    }
    app.dispatcher().run_once().await.unwrap();
    assert!(
        hook.received_requests().await.unwrap().is_empty(),
        "nothing reached the target"
    );
    let log = app.get("/callbacks/deliveries", Some(&key)).await;
    let items = log.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", log.body);
    for i in items {
        assert_eq!(i["outcome"], "refused", "{i}");
        assert!(
            i["error"]
                .as_str()
                .unwrap()
                .contains("not a public address"),
            "{i}"
        );
    }
    assert_eq!(
        app.metric("smsgw_callback_posts_total{outcome=\"refused\"}")
            .await,
        2.0
    );
    assert_eq!(app.count("callback_events").await, 2, "kept for retries");
    app.finish().await;
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = callback_app(&[("opA", &a)], &[]).await;
    let (_, key) = app.create_customer("acme", 10).await;
    let hook = MockServer::start().await;
    WireMock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("location", "http://169.254.169.254/"),
        )
        .mount(&hook)
        .await;
    app.put_callback_url(&key, Some(&hook.uri()))
        .await
        .assert_status(200);
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    app.wait_for_status(&key, &sms_id, &["SENT"]).await;
    app.dispatcher().run_once().await.unwrap();
    let log = app.get("/callbacks/deliveries", Some(&key)).await;
    let first = &log.body["items"][0];
    assert_eq!(first["outcome"], "failed");
    assert_eq!(first["http_status"], 307);
    app.finish().await;
}
