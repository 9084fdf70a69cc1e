//! `GET /reports/daily`: the daily counters against a recount of the rows they count, who may
//! read which customer, the refusals, and that a rolled-back acceptance leaves no count.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde_json::{Value, json};
use sms_gateway::intake::{self, SendInput};

use crate::helpers::{ADMIN_TOKEN, delivering_app, mock, spawn_app};

/// The report's lines as `(customer, day, type) -> [requests, recipients, segments, cost,
/// delivered, undelivered, failed, refunded, cancelled]`, the form of the recount.
fn lines(report: &Value) -> crate::helpers::DailyCounts {
    report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let day = NaiveDate::parse_from_str(l["day"].as_str().unwrap(), "%Y-%m-%d").unwrap();
            let n = |f: &str| l[f].as_i64().unwrap();
            let counts = [
                n("requests"),
                n("recipients"),
                n("segments"),
                n("cost"),
                n("delivered"),
                n("undelivered"),
                n("failed"),
                n("refunded"),
                n("cancelled"),
            ];
            let in_progress = counts[1] - counts[4] - counts[5] - counts[6] - counts[8];
            assert_eq!(n("in_progress"), in_progress, "{l}");
            let key = (
                l["customer_id"].as_i64().unwrap(),
                day,
                l["type"].as_str().unwrap().to_string(),
            );
            (key, counts)
        })
        .collect()
}

/// Today, yesterday and tomorrow by the database's UTC clock (a test that runs across
/// midnight still finds its rows between yesterday and tomorrow).
async fn days(app: &crate::helpers::TestApp) -> (NaiveDate, String, String) {
    let today: NaiveDate = sqlx::query_scalar("select utc_date()")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let from = today.pred_opt().unwrap().to_string();
    let to = today.succ_opt().unwrap().to_string();
    (today, from, to)
}

/// Sends a delivery report for each recipient of `sms_id` with the statuses given in order
/// (recipients beyond them get none).
async fn report_each(
    app: &crate::helpers::TestApp,
    key: &str,
    operator: &crate::helpers::Mock,
    sms_id: &str,
    statuses: &[&str],
) {
    let detail = app.wait_for_status(key, sms_id, &["SENT"]).await;
    for (m, status) in detail["messages"].as_array().unwrap().iter().zip(statuses) {
        let r = app
            .post(
                "/dlr/opA",
                Some(&operator.key),
                &json!({"message_id": m["provider_message_id"], "status": status}),
            )
            .await;
        r.assert_status(200);
        assert_eq!(r.body["result"], "applied");
    }
}

