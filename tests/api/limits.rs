//! Per-customer limits and backpressure (docs/DESIGN.md "Per-customer limits"): 429 with
//! `Retry-After` and nothing charged over a customer's rate, the same limit across two api
//! processes, the admin's overrides, and 503 for normal sends over the backlog bound while
//! express is still accepted.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app, spawn_app_with};

async fn set_limits(app: &TestApp, customer: i64, body: Value) -> Value {
    let r = app
        .request(
            "PUT",
            &format!("/admin/customers/{customer}/limits"),
            Some(ADMIN_TOKEN),
            &[],
            Some(body.to_string().into()),
        )
        .await;
    r.assert_status(200);
    r.body.clone()
}

fn one(i: usize) -> Value {
    json!({"text": "hi", "recipients": [format!("+98912{:07}", i)]})
}

#[tokio::test]
async fn over_its_request_rate_a_customer_gets_429_with_retry_after_and_is_not_charged() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 1_000).await;
    let view = set_limits(&app, id, json!({"max_requests_per_sec": 5})).await;
    assert_eq!(view["requests_per_sec"], 5);
    assert_eq!(view["weight"], 100);
    let (mut accepted, mut limited) = (0, 0);
    let started = Instant::now();
    for i in 0..20 {
        let r = app.send(&key, one(i)).await;
        match r.status.as_u16() {
            202 => accepted += 1,
            429 => {
                limited += 1;
                let p = r.assert_problem(429);
                assert_eq!(p["type"], "/problems/rate-limited");
                assert_eq!(p["limit"], "requests");
                assert_eq!(p["limit_per_second"], 5);
                assert!(p["retry_after_ms"].as_u64().unwrap() <= 200);
                let after: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
                assert_eq!(after, 1);
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    // A second's burst (5), plus what the elapsed time refilled.
    let refilled = (started.elapsed().as_secs_f64() * 5.0).ceil() as i64;
    assert!(
        (5..=5 + refilled).contains(&accepted),
        "{accepted} accepted in {:?}",
        started.elapsed()
    );
    assert_eq!(accepted + limited, 20);
    assert_eq!(app.balance_of(id).await, 1_000 - accepted);
    assert_eq!(app.count("sms_status").await, accepted);
    // Once the rate allows it again, it is accepted.
    tokio::time::sleep(Duration::from_millis(250)).await;
    app.send(&key, one(99)).await.assert_status(202);
    app.finish().await;
}

#[tokio::test]
async fn recipients_are_limited_too_and_a_large_request_goes_alone() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 10_000).await;
    set_limits(&app, id, json!({"max_recipients_per_sec": 100})).await;
    let many: Vec<String> = (0..150).map(|i| format!("+98912{i:07}")).collect();
    // More than a second's worth, with nothing outstanding: it goes.
    app.send_ok(&key, json!({"text": "hi", "recipients": many}))
        .await;
    let r = app.send(&key, one(500)).await;
    let p = r.assert_problem(429);
    assert_eq!(p["limit"], "recipients");
    // 150 recipients at 100/s, less the second of burst: about half a second.
    let wait = p["retry_after_ms"].as_u64().unwrap();
    assert!((300..=510).contains(&wait), "{wait}");
    assert_eq!(app.balance_of(id).await, 10_000 - 150);
    app.finish().await;
}

