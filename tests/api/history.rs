use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, spawn_app};

#[tokio::test]
async fn history_lists_own_rows_newest_first_with_filters() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 100).await;
    let (_, other_key) = app.create_customer("other", 100).await;
    let first_id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989127654321"]}),
        )
        .await;
    app.send_ok(
        &key,
        json!({"text": "hello", "recipients": ["09121234567"], "type": "express"}),
    )
    .await;
    app.send_ok(
        &other_key,
        json!({"text": "x", "recipients": ["+989121234567"]}),
    )
    .await;

    let r = app.get("/sms/history", Some(&key)).await;
    r.assert_status(200);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "own rows only: {}", r.text);
    assert_eq!(items[0]["type"], "express");
    assert_eq!(items[0]["status"], "PENDING");
    assert_eq!(items[0]["segments"], 1);
    assert!(items[0]["provider"].is_null());
    assert!(items[0]["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(items[2]["recipient"], "+989121234567");
    assert_eq!(items[1]["recipient"], "+989127654321");

    let count = |q: &str| {
        let app = &app;
        let key = key.clone();
        let q = q.to_string();
        async move {
            let r = app.get(&format!("/sms/history?{q}"), Some(&key)).await;
            r.assert_status(200);
            r.body["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("status=pending").await, 3);
    assert_eq!(count("status=SENT").await, 0);
    assert_eq!(count("type=Express").await, 1);
    assert_eq!(count(&format!("sms_identifier={first_id}")).await, 2);
    assert_eq!(count("recipient=09121234567").await, 2);
    assert_eq!(count("recipient=%2B989127654321").await, 1);
    assert_eq!(count("from=2000-01-01T00:00:00Z").await, 3);
    assert_eq!(count("to=2000-01-01T00:00:00Z").await, 0);
    assert_eq!(count("from=2999-01-01T00:00:00Z").await, 0);

    for bad in [
        "status=done",
        "type=fast",
        "sms_identifier=42",
        "recipient=abc",
        "from=yesterday",
        "limit=1000",
        "cursor=zz",
        "bogus=1",
    ] {
        app.get(&format!("/sms/history?{bad}"), Some(&key))
            .await
            .assert_problem(400);
    }
    // Admin reads any customer's history by naming it.
    let r = app
        .get(&format!("/sms/history?user_id={id}"), Some(ADMIN_TOKEN))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 3);
    app.finish().await;
}

#[tokio::test]
async fn history_pages_with_a_cursor() {
    let app = spawn_app().await;
    let (_, key) = app.create_customer("acme", 100).await;
    let recipients: Vec<String> = (0..7).map(|i| format!("+98912123456{i}")).collect();
    app.send(&key, json!({"text": "hi", "recipients": recipients}))
        .await
        .assert_status(202);
    let mut seen = Vec::new();
    let mut path = "/sms/history?limit=3".to_string();
    loop {
        let r = app.get(&path, Some(&key)).await;
        r.assert_status(200);
        for item in r.body["items"].as_array().unwrap() {
            seen.push(item["recipient"].as_str().unwrap().to_string());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => path = format!("/sms/history?limit=3&cursor={c}"),
            None => break,
        }
    }
    let mut expected = recipients.clone();
    expected.reverse();
    assert_eq!(seen, expected);
    app.finish().await;
}

#[tokio::test]
async fn status_by_identifier_is_tenant_isolated() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 100).await;
    let (_, other_key) = app.create_customer("other", 100).await;
    let sms_id = app
        .send_ok(
            &key,
            json!({"text": "hi €", "recipients": ["+989121234567", "+989127654321"], "validity_seconds": 600}),
        )
        .await;

    let d = app.get(&format!("/sms/{sms_id}"), Some(&key)).await;
    d.assert_status(200);
    assert_eq!(d.body["sms_identifier"], sms_id.as_str());
    assert_eq!(d.body["text"], "hi €");
    assert_eq!(d.body["encoding"], "GSM-7");
    assert_eq!(d.body["recipients"], 2);
    assert_eq!(d.body["cost"], 2);
    assert_eq!(d.body["counts"]["PENDING"], 2);
    assert!(d.body["expires_at"].is_string());
    let messages = d.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["status"], "PENDING");
    assert_eq!(messages[0]["events"][0]["status"], "PENDING");
    assert!(messages[0]["provider_message_id"].is_null());

    app.get(&format!("/sms/{sms_id}"), Some(&other_key))
        .await
        .assert_problem(404);
    app.get("/sms/not-a-uuid", Some(&key))
        .await
        .assert_problem(404);
    app.get(&format!("/sms/{}", uuid::Uuid::new_v4()), Some(&key))
        .await
        .assert_problem(404);
    app.get(&format!("/sms/{sms_id}?user_id={id}"), Some(ADMIN_TOKEN))
        .await
        .assert_status(200);
    app.get(&format!("/sms/{sms_id}"), None)
        .await
        .assert_problem(401);
    app.finish().await;
}
