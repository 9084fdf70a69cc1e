//! The mock operator over real HTTP: keys, failure rates, deduplication, the status
//! endpoint, delivery reports and their re-posting; `in_doubt.rs`: a slow deduplicating
//! mock in front of the registry.

mod in_doubt;

use super::*;
use crate::operators::wire::DeliveryReportBody;

async fn start(config: MockOperatorConfig) -> (String, Arc<MockStats>, CancellationToken) {
    let op = MockOperator::new(config);
    let stats = op.stats();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(op.serve(listener, stop.clone()));
    (url, stats, stop)
}

fn msg() -> OperatorSend {
    OperatorSend {
        to: "+989121234567".into(),
        text: "hi".into(),
        reference: "r1".into(),
        from: None,
    }
}

#[tokio::test]
async fn accepts_with_an_id_and_checks_the_key() {
    let (url, stats, stop) = start(MockOperatorConfig {
        api_key: Some("k1".into()),
        latency: Duration::ZERO,
        ..Default::default()
    })
    .await;
    let http = reqwest::Client::new();
    let ok = http
        .post(format!("{url}/send"))
        .bearer_auth("k1")
        .json(&msg())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let body: OperatorAccepted = ok.json().await.unwrap();
    assert!(body.message_id.starts_with("mock-"));
    let bad = http
        .post(format!("{url}/send"))
        .bearer_auth("nope")
        .json(&msg())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let s = stats.snapshot();
    assert_eq!((s.received, s.accepted, s.unauthorized), (2, 1, 1));
    stop.cancel();
}

#[tokio::test]
async fn failure_rates_answer_5xx_and_4xx() {
    let http = reqwest::Client::new();
    for (fail, reject, expected) in [(1.0, 0.0, 503), (0.0, 1.0, 400)] {
        let (url, stats, stop) = start(MockOperatorConfig {
            latency: Duration::ZERO,
            fail_rate: fail,
            reject_rate: reject,
            ..Default::default()
        })
        .await;
        let r = http
            .post(format!("{url}/send"))
            .json(&msg())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expected);
        assert_eq!(stats.snapshot().accepted, 0);
        stop.cancel();
    }
}