#[tokio::test]
async fn the_limit_holds_across_two_api_processes() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 100_000).await;
    set_limits(&app, id, json!({"max_requests_per_sec": 10})).await;
    let other = app.other_process();
    let started = Instant::now();
    let run = Duration::from_secs(2);
    // Each side counts what it got accepted and when it was last refused.
    let (a, b) = tokio::join!(
        async {
            let (mut n, mut refused_at) = (0, None);
            let mut i = 0;
            while started.elapsed() < run {
                i += 1;
                match app.send(&key, one(i)).await.status.as_u16() {
                    202 => n += 1,
                    429 => refused_at = Some(started.elapsed()),
                    _ => {}
                }
            }
            (n, refused_at)
        },
        async {
            let (mut n, mut refused_at) = (0, None);
            let mut i = 100_000;
            while started.elapsed() < run {
                i += 1;
                match other.send(&key, one(i)).await.status.as_u16() {
                    202 => n += 1,
                    429 => refused_at = Some(started.elapsed()),
                    _ => {}
                }
            }
            (n, refused_at)
        }
    );
    let ((a, refused_a), (b, refused_b)) = (a, b);
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = 10.0 + 10.0 * elapsed;
    let total = (a + b) as f64;
    // Each process alone would admit the whole allowance: together they must share it.
    assert!(
        total <= allowed + 1.0,
        "{a} + {b} accepted in {elapsed:.2} s; the limit allows {allowed:.1}"
    );
    // And they refused nothing before the shared allowance was used up (on a slow machine
    // the clients may send less than the allowance: then the last refusal is the bound).
    // (Without any refusal the clients never reached the limit, and the upper bound is all
    // there is to check.)
    if let Some(last_refusal) = refused_a.max(refused_b) {
        let allowed_then = 10.0 + 10.0 * last_refusal.as_secs_f64();
        assert!(
            total >= allowed_then - 3.0,
            "{a} + {b} accepted; refused at {last_refusal:?}, when the limit allowed {allowed_then:.1}"
        );
    }
    assert!(a > 0 && b > 0, "both processes were served: {a}, {b}");
    assert_eq!(app.count("sms_status").await, a + b);
    app.finish().await;
}

#[tokio::test]
async fn limits_are_the_admin_s_and_validated() {
    let app = spawn_app_with(&[("CUSTOMER_MAX_REQUESTS_PER_SEC", "7")]).await;
    let (id, key) = app.create_customer("acme", 10).await;
    let path = format!("/admin/customers/{id}/limits");
    let got = app.get(&path, Some(ADMIN_TOKEN)).await;
    got.assert_status(200);
    assert_eq!(got.body["requests_per_sec"], 7);
    assert_eq!(got.body["max_requests_per_sec"], Value::Null);
    app.get(&path, Some(&key)).await.assert_problem(403);
    app.get("/admin/customers/999999/limits", Some(ADMIN_TOKEN))
        .await
        .assert_problem(404);
    let put = |body: Value| {
        let path = path.clone();
        let app = &app;
        async move {
            app.request(
                "PUT",
                &path,
                Some(ADMIN_TOKEN),
                &[],
                Some(body.to_string().into()),
            )
            .await
        }
    };
    let bad = put(json!({"weight": 0, "max_requests_per_sec": -1})).await;
    let p = bad.assert_problem(400);
    assert!(p["errors"]["weight"].is_string());
    assert!(p["errors"]["max_requests_per_sec"].is_string());
    put(json!({"weight": 5, "colour": "red"}))
        .await
        .assert_problem(400);
    let set = put(json!({"weight": 250, "max_requests_per_sec": 0})).await;
    set.assert_status(200);
    assert_eq!(set.body["requests_per_sec"], 0, "0 is unlimited");
    assert_eq!(set.body["weight"], 250);
    let weight: i32 = sqlx::query_scalar("select weight from customers where id = ?")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(weight, 250);
    app.finish().await;
}

#[tokio::test]
async fn over_the_backlog_bound_normal_sends_get_503_and_express_is_still_accepted() {
    // No publishers: what is accepted stays in the outbox.
    let app = spawn_app_with(&[("NORMAL_BACKLOG_LIMIT", "50")]).await;
    let (id, key) = app.create_customer("acme", 10_000).await;
    let many: Vec<String> = (0..60).map(|i| format!("+98912{i:07}")).collect();
    app.send_ok(&key, json!({"text": "hi", "recipients": many}))
        .await;
    // The backlog is sampled every second.
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let r = app.send(&key, one(1_000)).await;
        if r.status == 503 {
            break r;
        }
        r.assert_status(202);
        assert!(Instant::now() < deadline, "never refused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let p = refused.assert_problem(503);
    assert_eq!(p["type"], "/problems/backlogged");
    assert_eq!(p["retry_after_ms"], 5_000);
    assert_eq!(refused.headers["retry-after"], "5");
    let balance = app.balance_of(id).await;
    app.send(&key, one(2_000)).await.assert_problem(503);
    assert_eq!(app.balance_of(id).await, balance, "a 503 charges nothing");
    app.send_ok(
        &key,
        json!({"text": "otp", "type": "express", "recipients": ["+989121111111"]}),
    )
    .await;
    app.finish().await;
}
