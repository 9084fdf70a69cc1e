//! `send_at`: held in the database until due, then delivered through the lanes; charged at
//! acceptance; refused (nothing charged) when malformed, past or beyond the horizon; its
//! validity and its place in the fair order counted from when it is due.

use std::time::Duration;

use serde_json::json;
use sms_gateway::db::outbox;
use sms_gateway::domain::SmsType;

use super::{at, in_status, outbox_status, shown};
use crate::helpers::{app_with_operators, mock, spawn_app, spawn_app_with_broker};

#[tokio::test]
async fn a_scheduled_request_is_charged_now_held_off_the_broker_and_delivered_when_due() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = app_with_operators(&[("opA", &a)]).await;
    // Only publishers at first: what reaches the queue stays there, where it can be counted.
    app.spawn_publishers();
    let (customer, key) = app.create_customer("acme", 10).await;
    let (due, send_at) = at(chrono::Duration::milliseconds(2_500));
    // Validity 2 s: counted from acceptance it would run out before the request is due.
    let r = app
        .send(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989127654321"],
                   "send_at": send_at, "validity_seconds": 2}),
        )
        .await;
    r.assert_status(202);
    assert_eq!(r.body["cost"], 2);
    assert_eq!(r.body["balance"], 8, "charged at acceptance");
    let id = r.sms_identifier();
    assert_eq!(shown(&r.body["send_at"]), due);
    assert_eq!(app.balance_of(customer).await, 8);

    let detail = app.sms_detail(&key, &id).await;
    assert_eq!(shown(&detail["send_at"]), due);
    assert_eq!(
        shown(&detail["expires_at"]),
        due + chrono::Duration::seconds(2),
        "the validity counts from send_at"
    );
    let history = app.get("/sms/history", Some(&key)).await;
    assert_eq!(shown(&history.body["items"][0]["send_at"]), due);
    assert_eq!(outbox_status(&app, &id).await.as_deref(), Some("scheduled"));
    assert_eq!(
        outbox::scheduled_totals(&app.db, SmsType::Normal)
            .await
            .unwrap(),
        (1, 2),
        "the scheduled gauge's counters"
    );

    // Until send_at nothing is published: the queue stays empty, the row scheduled.
    let queue = app.state.config.amqp.queue_normal.clone();
    while chrono::Utc::now() < due - chrono::Duration::milliseconds(300) {
        assert_eq!(
            app.published_depth(&queue).await,
            0,
            "published before send_at"
        );
        assert_eq!(outbox_status(&app, &id).await.as_deref(), Some("scheduled"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Once due it is published (one message for both recipients) ...
    for _ in 0..100 {
        if app.published_depth(&queue).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(chrono::Utc::now() >= due, "published before send_at");
    assert_eq!(app.published_depth(&queue).await, 1, "published once due");
    assert_eq!(
        outbox::scheduled_totals(&app.db, SmsType::Normal)
            .await
            .unwrap(),
        (0, 0)
    );
    // ... and delivered, within its validity counted from send_at.
    app.spawn_workers();
    app.wait_for_status(&key, &id, &["SENT"]).await;
    assert_eq!(a.stats.snapshot().accepted, 2);
    app.finish().await;
}

#[tokio::test]
async fn the_default_validity_also_counts_from_send_at() {
    let a = mock("opA", 0.0, 0.0).await;
    let ops = crate::helpers::operators_json(&[("opA", &a)]);
    let app = spawn_app_with_broker(&[("OPERATORS", &ops), ("DEFAULT_VALIDITY_SECS", "1")]).await;
    app.run_pipeline();
    let (_, key) = app.create_customer("acme", 10).await;
    let (_, send_at) = at(chrono::Duration::milliseconds(2_000));
    let id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567"], "send_at": send_at}),
        )
        .await;
    // Counted from acceptance, the second of validity would be over when it is due.
    let detail = app.wait_for_status(&key, &id, &["SENT", "FAILED"]).await;
    assert_eq!(detail["messages"][0]["status"], "SENT", "{detail}");
    app.finish().await;
}

#[tokio::test]
async fn a_bad_send_at_is_refused_with_the_field_named_and_nothing_charged() {
    let app = spawn_app().await;
    let (customer, key) = app.create_customer("acme", 10).await;
    let body =
        |send_at: &str| json!({"text": "hi", "recipients": ["+989121234567"], "send_at": send_at});
    let (_, past) = at(-chrono::Duration::minutes(5));
    let (_, far) = at(chrono::Duration::days(31));
    for (send_at, says) in [
        (past.as_str(), "in the past"),
        (far.as_str(), "ahead"),
        ("tomorrow at noon", "RFC 3339"),
        ("2026-12-24", "RFC 3339"),
    ] {
        let r = app.send(&key, body(send_at)).await;
        let problem = r.assert_problem(400);
        let error = problem["errors"]["send_at"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{send_at}: {problem}");
    }
    assert_eq!(app.balance_of(customer).await, 10, "nothing charged");
    assert_eq!(app.count("sms_requests").await, 0);
    assert_eq!(app.count("outbox_events").await, 0);

    // A send_at just past (the caller's clock a little behind) is sent at once.
    let (_, just_past) = at(-chrono::Duration::seconds(10));
    let r = app.send(&key, body(&just_past)).await;
    r.assert_status(202);
    assert!(r.body.get("send_at").is_none(), "{}", r.body);
    let id = r.sms_identifier();
    assert_eq!(outbox_status(&app, &id).await.as_deref(), Some("pending"));
    assert_eq!(in_status(&app, &id, "PENDING").await, 1);
    app.finish().await;
}

#[tokio::test]
async fn a_scheduled_request_takes_its_place_in_the_fair_order_when_due_not_at_acceptance() {
    let app = spawn_app().await;
    let (customer, key) = app.create_customer("acme", 1_000).await;
    let (_, send_at) = at(chrono::Duration::hours(1));
    let recipients: Vec<String> = (0..10).map(|i| format!("+9891212345{i:02}")).collect();
    let id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": recipients, "send_at": send_at}),
        )
        .await;
    let finish = || async {
        sqlx::query_scalar::<_, i64>("select vfinish_normal from user_balances where user_id = ?")
            .bind(customer)
            .fetch_one(&app.db)
            .await
            .unwrap()
    };
    assert_eq!(
        finish().await,
        0,
        "acceptance left the customer's finish alone"
    );
    // The lane's clock moves on meanwhile; then the request falls due (its send_at moved, in
    // SQL, to the past).
    sqlx::query("update lane_clocks set vtime = 5000000 where priority = 0")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        outbox::promote_scheduled(&app.db, SmsType::Normal, 5_000_000, 100)
            .await
            .unwrap(),
        0,
        "not due yet"
    );
    sqlx::query("update outbox_events set next_run_at = now(6) - interval 1 second")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        outbox::promote_scheduled(&app.db, SmsType::Normal, 5_000_000, 100)
            .await
            .unwrap(),
        1
    );
    let (status, vtime): (String, i64) =
        sqlx::query_as("select status, vtime from outbox_events where sms_identifier = ?")
            .bind(&id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let vstep = sms_gateway::domain::fair_share::default_vstep();
    assert_eq!((status.as_str(), vtime), ("pending", 5_000_000));
    assert_eq!(finish().await, 5_000_000 + 10 * vstep);
    // A second request sent now queues behind it, as behind any of the customer's work.
    app.send_ok(&key, json!({"text": "hi", "recipients": ["+989121234599"]}))
        .await;
    let vtimes: Vec<i64> = sqlx::query_scalar("select vtime from outbox_events order by id")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(vtimes, [5_000_000, 5_000_000 + 10 * vstep]);
    app.finish().await;
}
