//! Console sessions (docs/DESIGN.md, "Console sessions"): a key or the admin token becomes an
//! HttpOnly, SameSite=Strict cookie; the cookie stands in for the key on every endpoint, a
//! write only with the session's CSRF token; sessions expire, end at sign-out and when their
//! key is rotated, and live in the database (another process honours them).

use axum::body::Body;
use serde_json::json;
use sms_gateway::hashing::sha256;

use super::{Session, sign_in};
use crate::helpers::{ADMIN_TOKEN, spawn_app, spawn_app_with};

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_never_echoes_the_key() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 10).await;
    let r = app.post("/session", None, &json!({ "key": key })).await;
    r.assert_status(201);
    assert!(!r.text.contains(&key), "the key is not echoed: {}", r.text);
    assert_eq!(r.body["role"], "customer");
    assert_eq!(r.body["customer_id"], id);
    assert_eq!(r.body["name"], "acme");
    assert_eq!(r.headers["cache-control"], "no-store");
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    // Plain HTTP without a proxy saying otherwise: not Secure (the browser would drop it).
    assert!(!cookie.contains("Secure"), "{cookie}");
    // Only the session id's hash is stored.
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    let (stored,): (i64,) =
        sqlx::query_as("select count(*) from console_sessions where id_hash = ?")
            .bind(&sha256(value.as_bytes())[..])
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, 1);
    let (clear,): (i64,) =
        sqlx::query_as("select count(*) from console_sessions where id_hash = ?")
            .bind(value.as_bytes())
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(clear, 0);

    // Unknown keys and a malformed body are refused like everywhere else.
    app.post("/session", None, &json!({ "key": "sk_nope" }))
        .await
        .assert_problem(401);
    app.post("/session", None, &json!({ "api_key": key }))
        .await
        .assert_problem(400);
    app.finish().await;
}

#[tokio::test]
async fn the_cookie_is_secure_over_tls_and_when_configured_so() {
    let app = spawn_app().await;
    let (_, key) = app.create_customer("acme", 0).await;
    let body = Body::from(json!({ "key": key }).to_string());
    let r = app
        .request(
            "POST",
            "/session",
            None,
            &[("x-forwarded-proto", "https")],
            Some(body),
        )
        .await;
    r.assert_status(201);
    assert!(
        r.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );
    app.finish().await;

    let app = spawn_app_with(&[
        ("SESSION_COOKIE_SECURE", "always"),
        ("SESSION_TTL_SECS", "600"),
    ])
    .await;
    let (_, key) = app.create_customer("acme", 0).await;
    let r = app.post("/session", None, &json!({ "key": key })).await;
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("; Secure") && cookie.contains("Max-Age=600"),
        "{cookie}"
    );
    app.finish().await;
}

#[tokio::test]
async fn the_session_stands_in_for_the_key_and_a_write_needs_its_csrf_token() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 10).await;
    let s = sign_in(&app, &key).await;
    let r = s.get(&app, "/balance").await;
    r.assert_status(200);
    assert_eq!(r.body["user_id"], id);
    assert_eq!(r.body["balance"], 10);
    let send = json!({"text": "hi", "recipients": ["+989121234567"]});

    // Without the token, with a wrong one, or with another session's: 403, nothing charged.
    let other = sign_in(&app, &key).await;
    for csrf in [None, Some("nope"), Some(other.csrf.as_str())] {
        let r = s.write_with(&app, "POST", "/sms/send", csrf, &send).await;
        let problem = r.assert_problem(403);
        assert!(problem["detail"].as_str().unwrap().contains("X-CSRF-Token"));
    }
    assert_eq!(s.get(&app, "/balance").await.body["balance"], 10);

    // With it, the send goes through as the customer.
    let r = s.write(&app, "POST", "/sms/send", &send).await;
    r.assert_status(202);
    assert_eq!(s.get(&app, "/balance").await.body["balance"], 9);
    // The console's CSV export is a plain link: a GET with the cookie.
    let csv = s.get(&app, "/sms/history.csv").await;
    csv.assert_status(200);
    assert!(csv.text.contains("+989121234567"), "{}", csv.text);
    // A bearer token wins over the cookie: the admin's token, with the customer's cookie.
    let r = app
        .request(
            "GET",
            "/admin/operators",
            Some(ADMIN_TOKEN),
            &[("cookie", &s.cookie)],
            None,
        )
        .await;
    r.assert_status(200);
    // A customer's session is not the admin.
    s.get(&app, "/admin/operators").await.assert_problem(403);
    s.get(&app, &format!("/balance?user_id={}", id + 1))
        .await
        .assert_problem(403);
    app.finish().await;
}

