//! The web console: its sessions and CSRF rules (`sessions`), what it is served with and
//! the endpoints added for it (`served`), and the admin's customer page and lanes
//! (`admin_pages`).

mod admin_pages;
mod served;
mod sessions;

use axum::body::Body;
use serde_json::Value;

use crate::helpers::{TestApp, TestResponse};

/// A signed-in console session: its cookie, its CSRF token and `POST /session`'s answer.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
    pub info: Value,
}

/// Signs in with a key or the admin token, asserting the 201.
pub async fn sign_in(app: &TestApp, key: &str) -> Session {
    let r = app
        .post("/session", None, &serde_json::json!({ "key": key }))
        .await;
    r.assert_status(201);
    let set_cookie = r.headers["set-cookie"].to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    Session {
        cookie,
        csrf: r.body["csrf_token"].as_str().unwrap().to_string(),
        info: r.body,
    }
}

impl Session {
    /// A GET with this session's cookie (no CSRF token needed).
    pub async fn get(&self, app: &TestApp, path: &str) -> TestResponse {
        app.request("GET", path, None, &[("cookie", &self.cookie)], None)
            .await
    }

    /// A write with this session's cookie and `csrf` as its X-CSRF-Token (none if `None`).
    pub async fn write_with(
        &self,
        app: &TestApp,
        method: &str,
        path: &str,
        csrf: Option<&str>,
        body: &Value,
    ) -> TestResponse {
        let mut headers = vec![("cookie", self.cookie.as_str())];
        if let Some(token) = csrf {
            headers.push(("x-csrf-token", token));
        }
        app.request(
            method,
            path,
            None,
            &headers,
            Some(Body::from(body.to_string())),
        )
        .await
    }
}
