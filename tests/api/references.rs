//! Customer references (docs/API.md "Customer references"): `reference` on a send comes back in
//! the send response, the detail (request and recipients), the recipient events and the
//! history, whose `reference=` filter finds the caller's rows only; a bad reference is a 400
//! that charges nothing; the operators never see it (their `reference` is the gateway's own).

use serde_json::json;

use crate::helpers::{delivering_app, mock, spawn_app};

#[tokio::test]
async fn a_reference_round_trips_and_filters_the_callers_history() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 100).await;
    let (_, other_key) = app.create_customer("globex", 100).await;
    let to = json!(["+989121234567", "+989127654321"]);
    let r = app
        .send(
            &key,
            json!({"text": "hi", "recipients": to, "reference": "order-4821/ü"}),
        )
        .await;
    r.assert_status(202);
    assert_eq!(r.body["reference"], "order-4821/ü");
    let sms_id = r.sms_identifier();
    app.send_ok(
        &key,
        json!({"text": "hi", "recipients": to, "reference": "order-4822"}),
    )
    .await;
    app.send_ok(&key, json!({"text": "hi", "recipients": to}))
        .await;
    // Another customer's rows with the same reference stay its own.
    app.send_ok(
        &other_key,
        json!({"text": "hi", "recipients": to, "reference": "order-4821/ü"}),
    )
    .await;

    let detail = app.sms_detail(&key, &sms_id).await;
    assert_eq!(detail["reference"], "order-4821/ü");
    for m in detail["messages"].as_array().unwrap() {
        assert_eq!(m["reference"], "order-4821/ü");
    }
    let events = app
        .get(
            &format!("/sms/{sms_id}/recipients/%2B989121234567/events"),
            Some(&key),
        )
        .await;
    events.assert_status(200);
    assert_eq!(events.body["reference"], "order-4821/ü");

    let page = app
        .get("/sms/history?reference=order-4821%2F%C3%BC", Some(&key))
        .await;
    page.assert_status(200);
    let items = page.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", page.text);
    for item in items {
        assert_eq!(item["sms_identifier"], sms_id.as_str());
        assert_eq!(item["reference"], "order-4821/ü");
    }
    // Exact: another case or a prefix finds nothing; an empty filter is no filter.
    for q in ["ORDER-4821%2F%C3%BC", "order-482"] {
        let r = app
            .get(&format!("/sms/history?reference={q}"), Some(&key))
            .await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 0, "{q}");
    }
    let all = app.get("/sms/history?reference=", Some(&key)).await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 6);
    // Rows without one show none.
    assert!(all.body["items"][0].get("reference").is_none());
    let long = "x".repeat(65);
    let r = app
        .get(&format!("/sms/history?reference={long}"), Some(&key))
        .await;
    assert!(r.assert_problem(400)["errors"]["reference"].is_string());
    assert_eq!(app.balance_of(id).await, 94);
    app.finish().await;
}

#[tokio::test]
async fn a_bad_reference_is_refused_and_charges_nothing() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 100).await;
    for bad in [String::new(), "x".repeat(65), "a\nb".to_string()] {
        let r = app
            .send(
                &key,
                json!({"text": "hi", "recipients": ["+989121234567"], "reference": bad}),
            )
            .await;
        assert!(
            r.assert_problem(400)["errors"]["reference"].is_string(),
            "{bad:?}"
        );
    }
    // 64 characters (not bytes) are fine.
    let ok = "ü".repeat(64);
    let r = app
        .send(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567"], "reference": ok}),
        )
        .await;
    r.assert_status(202);
    assert_eq!(r.body["reference"], ok.as_str());
    assert_eq!(app.balance_of(id).await, 99);
    app.finish().await;
}

#[tokio::test]
async fn the_operator_gets_the_gateways_reference_not_the_customers() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = delivering_app(&[("opA", &a)]).await;
    let (_, key) = app.create_customer("acme", 10).await;
    let sms_id = app
        .send_ok(
            &key,
            json!({"text": "hi", "recipients": ["+989121234567"], "reference": "mine"}),
        )
        .await;
    app.wait_for_status(&key, &sms_id, &["SENT"]).await;
    let status_id = app.status_ids(&sms_id).await[0];
    let client = reqwest::Client::new();
    let status_url = a.url.replace("/send", "/status");
    let lookup = |reference: String| {
        client
            .get(format!("{status_url}?reference={reference}"))
            .bearer_auth(&a.key)
            .send()
    };
    let gateways = sms_gateway::operators::wire::reference(&sms_id, status_id);
    assert_eq!(lookup(gateways).await.unwrap().status(), 200);
    assert_eq!(lookup("mine".into()).await.unwrap().status(), 404);
    app.finish().await;
}