#[tokio::test]
async fn an_admin_session_acts_as_the_admin_until_the_token_changes() {
    let app = spawn_app().await;
    let s = sign_in(&app, ADMIN_TOKEN).await;
    assert_eq!(s.info["role"], "admin");
    assert!(s.info.get("customer_id").is_none());
    let r = s
        .write(
            &app,
            "POST",
            "/admin/customers",
            &json!({"name": "made", "balance": 3}),
        )
        .await;
    r.assert_status(201);
    s.get(&app, "/admin/customers?search=mad")
        .await
        .assert_status(200);
    // The session was opened with this token: a process with another ADMIN_TOKEN refuses it.
    let (_, hash): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("select id_hash, credential_hash from console_sessions")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(hash, sha256(ADMIN_TOKEN.as_bytes()));
    sqlx::query("update console_sessions set credential_hash = ?")
        .bind(&sha256(b"an-earlier-admin-token")[..])
        .execute(&app.db)
        .await
        .unwrap();
    s.get(&app, "/admin/operators").await.assert_problem(401);
    app.finish().await;
}

#[tokio::test]
async fn sessions_expire_and_sign_out_ends_them_in_every_process() {
    let app = spawn_app().await;
    let (_, key) = app.create_customer("acme", 0).await;
    let s = sign_in(&app, &key).await;
    let got = s.get(&app, "/session").await;
    got.assert_status(200);
    assert_eq!(got.body["csrf_token"], s.csrf.as_str());
    assert!(!got.text.contains(&key));

    // Another process (its own state) honours the same session: it is in the database.
    let other = app.other_process();
    assert_eq!(
        other.get_with("/balance", &[("cookie", &s.cookie)]).await,
        200
    );

    // Signing out needs the CSRF token, then ends the session everywhere.
    let r = s
        .write_with(&app, "DELETE", "/session", None, &json!({}))
        .await;
    r.assert_problem(403);
    let r = s.write(&app, "DELETE", "/session", &json!({})).await;
    r.assert_status(204);
    assert!(
        r.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    s.get(&app, "/balance").await.assert_problem(401);
    assert_eq!(
        other.get_with("/balance", &[("cookie", &s.cookie)]).await,
        401
    );

    // An expired session is refused (and purged by a later sign-in).
    let s = sign_in(&app, &key).await;
    sqlx::query("update console_sessions set expires_at = utc_timestamp(6) - interval 1 second")
        .execute(&app.db)
        .await
        .unwrap();
    assert_ended_then_purged(&app, &s, &key, "expired").await;
    app.finish().await;
}

/// `s` is refused ("sign in again") and its row is gone after the next sign-in with `key`
/// (the only session left is the new one); `why` names how it ended.
async fn assert_ended_then_purged(
    app: &crate::helpers::TestApp,
    s: &Session,
    key: &str,
    why: &str,
) {
    let r = s.get(app, "/balance").await;
    assert!(
        r.assert_problem(401)["detail"]
            .as_str()
            .unwrap()
            .contains("sign in again"),
        "the {why} session"
    );
    s.get(app, "/session").await.assert_problem(401);
    sign_in(app, key).await;
    let (left,): (i64,) = sqlx::query_as("select count(*) from console_sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 1, "the {why} session was purged");
}

/// Seconds since the only session was last seen, by the database's clock.
async fn seen_secs_ago(app: &crate::helpers::TestApp) -> f64 {
    let (us,): (i64,) = sqlx::query_as(
        "select timestampdiff(microsecond, last_seen_at, utc_timestamp(6)) from console_sessions",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    us as f64 / 1e6
}

async fn set_seen_secs_ago(app: &crate::helpers::TestApp, secs: u32) {
    sqlx::query("update console_sessions set last_seen_at = utc_timestamp(6) - interval ? second")
        .bind(secs)
        .execute(&app.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unused_session_ends_after_the_idle_timeout_and_use_keeps_it_with_few_writes() {
    // 60 s idle: its last use is recorded at most every 15 s (a quarter of it).
    let app = spawn_app_with(&[("SESSION_IDLE_SECS", "60")]).await;
    let (_, key) = app.create_customer("acme", 0).await;
    let s = sign_in(&app, &key).await;
    assert_eq!(s.info["idle_timeout_secs"], 60);
    assert!(seen_secs_ago(&app).await < 5.0);

    // Used 5 s after its last recorded use: nothing is written.
    set_seen_secs_ago(&app, 5).await;
    s.get(&app, "/balance").await.assert_status(200);
    let ago = seen_secs_ago(&app).await;
    assert!((4.0..10.0).contains(&ago), "not touched: seen {ago} s ago");

    // A page's automatic refresh 40 s after it is served but is no use: a console left open
    // on a refreshing page still goes idle.
    set_seen_secs_ago(&app, 40).await;
    for path in ["/balance", "/session"] {
        app.request(
            "GET",
            path,
            None,
            &[("cookie", &s.cookie), ("x-background-refresh", "1")],
            None,
        )
        .await
        .assert_status(200);
    }
    let ago = seen_secs_ago(&app).await;
    assert!(
        ago >= 39.0,
        "a background refresh is no use: seen {ago} s ago"
    );

    // Used 40 s after it: still live (under 60 s), and its use is recorded now.
    s.get(&app, "/balance").await.assert_status(200);
    assert!(seen_secs_ago(&app).await < 5.0, "touched");
    // ... in every process: another one honours the refreshed session.
    set_seen_secs_ago(&app, 40).await;
    let other = app.other_process();
    assert_eq!(
        other.get_with("/balance", &[("cookie", &s.cookie)]).await,
        200
    );
    assert!(
        seen_secs_ago(&app).await < 5.0,
        "touched by the other process"
    );

    // Unused for more than 60 s: ended, though far from SESSION_TTL_SECS.
    set_seen_secs_ago(&app, 61).await;
    assert_ended_then_purged(&app, &s, &key, "idle").await;
    app.finish().await;
}

#[tokio::test]
async fn rotating_a_key_ends_its_sessions_but_the_one_that_rotated_it() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 0).await;
    let mine = sign_in(&app, &key).await;
    let elsewhere = sign_in(&app, &key).await;

    // The customer rotates its own key from one session: that session goes on with the new
    // key, the other one and the old key stop at once.
    let r = mine.write(&app, "POST", "/api-key", &json!({})).await;
    r.assert_status(200);
    let new_key = r.body["api_key"].as_str().unwrap().to_string();
    assert_ne!(new_key, key);
    mine.get(&app, "/balance").await.assert_status(200);
    elsewhere.get(&app, "/balance").await.assert_problem(401);
    app.get("/balance", Some(&key)).await.assert_problem(401);
    app.get("/balance", Some(&new_key)).await.assert_status(200);
    // Through the API with the key itself, no session is involved.
    let r = app.post("/api-key", Some(&new_key), &json!({})).await;
    r.assert_status(200);
    let newest = r.body["api_key"].as_str().unwrap().to_string();
    mine.get(&app, "/balance").await.assert_problem(401);

    // The admin's rotation ends every session of the customer.
    let s = sign_in(&app, &newest).await;
    app.post(
        &format!("/admin/customers/{id}/api-key"),
        Some(ADMIN_TOKEN),
        &json!({}),
    )
    .await
    .assert_status(200);
    s.get(&app, "/balance").await.assert_problem(401);
    // The admin has no key of its own to rotate here.
    app.post("/api-key", Some(ADMIN_TOKEN), &json!({}))
        .await
        .assert_problem(403);
    app.finish().await;
}

#[tokio::test]
async fn the_admin_ends_a_customers_sessions_and_its_key_keeps_working() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 0).await;
    let (other_id, other_key) = app.create_customer("other", 0).await;
    let (one, two, theirs) = (
        sign_in(&app, &key).await,
        sign_in(&app, &key).await,
        sign_in(&app, &other_key).await,
    );
    let path = format!("/admin/customers/{id}/sessions");
    app.request("DELETE", &path, Some(&key), &[], None)
        .await
        .assert_problem(403);
    let r = app
        .request("DELETE", &path, Some(ADMIN_TOKEN), &[], None)
        .await;
    r.assert_status(200);
    assert_eq!(r.body, json!({"customer_id": id, "revoked": 2}));
    one.get(&app, "/balance").await.assert_problem(401);
    two.get(&app, "/balance").await.assert_problem(401);
    theirs.get(&app, "/balance").await.assert_status(200);
    app.get("/balance", Some(&key)).await.assert_status(200);
    app.request(
        "DELETE",
        "/admin/customers/999999/sessions",
        Some(ADMIN_TOKEN),
        &[],
        None,
    )
    .await
    .assert_problem(404);
    assert!(other_id > 0);
    app.finish().await;
}

impl Session {
    /// A write with this session's cookie and CSRF token.
    pub async fn write(
        &self,
        app: &crate::helpers::TestApp,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> crate::helpers::TestResponse {
        self.write_with(app, method, path, Some(&self.csrf), body)
            .await
    }
}
