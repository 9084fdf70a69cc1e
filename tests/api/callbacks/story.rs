//! Issue 14's whole day of a business, end to end: a customer schedules personalized bulks
//! from its sender id with references, cancels one of them before it is due, receives signed
//! callbacks for everything else, and downloads the day's report and the CSV history.

use std::collections::HashSet;

use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock as WireMock, MockServer, ResponseTemplate};

use super::{callback_app, signed_with};
use crate::helpers::{ADMIN_TOKEN, mock};

/// `send_at` this far from now, RFC 3339.
fn in_ms(ms: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::milliseconds(ms))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[tokio::test]
async fn a_business_schedules_personalized_bulks_cancels_one_and_gets_callbacks_report_and_csv() {
    let a = mock("opA", 0.0, 0.0).await;
    let app = callback_app(&[("opA", &a)], &[]).await;
    let (customer, key) = app.create_customer("acme", 100).await;
    app.post(
        &format!("/admin/customers/{customer}/senders"),
        Some(ADMIN_TOKEN),
        &json!({"sender": "ACME", "default": false}),
    )
    .await
    .assert_status(201);
    let hook = MockServer::start().await;
    WireMock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let secret = app.put_callback_url(&key, Some(&hook.uri())).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string();

    // Two personalized bulks from ACME, due in 3 s; texts of different lengths cost
    // different segments (the second text is 2 GSM segments).
    let long = "x".repeat(200);
    let bulk = |n: u32, send_at: &str| {
        json!({"messages": [
            {"to": format!("+98912100000{n}"), "text": "Hi Sara", "reference": format!("o-{n}-1")},
            {"to": format!("+98912200000{n}"), "text": long, "reference": format!("o-{n}-2")}],
            "from": "ACME", "reference": format!("campaign-{n}"), "send_at": send_at})
    };
    let send_at = in_ms(3_000);
    let kept = app.send(&key, bulk(1, &send_at)).await;
    kept.assert_status(202);
    assert_eq!(kept.body["cost"], 3, "1 + 2 segments: {}", kept.body);
    let kept = kept.sms_identifier();
    let dropped = app.send(&key, bulk(2, &send_at)).await;
    dropped.assert_status(202);
    let dropped = dropped.sms_identifier();
    assert_eq!(app.balance_of(customer).await, 94);

    // The second is cancelled before it is due: both recipients, refunded once.
    let c = app
        .post(&format!("/sms/{dropped}/cancel"), Some(&key), &json!({}))
        .await;
    c.assert_status(200);
    assert_eq!(
        (c.body["cancelled"].as_i64(), c.body["refunded"].as_i64()),
        (Some(2), Some(3))
    );
    assert_eq!(app.balance_of(customer).await, 97);

    // The first goes out when due and is delivered; every change reaches the endpoint.
    app.report_all(&key, &a, "opA", &kept, "DELIVRD").await;
    let events = app.dispatch_until(&hook, 6).await;
    let seen: HashSet<(String, String, String)> = events
        .iter()
        .map(|e| {
            assert_eq!(e["from"], "ACME", "{e}");
            (
                e["status"].as_str().unwrap().to_string(),
                e["reference"].as_str().unwrap().to_string(),
                e["sms_identifier"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = |status: &str, reference: &str, id: &str| {
        (status.to_string(), reference.to_string(), id.to_string())
    };
    let expected: HashSet<_> = [
        expect("SENT", "o-1-1", &kept),
        expect("SENT", "o-1-2", &kept),
        expect("DELIVERED", "o-1-1", &kept),
        expect("DELIVERED", "o-1-2", &kept),
        expect("CANCELLED", "o-2-1", &dropped),
        expect("CANCELLED", "o-2-2", &dropped),
    ]
    .into_iter()
    .collect();
    assert_eq!(seen, expected, "{events:?}");
    for r in hook.received_requests().await.unwrap() {
        assert!(
            signed_with(&r, &secret),
            "a POST not signed with the secret"
        );
    }
    // The day's report: two requests, four recipients, two delivered, two cancelled.
    let line = &app.todays_report_line(&key).await;
    let n = |f: &str| line[f].as_i64().unwrap();
    assert_eq!(
        [n("requests"), n("recipients"), n("segments"), n("cost")],
        [2, 4, 6, 6],
        "{line}"
    );
    assert_eq!(
        [
            n("delivered"),
            n("cancelled"),
            n("refunded"),
            n("in_progress")
        ],
        [2, 2, 3, 0],
        "{line}"
    );

    // The CSV history: a header and one row per recipient with its sender and reference.
    let csv = app.get("/sms/history.csv", Some(&key)).await.text;
    let mut rows = csv.lines();
    assert!(
        rows.next()
            .unwrap()
            .starts_with("sms_identifier,recipient,status")
    );
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), 4, "{csv}");
    for (reference, status) in [
        ("o-1-1", "DELIVERED"),
        ("o-1-2", "DELIVERED"),
        ("o-2-1", "CANCELLED"),
        ("o-2-2", "CANCELLED"),
    ] {
        assert!(
            rows.iter().any(|r| r.contains(&format!(",{status},"))
                && r.contains(",ACME,")
                && r.contains(&format!(",{reference},"))),
            "no {reference} {status} row in {csv}"
        );
    }
    app.finish().await;
}
