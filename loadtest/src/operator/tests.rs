use super::*;
use crate::text::{TextKind, tagged_text};

#[tokio::test]
async fn records_tagged_arrivals_per_run_and_answers_unique_ids() {
    let op = Operator::new(Duration::ZERO);
    let stop = CancellationToken::new();
    let addr = op
        .start("127.0.0.1:0".parse().unwrap(), stop.clone())
        .await
        .unwrap();
    let counter = op.recorder.counter(0xabcd);
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for (text, reference) in [
        (tagged_text(TextKind::Gsm, 0xabcd, 5), "11"),
        (tagged_text(TextKind::Gsm, 0xabcd, 6), "12"),
        (tagged_text(TextKind::Gsm, 0x1, 6), "13"),
        ("untagged".to_string(), "14"),
    ] {
        let r = http
            .post(format!("http://{addr}/send"))
            .bearer_auth("k")
            .json(&OperatorSend {
                to: "+989121234567".into(),
                text,
                reference: reference.into(),
                from: None,
            })
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        ids.push(r.json::<OperatorAccepted>().await.unwrap().message_id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    let mine = op.recorder.arrivals(0xabcd);
    assert_eq!(
        mine.iter()
            .map(|a| (a.seq, a.reference))
            .collect::<Vec<_>>(),
        [(5, 11), (6, 12)]
    );
    assert_eq!(counter.load(Ordering::Relaxed), 2);
    assert_eq!(op.recorder.foreign(0xabcd), 2);
    let get = |path: &str| http.get(format!("http://{addr}{path}")).send();
    let answer: ArrivalsAnswer = get("/arrivals?run=0000abcd")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer.count, 2);
    assert_eq!(answer.arrivals[1].0, 6);
    // A taken reference is found with its id; another is not.
    let found: MessageStatus = get("/status?reference=12")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(ids.contains(&found.message_id));
    let missing = get("/status?reference=99").await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(op.recorder.lookups.load(Ordering::Relaxed), 2);
    assert_eq!(op.recorder.lookups_found.load(Ordering::Relaxed), 1);
    stop.cancel();
}

#[test]
fn a_repeated_reference_gets_the_first_id_and_a_new_reference_for_the_same_message_counts() {
    let r = Recorder::default();
    let tag = Some((7, 1));
    assert_eq!(r.deduplicate("a.1", "id-1", tag, "+1"), None);
    assert_eq!(
        r.deduplicate("a.1", "id-2", tag, "+1").as_deref(),
        Some("id-1")
    );
    assert_eq!(r.repeated.load(Ordering::Relaxed), 1);
    assert_eq!(r.duplicates_delivered.load(Ordering::Relaxed), 0);
    // Another recipient of the same request is no duplicate; the same one under another
    // reference is.
    assert_eq!(r.deduplicate("a.2", "id-3", tag, "+2"), None);
    assert_eq!(r.deduplicate("b.9", "id-4", tag, "+1"), None);
    assert_eq!(r.duplicates_delivered.load(Ordering::Relaxed), 1);
    assert_eq!(reference_key("42"), 42);
    assert_eq!(reference_key("a.1"), reference_key("a.1"));
    assert_ne!(reference_key("a.1"), reference_key("a.2"));
}
