//! What reaches a customer's endpoint: every state change, once, signed, batched.

use std::collections::HashSet;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock as WireMock, MockServer, ResponseTemplate};

use super::{callback_app, events_received, signed_with};
use crate::helpers::mock;

async fn endpoint(at: &str) -> MockServer {
    let server = MockServer::start().await;
    WireMock::given(method("POST"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn every_state_change_reaches_the_customer_s_endpoint_signed_and_batched() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = callback_app(&[("opA", &a)], &[]).await;
    let (_, key) = app.create_customer("acme", 10).await;
    let server = endpoint("/hook").await;
    let set = app
        .put_callback_url(&key, Some(&format!("{}/hook", server.uri())))
        .await;
    set.assert_status(200);
    let secret = set.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");

    let sms_id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989127654321"],
                   "reference": "order-1"}),
        )
        .await;
    app.report_all(&key, &a, "opA", &sms_id, "DELIVRD").await;
    let events = app.dispatch_until(&server, 4).await;

    let seen: HashSet<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["recipient"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: HashSet<(String, String)> = ["+989121234567", "+989127654321"]
        .iter()
        .flat_map(|r| {
            ["SENT", "DELIVERED"]
                .iter()
                .map(|s| (r.to_string(), s.to_string()))
        })
        .collect();
    assert_eq!(seen, expected, "{events:?}");
    assert_eq!(events.len(), 4, "each change once: {events:?}");
    let ids: HashSet<&str> = events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4);
    for e in &events {
        assert_eq!(e["sms_identifier"], sms_id.as_str());
        assert_eq!(e["reference"], "order-1");
        assert_eq!(e["operator"], "opA");
        assert_eq!(e["type"], "normal");
        assert_eq!(e["attempt"], 1);
        assert!(e["operator_message_id"].as_str().is_some());
        assert!(e["reason"].is_null() && e["refund"].is_null());
    }
    let requests = server.received_requests().await.unwrap();
    // SENT of both recipients, then DELIVERED of both: batched per customer.
    assert!(requests.len() <= 3, "{} POSTs for 4 events", requests.len());
    for r in &requests {
        assert!(signed_with(r, &secret), "unsigned or badly signed POST");
        assert!(!signed_with(r, "whsec_someone_else"));
        assert_eq!(r.headers.get("content-type").unwrap(), "application/json");
    }
    assert_eq!(
        app.count("callback_events").await,
        0,
        "delivered events are gone"
    );

    let log = app.get("/callbacks/deliveries", Some(&key)).await;
    log.assert_status(200);
    let items = log.body["items"].as_array().unwrap();
    assert_eq!(items.len(), requests.len());
    assert!(
        items
            .iter()
            .all(|i| i["outcome"] == "delivered" && i["http_status"] == 200)
    );
    assert!(
        app.metric("smsgw_callback_events_total{outcome=\"delivered\"}")
            .await
            >= 4.0
    );
    assert!(app.metric("smsgw_callback_lag_seconds_count").await >= 4.0);
    app.finish().await;
}

#[tokio::test]
async fn a_failed_recipient_is_reported_with_its_refund_at_the_request_s_own_url() {
    let r = mock("opR", 0.0, 1.0).await;
    let app = callback_app(&[("opR", &r)], &[]).await;
    let (_, key) = app.create_customer("acme", 10).await;
    let customer_hook = endpoint("/customer").await;
    let request_hook = endpoint("/request").await;
    app.put_callback_url(&key, Some(&format!("{}/customer", customer_hook.uri())))
        .await
        .assert_status(200);
    let sms_id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567"],
                   "callback_url": format!("{}/request", request_hook.uri())}),
        )
        .await;
    app.wait_for_status(&key, &sms_id, &["FAILED"]).await;
    let events = app.dispatch_until(&request_hook, 1).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["status"], "FAILED");
    assert_eq!(events[0]["refund"], 1);
    assert!(events[0]["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(
        events_received(&customer_hook).await.is_empty(),
        "the request's URL wins"
    );
    let secret = app.callback_secret(&key).await;
    let posts = request_hook.received_requests().await.unwrap();
    assert!(signed_with(&posts[0], &secret));
    app.finish().await;
}

