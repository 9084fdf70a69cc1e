//! Refused sends leave nothing behind: invalid input, a timeout, a key rotated elsewhere.

use axum::body::Body;
use serde_json::{Value, json};

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn every_refused_send_leaves_nothing_behind() {
    let app = spawn_app_with(&[("MAX_BODY_BYTES", "4096")]).await;
    let (id, key) = app.create_customer("acme", 5).await;
    let (other_id, _) = app.create_customer("other", 5).await;
    let before = app.footprint().await;
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
    // A JSON array in a struct's field order (serde alone would take it), and a scalar: not
    // an object, so refused before any field is read.
    for body in [r#"["hi", ["+989121234567"]]"#, "[]", "42"] {
        let r = app.request("POST", "/sms/send", auth, &[], raw(body)).await;
        assert_eq!(
            r.assert_problem(400)["detail"],
            "the body must be a JSON object",
            "{body}"
        );
    }
    app.request(
        "POST",
        "/sms/send",
        auth,
        &[("content-type", "application/merge-patch+json")],
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

    assert_eq!(app.footprint().await, before);
    assert_eq!(app.balance_of(id).await, 5);
    assert_eq!(app.balance_of(other_id).await, 5);
    app.finish().await;
}

#[tokio::test]
async fn a_request_over_the_timeout_gets_503_and_charges_nothing() {
    let app = spawn_app_with(&[
        ("REQUEST_TIMEOUT_MS", "300"),
        ("INTAKE_TIMEOUT_MS", "100"),
        ("INTAKE_RESOLVE_TIMEOUT_MS", "100"),
    ])
    .await;
    let (id, key) = app.create_customer("acme", 10).await;
    // Another transaction holds the customer's balance row, so the send blocks on its lock.
    let blocker = app.hold_balance(id).await;
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
    let before = app.footprint().await;

    // Rotated by another gateway process: straight in the database, this one is not told.
    let new = "rotated-elsewhere-key-0123456789";
    app.rotate_key_behind_the_gateways_back(id, new).await;

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
    let after = app.footprint().await;
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
