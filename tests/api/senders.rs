//! Sender ids (docs/API.md "Sender ids"): the admin's endpoints, `GET /senders`, the check of
//! `from` on send (400 malformed, 403 not the customer's, nothing charged either way), the
//! default sender, a change seen at once by another api process, and `from` reaching the
//! operator.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestApp, TestResponse, delivering_app, mock, spawn_app};

fn senders_path(customer: i64) -> String {
    format!("/admin/customers/{customer}/senders")
}

async fn add(app: &TestApp, customer: i64, sender: &str, default: bool) -> TestResponse {
    app.post(
        &senders_path(customer),
        Some(ADMIN_TOKEN),
        &json!({"sender": sender, "default": default}),
    )
    .await
}

/// `(sender, default)` of a sender list.
fn listed(body: &Value) -> Vec<(String, bool)> {
    body["senders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["sender"].as_str().unwrap().to_string(),
                s["default"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, bool)]) -> Vec<(String, bool)> {
    list.iter().map(|(s, d)| (s.to_string(), *d)).collect()
}

#[tokio::test]
async fn the_admin_manages_a_customers_senders_and_the_customer_lists_its_own() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 0).await;
    let (other, other_key) = app.create_customer("globex", 0).await;

    let r = add(&app, id, "ACME", false).await;
    r.assert_status(201);
    assert_eq!(listed(&r.body), pairs(&[("ACME", false)]));
    add(&app, id, "+989121234567", true)
        .await
        .assert_status(201);
    add(&app, id, "3000", false).await.assert_status(201);
    // The default first, then by name.
    let mine = app.get("/senders", Some(&key)).await;
    mine.assert_status(200);
    assert_eq!(mine.body["customer_id"], id);
    assert_eq!(
        listed(&mine.body),
        pairs(&[("+989121234567", true), ("3000", false), ("ACME", false)])
    );
    // Another customer sees only its own (none).
    let theirs = app.get("/senders", Some(&other_key)).await;
    assert_eq!(listed(&theirs.body), pairs(&[]));
    // A key may not name another customer.
    app.get(&format!("/senders?user_id={id}"), Some(&other_key))
        .await
        .assert_problem(403);

    // Duplicates, malformed senders, unknown customers, customer keys.
    assert_eq!(
        add(&app, id, "ACME", false).await.assert_problem(409)["type"],
        "/problems/conflict"
    );
    let p = add(&app, id, "TWELVE CHARS", false).await;
    assert!(
        p.assert_problem(400)["errors"]["sender"]
            .as_str()
            .unwrap()
            .contains("1 to 11")
    );
    add(&app, id, "+98A", false).await.assert_problem(400);
    add(&app, 999_999, "ACME", false).await.assert_problem(404);
    app.post(&senders_path(id), Some(&key), &json!({"sender": "MINE"}))
        .await
        .assert_problem(403);
    app.get(&senders_path(999_999), Some(ADMIN_TOKEN))
        .await
        .assert_problem(404);

    // Setting the default moves it; the case of a name counts.
    let path = format!("{}/ACME/default", senders_path(id));
    let r = app
        .request("PUT", &path, Some(ADMIN_TOKEN), &[], None)
        .await;
    r.assert_status(200);
    assert_eq!(
        listed(&r.body),
        pairs(&[("ACME", true), ("+989121234567", false), ("3000", false)])
    );
    let path = format!("{}/acme/default", senders_path(id));
    app.request("PUT", &path, Some(ADMIN_TOKEN), &[], None)
        .await
        .assert_problem(404);

    // Removing the default leaves none; removing twice is a 404.
    let path = format!("{}/ACME", senders_path(id));
    let r = app
        .request("DELETE", &path, Some(ADMIN_TOKEN), &[], None)
        .await;
    r.assert_status(200);
    assert_eq!(
        listed(&r.body),
        pairs(&[("+989121234567", false), ("3000", false)])
    );
    app.request("DELETE", &path, Some(ADMIN_TOKEN), &[], None)
        .await
        .assert_problem(404);
    // A sender name with a space travels URL-encoded.
    add(&app, other, "Globex Co", false)
        .await
        .assert_status(201);
    let path = format!("{}/Globex%20Co", senders_path(other));
    app.request("DELETE", &path, Some(ADMIN_TOKEN), &[], None)
        .await
        .assert_status(200);
    app.finish().await;
}

#[tokio::test]
async fn a_customer_has_at_most_fifty_senders() {
    let app = spawn_app().await;
    let (id, _) = app.create_customer("acme", 0).await;
    for i in 0..50 {
        add(&app, id, &format!("S{i:02}"), i == 7)
            .await
            .assert_status(201);
    }
    let p = add(&app, id, "ONEMORE", false).await;
    assert!(
        p.assert_problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("50 senders")
    );
    app.finish().await;
}

