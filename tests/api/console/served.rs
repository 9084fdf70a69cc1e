//! What the console is served with (its files from the binary, a strict Content-Security-
//! Policy) and the endpoints its pages use: the send quote, the admin's customer list and the
//! lanes' backlog.

use serde_json::json;

use super::sign_in;
use crate::helpers::{ADMIN_TOKEN, spawn_app};

#[tokio::test]
async fn the_console_is_served_from_the_binary_with_a_strict_content_security_policy() {
    let app = spawn_app().await;
    let r = app.get("/console", None).await;
    r.assert_status(308);
    assert_eq!(r.headers["location"], "/console/");
    for (path, media) in [
        ("/console/", "text/html; charset=utf-8"),
        ("/console/src/main.js", "text/javascript; charset=utf-8"),
        (
            "/console/vendor/preact.mjs",
            "text/javascript; charset=utf-8",
        ),
        ("/console/app.css", "text/css; charset=utf-8"),
    ] {
        let r = app.get(path, None).await;
        r.assert_status(200);
        assert_eq!(r.headers["content-type"], media, "{path}");
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} in {csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
        assert_eq!(r.headers["x-frame-options"], "DENY");
    }
    // The page loads its script as a module from the gateway itself, nothing inline.
    let page = app.get("/console/", None).await.text;
    assert!(page.contains(r#"<script type="module" src="src/main.js"></script>"#));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no other origin"
    );
    let r = app.get("/console/nothing-here.js", None).await;
    r.assert_problem(404);
    assert!(r.headers.contains_key("content-security-policy"));
    app.finish().await;
}

#[tokio::test]
async fn a_quote_is_what_the_send_then_charges() {
    let app = spawn_app().await;
    let (_, key) = app.create_customer("acme", 100).await;
    let body = json!({
        "text": "ж".repeat(71),
        "recipients": ["+989121234567", "09127654321"],
        "type": "express",
    });
    let q = app.post("/sms/quote", Some(&key), &body).await;
    q.assert_status(200);
    assert_eq!(q.body["encoding"], "UCS-2");
    assert_eq!(q.body["segments"], 2);
    assert_eq!(q.body["recipients"], 2);
    assert_eq!(q.body["balance"], 100);
    assert_eq!(q.body["covered"], true);
    let sent = app.send(&key, body).await;
    sent.assert_status(202);
    assert_eq!(q.body["cost"], sent.body["cost"]);
    assert_eq!(q.body["segments"], sent.body["segments"]);
    assert_eq!(q.body["encoding"], sent.body["encoding"]);

    // Text alone (the form before recipients): its segments, nothing to pay yet.
    let q = app
        .post("/sms/quote", Some(&key), &json!({"text": "hello"}))
        .await;
    q.assert_status(200);
    assert_eq!(
        (&q.body["segments"], &q.body["recipients"], &q.body["cost"]),
        (&json!(1), &json!(0), &json!(0))
    );
    // The send's own refusals: a bad recipient, no text.
    let r = app
        .post(
            "/sms/quote",
            Some(&key),
            &json!({"text": "hi", "recipients": ["nope"]}),
        )
        .await;
    assert!(r.assert_problem(400)["errors"]["recipients[0]"].is_string());
    let r = app
        .post(
            "/sms/quote",
            Some(&key),
            &json!({"recipients": ["+989121234567"]}),
        )
        .await;
    assert!(r.assert_problem(400)["errors"]["text"].is_string());
    // Not covered: the quote says so (the send would answer 402).
    let q = app
        .post(
            "/sms/quote",
            Some(&key),
            &json!({"text": "x".repeat(1000), "recipients": ["+989121234567"]}),
        )
        .await;
    q.assert_status(200);
    assert_eq!(
        q.body["covered"],
        q.body["cost"].as_i64() <= q.body["balance"].as_i64()
    );
    app.finish().await;
}

#[tokio::test]
async fn the_admin_lists_and_searches_customers_a_page_at_a_time() {
    let app = spawn_app().await;
    for name in ["alpha", "beta", "alphabet", "gamma_ray"] {
        app.create_customer(name, 7).await;
    }
    let r = app.get("/admin/customers?limit=3", Some(ADMIN_TOKEN)).await;
    r.assert_status(200);
    let names: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gamma_ray", "alphabet", "beta"]);
    assert_eq!(r.body["items"][0]["balance"], 7);
    assert_eq!(r.body["items"][0]["weight"], 100);
    assert!(r.body["items"][0].get("api_key").is_none());
    let cursor = r.body["next_cursor"].as_str().unwrap();
    let r = app
        .get(
            &format!("/admin/customers?limit=3&cursor={cursor}"),
            Some(ADMIN_TOKEN),
        )
        .await;
    assert_eq!(r.body["items"][0]["name"], "alpha");
    assert!(r.body["next_cursor"].is_null());
    let r = app
        .get("/admin/customers?search=ALPHA", Some(ADMIN_TOKEN))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    // `_` is a character, not a wildcard.
    let r = app
        .get("/admin/customers?search=a_r", Some(ADMIN_TOKEN))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let (_, key) = app.create_customer("delta", 0).await;
    app.get("/admin/customers", Some(&key))
        .await
        .assert_problem(403);
    app.get("/admin/customers?limit=0", Some(ADMIN_TOKEN))
        .await
        .assert_problem(400);
    let long = "x".repeat(101);
    app.get(
        &format!("/admin/customers?search={long}"),
        Some(ADMIN_TOKEN),
    )
    .await
    .assert_problem(400);
    app.finish().await;
}

#[tokio::test]
async fn the_lanes_show_their_backlog_and_the_dispatch_switch() {
    let app = spawn_app().await;
    let (_, key) = app.create_customer("acme", 100).await;
    app.send_ok(
        &key,
        json!({"text": "hi", "recipients": ["+989121234567", "+989121234568"]}),
    )
    .await;
    let admin = sign_in(&app, ADMIN_TOKEN).await;
    let r = admin.get(&app, "/admin/lanes").await;
    r.assert_status(200);
    assert_eq!(r.body["dispatch_paused"], false);
    assert_eq!(
        r.body["lanes"],
        json!([
            {"lane": "express", "waiting_recipients": 0, "sent_last_minute": 0, "sent_per_sec": 0.0},
            {"lane": "normal", "waiting_recipients": 2, "sent_last_minute": 0, "sent_per_sec": 0.0},
        ])
    );
    app.get("/admin/lanes", Some(&key))
        .await
        .assert_problem(403);
    app.finish().await;
}
