//! Requests through the router (no socket), decoded answers, and the API steps most tests
//! share: create a customer, send a message, read it back, wait for its recipients' states.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{ADMIN_TOKEN, TestApp};

/// A response, decoded.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestResponse {
    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn assert_status(&self, expected: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts a problem+json error with this status.
    #[track_caller]
    pub fn assert_problem(&self, expected: u16) -> &Value {
        self.assert_status(expected);
        assert_eq!(
            self.headers["content-type"], "application/problem+json",
            "errors are problem+json: {}",
            self.text
        );
        assert_eq!(self.body["status"], expected);
        assert!(
            self.body["type"]
                .as_str()
                .unwrap()
                .starts_with("/problems/")
        );
        assert!(self.body["title"].is_string());
        assert!(self.body["detail"].is_string());
        &self.body
    }

    /// The `sms_identifier` of an accepted send.
    #[track_caller]
    pub fn sms_identifier(&self) -> String {
        self.body["sms_identifier"]
            .as_str()
            .unwrap_or_else(|| panic!("no sms_identifier in {}", self.text))
            .to_string()
    }
}

/// Another api process of a test app: its own state (group commit, key cache, pool) on the
/// same database and broker.
pub struct OtherProcess {
    router: axum::Router,
}

impl OtherProcess {
    pub async fn send(&self, key: &str, body: Value) -> TestResponse {
        request_via(
            &self.router,
            "POST",
            "/sms/send",
            Some(key),
            &[],
            Some(Body::from(body.to_string())),
        )
        .await
    }

    /// The status of a GET with these headers (a console session's cookie, say).
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> u16 {
        request_via(&self.router, "GET", path, None, headers, None)
            .await
            .status
            .as_u16()
    }
}

/// Sends a request through `router` (no socket).
async fn request_via(
    router: &axum::Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Body>,
) -> TestResponse {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let has_body = body.is_some();
    if has_body
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(body.unwrap_or_else(Body::empty)).unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    TestResponse {
        status,
        headers,
        body,
        text,
    }
}

impl TestApp {
    /// A second api process on this app's database (same configuration).
    pub fn other_process(&self) -> OtherProcess {
        let config = self.state.config.clone();
        let pool = sms_gateway::db::pool(&config.database).expect("pool");
        let app = sms_gateway::state::App::new(config, pool, self.state.broker.clone());
        OtherProcess {
            router: sms_gateway::http::router(sms_gateway::state::AppState(std::sync::Arc::new(
                app,
            ))),
        }
    }

    /// Sends a request through the router (no socket).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Body>,
    ) -> TestResponse {
        request_via(&self.router, method, path, token, headers, body).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> TestResponse {
        self.request("POST", path, token, &[], Some(Body::from(body.to_string())))
            .await
    }

    pub async fn post_with(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> TestResponse {
        self.request(
            "POST",
            path,
            token,
            headers,
            Some(Body::from(body.to_string())),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.request("GET", path, token, &[], None).await
    }

    /// Creates a customer through the admin API; returns (id, api key).
    pub async fn create_customer(&self, name: &str, balance: i64) -> (i64, String) {
        let r = self
            .post(
                "/admin/customers",
                Some(ADMIN_TOKEN),
                &json!({"name": name, "balance": balance}),
            )
            .await;
        r.assert_status(201);
        (
            r.body["customer_id"].as_i64().unwrap(),
            r.body["api_key"].as_str().unwrap().to_string(),
        )
    }

    /// Sends an SMS as `key`.
    pub async fn send(&self, key: &str, body: Value) -> TestResponse {
        self.post("/sms/send", Some(key), &body).await
    }

    /// Sends an SMS as `key`, asserts the 202 and returns its `sms_identifier`.
    pub async fn send_ok(&self, key: &str, body: Value) -> String {
        let r = self.send(key, body).await;
        r.assert_status(202);
        r.sms_identifier()
    }

    /// `GET /sms/{sms_id}` as `key`, asserting the 200: the request and its recipients.
    pub async fn sms_detail(&self, key: &str, sms_id: &str) -> Value {
        let r = self.get(&format!("/sms/{sms_id}"), Some(key)).await;
        r.assert_status(200);
        r.body
    }

    /// `GET /reports/daily` of today (UTC) as `key`, asserting the 200: its first line.
    pub async fn todays_report_line(&self, key: &str) -> Value {
        let today = chrono::Utc::now().date_naive();
        let r = self
            .get(
                &format!("/reports/daily?from={today}&to={today}"),
                Some(key),
            )
            .await;
        r.assert_status(200);
        r.body["lines"][0].clone()
    }

    /// Waits (up to 15 s) until every recipient of the request is in one of `wanted`;
    /// returns its detail.
    pub async fn wait_for_status(&self, key: &str, sms_id: &str, wanted: &[&str]) -> Value {
        for _ in 0..300 {
            let body = self.sms_detail(key, sms_id).await;
            if body["messages"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| wanted.contains(&m["status"].as_str().unwrap()))
            {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{sms_id} never reached {wanted:?}: {}",
            self.sms_detail(key, sms_id).await
        );
    }
}
