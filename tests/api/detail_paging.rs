//! `GET /sms/{sms_identifier}` a page of recipients at a time, each timeline bounded, and
//! `GET /sms/{sms_identifier}/recipients/{recipient}/events` paging one timeline in full.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sqlx::{MySql, QueryBuilder};

use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app};

/// `n` distinct recipients, in the order they are sent.
fn recipients(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("+98912{i:07}")).collect()
}

/// Appends `n` events (`detail` = `e0`, `e1`, ...) to a recipient's timeline, as workers and
/// delivery reports would.
async fn add_events(app: &TestApp, status_id: i64, n: usize) {
    let mut qb: QueryBuilder<MySql> =
        QueryBuilder::new("insert into sms_events (status_id, status, detail) ");
    qb.push_values(0..n, |mut b, i| {
        b.push_bind(status_id)
            .push_bind("ENROUTE")
            .push_bind(format!("e{i}"));
    });
    qb.build().execute(&app.db).await.unwrap();
}

/// Every page of `path` (which already has a query string) until `next_cursor` is null.
async fn pages(app: &TestApp, key: &str, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = path.to_string();
    loop {
        let r = app.get(&next, Some(key)).await;
        r.assert_status(200);
        out.push(r.body.clone());
        match r.body["next_cursor"].as_str() {
            Some(c) => next = format!("{path}&cursor={c}"),
            None => return out,
        }
    }
}

#[tokio::test]
async fn a_1000_recipient_request_read_97_at_a_time_returns_each_recipient_once_with_all_counts() {
    let app = spawn_app().await;
    let (_, key) = app.create_customer("acme", 1_000).await;
    let sent = recipients(1_000);
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": sent}))
        .await;
    // Recipients in several states, so that a page's own recipients cannot make the counts.
    app.expect_daily_counts_untracked();
    sqlx::query(
        "update sms_status set status = case when id % 3 = 0 then 'SENT' \
         when id % 3 = 1 then 'DELIVERED' else status end where sms_identifier = ?",
    )
    .bind(&sms_id)
    .execute(&app.db)
    .await
    .unwrap();
    let mut expected: BTreeMap<String, Value> = BTreeMap::new();
    for (_, status, _) in app.status_rows(&sms_id).await {
        let n = expected.entry(status).or_insert(json!(0));
        *n = json!(n.as_i64().unwrap() + 1);
    }
    assert_eq!(expected.len(), 3, "three states: {expected:?}");

    let pages = pages(&app, &key, &format!("/sms/{sms_id}?limit=97")).await;
    assert_eq!(pages.len(), 11, "1,000 recipients at 97 a page");
    let mut seen = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let messages = page["messages"].as_array().unwrap();
        assert_eq!(messages.len(), if i < 10 { 97 } else { 30 }, "page {i}");
        assert_eq!(page["counts"], json!(expected), "counts of page {i}");
        assert_eq!(page["recipients"], 1_000);
        assert_eq!(page["text"], "hi");
        seen.extend(
            messages
                .iter()
                .map(|m| m["recipient"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(seen, sent, "every recipient once, in acceptance order");

    // Without a limit: the first 100, and a cursor.
    let d = app.sms_detail(&key, &sms_id).await;
    assert_eq!(d["messages"].as_array().unwrap().len(), 100);
    assert_eq!(d["messages"][0]["recipient"], sent[0].as_str());
    assert!(d["next_cursor"].is_string());
    let all = app
        .get(&format!("/sms/{sms_id}?limit=1000"), Some(&key))
        .await;
    assert_eq!(all.body["messages"].as_array().unwrap().len(), 1_000);
    assert!(all.body["next_cursor"].is_null());
    app.finish().await;
}

#[tokio::test]
async fn the_recipient_filter_returns_that_recipient_with_the_counts_of_all() {
    let app = spawn_app().await;
    let (_, key) = app.create_customer("acme", 100).await;
    let sms_id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989127654321", "+989120000000"]}),
        )
        .await;
    for form in ["09127654321", "%2B989127654321"] {
        let r = app
            .get(&format!("/sms/{sms_id}?recipient={form}"), Some(&key))
            .await;
        r.assert_status(200);
        let messages = r.body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1, "{}", r.text);
        assert_eq!(messages[0]["recipient"], "+989127654321");
        assert_eq!(messages[0]["events"][0]["status"], "PENDING");
        assert_eq!(r.body["counts"], json!({"PENDING": 3}));
        assert!(r.body["next_cursor"].is_null());
    }
    // A number the request was not sent to: no recipient, the request's counts.
    let r = app
        .get(&format!("/sms/{sms_id}?recipient=09121111111"), Some(&key))
        .await;
    r.assert_status(200);
    assert_eq!(r.body["messages"], json!([]));
    assert_eq!(r.body["counts"], json!({"PENDING": 3}));
    let p = app
        .get(&format!("/sms/{sms_id}?recipient=abc"), Some(&key))
        .await;
    assert!(p.assert_problem(400)["errors"]["recipient"].is_string());
    app.finish().await;
}

#[tokio::test]
async fn a_long_timeline_is_cut_to_its_newest_50_in_the_detail_and_paged_whole_on_its_own() {
    let app = spawn_app().await;
    let (_, key) = app.create_customer("acme", 100).await;
    let sms_id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567", "+989127654321", "+989120000000"]}),
        )
        .await;
    let ids = app.status_ids(&sms_id).await;
    add_events(&app, ids[0], 120).await;
    add_events(&app, ids[1], 49).await; // with PENDING, 50: all of it
    add_events(&app, ids[2], 50).await; // with PENDING, 51: PENDING is cut

    let d = app.sms_detail(&key, &sms_id).await;
    let details = |m: &Value| -> Vec<String> {
        m["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["detail"].as_str().unwrap().to_string())
            .collect()
    };
    let newest: Vec<String> = (70..120).map(|i| format!("e{i}")).collect();
    assert_eq!(
        details(&d["messages"][0]),
        newest,
        "the newest 50, oldest first"
    );
    assert_eq!(d["messages"][0]["events_truncated"], true);
    let mut whole = vec!["accepted".to_string()];
    whole.extend((0..49).map(|i| format!("e{i}")));
    assert_eq!(details(&d["messages"][1]), whole);
    assert_eq!(d["messages"][1]["events_truncated"], false);
    let fifty: Vec<String> = (0..50).map(|i| format!("e{i}")).collect();
    assert_eq!(details(&d["messages"][2]), fifty);
    assert_eq!(d["messages"][2]["events_truncated"], true);

    // The whole timeline of the first, 7 events a page: PENDING then e0..e119.
    let path = format!("/sms/{sms_id}/recipients/+989121234567/events?limit=7");
    let pages = pages(&app, &key, &path).await;
    assert_eq!(pages.len(), 18, "121 events at 7 a page");
    let mut events = Vec::new();
    for page in &pages {
        assert_eq!(page["sms_identifier"], sms_id.as_str());
        assert_eq!(page["recipient"], "+989121234567");
        let page_events = page["events"].as_array().unwrap();
        assert!(page_events.len() <= 7);
        events.extend(page_events.iter().cloned());
    }
    assert_eq!(events[0]["status"], "PENDING");
    assert_eq!(events[0]["detail"], "accepted");
    let mut all = vec!["accepted".to_string()];
    all.extend((0..120).map(|i| format!("e{i}")));
    assert_eq!(details(&json!({ "events": events })), all);

    // A page of one: PENDING alone, then the first event row; local forms name it too.
    let first = app
        .get(
            &format!("/sms/{sms_id}/recipients/09121234567/events?limit=1"),
            Some(&key),
        )
        .await;
    first.assert_status(200);
    assert_eq!(first.body["events"][0]["detail"], "accepted");
    assert_eq!(first.body["events"].as_array().unwrap().len(), 1);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(
            &format!("/sms/{sms_id}/recipients/%2B989121234567/events?limit=1&cursor={cursor}"),
            Some(&key),
        )
        .await;
    assert_eq!(second.body["events"][0]["detail"], "e0", "{}", second.text);
    // Default limit 100: the second recipient's 50 events in one page.
    let r = app
        .get(
            &format!("/sms/{sms_id}/recipients/+989127654321/events"),
            Some(&key),
        )
        .await;
    assert_eq!(r.body["events"].as_array().unwrap().len(), 50);
    assert!(r.body["next_cursor"].is_null());
    app.finish().await;
}

#[tokio::test]
async fn limits_out_of_range_and_malformed_cursors_are_400_problems() {
    let app = spawn_app().await;
    let (_, key) = app.create_customer("acme", 100).await;
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    let detail = format!("/sms/{sms_id}");
    let events = format!("/sms/{sms_id}/recipients/+989121234567/events");
    // A cursor of the right encoding whose content is not one this API makes.
    let forged = "djE6LTU"; // base64url of "v1:-5"
    for path in [&detail, &events] {
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("cursor=zz", "cursor"),
            (&format!("cursor={forged}") as &str, "cursor"),
        ] {
            let r = app.get(&format!("{path}?{query}"), Some(&key)).await;
            let p = r.assert_problem(400);
            assert_eq!(p["type"], "/problems/validation-error", "{path}?{query}");
            assert!(p["errors"][field].is_string(), "{path}?{query}: {}", r.text);
        }
        app.get(&format!("{path}?limit=many"), Some(&key))
            .await
            .assert_problem(400);
        app.get(&format!("{path}?limit=1000"), Some(&key))
            .await
            .assert_status(200);
    }
    app.finish().await;
}

