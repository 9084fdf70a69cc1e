use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, spawn_app};

#[tokio::test]
async fn a_retried_send_replays_the_first_answer_and_charges_once() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 10).await;
    let body = json!({"text": "hi", "recipients": ["+989121234567"]});
    let headers = [("idempotency-key", "order-42")];
    let first = app
        .post_with("/sms/send", Some(&key), &headers, &body)
        .await;
    first.assert_status(202);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = app
        .post_with("/sms/send", Some(&key), &headers, &body)
        .await;
    again.assert_status(202);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body);
    assert_eq!(app.balance_of(id).await, 9);
    assert_eq!(app.count("sms_status").await, 1);

    // Same key, another body: 409, nothing charged.
    let other = json!({"text": "other", "recipients": ["+989121234567"]});
    app.post_with("/sms/send", Some(&key), &headers, &other)
        .await
        .assert_problem(409);
    assert_eq!(app.balance_of(id).await, 9);

    // Keys are per customer: another customer may use the same key.
    let (_, key2) = app.create_customer("other", 10).await;
    app.post_with("/sms/send", Some(&key2), &headers, &body)
        .await
        .assert_status(202);
    app.finish().await;
}

#[tokio::test]
async fn concurrent_retries_with_one_key_charge_once() {
    let app = std::sync::Arc::new(spawn_app().await);
    let (id, key) = app.create_customer("acme", 100).await;
    let body = json!({"text": "hi", "recipients": ["+989121234567", "+989121234568"]});
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (app, key, body) = (app.clone(), key.clone(), body.clone());
        tasks.spawn(async move {
            let r = app
                .post_with(
                    "/sms/send",
                    Some(&key),
                    &[("idempotency-key", "same")],
                    &body,
                )
                .await;
            (r.status.as_u16(), r.body["sms_identifier"].clone())
        });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(r) = tasks.join_next().await {
        let (status, sms_id) = r.unwrap();
        assert_eq!(status, 202);
        ids.insert(sms_id.to_string());
    }
    assert_eq!(ids.len(), 1, "every retry must see the same request");
    assert_eq!(app.balance_of(id).await, 98);
    assert_eq!(app.count("sms_requests").await, 1);
    std::sync::Arc::into_inner(app).unwrap().finish().await;
}

#[tokio::test]
async fn failed_requests_are_not_remembered() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 0).await;
    let body = json!({"text": "hi", "recipients": ["+989121234567"]});
    let headers = [("idempotency-key", "k1")];
    app.post_with("/sms/send", Some(&key), &headers, &body)
        .await
        .assert_problem(402);
    app.post(
        "/balance/add",
        Some(ADMIN_TOKEN),
        &json!({"user_id": id, "balance": 1}),
    )
    .await
    .assert_status(200);
    // After the top-up the same retry goes through.
    app.post_with("/sms/send", Some(&key), &headers, &body)
        .await
        .assert_status(202);
    assert_eq!(app.balance_of(id).await, 0);
    app.finish().await;
}

#[tokio::test]
async fn top_ups_and_customer_creation_are_idempotent() {
    let app = spawn_app().await;
    let headers = [("idempotency-key", "new-customer-1")];
    let body = json!({"name": "acme", "balance": 5});
    let first = app
        .post_with("/admin/customers", Some(ADMIN_TOKEN), &headers, &body)
        .await;
    first.assert_status(201);
    assert!(first.body["api_key"].is_string());
    let replay = app
        .post_with("/admin/customers", Some(ADMIN_TOKEN), &headers, &body)
        .await;
    replay.assert_status(201);
    assert_eq!(replay.body["customer_id"], first.body["customer_id"]);
    assert!(
        replay.body["api_key"].is_null(),
        "the key is never stored in clear"
    );
    assert_eq!(app.count("customers").await, 1);

    let id = first.body["customer_id"].as_i64().unwrap();
    let topup = json!({"user_id": id, "balance": 10});
    let headers = [("idempotency-key", "topup-1")];
    let a = app
        .post_with("/balance/add", Some(ADMIN_TOKEN), &headers, &topup)
        .await;
    let b = app
        .post_with("/balance/add", Some(ADMIN_TOKEN), &headers, &topup)
        .await;
    a.assert_status(200);
    b.assert_status(200);
    assert_eq!(a.body, b.body);
    assert_eq!(app.balance_of(id).await, 15);
    app.post_with(
        "/balance/add",
        Some(ADMIN_TOKEN),
        &headers,
        &json!({"user_id": id, "balance": 11}),
    )
    .await
    .assert_problem(409);
    app.finish().await;
}