#[tokio::test]
async fn the_daily_report_equals_a_recount_of_the_rows_after_a_mixed_workload() {
    let accepts = mock("opA", 0.0, 0.0).await;
    let refuses = mock("opR", 0.0, 1.0).await;
    let fails = mock("opF", 1.0, 0.0).await;
    let app = delivering_app(&[("opA", &accepts), ("opR", &refuses), ("opF", &fails)]).await;
    let (a, key_a) = app.create_customer("a", 20).await;
    let (b, key_b) = app.create_customer("b", 20).await;
    let (c, key_c) = app.create_customer("c", 2).await;
    let (today, from, to) = days(&app).await;

    // A: 3 recipients x 2 segments (normal): one DELIVERED, one UNDELIVERED, one left SENT.
    let long = "x".repeat(200);
    let first = app
        .send_ok(
            &key_a,
            json!({"text": long, "operators": ["opA"],
                   "recipients": ["+989121000001", "+989121000002", "+989121000003"]}),
        )
        .await;
    report_each(&app, &key_a, &accepts, &first, &["DELIVRD", "UNDELIV"]).await;
    // A: 2 express recipients an operator refuses: FAILED and refunded.
    let refused = app
        .send_ok(
            &key_a,
            json!({"text": "hi", "type": "express", "operators": ["opR"],
                   "recipients": ["+989121000004", "+989121000005"]}),
        )
        .await;
    // A: 1 recipient whose validity runs out while its operator fails: FAILED (expired).
    let expired = app
        .send_ok(
            &key_a,
            json!({"text": "hi", "operators": ["opF"], "validity_seconds": 1,
                   "recipients": ["+989121000006"]}),
        )
        .await;
    // B: 1 express recipient, DELIVERED.
    let delivered = app
        .send_ok(
            &key_b,
            json!({"text": "hi", "type": "express", "operators": ["opA"],
                   "recipients": ["+989122000001"]}),
        )
        .await;
    report_each(&app, &key_b, &accepts, &delivered, &["DELIVRD"]).await;
    // C: 3 recipients, a balance for 2: partial acceptance; both left SENT.
    let r = app
        .send(
            &key_c,
            json!({"text": "hi", "allow_partial": true, "operators": ["opA"],
                   "recipients": ["+989123000001", "+989123000002", "+989123000003"]}),
        )
        .await;
    r.assert_status(202);
    assert_eq!(r.body["rejected"].as_array().unwrap().len(), 1);
    let partial = r.sms_identifier();
    app.wait_for_status(&key_a, &refused, &["FAILED"]).await;
    let detail = app.wait_for_status(&key_a, &expired, &["FAILED"]).await;
    assert!(
        detail["messages"][0]["failure_reason"]
            .as_str()
            .unwrap()
            .starts_with("expired"),
        "{detail}"
    );
    app.wait_for_status(&key_c, &partial, &["SENT"]).await;

    let recount = app.recount_daily().await;
    let d = |customer: i64, t: &str| (customer, today, t.to_string());
    // What the workload was meant to produce, so the recount is known to cover each case.
    let expected: crate::helpers::DailyCounts = [
        (d(a, "normal"), [2, 4, 7, 7, 1, 1, 1, 1, 0]),
        (d(a, "express"), [1, 2, 2, 4, 0, 0, 2, 4, 0]),
        (d(b, "express"), [1, 1, 1, 2, 1, 0, 0, 0, 0]),
        (d(c, "normal"), [1, 2, 2, 2, 0, 0, 0, 0, 0]),
    ]
    .into_iter()
    .collect();
    assert_eq!(recount, expected);

    // Each customer reads its own lines, equal to the recount of its rows.
    let path = format!("/reports/daily?from={from}&to={to}");
    for (customer, key) in [(a, &key_a), (b, &key_b), (c, &key_c)] {
        let r = app.get(&path, Some(key)).await;
        r.assert_status(200);
        let own: crate::helpers::DailyCounts = recount
            .iter()
            .filter(|((id, _, _), _)| *id == customer)
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        assert_eq!(lines(&r.body), own, "{}", r.body);
        assert_eq!(r.body["customer_id"], customer);
    }
    // The admin reads every customer, with the day's totals and the range's.
    let r = app.get(&path, Some(ADMIN_TOKEN)).await;
    r.assert_status(200);
    assert_eq!(lines(&r.body), recount, "{}", r.body);
    assert_eq!(r.body["customer_id"], Value::Null);
    let totals = r.body["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 1, "{}", r.body);
    assert_eq!(totals[0]["day"], today.to_string());
    for (field, sum) in [
        ("requests", 5),
        ("recipients", 9),
        ("segments", 12),
        ("cost", 15),
        ("delivered", 2),
        ("undelivered", 1),
        ("failed", 3),
        ("in_progress", 3),
        ("refunded", 5),
    ] {
        assert_eq!(totals[0][field], sum, "totals.{field}: {}", r.body);
        assert_eq!(r.body["total"][field], sum, "total.{field}: {}", r.body);
    }
    // ... or one customer, and one type.
    let r = app
        .get(
            &format!("{path}&customer_id={a}&type=EXPRESS"),
            Some(ADMIN_TOKEN),
        )
        .await;
    r.assert_status(200);
    let express: crate::helpers::DailyCounts = [(d(a, "express"), expected[&d(a, "express")])]
        .into_iter()
        .collect();
    assert_eq!(lines(&r.body), express, "{}", r.body);
    assert_eq!(r.body["type"], "express");
    // A range without traffic is empty, not an error.
    let r = app
        .get("/reports/daily?from=2020-01-01&to=2020-01-31", Some(&key_a))
        .await;
    r.assert_status(200);
    assert_eq!(r.body["lines"], json!([]));
    assert_eq!(r.body["total"]["requests"], 0);
    app.finish().await;
}

#[tokio::test]
async fn the_daily_report_refuses_bad_ranges_and_other_customers() {
    let app = spawn_app().await;
    let (a, key_a) = app.create_customer("a", 10).await;
    let (b, _) = app.create_customer("b", 10).await;
    for (query, field) in [
        ("to=2026-12-01", "from"),
        ("from=2026-12-01", "to"),
        ("from=&to=2026-12-01", "from"),
        ("from=2026-12-01&to=2026-13-01", "to"),
        ("from=01.12.2026&to=2026-12-02", "from"),
        ("from=2026-12-01T00:00:00Z&to=2026-12-02", "from"),
        ("from=2026-12-02&to=2026-12-01", "to"),
        ("from=2026-01-01&to=2027-01-02", "to"),
        ("from=2026-12-01&to=2026-12-02&type=urgent", "type"),
    ] {
        let r = app
            .get(&format!("/reports/daily?{query}"), Some(&key_a))
            .await;
        let problem = r.assert_problem(400);
        assert!(
            problem["errors"][field].is_string(),
            "{query}: expected an error for {field}: {problem}"
        );
    }
    // 366 days, both included, is the longest range.
    app.get("/reports/daily?from=2024-01-01&to=2024-12-31", Some(&key_a))
        .await
        .assert_status(200);
    let ok = "from=2026-12-01&to=2026-12-02";
    app.get(&format!("/reports/daily?{ok}&limit=5"), Some(&key_a))
        .await
        .assert_problem(400);
    app.get(&format!("/reports/daily?{ok}&customer_id=x"), Some(&key_a))
        .await
        .assert_problem(400);
    app.get(&format!("/reports/daily?{ok}"), None)
        .await
        .assert_problem(401);
    app.get(
        &format!("/reports/daily?{ok}&customer_id={b}"),
        Some(&key_a),
    )
    .await
    .assert_problem(403);
    app.get(&format!("/reports/daily?{ok}&user_id={b}"), Some(&key_a))
        .await
        .assert_problem(403);
    app.get(
        &format!("/reports/daily?{ok}&customer_id={a}"),
        Some(&key_a),
    )
    .await
    .assert_status(200);
    app.get(
        &format!("/reports/daily?{ok}&customer_id=999999"),
        Some(ADMIN_TOKEN),
    )
    .await
    .assert_problem(404);
    app.finish().await;
}

#[tokio::test]
async fn an_acceptance_that_rolls_back_leaves_no_count() {
    let app = spawn_app().await;
    let (customer, _) = app.create_customer("acme", 10).await;
    let recipients = vec!["+989121234567".to_string(), "+989127654321".to_string()];
    let input = SendInput {
        text: Some("hi"),
        recipients: Some(&recipients),
        messages: None,
        sms_type: None,
        allow_partial: false,
        validity_seconds: None,
        operators: None,
        from: None,
        reference: None,
        send_at: None,
        callback_url: None,
    };
    let cmd = intake::validate(customer, &input, &app.state.config.intake, |_| {
        BTreeSet::new()
    })
    .unwrap();
    let counted = "select cast(coalesce(sum(recipients), 0) as signed) from daily_counts";
    let mut tx = app.db.begin().await.unwrap();
    let outcome = intake::accept(&mut tx, &cmd, 1).await.unwrap();
    assert!(
        matches!(outcome, intake::Outcome::Accepted(_)),
        "{outcome:?}"
    );
    // Counted inside the acceptance's transaction ...
    let inside: i64 = sqlx::query_scalar(counted)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(inside, 2);
    tx.rollback().await.unwrap();
    // ... and gone with it.
    let after: i64 = sqlx::query_scalar(counted)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(after, 0);
    assert_eq!(app.count("sms_status").await, 0);
    assert_eq!(app.balance_of(customer).await, 10);
    app.finish().await;
}