#[tokio::test]
async fn a_request_s_callback_url_works_without_settings_and_creates_the_secret() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = callback_app(&[("opA", &a)], &[]).await;
    let (_, key) = app.create_customer("acme", 10).await;
    let hook = endpoint("/request").await;
    let sms_id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567"],
                   "callback_url": format!("{}/request", hook.uri())}),
        )
        .await;
    app.wait_for_status(&key, &sms_id, &["SENT"]).await;
    let events = app.dispatch_until(&hook, 1).await;
    assert_eq!(events[0]["status"], "SENT");
    let secret = app.callback_secret(&key).await;
    assert!(signed_with(
        &hook.received_requests().await.unwrap()[0],
        &secret
    ));
    // A bad callback_url is a 400 naming it.
    let bad = app
        .send(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567"], "callback_url": "ftp://x"}),
        )
        .await;
    let problem = bad.assert_problem(400);
    assert!(problem.to_string().contains("callback_url"), "{problem}");
    app.finish().await;
}

#[tokio::test]
async fn a_customer_without_callbacks_queues_no_events() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = callback_app(&[("opA", &a)], &[]).await;
    let (_, key) = app.create_customer("acme", 10).await;
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    app.report_all(&key, &a, "opA", &sms_id, "DELIVRD").await;
    app.wait_for_status(&key, &sms_id, &["DELIVERED"]).await;
    assert_eq!(app.count("callback_events").await, 0);
    assert_eq!(app.dispatcher().run_once().await.unwrap(), 0);
    app.finish().await;
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_during_the_grace() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = callback_app(&[("opA", &a)], &[]).await;
    let (customer_id, key) = app.create_customer("acme", 10).await;
    let hook = endpoint("/hook").await;
    // The admin sets it for the customer.
    let set = app
        .request(
            "PUT",
            &format!("/callbacks/settings?user_id={customer_id}"),
            Some(super::ADMIN),
            &[],
            Some(axum::body::Body::from(
                json!({"url": format!("{}/hook", hook.uri())}).to_string(),
            )),
        )
        .await;
    set.assert_status(200);
    let old = set.body["secret"].as_str().unwrap().to_string();
    let rotated = app
        .post("/callbacks/settings/rotate-secret", Some(&key), &json!({}))
        .await;
    rotated.assert_status(200);
    let new = rotated.body["secret"].as_str().unwrap().to_string();
    assert_ne!(old, new);
    assert!(rotated.body["previous_secret_expires_at"].is_string());

    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    app.wait_for_status(&key, &sms_id, &["SENT"]).await;
    app.dispatch_until(&hook, 1).await;
    let post = &hook.received_requests().await.unwrap()[0];
    let header = post.headers.get("x-signature").unwrap().to_str().unwrap();
    assert_eq!(header.matches("v1=").count(), 2, "{header}");
    assert!(signed_with(post, &new) && signed_with(post, &old));
    app.finish().await;
}

#[tokio::test]
async fn a_cancel_reports_each_cancelled_recipient_with_its_refund() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = callback_app(&[("opA", &a)], &[]).await;
    let (_, key) = app.create_customer("acme", 10).await;
    let hook = endpoint("/hook").await;
    app.put_callback_url(&key, Some(&format!("{}/hook", hook.uri())))
        .await
        .assert_status(200);
    let send_at = (chrono::Utc::now() + chrono::Duration::minutes(10))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let sms_id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989127654321"],
                   "type": "express", "send_at": send_at}),
        )
        .await;
    app.post(&format!("/sms/{sms_id}/cancel"), Some(&key), &json!({}))
        .await
        .assert_status(200);
    let events = app.dispatch_until(&hook, 2).await;
    assert_eq!(events.len(), 2, "{events:?}");
    for e in &events {
        assert_eq!(e["status"], "CANCELLED");
        assert_eq!(e["refund"], 2, "one express segment");
        assert_eq!(e["reason"], "cancelled by the customer");
        assert!(e["operator"].is_null());
    }
    app.finish().await;
}