#[tokio::test]
async fn a_send_is_checked_against_the_customers_senders_and_refusals_charge_nothing() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 100).await;
    let (other, _) = app.create_customer("globex", 0).await;
    add(&app, id, "ACME", false).await.assert_status(201);
    add(&app, other, "GLOBEX", false).await.assert_status(201);
    let to = json!(["+989121234567"]);

    // Malformed: 400 naming the field.
    let r = app
        .send(
            &key,
            json!({"text": "hi", "recipients": to, "from": "NOT-ELEVEN-CHARS"}),
        )
        .await;
    assert!(r.assert_problem(400)["errors"]["from"].is_string());
    // Well-formed, but another customer's (or nobody's): 403, with and without a key.
    for from in ["GLOBEX", "+989120000000", "acme"] {
        let p = app
            .send(&key, json!({"text": "hi", "recipients": to, "from": from}))
            .await;
        let p = p.assert_problem(403);
        assert_eq!(p["type"], "/problems/unknown-sender");
        assert!(p["detail"].as_str().unwrap().contains(from));
    }
    let idem = app
        .post_with(
            "/sms/send",
            Some(&key),
            &[("Idempotency-Key", "k-1")],
            &json!({"text": "hi", "recipients": to, "from": "GLOBEX"}),
        )
        .await;
    assert_eq!(idem.assert_problem(403)["type"], "/problems/unknown-sender");
    assert_eq!(app.balance_of(id).await, 100);
    assert_eq!(app.count("sms_requests").await, 0);

    // Its own sender: accepted, stored and shown.
    let r = app
        .send(
            &key,
            json!({"text": "hi", "recipients": to, "from": "ACME"}),
        )
        .await;
    r.assert_status(202);
    assert_eq!(r.body["from"], "ACME");
    let sms_id = r.sms_identifier();
    assert_eq!(app.sms_detail(&key, &sms_id).await["from"], "ACME");
    let history = app
        .get(&format!("/sms/history?sms_identifier={sms_id}"), Some(&key))
        .await;
    assert_eq!(history.body["items"][0]["from"], "ACME");

    // No `from` and no default: none.
    let r = app
        .send(&key, json!({"text": "hi", "recipients": to}))
        .await;
    r.assert_status(202);
    assert!(r.body.get("from").is_none());
    assert!(
        app.sms_detail(&key, &r.sms_identifier())
            .await
            .get("from")
            .is_none()
    );
    // No `from` with a default: the default.
    add(&app, id, "3000", true).await.assert_status(201);
    let r = app
        .send(&key, json!({"text": "hi", "recipients": to}))
        .await;
    assert_eq!(r.body["from"], "3000");
    assert_eq!(
        app.sms_detail(&key, &r.sms_identifier()).await["from"],
        "3000"
    );
    assert_eq!(app.balance_of(id).await, 97);
    app.finish().await;
}

#[tokio::test]
async fn a_sender_removed_in_one_process_is_refused_at_once_by_another() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 100).await;
    add(&app, id, "ACME", true).await.assert_status(201);
    let other = app.other_process();
    let body = json!({"text": "hi", "recipients": ["+989121234567"], "from": "ACME"});
    // The other process has the key cached after this.
    other.send(&key, body.clone()).await.assert_status(202);
    let path = format!("{}/ACME", senders_path(id));
    app.request("DELETE", &path, Some(ADMIN_TOKEN), &[], None)
        .await
        .assert_status(200);
    other.send(&key, body).await.assert_problem(403);
    // Its default went with it: a send without `from` has none.
    let r = other
        .send(&key, json!({"text": "hi", "recipients": ["+989121234567"]}))
        .await;
    r.assert_status(202);
    assert!(r.body.get("from").is_none());
    app.finish().await;
}

#[tokio::test]
async fn the_sender_reaches_the_operator_as_from() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = delivering_app(&[("opA", &a)]).await;
    let (id, key) = app.create_customer("acme", 10).await;
    add(&app, id, "ACME", false).await.assert_status(201);
    let with = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567"], "from": "ACME"}),
        )
        .await;
    let without = app
        .send_ok(&key, json!({"text": "hi", "recipients": ["+989121234568"]}))
        .await;
    let client = reqwest::Client::new();
    let status_url = a.url.replace("/send", "/status");
    for (sms_id, expected) in [(&with, Some("ACME")), (&without, None)] {
        app.wait_for_status(&key, sms_id, &["SENT"]).await;
        let status_id = app.status_ids(sms_id).await[0];
        let reference = sms_gateway::operators::wire::reference(sms_id, status_id);
        let found: Value = client
            .get(format!("{status_url}?reference={reference}"))
            .bearer_auth(&a.key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(found["from"].as_str(), expected, "{found}");
    }
    app.finish().await;
}