#[tokio::test]
async fn above_max_rps_it_answers_429_with_retry_after_and_takes_nothing() {
    let (url, stats, stop) = start(MockOperatorConfig {
        latency: Duration::ZERO,
        max_rps: Some(3),
        ..Default::default()
    })
    .await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..5 {
        let mut m = msg();
        m.reference = format!("r{i}");
        let r = http.post(format!("{url}/send")).json(&m).send().await;
        let r = r.unwrap();
        if r.status() == 429 {
            assert_eq!(r.headers()["retry-after"], "1");
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let s = stats.snapshot();
    assert_eq!((s.received, s.accepted, s.rate_limited), (5, 3, 2));
    stop.cancel();
}

#[tokio::test]
async fn reports_delivery_back() {
    let receiver = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dlr_url = format!("http://{}/dlr/mock", receiver.local_addr().unwrap());
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Option<String>, DeliveryReportBody)>(1);
    let app = Router::new().route(
        "/dlr/mock",
        post(
            move |headers: HeaderMap, Json(b): Json<DeliveryReportBody>| {
                let tx = tx.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_string());
                    tx.send((auth, b)).await.unwrap();
                    StatusCode::OK
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(receiver, app).await });
    let (url, stats, stop) = start(MockOperatorConfig {
        latency: Duration::ZERO,
        dlr_url: Some(dlr_url),
        dlr_key: Some("dk".into()),
        dlr_delay: Duration::from_millis(10),
        ..Default::default()
    })
    .await;
    let accepted: OperatorAccepted = reqwest::Client::new()
        .post(format!("{url}/send"))
        .json(&msg())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (auth, report) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(auth.as_deref(), Some("Bearer dk"));
    assert_eq!(report.message_id, accepted.message_id);
    assert_eq!(report.status, "DELIVRD");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(stats.snapshot().reports_sent, 1);
    stop.cancel();
}

/// A gateway's `POST /dlr/mock` that answers `answers` in turn (then 200) and keeps every
/// report it was posted.
struct DlrReceiver {
    url: String,
    posted: Arc<Mutex<Vec<DeliveryReportBody>>>,
}

async fn dlr_receiver(answers: Vec<u16>) -> DlrReceiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/dlr/mock", listener.local_addr().unwrap());
    let posted = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(std::collections::VecDeque::from(answers)));
    let app = Router::new().route(
        "/dlr/mock",
        post({
            let posted = posted.clone();
            move |Json(b): Json<DeliveryReportBody>| {
                let posted = posted.clone();
                let answers = answers.clone();
                async move {
                    posted.lock().unwrap().push(b);
                    let code = answers.lock().unwrap().pop_front().unwrap_or(200);
                    StatusCode::from_u16(code).unwrap()
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    DlrReceiver { url, posted }
}

/// Waits until `done` holds (checked every 10 ms), at most 5 s.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn post_send(http: &reqwest::Client, url: &str, reference: &str) -> String {
    let r = http
        .post(format!("{url}/send"))
        .json(&OperatorSend {
            reference: reference.into(),
            from: None,
            ..msg()
        })
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<OperatorAccepted>().await.unwrap().message_id
}

#[tokio::test]
async fn a_repeated_reference_gets_the_first_id_and_is_delivered_once() {
    let dlr = dlr_receiver(vec![]).await;
    let (url, stats, stop) = start(MockOperatorConfig {
        latency: Duration::ZERO,
        dlr_url: Some(dlr.url.clone()),
        dlr_delay: Duration::from_millis(10),
        ..Default::default()
    })
    .await;
    let http = reqwest::Client::new();
    let first = post_send(&http, &url, "sms-1:1").await;
    let again = post_send(&http, &url, "sms-1:1").await;
    let other = post_send(&http, &url, "sms-1:2").await;
    assert_eq!(first, again);
    assert_ne!(first, other);
    eventually("two reports", || stats.snapshot().reports_sent == 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let s = stats.snapshot();
    assert_eq!(
        (s.received, s.accepted, s.repeated, s.reports_sent),
        (3, 2, 1, 2)
    );
    let mut reported: Vec<String> = dlr
        .posted
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.message_id.clone())
        .collect();
    reported.sort();
    let mut expected = vec![first, other];
    expected.sort();
    assert_eq!(reported, expected, "each message reported once");
    stop.cancel();
}

#[tokio::test]
async fn the_oldest_references_are_forgotten_beyond_the_bound() {
    let (url, stats, stop) = start(MockOperatorConfig {
        latency: Duration::ZERO,
        remember: 2,
        ..Default::default()
    })
    .await;
    let http = reqwest::Client::new();
    let a = post_send(&http, &url, "a").await;
    post_send(&http, &url, "b").await;
    assert_eq!(post_send(&http, &url, "a").await, a, "still remembered");
    post_send(&http, &url, "c").await; // forgets a
    assert_ne!(
        post_send(&http, &url, "a").await,
        a,
        "forgotten: a new message"
    );
    let s = stats.snapshot();
    assert_eq!((s.accepted, s.repeated), (4, 1));
    stop.cancel();
}

#[tokio::test]
async fn status_answers_the_message_of_a_reference_and_404_otherwise() {
    let dlr = dlr_receiver(vec![]).await;
    let (url, stats, stop) = start(MockOperatorConfig {
        api_key: Some("k1".into()),
        latency: Duration::ZERO,
        dlr_url: Some(dlr.url.clone()),
        dlr_delay: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let http = reqwest::Client::new();
    let status = |reference: &str, key: &str| {
        http.get(format!("{url}/status?reference={reference}"))
            .bearer_auth(key)
            .send()
    };
    assert_eq!(status("sms-1:1", "k1").await.unwrap().status(), 404);
    let sent = http
        .post(format!("{url}/send"))
        .bearer_auth("k1")
        .json(&OperatorSend {
            reference: "sms-1:1".into(),
            from: None,
            ..msg()
        })
        .send()
        .await
        .unwrap();
    let id = sent.json::<OperatorAccepted>().await.unwrap().message_id;
    let found: MessageStatus = status("sms-1:1", "k1").await.unwrap().json().await.unwrap();
    assert_eq!(
        (found.message_id.as_str(), found.status.as_str()),
        (id.as_str(), "ACCEPTD")
    );
    eventually("the report", || stats.snapshot().reports_sent == 1).await;
    let found: MessageStatus = status("sms-1:1", "k1").await.unwrap().json().await.unwrap();
    assert_eq!(found.status, "DELIVRD");
    assert_eq!(status("sms-1:1", "nope").await.unwrap().status(), 401);
    let no_reference = http
        .get(format!("{url}/status"))
        .bearer_auth("k1")
        .send()
        .await
        .unwrap();
    assert_eq!(no_reference.status(), 400);
    let s = stats.snapshot();
    assert_eq!((s.lookups, s.lookups_found, s.unauthorized), (3, 2, 1));
    stop.cancel();
}

#[tokio::test]
async fn a_report_answered_503_is_posted_again_until_accepted() {
    let dlr = dlr_receiver(vec![503, 503]).await;
    let (url, stats, stop) = start(MockOperatorConfig {
        latency: Duration::ZERO,
        dlr_url: Some(dlr.url.clone()),
        dlr_delay: Duration::from_millis(10),
        dlr_retry_delay: Duration::from_millis(20),
        ..Default::default()
    })
    .await;
    let id = post_send(&reqwest::Client::new(), &url, "r1").await;
    eventually("the report accepted", || stats.snapshot().reports_sent == 1).await;
    let s = stats.snapshot();
    assert_eq!((s.reports_failed, s.reports_given_up), (2, 0));
    let posted = dlr.posted.lock().unwrap().clone();
    assert_eq!(posted.len(), 3);
    assert!(
        posted
            .iter()
            .all(|r| r.message_id == id && r.status == "DELIVRD")
    );
    stop.cancel();
}

#[tokio::test]
async fn a_report_is_given_up_after_its_tries_or_at_shutdown() {
    let dlr = dlr_receiver(vec![503; 10]).await;
    let (url, stats, stop) = start(MockOperatorConfig {
        latency: Duration::ZERO,
        dlr_url: Some(dlr.url.clone()),
        dlr_delay: Duration::from_millis(10),
        dlr_tries: 3,
        dlr_retry_delay: Duration::from_millis(10),
        ..Default::default()
    })
    .await;
    post_send(&reqwest::Client::new(), &url, "r1").await;
    eventually("the report given up", || {
        stats.snapshot().reports_given_up == 1
    })
    .await;
    let s = stats.snapshot();
    assert_eq!((s.reports_failed, s.reports_sent), (3, 0));
    assert_eq!(dlr.posted.lock().unwrap().len(), 3);
    stop.cancel();

    // A report waiting for its next try is abandoned when the mock stops.
    let dlr = dlr_receiver(vec![503; 10]).await;
    let (url, stats, stop) = start(MockOperatorConfig {
        latency: Duration::ZERO,
        dlr_url: Some(dlr.url.clone()),
        dlr_delay: Duration::from_millis(10),
        dlr_retry_delay: Duration::from_secs(60),
        ..Default::default()
    })
    .await;
    post_send(&reqwest::Client::new(), &url, "r1").await;
    eventually("the first try", || stats.snapshot().reports_failed == 1).await;
    stop.cancel();
    eventually("the report abandoned", || {
        stats.snapshot().reports_given_up == 1
    })
    .await;
    assert_eq!(dlr.posted.lock().unwrap().len(), 1);
}
