//! `POST /sms/{sms_identifier}/cancel`: what is not yet taken is CANCELLED and refunded
//! exactly once (before it is due, racing the workers, after its slice was published, against
//! a second cancel); only the caller's own requests.

use std::time::Duration;

use serde_json::{Value, json};
use sms_gateway::mock_operator::MockOperatorConfig;

use super::{at, in_status, outbox_status};
use crate::helpers::{
    ADMIN_TOKEN, TestApp, app_with_operators, delivering_app, mock, spawn_mock_operator,
};

async fn cancel(app: &TestApp, key: &str, id: &str) -> Value {
    let r = app
        .post(&format!("/sms/{id}/cancel"), Some(key), &json!({}))
        .await;
    r.assert_status(200);
    r.body
}

/// The credits of a request's cancel refund rows, and how many there are.
async fn cancel_refunds(app: &TestApp, id: &str) -> (i64, i64) {
    sqlx::query_as(
        "select cast(coalesce(sum(amount), 0) as signed), count(*) from user_transactions \
         where transaction_id = concat('cancel:', ?) and transaction_type = 'refund'",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_cancel_before_send_at_refunds_everything_once_and_a_second_refunds_nothing() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = delivering_app(&[("opA", &a)]).await;
    let (customer, key) = app.create_customer("acme", 10).await;
    let (_, other) = app.create_customer("other", 10).await;
    let (_, send_at) = at(chrono::Duration::minutes(10));
    let id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989127654321", "+989120000000"],
                   "type": "express", "send_at": send_at}),
        )
        .await;
    assert_eq!(
        app.balance_of(customer).await,
        4,
        "3 express recipients at 2"
    );

    // Someone else's request, or none, is not found; the admin must name the customer.
    app.post(&format!("/sms/{id}/cancel"), Some(&other), &json!({}))
        .await
        .assert_problem(404);
    app.post("/sms/not-a-uuid/cancel", Some(&key), &json!({}))
        .await
        .assert_problem(404);
    app.post(&format!("/sms/{id}/cancel"), Some(ADMIN_TOKEN), &json!({}))
        .await
        .assert_problem(400);
    assert_eq!(in_status(&app, &id, "PENDING").await, 3);

    let r = app
        .post_with(
            &format!("/sms/{id}/cancel"),
            Some(&key),
            &[("idempotency-key", "cancel-1")],
            &json!({}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(
        r.body,
        json!({"sms_identifier": id, "cancelled": 3, "refunded": 6, "not_cancelled": 0})
    );
    assert_eq!(
        app.balance_of(customer).await,
        10,
        "the balance is back, exactly"
    );
    assert_eq!(in_status(&app, &id, "CANCELLED").await, 3);
    assert_eq!(outbox_status(&app, &id).await, None, "nothing left to hold");
    let detail = app.sms_detail(&key, &id).await;
    assert_eq!(detail["counts"], json!({"CANCELLED": 3}));
    let events: Vec<&str> = detail["messages"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["PENDING", "CANCELLED"]);
    let history = app.get("/sms/history?status=cancelled", Some(&key)).await;
    assert_eq!(history.body["items"].as_array().unwrap().len(), 3);

    // Again: with the same key the first answer; without, nothing left to cancel.
    let replay = app
        .post_with(
            &format!("/sms/{id}/cancel"),
            Some(&key),
            &[("idempotency-key", "cancel-1")],
            &json!({}),
        )
        .await;
    assert_eq!(replay.body["cancelled"], 3);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    let path = format!("/sms/{id}/cancel?user_id={customer}");
    let again = app.post(&path, Some(ADMIN_TOKEN), &json!({})).await;
    again.assert_status(200);
    assert_eq!(
        again.body,
        json!({"sms_identifier": id, "cancelled": 0, "refunded": 0, "not_cancelled": 3})
    );
    assert_eq!(app.balance_of(customer).await, 10);
    assert_eq!(cancel_refunds(&app, &id).await, (6, 1), "one refund row");

    // The daily report counts them among the final states (finish() recounts).
    let line = app.todays_report_line(&key).await;
    assert_eq!(
        (&line["cancelled"], &line["refunded"], &line["in_progress"]),
        (&json!(3), &json!(6), &json!(0)),
        "{line}"
    );
    assert_eq!(a.stats.snapshot().received, 0, "nothing sent");
    app.finish().await;
}

#[tokio::test]
async fn a_cancel_racing_the_workers_refunds_exactly_the_recipients_it_cancelled() {
    let slow = spawn_mock_operator(MockOperatorConfig {
        name: "opA".into(),
        api_key: Some("opA-key-0123456789".into()),
        latency: Duration::from_millis(25),
        ..Default::default()
    })
    .await;
    let app = delivering_app(&[("opA", &slow)]).await;
    let (customer, key) = app.create_customer("acme", 1_000).await;
    let recipients: Vec<String> = (0..1_000).map(|i| format!("+98912{i:07}")).collect();
    let id = app
        .send_ok(&key, json!({"text": "hi", "recipients": recipients}))
        .await;
    assert_eq!(app.balance_of(customer).await, 0);
    // Workers are taking recipients: cancel now, twice at once.
    for _ in 0..400 {
        if in_status(&app, &id, "SENT").await >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (first, second) = tokio::join!(cancel(&app, &key, &id), cancel(&app, &key, &id));
    for _ in 0..600 {
        if in_status(&app, &id, "PENDING").await + in_status(&app, &id, "SENDING").await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cancelled = in_status(&app, &id, "CANCELLED").await;
    let sent = in_status(&app, &id, "SENT").await;
    assert!(
        cancelled > 0 && cancelled < 1_000,
        "the cancel must have raced the delivery to prove anything (cancelled {cancelled})"
    );
    assert_eq!(
        sent + cancelled,
        1_000,
        "every recipient either sent or cancelled"
    );
    let n = |v: &Value, f: &str| v[f].as_i64().unwrap();
    assert_eq!(
        n(&first, "cancelled") + n(&second, "cancelled"),
        cancelled,
        "{first} {second}"
    );
    assert_eq!(
        n(&first, "cancelled").min(n(&second, "cancelled")),
        0,
        "only one of two racing cancels cancels anything: {first} {second}"
    );
    assert_eq!(
        n(&first, "refunded") + n(&second, "refunded"),
        cancelled,
        "refunded exactly the cancelled recipients"
    );
    let winner = if n(&first, "cancelled") > 0 {
        &first
    } else {
        &second
    };
    assert_eq!(n(winner, "not_cancelled"), 1_000 - cancelled);
    assert_eq!(cancel_refunds(&app, &id).await, (cancelled, 1));
    assert_eq!(app.balance_of(customer).await, cancelled);
    assert_eq!(
        slow.stats.snapshot().accepted as i64,
        sent,
        "no cancelled recipient reached the operator"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_slice_already_published_sends_nothing_once_its_recipients_are_cancelled() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = app_with_operators(&[("opA", &a)]).await;
    app.spawn_publishers();
    let (customer, key) = app.create_customer("acme", 10).await;
    let id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989127654321", "+989120000000"]}),
        )
        .await;
    // Published: its message waits in the queue, its outbox row is gone.
    let queue = app.state.config.amqp.queue_normal.clone();
    for _ in 0..200 {
        if app.published_depth(&queue).await == 1 && outbox_status(&app, &id).await.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.published_depth(&queue).await, 1);
    let done = cancel(&app, &key, &id).await;
    assert_eq!(
        (&done["cancelled"], &done["refunded"]),
        (&json!(3), &json!(3))
    );
    assert_eq!(app.balance_of(customer).await, 10);

    // The worker takes the message, finds nothing open and sends nothing.
    app.spawn_workers();
    for _ in 0..200 {
        if app.published_depth(&queue).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let next = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121111111"]}))
        .await;
    app.wait_for_status(&key, &next, &["SENT"]).await;
    assert_eq!(
        a.stats.snapshot().received,
        1,
        "only the later request was sent"
    );
    let detail = app.sms_detail(&key, &id).await;
    assert_eq!(detail["counts"], json!({"CANCELLED": 3}), "{detail}");
    for m in detail["messages"].as_array().unwrap() {
        assert_eq!(m["attempts"], 0, "{m}");
    }
    app.finish().await;
}
