//! Timelines of delivered messages: the happy path writes no event rows (SENDING and SENT are
//! read from the status row), yet the timeline, in the detail and page by page in the events
//! endpoint, is the same as when every step had its row.

use serde_json::{Value, json};

use crate::helpers::{delivering_app, mock};

fn names(events: &Value) -> Vec<String> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_happy_path_writes_no_event_rows_and_its_timeline_is_whole() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = delivering_app(&[("opA", &a)]).await;
    let (_, key) = app.create_customer("acme", 10).await;
    let to = "+989121234567";
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": [to]}))
        .await;
    let body = app.wait_for_status(&key, &sms_id, &["SENT"]).await;
    let msg = &body["messages"][0];
    assert_eq!(names(&msg["events"]), ["PENDING", "SENDING", "SENT"]);
    assert_eq!(msg["events"][2]["detail"], "opA");
    let at = |i: usize| msg["events"][i]["at"].as_str().unwrap().to_string();
    assert!(at(0) <= at(1) && at(1) <= at(2), "in time order: {msg}");
    let rows: i64 = sqlx::query_scalar("select count(*) from sms_events")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        rows, 0,
        "PENDING, SENDING and SENT come from the status row"
    );

    // Reports after SENT are event rows, and follow it.
    let message_id = msg["provider_message_id"].as_str().unwrap().to_string();
    for status in ["ENROUTE", "DELIVRD"] {
        app.post(
            "/dlr/opA",
            Some(&a.key),
            &json!({"message_id": message_id, "status": status}),
        )
        .await
        .assert_status(200);
    }
    let body = app.sms_detail(&key, &sms_id).await;
    let whole = names(&body["messages"][0]["events"]);
    assert_eq!(
        whole,
        ["PENDING", "SENDING", "SENT", "ENROUTE", "DELIVERED"]
    );

    // One event a page: the cursors walk the same timeline, each event once.
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut path = format!("/sms/{sms_id}/recipients/{to}/events?limit=1");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = app.get(&path, Some(&key)).await;
        r.assert_status(200);
        walked.extend(names(&r.body["events"]));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(walked, whole);
    // Two a page.
    let r = app
        .get(
            &format!("/sms/{sms_id}/recipients/{to}/events?limit=2"),
            Some(&key),
        )
        .await;
    assert_eq!(names(&r.body["events"]), ["PENDING", "SENDING"]);
    let c = r.body["next_cursor"].as_str().unwrap().to_string();
    let r = app
        .get(
            &format!("/sms/{sms_id}/recipients/{to}/events?limit=2&cursor={c}"),
            Some(&key),
        )
        .await;
    assert_eq!(names(&r.body["events"]), ["SENT", "ENROUTE"]);
    app.finish().await;
}
