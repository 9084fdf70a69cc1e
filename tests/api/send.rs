use axum::body::Body;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app, spawn_app_with};

/// Everything a send writes, to prove that a refused request wrote nothing.
async fn footprint(app: &TestApp) -> [i64; 4] {
    [
        app.count("sms_requests").await,
        app.count("sms_status").await,
        app.count("outbox_events").await,
        app.count("user_transactions").await,
    ]
}

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
    let sms_id = r.body["sms_identifier"].as_str().unwrap().to_string();
    assert_eq!(app.balance_of(id).await, 8);

    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "select recipient, status, sms_type from sms_status where sms_identifier = ? order by id",
    )
    .bind(&sms_id)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            ("+989121234567".into(), "PENDING".into(), "normal".into()),
            ("+989127654321".into(), "PENDING".into(), "normal".into()),
        ]
    );
    let (priority, status): (i32, String) =
        sqlx::query_as("select priority, status from outbox_events where sms_identifier = ?")
            .bind(&sms_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((priority, status.as_str()), (0, "pending"));
    let charge: (i64, String) = sqlx::query_as(
        "select amount, transaction_id from user_transactions where transaction_type = 'charge'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(charge, (-2, format!("charge:{sms_id}")));
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
    let priority: i32 = sqlx::query_scalar("select priority from outbox_events")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(priority, 10);
    let has_expiry: bool = sqlx::query_scalar("select expires_at > now(6) from sms_requests")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(has_expiry);

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
async fn every_refused_send_leaves_nothing_behind() {
    let app = spawn_app_with(&[("MAX_BODY_BYTES", "4096")]).await;
    let (id, key) = app.create_customer("acme", 5).await;
    let (other_id, _) = app.create_customer("other", 5).await;
    let before = footprint(&app).await;
    let ok = |v: Value| v;

    let cases: Vec<(u16, &str, Value)> = vec![
        (
            400,
            "text",
            ok(json!({"text": "", "recipients": ["+989121234567"]})),
        ),
        (
            400,
            "text",
            ok(json!({"text": "a".repeat(1531), "recipients": ["+989121234567"]})),
        ),
        (
            400,
            "recipients",
            ok(json!({"text": "hi", "recipients": []})),
        ),
        (
            400,
            "recipients[0]",
            ok(json!({"text": "hi", "recipients": ["hello"]})),
        ),
        (
            400,
            "recipients[1]",
            ok(json!({"text": "hi", "recipients": ["+989121234567", "09121234567"]})),
        ),
        (
            400,
            "recipients[0]",
            ok(json!({"text": "hi", "recipients": ["091285284834"]})),
        ),
        (
            400,
            "type",
            ok(json!({"text": "hi", "recipients": ["+989121234567"], "type": "urgent"})),
        ),
        (
            400,
            "validity_seconds",
            ok(json!({"text": "hi", "recipients": ["+989121234567"], "validity_seconds": -5})),
        ),
        (
            400,
            "operators[0]",
            ok(json!({"text": "hi", "recipients": ["+989121234567"], "operators": ["nope"]})),
        ),
        (
            402,
            "",
            ok(
                json!({"text": "hi", "recipients": ["+989121234567", "+989121234568", "+989121234569"], "type": "express"}),
            ),
        ),
        (
            403,
            "",
            ok(json!({"text": "hi", "recipients": ["+989121234567"], "customer_id": other_id})),
        ),
    ];
    for (status, field, body) in cases {
        let r = app.send(&key, body.clone()).await;
        let p = r.assert_problem(status);
        if !field.is_empty() {
            assert!(
                p["errors"][field].is_string(),
                "expected an error on {field} for {body}: {p}"
            );
        }
        if status == 402 {
            assert_eq!(p["balance"], 5);
            assert_eq!(p["required"], 6);
        }
    }
    let too_many: Vec<String> = (0..1001).map(|i| format!("+98912{:07}", i)).collect();
    let r = app
        .send(&key, json!({"text": "hi", "recipients": too_many}))
        .await;
    // 1,001 numbers exceed the 4 KB body limit of this app before validation even runs.
    r.assert_problem(413);

    // Malformed JSON, unknown fields, wrong types and a non-JSON body.
    let raw = |b: &'static str| Some(Body::from(b));
    let auth = Some(key.as_str());
    app.request("POST", "/sms/send", auth, &[], raw("{\"text\": "))
        .await
        .assert_problem(400);
    let r = app
        .request(
            "POST",
            "/sms/send",
            auth,
            &[],
            raw(r#"{"text":"hi","recipients":["+989121234567"],"recipeints":[]}"#),
        )
        .await;
    assert!(
        r.assert_problem(400)["detail"]
            .as_str()
            .unwrap()
            .contains("recipeints")
    );
    app.request(
        "POST",
        "/sms/send",
        auth,
        &[],
        raw(r#"{"text":"hi","recipients":"+989121234567"}"#),
    )
    .await
    .assert_problem(400);
    app.request(
        "POST",
        "/sms/send",
        auth,
        &[("content-type", "text/plain")],
        raw("hi"),
    )
    .await
    .assert_problem(415);
    app.request(
        "POST",
        "/sms/send",
        None,
        &[],
        raw(r#"{"text":"hi","recipients":["+989121234567"]}"#),
    )
    .await
    .assert_problem(401);
    app.request(
        "POST",
        "/sms/send",
        Some("sk_unknown"),
        &[],
        raw(r#"{"text":"hi","recipients":["+989121234567"]}"#),
    )
    .await
    .assert_problem(401);
    app.request(
        "POST",
        "/sms/send",
        auth,
        &[("idempotency-key", "")],
        raw(r#"{"text":"hi","recipients":["+989121234567"]}"#),
    )
    .await
    .assert_problem(400);

    assert_eq!(footprint(&app).await, before);
    assert_eq!(app.balance_of(id).await, 5);
    assert_eq!(app.balance_of(other_id).await, 5);
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
async fn concurrent_sends_never_overdraft() {
    let app = spawn_app_with(&[("DB_MAX_CONNECTIONS", "20")]).await;
    let (id, key) = app.create_customer("acme", 100).await;
    let app = std::sync::Arc::new(app);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let app = app.clone();
        let key = key.clone();
        tasks.spawn(async move {
            app.send(
                &key,
                json!({"text": "hi", "recipients": [format!("+98912{:07}", 1_000_000 + i)]}),
            )
            .await
            .status
            .as_u16()
        });
    }
    let mut accepted = 0;
    let mut refused = 0;
    while let Some(status) = tasks.join_next().await {
        match status.unwrap() {
            202 => accepted += 1,
            402 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((accepted, refused), (100, 100));
    assert_eq!(app.balance_of(id).await, 0);
    assert_eq!(app.count("sms_status").await, 100);
    assert_eq!(app.count("outbox_events").await, 100);
    let app = std::sync::Arc::into_inner(app).unwrap();
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

#[tokio::test]
async fn a_request_over_the_timeout_gets_503_and_charges_nothing() {
    let app = spawn_app_with(&[("REQUEST_TIMEOUT_MS", "300")]).await;
    let (id, key) = app.create_customer("acme", 10).await;
    // Another transaction holds the customer's balance row, so the send blocks on its lock.
    let mut blocker = app.db.begin().await.unwrap();
    sqlx::query("select balance from user_balances where user_id = ? for update")
        .bind(id)
        .fetch_one(&mut *blocker)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let r = app
        .send(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    let p = r.assert_problem(503);
    assert_eq!(p["type"], "/problems/unavailable");
    assert_eq!(r.headers["retry-after"], "1");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    blocker.rollback().await.unwrap();
    // The abandoned transaction was rolled back: nothing charged, nothing queued.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(app.balance_of(id).await, 10);
    assert_eq!(app.count("sms_status").await, 0);
    assert_eq!(app.count("outbox_events").await, 0);
    app.finish().await;
}

/// Group commit: many concurrent requests of several customers, single and multi-recipient,
/// partial and not, share transactions; each one is still all-or-nothing, nobody overdrafts,
/// and every accepted request has exactly its rows.
#[tokio::test]
async fn group_commit_keeps_every_request_whole_and_never_overdrafts() {
    sms_gateway::metrics::install();
    let app = std::sync::Arc::new(spawn_app_with(&[("DB_MAX_CONNECTIONS", "20")]).await);
    let mut customers = Vec::new();
    for (name, balance) in [("a", 40), ("b", 0), ("c", 75), ("d", 7)] {
        customers.push(app.create_customer(name, balance).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300usize {
        let app = app.clone();
        let (_, key) = customers[i % customers.len()].clone();
        let recipients: Vec<String> = (0..1 + i % 3)
            .map(|r| format!("+98912{:07}", 1_000_000 + i * 10 + r))
            .collect();
        let body = json!({
            "text": "hi",
            "recipients": recipients,
            "type": if i % 5 == 0 { "express" } else { "normal" },
            "allow_partial": i % 7 == 0,
        });
        tasks.spawn(async move {
            let r = app.send(&key, body).await;
            (r.status.as_u16(), r.body)
        });
    }
    let mut charged = std::collections::HashMap::<String, i64>::new();
    let mut recipients = std::collections::HashMap::<String, i64>::new();
    while let Some(done) = tasks.join_next().await {
        let (status, body) = done.unwrap();
        match status {
            202 => {
                let id = body["sms_identifier"].as_str().unwrap().to_string();
                recipients.insert(id.clone(), body["recipients"].as_i64().unwrap());
                charged.insert(id, body["cost"].as_i64().unwrap());
            }
            402 => {}
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert!(!charged.is_empty(), "some requests were accepted");
    let spent: i64 = charged.values().sum();
    let mut left = 0;
    for (id, _) in &customers {
        let balance = app.balance_of(*id).await;
        assert!(balance >= 0, "customer {id} overdrafted: {balance}");
        left += balance;
    }
    assert_eq!(
        spent + left,
        40 + 75 + 7,
        "every credit is either spent or left"
    );
    for (sms_id, want) in &recipients {
        let rows: i64 =
            sqlx::query_scalar("select count(*) from sms_status where sms_identifier = ?")
                .bind(sms_id)
                .fetch_one(&app.db)
                .await
                .unwrap();
        assert_eq!(
            rows, *want,
            "{sms_id}: one status row per accepted recipient"
        );
        let (outbox, ledger): (i64, i64) = sqlx::query_as(
            "select (select count(*) from outbox_events where sms_identifier = ?), \
             (select cast(coalesce(-sum(amount), 0) as signed) from user_transactions \
              where sms_identifier = ? and transaction_type = 'charge')",
        )
        .bind(sms_id)
        .bind(sms_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
        assert_eq!(outbox, 1, "{sms_id}: one outbox row");
        assert_eq!(
            ledger, charged[sms_id],
            "{sms_id}: its charge is in the ledger"
        );
    }
    assert_eq!(app.count("sms_requests").await, charged.len() as i64);
    // The requests did share transactions.
    let scrape = sms_gateway::metrics::render();
    let value = |name: &str| -> f64 {
        scrape
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let (requests, transactions) = (
        value("smsgw_intake_batch_size_sum"),
        value("smsgw_intake_batch_size_count"),
    );
    assert!(
        requests > transactions,
        "{requests} requests in {transactions} transactions: nothing was grouped"
    );
    let app = std::sync::Arc::into_inner(app).unwrap();
    app.finish().await;
}

/// `POST /sms/send` takes keys this process has seen from its key cache without a query and
/// checks them inside the acceptance transaction: a key rotated by another process stops
/// working at once, on every path, with nothing charged or written.
#[tokio::test]
async fn a_cached_key_rotated_elsewhere_stops_working_at_once() {
    let app = std::sync::Arc::new(spawn_app_with(&[("DB_MAX_CONNECTIONS", "20")]).await);
    let (id, old) = app.create_customer("acme", 1_000).await;
    let (other_id, other) = app.create_customer("other", 1_000).await;
    let body = json!({"text": "hi", "recipients": ["+989121234567"]});
    // Both keys are now cached.
    app.send(&old, body.clone()).await.assert_status(202);
    app.send(&other, body.clone()).await.assert_status(202);
    let before = footprint(&app).await;

    // Rotated by another gateway process: straight in the database, this one is not told.
    let new = "rotated-elsewhere-key-0123456789";
    let hash = sms_gateway::hashing::sha256(new.as_bytes());
    sqlx::query("update customers set api_key_hash = ? where id = ?")
        .bind(&hash[..])
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();

    // Concurrent sends with the old key share group-commit batches with the other
    // customer's: the old key's are refused, the others accepted.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let app = app.clone();
        let key = if i % 2 == 0 {
            old.clone()
        } else {
            other.clone()
        };
        let body = body.clone();
        tasks.spawn(async move { (i % 2 == 0, app.send(&key, body).await) });
    }
    let mut accepted = 0;
    while let Some(done) = tasks.join_next().await {
        let (rotated, r) = done.unwrap();
        if rotated {
            r.assert_problem(401);
        } else {
            r.assert_status(202);
            accepted += 1;
        }
    }
    assert_eq!(accepted, 20);
    // Every other path answers 401 too: the old key was evicted above, so put it back in
    // the cache by hand to test each path with a cached key.
    for (headers, body) in [
        (vec![("idempotency-key", "k-1")], body.clone()),
        (vec![], json!({"text": "", "recipients": []})),
        (
            vec![],
            json!({"text": "hi", "recipients": ["+989121234567"], "customer_id": other_id}),
        ),
        (vec![], body.clone()),
    ] {
        app.state
            .key_cache
            .insert(sms_gateway::hashing::sha256(old.as_bytes()), id);
        app.post_with("/sms/send", Some(&old), &headers, &body)
            .await
            .assert_problem(401);
    }
    // A body that is not JSON, or not the expected shape, too.
    use tower::ServiceExt;
    for raw in ["{not json", "[1, 2]"] {
        app.state
            .key_cache
            .insert(sms_gateway::hashing::sha256(old.as_bytes()), id);
        let r = app
            .router
            .clone()
            .oneshot(
                axum::http::Request::post("/sms/send")
                    .header("authorization", format!("Bearer {old}"))
                    .header("content-type", "application/json")
                    .body(Body::from(raw))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{raw}");
    }
    assert_eq!(
        app.balance_of(id).await,
        999,
        "the rotated key charged nothing"
    );
    let after = footprint(&app).await;
    // Only the other customer's 20 requests wrote: one request, status, outbox and ledger
    // row each.
    assert_eq!(
        after,
        [
            before[0] + 20,
            before[1] + 20,
            before[2] + 20,
            before[3] + 20
        ]
    );
    app.send(new, body).await.assert_status(202);
    std::sync::Arc::into_inner(app).unwrap().finish().await;
}
