use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, spawn_app};

#[tokio::test]
async fn top_ups_are_ledgered_and_listed_newest_first() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 0).await;
    let r = app
        .post(
            "/balance/add",
            Some(ADMIN_TOKEN),
            &json!({"user_id": id, "balance": 100, "description": "top-up"}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["user_id"], id);
    assert_eq!(r.body["balance"], 100);
    let first_tx = r.body["transaction_id"].as_str().unwrap().to_string();
    // `amount` is a synonym of `balance`.
    let r = app
        .post(
            "/balance/add",
            Some(ADMIN_TOKEN),
            &json!({"user_id": id, "amount": 50}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["balance"], 150);

    app.send(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await
        .assert_status(202);

    let b = app.get("/balance", Some(&key)).await;
    b.assert_status(200);
    assert_eq!(b.body["user_id"], id);
    assert_eq!(b.body["balance"], 149);
    let txs = b.body["transactions"].as_array().unwrap();
    let types: Vec<&str> = txs
        .iter()
        .map(|t| t["transaction_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["charge", "topup", "topup"]);
    assert_eq!(txs[0]["amount"], -1);
    assert_eq!(txs[2]["transaction_id"], first_tx.as_str());
    assert_eq!(txs[2]["description"], "top-up");
    assert!(b.body["next_cursor"].is_null());
    app.finish().await;
}

#[tokio::test]
async fn the_ledger_is_paginated_with_a_cursor() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 0).await;
    for i in 1..=5 {
        app.post(
            "/balance/add",
            Some(ADMIN_TOKEN),
            &json!({"user_id": id, "balance": i}),
        )
        .await
        .assert_status(200);
    }
    let mut amounts = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/balance?limit=2&cursor={c}"),
            None => "/balance?limit=2".to_string(),
        };
        let r = app.get(&path, Some(&key)).await;
        r.assert_status(200);
        pages += 1;
        for t in r.body["transactions"].as_array().unwrap() {
            amounts.push(t["amount"].as_i64().unwrap());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(amounts, [5, 4, 3, 2, 1]);
    app.get("/balance?limit=0", Some(&key))
        .await
        .assert_problem(400);
    app.get("/balance?limit=101", Some(&key))
        .await
        .assert_problem(400);
    app.get("/balance?cursor=garbage", Some(&key))
        .await
        .assert_problem(400);
    app.get("/balance?limit=abc", Some(&key))
        .await
        .assert_problem(400);
    app.finish().await;
}

#[tokio::test]
async fn bad_top_ups_change_nothing() {
    let app = spawn_app().await;
    let (id, _) = app.create_customer("acme", 7).await;
    for body in [
        json!({"user_id": id, "balance": 0}),
        json!({"user_id": id, "balance": -5}),
        json!({"user_id": id, "amount": 1_000_000_000_001i64}),
        json!({"user_id": id, "balance": 5, "description": "x".repeat(256)}),
        json!({"user_id": id, "balance": 5, "amount": 5}),
        json!({"user_id": id}),
        json!({"user_id": id, "balance": 1.5}),
    ] {
        app.post("/balance/add", Some(ADMIN_TOKEN), &body)
            .await
            .assert_problem(400);
    }
    app.post(
        "/balance/add",
        Some(ADMIN_TOKEN),
        &json!({"user_id": 424242, "balance": 5}),
    )
    .await
    .assert_problem(404);
    assert_eq!(app.balance_of(id).await, 7);
    assert_eq!(app.count("user_transactions").await, 1);
    app.finish().await;
}

#[tokio::test]
async fn balances_are_isolated_between_customers() {
    let app = spawn_app().await;
    let (a, key_a) = app.create_customer("a", 10).await;
    let (b, key_b) = app.create_customer("b", 20).await;
    let r = app.get("/balance", Some(&key_a)).await;
    assert_eq!(r.body["balance"], 10);
    app.get(&format!("/balance?user_id={b}"), Some(&key_a))
        .await
        .assert_problem(403);
    app.get(&format!("/balance?user_id={a}"), Some(&key_a))
        .await
        .assert_status(200);
    // The admin must name the customer, which must exist.
    let r = app
        .get(&format!("/balance?user_id={b}"), Some(ADMIN_TOKEN))
        .await;
    assert_eq!(r.body["balance"], 20);
    app.get("/balance", Some(ADMIN_TOKEN))
        .await
        .assert_problem(400);
    app.get("/balance?user_id=999999", Some(ADMIN_TOKEN))
        .await
        .assert_problem(404);
    assert_eq!(app.get("/balance", Some(&key_b)).await.body["balance"], 20);
    app.get("/balance", None).await.assert_problem(401);
    app.finish().await;
}
