//! Personalized bulk (docs/API.md "Personalized bulk"): `messages` with a text per recipient,
//! each charged its own segments; `allow_partial` takes the first messages the balance
//! covers; the shape is validated whole (nothing charged); group commit and Idempotency-Key
//! keep working; each text reaches the operator, and a failed message is refunded its own
//! segments.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sms_gateway::operators::wire::OperatorSend;

use crate::helpers::{Mock, delivering_app, spawn_app, spawn_app_with};

/// 161 GSM-7 characters: two segments.
fn two_segments() -> String {
    "a".repeat(161)
}

fn three_messages() -> Value {
    json!([
        {"to": "+989121234567", "text": "hi"},
        {"to": "09121234568", "text": two_segments()},
        {"to": "+989121234569", "text": "سلام", "reference": "c-ref"},
    ])
}

#[tokio::test]
async fn each_message_is_charged_its_own_segments_and_shown_with_its_own_text() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 100).await;
    let r = app
        .send(
            &key,
            json!({"messages": three_messages(), "reference": "batch-1"}),
        )
        .await;
    r.assert_status(202);
    let b = &r.body;
    assert_eq!(
        (b["recipients"].as_u64(), b["segments"].as_u64()),
        (Some(3), Some(4))
    );
    assert_eq!(
        (b["cost"].as_i64(), b["balance"].as_i64()),
        (Some(4), Some(96))
    );
    assert_eq!(b["encoding"], "UCS-2");
    let per: Vec<(String, u64, String, i64, String)> = b["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["to"].as_str().unwrap().into(),
                m["segments"].as_u64().unwrap(),
                m["encoding"].as_str().unwrap().into(),
                m["cost"].as_i64().unwrap(),
                m["reference"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        per,
        [
            (
                "+989121234567".into(),
                1,
                "GSM-7".into(),
                1,
                "batch-1".into()
            ),
            (
                "+989121234568".into(),
                2,
                "GSM-7".into(),
                2,
                "batch-1".into()
            ),
            ("+989121234569".into(), 1, "UCS-2".into(), 1, "c-ref".into()),
        ]
    );
    assert_eq!(app.balance_of(id).await, 96);

    let sms_id = r.sms_identifier();
    let d = app.sms_detail(&key, &sms_id).await;
    assert_eq!(
        (
            d["text"].as_str(),
            d["segments"].as_i64(),
            d["cost"].as_i64()
        ),
        (Some(""), Some(4), Some(4))
    );
    let texts: Vec<(&str, i64, &str)> = d["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["text"].as_str().unwrap(),
                m["segments"].as_i64().unwrap(),
                m["reference"].as_str().unwrap(),
            )
        })
        .collect();
    let two = two_segments();
    assert_eq!(
        texts,
        [
            ("hi", 1, "batch-1"),
            (two.as_str(), 2, "batch-1"),
            ("سلام", 1, "c-ref")
        ]
    );
    // The history shows each row's own segments and reference, and filters by either.
    let h = app.get("/sms/history?reference=c-ref", Some(&key)).await;
    let items = h.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (
            items[0]["recipient"].as_str(),
            items[0]["segments"].as_i64()
        ),
        (Some("+989121234569"), Some(1))
    );
    let h = app.get("/sms/history?reference=batch-1", Some(&key)).await;
    assert_eq!(h.body["items"].as_array().unwrap().len(), 2);

    // One text stays as it was: no per-recipient text stored, none shown.
    let one = app
        .send_ok(
            &key,
            json!({"text": "same", "recipients": ["+989121234567"]}),
        )
        .await;
    let d = app.sms_detail(&key, &one).await;
    assert!(d["messages"][0].get("text").is_none());
    assert_eq!(app.personal_texts_of(&one).await, 0);
    app.finish().await;
}

#[tokio::test]
async fn allow_partial_takes_the_first_messages_the_balance_covers() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 3).await;
    let messages = json!([
        {"to": "+989121234567", "text": "one"},
        {"to": "+989121234568", "text": two_segments()},
        {"to": "+989121234569", "text": "one more"},
    ]);
    let p = app.send(&key, json!({"messages": messages})).await;
    let p = p.assert_problem(402);
    assert_eq!(
        (p["balance"].as_i64(), p["required"].as_i64()),
        (Some(3), Some(4))
    );
    assert_eq!(app.count("sms_requests").await, 0);

    let r = app
        .send(&key, json!({"messages": messages, "allow_partial": true}))
        .await;
    r.assert_status(202);
    assert_eq!(
        (r.body["recipients"].as_u64(), r.body["cost"].as_i64()),
        (Some(2), Some(3))
    );
    assert_eq!(r.body["segments"], 3);
    assert_eq!(
        r.body["accepted"],
        json!(["+989121234567", "+989121234568"])
    );
    assert_eq!(r.body["rejected"][0]["recipient"], "+989121234569");
    assert_eq!(r.body["messages"].as_array().unwrap().len(), 2);
    assert_eq!(app.balance_of(id).await, 0);
    assert_eq!(app.count("sms_status").await, 2);
    app.finish().await;
}