#[tokio::test]
async fn another_customers_request_and_timeline_are_404_and_the_admin_reads_any() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 100).await;
    let (other_id, other_key) = app.create_customer("other", 100).await;
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    let detail = format!("/sms/{sms_id}");
    let events = format!("/sms/{sms_id}/recipients/+989121234567/events");

    for path in [&detail, &events] {
        app.get(path, Some(&other_key)).await.assert_problem(404);
        app.get(&format!("{path}?user_id={other_id}"), Some(ADMIN_TOKEN))
            .await
            .assert_problem(404);
        app.get(path, None).await.assert_problem(401);
        app.get(&format!("{path}?user_id={id}"), Some(&other_key))
            .await
            .assert_problem(403);
    }
    let r = app
        .get(&format!("{events}?user_id={id}"), Some(ADMIN_TOKEN))
        .await;
    r.assert_status(200);
    assert_eq!(r.body["events"][0]["status"], "PENDING");
    app.get(&format!("{detail}?user_id={id}"), Some(ADMIN_TOKEN))
        .await
        .assert_status(200);
    // Unknown recipients and requests of one's own are 404 too.
    for path in [
        format!("/sms/{sms_id}/recipients/+989127654321/events"),
        format!("/sms/{sms_id}/recipients/not-a-number/events"),
        format!(
            "/sms/{}/recipients/+989121234567/events",
            uuid::Uuid::new_v4()
        ),
    ] {
        let p = app.get(&path, Some(&key)).await;
        assert_eq!(p.assert_problem(404)["type"], "/problems/not-found");
    }
    app.finish().await;
}
