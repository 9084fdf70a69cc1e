//! Fair delivery across customers (docs/DESIGN.md "Fair delivery"): one customer's bulk never
//! makes another customer's message wait behind it, weights share a lane, and a lone bulk
//! still drains whole.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, TestApp, mock, operators_json, spawn_app_with_broker};

/// An app delivering through one fast mock operator with few normal workers and a shallow
/// queue, so that a backlog forms quickly; dispatch paused until `resume`.
async fn paused_app() -> (TestApp, crate::helpers::Mock) {
    let a = mock("opA", 0.0, 0.0).await;
    let app = spawn_app_with_broker(&[
        ("OPERATORS", &operators_json(&[("opA", &a)])),
        ("WORKERS_NORMAL", "4"),
        ("QUEUE_READY_RECIPIENTS", "64"),
    ])
    .await;
    app.post("/admin/dispatch/pause", Some(ADMIN_TOKEN), &json!({}))
        .await
        .assert_status(200);
    app.run_pipeline();
    (app, a)
}

async fn resume(app: &TestApp) {
    app.post("/admin/dispatch/resume", Some(ADMIN_TOKEN), &json!({}))
        .await
        .assert_status(200);
}

/// Recipients of `customer` an operator has taken.
async fn sent_of(app: &TestApp, customer: i64) -> i64 {
    sqlx::query_scalar(
        "select count(*) from sms_status where user_id = ? and status in ('SENT', 'DELIVERED')",
    )
    .bind(customer)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

/// Sends `requests` normal requests of `recipients` recipients each for `key`.
async fn bulk(app: &TestApp, key: &str, requests: usize, recipients: usize, tag: u32) {
    for r in 0..requests {
        let to: Vec<String> = (0..recipients)
            .map(|i| format!("+989{tag}{:07}", r * recipients + i))
            .collect();
        app.send_ok(key, json!({"text": "bulk", "recipients": to}))
            .await;
    }
}

async fn wait_until_sent(app: &TestApp, customer: i64, wanted: i64) {
    for _ in 0..1_200 {
        if sent_of(app, customer).await >= wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "customer {customer}: {} of {wanted} sent after 60 s",
        sent_of(app, customer).await
    );
}

#[tokio::test]
async fn a_message_is_not_delivered_behind_another_customer_s_bulk() {
    let (app, _op) = paused_app().await;
    let (x, x_key) = app.create_customer("bulk", 1_000_000).await;
    let (_, y_key) = app.create_customer("small", 10).await;
    // 30 requests x 200 recipients queued first (more requests than workers), then one
    // message of another customer.
    bulk(&app, &x_key, 30, 200, 12).await;
    let y = app
        .send_ok(
            &y_key,
            json!({"text": "otp", "recipients": ["+989351234567"]}),
        )
        .await;
    resume(&app).await;
    app.wait_for_status(&y_key, &y, &["SENT"]).await;
    // In arrival order it would wait for at least 26 of the 30 requests (5,200 recipients);
    // in the fair order for what was in service and a queue of 64 recipients.
    let ahead = sent_of(&app, x).await;
    assert!(
        ahead < 1_500,
        "{ahead} of the bulk's 6,000 recipients went out before the other customer's message"
    );
    // The bulk drains whole.
    wait_until_sent(&app, x, 6_000).await;
    app.wait_until_every_recipient_is_sent(Duration::from_secs(30), "the bulk was sent")
        .await;
    app.finish().await;
}

#[tokio::test]
async fn backlogged_customers_share_a_lane_by_weight() {
    let (app, _op) = paused_app().await;
    let (heavy, heavy_key) = app.create_customer("heavy", 1_000_000).await;
    let (light, light_key) = app.create_customer("light", 1_000_000).await;
    app.request(
        "PUT",
        &format!("/admin/customers/{heavy}/limits"),
        Some(ADMIN_TOKEN),
        &[],
        Some(json!({"weight": 300}).to_string().into()),
    )
    .await
    .assert_status(200);
    // Both backlogged with 4,000 recipients; the light one queued first.
    bulk(&app, &light_key, 20, 200, 13).await;
    bulk(&app, &heavy_key, 20, 200, 14).await;
    resume(&app).await;
    wait_until_sent(&app, heavy, 2_000).await;
    let light_sent = sent_of(&app, light).await;
    // Weights 300 : 100 give 3 : 1, so about 667 when the heavy one reaches 2,000; in
    // arrival order the light one would be done (4,000) first.
    assert!(
        (300..=1_200).contains(&light_sent),
        "light customer sent {light_sent} while the heavy one sent 2,000"
    );
    wait_until_sent(&app, light, 4_000).await;
    app.wait_until_every_recipient_is_sent(Duration::from_secs(30), "the bulk was sent")
        .await;
    app.finish().await;
}