#[tokio::test]
async fn messages_are_validated_whole_and_a_bad_request_charges_nothing() {
    let app = spawn_app_with(&[("MAX_RECIPIENTS", "5")]).await;
    let (id, key) = app.create_customer("acme", 100).await;
    let errors = |body: Value| {
        let app = &app;
        let key = key.clone();
        async move {
            let r = app.send(&key, body).await;
            r.assert_problem(400)["errors"].clone()
        }
    };
    let both = errors(json!({"messages": three_messages(), "text": "hi"})).await;
    assert!(both["messages"].as_str().unwrap().contains("not both"));
    let both = errors(json!({"messages": three_messages(), "recipients": ["+989121234567"]})).await;
    assert!(both.get("messages").is_some());
    let neither = errors(json!({"type": "normal"})).await;
    assert!(neither.get("text").is_some() && neither.get("recipients").is_some());
    let empty = errors(json!({"messages": []})).await;
    assert!(empty.get("messages").is_some());
    let many: Vec<Value> = (0..6)
        .map(|i| json!({"to": format!("+98912{:07}", i), "text": "hi"}))
        .collect();
    assert!(
        errors(json!({"messages": many})).await["messages"]
            .as_str()
            .unwrap()
            .contains("at most 5")
    );
    let bad = errors(json!({"messages": [
        {"to": "+989121234567", "text": "  "},
        {"to": "09121234567", "text": "hi"},
        {"to": "12ab", "text": "hi"},
        {"to": "+989121234569", "text": "a".repeat(1531)},
        {"to": "+989121234560", "text": "hi", "reference": "x".repeat(65)},
    ]}))
    .await;
    let keys: Vec<&str> = bad
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "messages[0].text",
            "messages[1].to",
            "messages[2].to",
            "messages[3].text",
            "messages[4].reference"
        ]
    );
    assert!(
        bad["messages[1].to"]
            .as_str()
            .unwrap()
            .contains("duplicate of messages[0].to")
    );
    // An unknown field in a message is refused like one in the body.
    let r = app
        .send(
            &key,
            json!({"messages": [{"to": "+989121234567", "text": "hi", "txt": "x"}]}),
        )
        .await;
    r.assert_problem(400);
    assert_eq!(app.balance_of(id).await, 100);
    assert_eq!(app.count("sms_requests").await, 0);
    app.finish().await;
}

#[tokio::test]
async fn personalized_requests_share_group_commits_and_replay_under_their_key() {
    let app = Arc::new(spawn_app().await);
    let (id, key) = app.create_customer("acme", 1_000).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (app, key) = (app.clone(), key.clone());
        tasks.spawn(async move {
            let messages = json!([
                {"to": format!("+98912{:07}", 2 * i), "text": "hi"},
                {"to": format!("+98912{:07}", 2 * i + 1), "text": two_segments()},
            ]);
            let r = app.send(&key, json!({"messages": messages})).await;
            r.assert_status(202);
            r.body["cost"].as_i64().unwrap()
        });
    }
    let mut total = 0;
    while let Some(cost) = tasks.join_next().await {
        total += cost.unwrap();
    }
    assert_eq!(total, 40 * 3);
    assert_eq!(app.balance_of(id).await, 1_000 - 120);
    assert_eq!(app.count("sms_status").await, 80);

    let body = json!({"messages": three_messages()});
    let first = app
        .post_with(
            "/sms/send",
            Some(&key),
            &[("Idempotency-Key", "p-1")],
            &body,
        )
        .await;
    first.assert_status(202);
    let again = app
        .post_with(
            "/sms/send",
            Some(&key),
            &[("Idempotency-Key", "p-1")],
            &body,
        )
        .await;
    again.assert_status(202);
    assert_eq!(again.body, first.body);
    assert_eq!(app.balance_of(id).await, 1_000 - 120 - 4);
    Arc::into_inner(app).unwrap().finish().await;
}

/// An operator that keeps what it was sent and refuses (400) texts containing "refuse".
async fn recording_operator() -> (Mock, Arc<Mutex<Vec<OperatorSend>>>) {
    let seen: Arc<Mutex<Vec<OperatorSend>>> = Arc::default();
    let kept = seen.clone();
    let router = axum::Router::new().route(
        "/send",
        axum::routing::post(move |Json(msg): Json<OperatorSend>| {
            let kept = kept.clone();
            async move {
                let refuse = msg.text.contains("refuse");
                kept.lock().unwrap().push(msg);
                let answer: Response = if refuse {
                    (StatusCode::BAD_REQUEST, "refused").into_response()
                } else {
                    Json(json!({"message_id": uuid::Uuid::new_v4().to_string()})).into_response()
                };
                answer
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let mock = Mock {
        url,
        key: "rec-key-0123456789".into(),
        stats: Arc::default(),
    };
    (mock, seen)
}

#[tokio::test]
async fn each_recipient_gets_its_own_text_and_a_refused_one_is_refunded_its_own_segments() {
    let (op, seen) = recording_operator().await;
    let app = delivering_app(&[("rec", &op)]).await;
    let (id, key) = app.create_customer("acme", 10).await;
    let refused = format!("refuse {}", two_segments());
    let messages = json!([
        {"to": "+989121234567", "text": "hello Sara"},
        {"to": "+989121234568", "text": refused},
    ]);
    let sms_id = app.send_ok(&key, json!({"messages": messages})).await;
    assert_eq!(app.balance_of(id).await, 7);
    let d = app
        .wait_for_status(&key, &sms_id, &["SENT", "FAILED"])
        .await;
    assert_eq!(d["messages"][0]["status"], "SENT");
    assert_eq!(d["messages"][1]["status"], "FAILED");
    // The refused one cost 2 segments and got 2 back; the request's total (3) is not refunded.
    assert_eq!(app.balance_of(id).await, 9);
    let mut got: Vec<(String, String)> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|m| (m.to.clone(), m.text.clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("+989121234567".to_string(), "hello Sara".to_string()),
            ("+989121234568".to_string(), refused)
        ]
    );
    app.finish().await;
}
