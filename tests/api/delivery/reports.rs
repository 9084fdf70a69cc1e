//! Delivery reports: who may report, and how a report moves a SENT message.

use serde_json::json;

use sms_gateway::db::held_reports;

use crate::helpers::{delivering_app, mock, spawn_app_with};

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
    // An id no message has (yet) is held, not refused: see the tests below.
    let r = app
        .post(
            "/dlr/opA",
            Some(&a.key),
            &json!({"message_id": "x", "status": "DELIVRD"}),
        )
        .await;
    r.assert_status(202);
    assert_eq!(r.body["result"], "held");
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

/// An operator may report a message before the gateway has committed the operator's answer
/// to the send. That report is held (202) and applied once the message id is recorded.
#[tokio::test]
async fn a_report_that_arrives_before_sent_is_held_then_applied() {
    let a = mock("opA", 0.0, 0.0).await;
    let ops = crate::helpers::operators_json(&[("opA", &a)]);
    let app = spawn_app_with(&[("OPERATORS", &ops)]).await;
    let (_, key) = app.create_customer("acme", 10).await;
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    let report = json!({"message_id": "early-1", "status": "DELIVRD"});
    let r = app.post("/dlr/opA", Some(&a.key), &report).await;
    r.assert_status(202);
    assert_eq!(r.body["result"], "held");
    // The same report again is held once.
    app.post("/dlr/opA", Some(&a.key), &report)
        .await
        .assert_status(202);
    assert_eq!(held_reports::count(&app.db).await.unwrap(), 1);

    // Nothing to apply while no message has the id.
    let pass = held_reports::apply_due(&app.db, 100, 3600).await.unwrap();
    assert_eq!(pass, held_reports::Pass::default());
    assert_eq!(held_reports::count(&app.db).await.unwrap(), 1);

    // The worker records the operator's answer (as delivery does: SENT with the id).
    app.record_sent_behind_the_gateways_back(&sms_id, "opA", "early-1")
        .await;
    let pass = held_reports::apply_due(&app.db, 100, 3600).await.unwrap();
    assert_eq!(pass.applied, ["opA"]);
    assert!(pass.expired.is_empty());
    assert_eq!(held_reports::count(&app.db).await.unwrap(), 0);
    let body = app.sms_detail(&key, &sms_id).await;
    assert_eq!(body["messages"][0]["status"], "DELIVERED");
    app.finish().await;
}

/// A held report whose message id never turns up is dropped after the hold, and the hold
/// has a cap: beyond it the operator is told to retry later (503), nothing is stored.
#[tokio::test]
async fn held_reports_expire_and_are_capped() {
    let a = mock("opA", 0.0, 0.0).await;
    let ops = crate::helpers::operators_json(&[("opA", &a)]);
    let app = spawn_app_with(&[("OPERATORS", &ops), ("DLR_HOLD_MAX", "2")]).await;
    for id in ["never-1", "never-2"] {
        app.post(
            "/dlr/opA",
            Some(&a.key),
            &json!({"message_id": id, "status": "DELIVRD"}),
        )
        .await
        .assert_status(202);
    }
    app.post(
        "/dlr/opA",
        Some(&a.key),
        &json!({"message_id": "never-3", "status": "DELIVRD"}),
    )
    .await
    .assert_problem(503);
    assert_eq!(held_reports::count(&app.db).await.unwrap(), 2);

    // Within the hold nothing expires; past it (a hold of 0 s) both go.
    let pass = held_reports::apply_due(&app.db, 100, 3600).await.unwrap();
    assert!(pass.expired.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let pass = held_reports::apply_due(&app.db, 100, 0).await.unwrap();
    assert_eq!(pass.expired, ["opA", "opA"]);
    assert_eq!(held_reports::count(&app.db).await.unwrap(), 0);
    app.finish().await;
}
