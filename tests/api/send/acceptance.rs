//! What an accepted send writes and charges: prices, lanes, partial acceptance, sends by
//! the admin, local numbers.

use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_send_charges_once_and_writes_status_and_outbox_rows() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 10).await;
    let r = app
        .send(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "09127654321"]}),
        )
        .await;
    r.assert_status(202);
    assert_eq!(r.body["status"], "processing");
    assert_eq!(r.body["recipients"], 2);
    assert_eq!(r.body["segments"], 1);
    assert_eq!(r.body["encoding"], "GSM-7");
    assert_eq!(r.body["cost"], 2);
    assert_eq!(r.body["balance"], 8);
    assert!(r.body.get("accepted").is_none());
    let sms_id = r.sms_identifier();
    assert_eq!(app.balance_of(id).await, 8);

    assert_eq!(
        app.status_rows(&sms_id).await,
        vec![
            ("+989121234567".into(), "PENDING".into(), "normal".into()),
            ("+989127654321".into(), "PENDING".into(), "normal".into()),
        ]
    );
    let (priority, status) = app.outbox_row(&sms_id).await;
    assert_eq!((priority, status.as_str()), (0, "pending"));
    assert_eq!(app.charges().await, [(-2, format!("charge:{sms_id}"))]);
    app.finish().await;
}

#[tokio::test]
async fn express_is_priced_higher_and_queued_with_higher_priority() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 100).await;
    let long_text = "a".repeat(161); // 2 GSM-7 segments
    let r = app
        .send(
            &key,
            json!({"text": long_text, "recipients": ["+989121234567"], "type": "EXPRESS",
                   "validity_seconds": 60}),
        )
        .await;
    r.assert_status(202);
    assert_eq!(r.body["type"], "express");
    assert_eq!(r.body["segments"], 2);
    assert_eq!(r.body["cost"], 4);
    assert_eq!(app.balance_of(id).await, 96);
    let sms_id = r.sms_identifier();
    assert_eq!(app.outbox_row(&sms_id).await.0, 10);
    assert!(app.expires_in_the_future(&sms_id).await);

    let r = app
        .send(
            &key,
            json!({"text": "سلام", "recipients": ["+989121234567"]}),
        )
        .await;
    r.assert_status(202);
    assert_eq!(r.body["encoding"], "UCS-2");
    app.finish().await;
}

#[tokio::test]
async fn partial_acceptance_charges_only_what_the_balance_covers() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 5).await;
    let recipients = [
        "+989121234561",
        "+989121234562",
        "+989121234563",
        "+989121234564",
    ];
    let r = app
        .send(
            &key,
            json!({"text": "hi", "recipients": recipients, "type": "express", "allow_partial": true}),
        )
        .await;
    r.assert_status(202);
    assert_eq!(r.body["recipients"], 2);
    assert_eq!(r.body["cost"], 4);
    assert_eq!(r.body["balance"], 1);
    assert_eq!(
        r.body["accepted"],
        json!(["+989121234561", "+989121234562"])
    );
    assert_eq!(r.body["rejected"][0]["recipient"], "+989121234563");
    assert_eq!(r.body["rejected"][0]["reason"], "insufficient_balance");
    assert_eq!(r.body["rejected"].as_array().unwrap().len(), 2);
    assert_eq!(app.count("sms_status").await, 2);

    // The last credit can still be spent on a normal message ...
    let r = app
        .send(
            &key,
            json!({"text": "hi", "recipients": recipients, "allow_partial": true}),
        )
        .await;
    r.assert_status(202);
    assert_eq!(r.body["recipients"], 1);
    assert_eq!(app.balance_of(id).await, 0);
    // ... and nothing more: zero covered recipients is a 402 even with allow_partial.
    let r = app
        .send(
            &key,
            json!({"text": "hi", "recipients": recipients, "allow_partial": true}),
        )
        .await;
    r.assert_problem(402);
    assert_eq!(app.count("sms_status").await, 3);
    app.finish().await;
}

#[tokio::test]
async fn the_admin_sends_for_a_named_customer_only() {
    let app = spawn_app().await;
    let (id, _) = app.create_customer("acme", 3).await;
    let body = json!({"text": "hi", "recipients": ["+989121234567"], "customer_id": id});
    app.send(ADMIN_TOKEN, body).await.assert_status(202);
    assert_eq!(app.balance_of(id).await, 2);
    let r = app
        .send(
            ADMIN_TOKEN,
            json!({"text": "hi", "recipients": ["+989121234567"]}),
        )
        .await;
    assert!(r.assert_problem(400)["errors"]["customer_id"].is_string());
    app.send(
        ADMIN_TOKEN,
        json!({"text": "hi", "recipients": ["+989121234567"], "customer_id": 999_999}),
    )
    .await
    .assert_problem(404);
    app.finish().await;
}

#[tokio::test]
async fn local_numbers_need_a_default_country() {
    let app = spawn_app_with(&[("DEFAULT_COUNTRY_CODE", "none")]).await;
    let (_, key) = app.create_customer("acme", 3).await;
    let r = app
        .send(&key, json!({"text": "hi", "recipients": ["09121234567"]}))
        .await;
    assert!(r.assert_problem(400)["errors"]["recipients[0]"].is_string());
    app.send(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await
        .assert_status(202);
    app.finish().await;
}
