//! The endpoints of the admin's pages: one customer (`GET /admin/customers/{id}`) and the
//! lanes' throughput, shared by every process (`GET /admin/lanes`).

use std::time::Duration;

use serde_json::json;
use sms_gateway::domain::SmsType;

use super::sign_in;
use crate::helpers::{ADMIN_TOKEN, delivering_app, mock, spawn_app};

#[tokio::test]
async fn the_admin_reads_one_customer_with_its_limits_senders_and_sessions() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 42).await;
    let path = format!("/admin/customers/{id}");
    let r = app.get(&path, Some(ADMIN_TOKEN)).await;
    r.assert_status(200);
    assert_eq!(r.body["customer_id"], id);
    assert_eq!(r.body["name"], "acme");
    assert_eq!(r.body["balance"], 42);
    assert_eq!(r.body["weight"], 100);
    assert!(r.body["max_requests_per_sec"].is_null());
    assert_eq!(r.body["requests_per_sec"], 10_000);
    assert_eq!(r.body["senders"], 0);
    assert!(r.body["default_sender"].is_null());
    assert!(r.body["callback_url"].is_null());
    assert_eq!(r.body["console_sessions"], 0);
    assert_eq!(r.body["parked_callbacks"], 0);
    assert!(r.body["created_at"].is_string());
    assert!(key.starts_with(r.body["api_key_hint"].as_str().unwrap()));
    assert!(!r.text.contains(&key), "the key is never shown again");
    // The list shows the same row.
    let list = app.get("/admin/customers", Some(ADMIN_TOKEN)).await;
    let row = &list.body["items"][0];
    for field in [
        "customer_id",
        "name",
        "api_key_hint",
        "balance",
        "weight",
        "created_at",
    ] {
        assert_eq!(row[field], r.body[field], "{field}");
    }

    // Limits, sender ids and sessions as set.
    app.request(
        "PUT",
        &format!("{path}/limits"),
        Some(ADMIN_TOKEN),
        &[],
        Some(
            json!({"weight": 250, "max_requests_per_sec": 5})
                .to_string()
                .into(),
        ),
    )
    .await
    .assert_status(200);
    for (sender, default) in [("ACME", true), ("1000", false)] {
        app.post(
            &format!("{path}/senders"),
            Some(ADMIN_TOKEN),
            &json!({"sender": sender, "default": default}),
        )
        .await
        .assert_status(201);
    }
    let s = sign_in(&app, &key).await;
    sign_in(&app, &key).await;
    // Two parked callback events and a pending one (as the dispatcher leaves them).
    for (status_id, state) in [(1, "parked"), (2, "parked"), (3, "pending")] {
        sqlx::query(
            "insert into callback_events (customer_id, status_id, status, state) \
             values (?, ?, 'SENT', ?)",
        )
        .bind(id)
        .bind(status_id)
        .bind(state)
        .execute(&app.db)
        .await
        .unwrap();
    }
    let r = app.get(&path, Some(ADMIN_TOKEN)).await;
    assert_eq!(r.body["parked_callbacks"], 2);
    assert_eq!(
        (
            &r.body["weight"],
            &r.body["max_requests_per_sec"],
            &r.body["requests_per_sec"],
            &r.body["max_recipients_per_sec"],
        ),
        (&json!(250), &json!(5), &json!(5), &json!(null))
    );
    assert_eq!(r.body["senders"], 2);
    assert_eq!(r.body["default_sender"], "ACME");
    assert_eq!(r.body["console_sessions"], 2);
    // Sessions that ended are not counted.
    sqlx::query("update console_sessions set last_seen_at = '2000-01-01'")
        .execute(&app.db)
        .await
        .unwrap();
    let r = app.get(&path, Some(ADMIN_TOKEN)).await;
    assert_eq!(r.body["console_sessions"], 0);

    // With an admin session too; a customer, itself included, is refused; unknown: 404.
    let admin = sign_in(&app, ADMIN_TOKEN).await;
    admin.get(&app, &path).await.assert_status(200);
    app.get(&path, Some(&key)).await.assert_problem(403);
    s.get(&app, &path).await.assert_problem(401);
    app.get("/admin/customers/999999", Some(ADMIN_TOKEN))
        .await
        .assert_problem(404);
    app.get("/admin/customers/nope", Some(ADMIN_TOKEN))
        .await
        .assert_problem(400);
    app.finish().await;
}

#[tokio::test]
async fn the_lanes_throughput_is_what_every_worker_process_recorded_sent() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = delivering_app(&[("opA", &a)]).await;
    let (_, key) = app.create_customer("acme", 100).await;
    let sms_id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989121234568", "+989121234569"]}),
        )
        .await;
    app.wait_for_status(&key, &sms_id, &["SENT", "DELIVERED"])
        .await;
    // The workers add their counts once a second.
    let lane = |body: &serde_json::Value, name: &str| {
        body["lanes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["lane"] == name)
            .unwrap()
            .clone()
    };
    let mut normal = json!(null);
    for _ in 0..50 {
        let r = app.get("/admin/lanes", Some(ADMIN_TOKEN)).await;
        r.assert_status(200);
        normal = lane(&r.body, "normal");
        if normal["sent_last_minute"] == 3 {
            assert_eq!(lane(&r.body, "express")["sent_last_minute"], 0);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(normal["sent_last_minute"], 3, "{normal}");
    let per_sec = normal["sent_per_sec"].as_f64().unwrap();
    assert_eq!(per_sec, 0.05, "{normal}");

    // Another process's counts add up (its own slot), and a count older than the minute
    // does not count.
    sms_gateway::db::lane_sent::add(
        &app.db,
        (sms_gateway::db::lane_sent::slot() + 1) % 16,
        &[(SmsType::Normal, 57), (SmsType::Express, 6)],
    )
    .await
    .unwrap();
    sqlx::query(
        "insert into lane_sent (sms_type, at, slot, sent) \
         values ('normal', utc_timestamp() - interval 61 second, 0, 1000)",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let r = app.get("/admin/lanes", Some(ADMIN_TOKEN)).await;
    assert_eq!(lane(&r.body, "normal")["sent_last_minute"], 60);
    assert_eq!(lane(&r.body, "normal")["sent_per_sec"], 1.0);
    assert_eq!(lane(&r.body, "express")["sent_last_minute"], 6);
    // Old rows go.
    assert_eq!(
        sms_gateway::db::lane_sent::prune(&app.db, 60, 100)
            .await
            .unwrap(),
        1
    );

    // The read is a range of lane_sent's primary key: it never touches sms_status.
    let rows = sqlx::query(
        "explain select cast(coalesce(sum(sent), 0) as signed) from lane_sent \
         where sms_type = 'normal' and at > utc_timestamp() - interval 60 second",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    let plan: Vec<(Option<String>, Option<String>)> = rows
        .iter()
        .map(|r| {
            use sqlx::Row;
            (r.try_get("key").unwrap(), r.try_get("type").unwrap())
        })
        .collect();
    assert_eq!(
        plan,
        [(Some("PRIMARY".to_string()), Some("range".to_string()))]
    );
    app.finish().await;
}
