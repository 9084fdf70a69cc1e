//! Delivery reports: who may report, and how a report moves a SENT message.

use serde_json::json;

use crate::helpers::{delivering_app, mock};

#[tokio::test]
async fn a_message_is_sent_then_delivered_by_report() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = delivering_app(&[("opA", &a)]).await;
    let (id, key) = app.create_customer("acme", 10).await;
    let sms_id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989127654321"]}),
        )
        .await;
    let body = app.wait_for_status(&key, &sms_id, &["SENT"]).await;
    let msg = &body["messages"][0];
    assert_eq!(msg["provider"], "opA");
    let message_id = msg["provider_message_id"].as_str().unwrap().to_string();
    let events: Vec<&str> = msg["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["PENDING", "SENDING", "SENT"]);
    assert_eq!(a.stats.snapshot().accepted, 2);

    // Reports: wrong key, unknown id, intermediate, final, duplicate.
    let dlr = |status: &str| json!({"message_id": message_id, "status": status});
    // A stranger is refused before the body is even read.
    app.request(
        "POST",
        "/dlr/opA",
        Some("wrong"),
        &[],
        Some(axum::body::Body::from("{")),
    )
    .await
    .assert_problem(401);
    app.request(
        "POST",
        "/dlr/opA",
        None,
        &[],
        Some(axum::body::Body::from("{")),
    )
    .await
    .assert_problem(401);
    // The operator's own key with a malformed body is a 400.
    app.request(
        "POST",
        "/dlr/opA",
        Some(&a.key),
        &[],
        Some(axum::body::Body::from("{")),
    )
    .await
    .assert_problem(400);
    app.post("/dlr/opA", Some("wrong"), &dlr("DELIVRD"))
        .await
        .assert_problem(401);
    app.post("/dlr/nope", Some(&a.key), &dlr("DELIVRD"))
        .await
        .assert_problem(404);
    app.post(
        "/dlr/opA",
        Some(&a.key),
        &json!({"message_id": "x", "status": "DELIVRD"}),
    )
    .await
    .assert_problem(404);
    let r = app.post("/dlr/opA", Some(&a.key), &dlr("ENROUTE")).await;
    r.assert_status(200);
    assert_eq!(r.body["result"], "recorded");
    let r = app.post("/dlr/opA", Some(&a.key), &dlr("DELIVRD")).await;
    assert_eq!(r.body["result"], "applied");
    let r = app.post("/dlr/opA", Some(&a.key), &dlr("UNDELIV")).await;
    assert_eq!(
        r.body["result"], "recorded",
        "a final state never moves again"
    );

    let body = app.sms_detail(&key, &sms_id).await;
    assert_eq!(body["messages"][0]["status"], "DELIVERED");
    assert_eq!(body["messages"][1]["status"], "SENT");
    let r = app.get("/sms/history?status=delivered", Some(&key)).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.balance_of(id).await,
        8,
        "a delivered message is not refunded"
    );
    app.finish().await;
}
