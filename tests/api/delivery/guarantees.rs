//! Delivery guarantees, without sleeps: each send is recorded as its call returns; every
//! settlement is fenced by the attempt that took the recipient; bad operator answers poison
//! nothing; attempts are capped; the pause is a barrier in the take transaction.
//!
//! The operator here is in-process ([`Scripted`]): it answers each recipient as its test
//! says, and can hold a call until the test lets it go.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sms_gateway::db::delivery::{self, Taken};
use sms_gateway::db::sent::{self, Acceptance, Recorded};
use sms_gateway::operators::{
    BreakerSettings, OperatorError, OperatorRegistry, OutboundSms, SendFuture, SmsOperator,
};
use sms_gateway::worker::{DeliveryContext, DeliveryError, deliver_request};
use tokio::sync::Notify;

use crate::helpers::{TestApp, spawn_app};

/// What the scripted operator does with one recipient.
#[derive(Clone)]
enum Answer {
    /// 200 with this message id.
    Id(String),
    /// Waits until [`Scripted::release`], then 200 with this id.
    HeldThenId(String),
    /// 503.
    Unavailable,
}

/// Run on each call with the call's number.
type Hook = Box<dyn Fn(u64) + Send + Sync>;

/// An operator answering per recipient (`to`); unknown recipients get `m-<to>`.
struct Scripted {
    answers: Mutex<HashMap<String, Answer>>,
    calls: AtomicU64,
    /// Run on each call before answering (e.g. pause dispatch from "inside" a send).
    on_call: Mutex<Option<Hook>>,
    release: Notify,
}

impl Scripted {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            answers: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
            on_call: Mutex::new(None),
            release: Notify::new(),
        })
    }

    fn answer(&self, to: &str, answer: Answer) {
        self.answers.lock().unwrap().insert(to.to_string(), answer);
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl SmsOperator for Scripted {
    fn name(&self) -> &str {
        "opS"
    }

    fn send<'a>(&'a self, sms: &'a OutboundSms) -> SendFuture<'a> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some(hook) = self.on_call.lock().unwrap().as_ref() {
                hook(n);
            }
            let answer = self.answers.lock().unwrap().get(&sms.to).cloned();
            match answer {
                None => Ok(format!("m-{}", sms.to)),
                Some(Answer::Id(id)) => Ok(id),
                Some(Answer::HeldThenId(id)) => {
                    self.release.notified().await;
                    Ok(id)
                }
                Some(Answer::Unavailable) => Err(OperatorError::Retryable("503".into())),
            }
        })
    }
}

/// A delivery context sending through `op` alone.
fn context(app: &TestApp, op: &Arc<Scripted>, max_attempts: u32) -> DeliveryContext {
    let registry = OperatorRegistry::from_operators(
        vec![(
            op.clone() as Arc<dyn SmsOperator>,
            BreakerSettings {
                failures: 1_000,
                ..Default::default()
            },
            SecretString::from("opS-key-0123456789"),
        )],
        &[],
    );
    DeliveryContext::new(
        app.db.clone(),
        Arc::new(registry),
        Duration::from_secs(3_600),
        Duration::from_secs(60),
        4,
        2,
        max_attempts,
    )
}

fn numbers(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("+9891230{i:05}")).collect()
}

/// Statuses of a request's recipients, in id order.
async fn statuses(app: &TestApp, sms_id: &str) -> Vec<String> {
    app.status_rows(sms_id)
        .await
        .into_iter()
        .map(|(_, status, _)| status)
        .collect()
}

#[tokio::test]
async fn each_send_is_recorded_as_its_call_returns_not_with_its_chunk() {
    let app = spawn_app().await;
    let (_, key) = app.create_customer("acme", 100).await;
    let to = numbers(3);
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": to}))
        .await;
    let op = Scripted::new();
    // The first answers at once; the two others wait for the test.
    op.answer(&to[1], Answer::HeldThenId("m-1".into()));
    op.answer(&to[2], Answer::HeldThenId("m-2".into()));
    let ctx = Arc::new(context(&app, &op, 30));
    let request_id = app.request_id(&sms_id).await;
    let running = tokio::spawn({
        let ctx = ctx.clone();
        async move { deliver_request(&ctx, request_id).await }
    });
    // The first is SENT while the others of its chunk are still at the operator.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = statuses(&app, &sms_id).await;
        if now[0] == "SENT" {
            assert_eq!(now[1..], ["SENDING", "SENDING"], "{now:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first send was not recorded while the others were in flight: {now:?}"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    op.release.notify_waiters();
    // Notify only wakes waiters present now: keep notifying until both have answered.
    while !running.is_finished() {
        op.release.notify_waiters();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let summary = running.await.unwrap().unwrap();
    assert_eq!(summary.sent, 3);
    assert_eq!(op.calls(), 3);
    assert_eq!(statuses(&app, &sms_id).await, ["SENT", "SENT", "SENT"]);
    app.finish().await;
}

#[tokio::test]
async fn a_worker_whose_lease_ran_out_can_neither_record_refund_nor_retry_a_newer_attempt() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 100).await;
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": numbers(2)}))
        .await;
    let ids = app.status_ids(&sms_id).await;
    let (status_id, other_id) = (ids[0], ids[1]);
    let request_id = app.request_id(&sms_id).await;
    let request = sms_gateway::db::messages::request_by_id(&app.db, request_id)
        .await
        .unwrap()
        .unwrap();

    // Worker 1 takes it (attempt 1); its lease runs out; worker 2 takes it (attempt 2).
    let first = delivery::claim_many(&app.db, &ids, 60).await.unwrap();
    assert_eq!(first.taken[0].attempts, 1);
    app.strand_every_recipient_with_a_dead_worker().await;
    let second = delivery::claim_many(&app.db, &ids, 60).await.unwrap();
    assert_eq!(second.taken[0].attempts, 2);
    let stale = Taken {
        id: status_id,
        attempt: 1,
    };

    // Worker 1 comes back: each of its settlements finds a newer attempt and does nothing.
    let stale_sent = sent::record(
        &app.db,
        &[Acceptance {
            id: status_id,
            attempt: 1,
            operator: "opS".into(),
            message_id: "stale".into(),
            customer_id: 1,
            callbacks: false,
        }],
    )
    .await;
    assert_eq!(stale_sent[0].1.as_ref().unwrap(), &Recorded::Fenced);
    let refunded = delivery::fail_and_refund(&app.db, &request, stale, "x", None)
        .await
        .unwrap();
    assert_eq!(refunded, None, "a stale worker refunded a newer attempt");
    let retried = delivery::schedule_retry(&app.db, &request, stale, "x", 0, 0)
        .await
        .unwrap();
    assert!(!retried, "a stale worker scheduled a retry");
    assert_eq!(statuses(&app, &sms_id).await, ["SENDING", "SENDING"]);
    assert_eq!(app.refund_count().await, 0);

    // Worker 2's own record holds, also in one batch with a stale acceptance of the other
    // recipient, which is fenced alone.
    let acceptance = |id, attempt, message_id: &str| Acceptance {
        id,
        attempt,
        operator: "opS".into(),
        message_id: message_id.into(),
        customer_id: 1,
        callbacks: false,
    };
    let mixed = sent::record(
        &app.db,
        &[
            acceptance(status_id, 2, "fresh"),
            acceptance(other_id, 1, "stale-2"),
        ],
    )
    .await;
    let outcome = |id| {
        mixed
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, r)| r.as_ref().unwrap().clone())
    };
    assert_eq!(outcome(status_id), Some(Recorded::Sent));
    assert_eq!(outcome(other_id), Some(Recorded::Fenced));
    let other = sent::record(&app.db, &[acceptance(other_id, 2, "fresh-2")]).await;
    assert_eq!(other[0].1.as_ref().unwrap(), &Recorded::Sent);
    let rows = app.status_rows(&sms_id).await;
    assert_eq!(rows[0].1, "SENT");
    assert_eq!(app.balance_of(id).await, 98);
    // The outbox row the request was accepted with was never published in this test.
    app.expect_claimed_outbox_rows(0);
    app.finish().await;
}

#[tokio::test]
async fn bad_message_ids_are_recorded_without_poisoning_their_batch() {
    let app = spawn_app().await;
    let (_, key) = app.create_customer("acme", 100).await;
    let to = numbers(5);
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": to}))
        .await;
    let op = Scripted::new();
    // Two recipients answered with the same id, one with an id too long to store, one with a
    // control character, one good.
    op.answer(&to[0], Answer::Id("same".into()));
    op.answer(&to[1], Answer::Id("same".into()));
    op.answer(&to[2], Answer::Id("x".repeat(300)));
    op.answer(&to[3], Answer::Id("bad\nid".into()));
    let ctx = context(&app, &op, 30);
    let request_id = app.request_id(&sms_id).await;
    let summary = deliver_request(&ctx, request_id).await.unwrap();
    assert_eq!(summary.sent, 5, "{summary:?}");
    assert_eq!(op.calls(), 5, "each recipient sent once");
    assert_eq!(statuses(&app, &sms_id).await, ["SENT"; 5]);

    let detail = app.sms_detail(&key, &sms_id).await;
    let messages = detail["messages"].as_array().unwrap();
    let ids: Vec<&serde_json::Value> = messages.iter().map(|m| &m["provider_message_id"]).collect();
    // Exactly one of the two "same" keeps the id; the other is SENT without it.
    let same = ids[..2].iter().filter(|v| **v == "same").count();
    assert_eq!(same, 1, "{ids:?}");
    assert!(ids[2].is_null() && ids[3].is_null(), "{ids:?}");
    assert_eq!(ids[4], &format!("m-{}", to[4]));
    let sent_detail = |m: &serde_json::Value| {
        m["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["status"] == "SENT")
            .and_then(|e| e["detail"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert!(sent_detail(&messages[2]).contains("longer than 128"));
    assert!(sent_detail(&messages[3]).contains("control characters"));

    // Delivering the request again sends nothing.
    let again = deliver_request(&ctx, request_id).await.unwrap();
    assert_eq!(again.sent, 0);
    assert_eq!(op.calls(), 5);
    app.expect_claimed_outbox_rows(0);
    app.finish().await;
}

#[tokio::test]
async fn attempts_are_capped_then_failed_with_a_reason_and_refunded_once() {
    let app = spawn_app().await;
    let (id, key) = app.create_customer("acme", 100).await;
    let to = numbers(2);
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": to}))
        .await;
    assert_eq!(app.balance_of(id).await, 98);
    let op = Scripted::new();
    op.answer(&to[0], Answer::Unavailable);
    op.answer(&to[1], Answer::Unavailable);
    let ctx = context(&app, &op, 2);
    let request_id = app.request_id(&sms_id).await;

    // Attempt 1 of 2: both retried.
    let first = deliver_request(&ctx, request_id).await.unwrap();
    assert_eq!(first.retrying, 2, "{first:?}");
    // Not before the retry is due.
    let early = deliver_request(&ctx, request_id).await.unwrap();
    assert_eq!(early, Default::default(), "taken before the retry was due");
    assert_eq!(op.calls(), 2);
    // Attempt 2 of 2 fails for good: FAILED with the last errors, refunded.
    app.make_retries_due().await;
    let second = deliver_request(&ctx, request_id).await.unwrap();
    assert_eq!(second.failed, 2, "{second:?}");
    assert_eq!(op.calls(), 4);
    let detail = app.sms_detail(&key, &sms_id).await;
    for m in detail["messages"].as_array().unwrap() {
        assert_eq!(m["status"], "FAILED");
        let reason = m["failure_reason"].as_str().unwrap();
        assert!(
            reason.starts_with("gave up after 2 attempts: opS"),
            "{reason}"
        );
    }
    assert_eq!(app.refund_count().await, 2);
    assert_eq!(app.balance_of(id).await, 100);

    // A recipient whose takes ran past the cap without an answer (crashes) is failed at its
    // next take without an operator call.
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": [to[0]]}))
        .await;
    let status_id = app.status_ids(&sms_id).await[0];
    // Taken twice by workers that died mid-send: SENDING, attempts 2, lease run out.
    sqlx::query(
        "update sms_status set status = 'SENDING', attempts = 2, \
         locked_until = now(6) - interval 1 second where id = ?",
    )
    .bind(status_id)
    .execute(&app.db)
    .await
    .unwrap();
    let request_id = app.request_id(&sms_id).await;
    let summary = deliver_request(&ctx, request_id).await.unwrap();
    assert_eq!(summary.failed, 1);
    assert_eq!(op.calls(), 4, "no call past the cap");
    let detail = app.sms_detail(&key, &sms_id).await;
    assert_eq!(
        detail["messages"][0]["failure_reason"],
        "gave up after 2 attempts"
    );
    assert_eq!(app.refund_count().await, 3);
    app.finish().await;
}

#[tokio::test]
async fn after_the_pause_answers_no_recipient_is_taken_and_resume_loses_nothing() {
    let app = spawn_app().await;
    let (_, key) = app.create_customer("acme", 100).await;
    // 40 recipients: two chunks (32 + 8).
    let sms_id = app
        .send_ok(&key, json!({"text": "hi", "recipients": numbers(40)}))
        .await;
    let request_id = app.request_id(&sms_id).await;
    let op = Scripted::new();
    let ctx = context(&app, &op, 30);

    // Paused before anything: the take refuses, nothing reaches the operator.
    let r = app
        .post(
            "/admin/dispatch/pause",
            Some(crate::helpers::ADMIN_TOKEN),
            &json!({}),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.body["paused"], true);
    assert_eq!(r.body["in_flight"], 0);
    assert!(matches!(
        deliver_request(&ctx, request_id).await,
        Err(DeliveryError::Paused)
    ));
    assert_eq!(op.calls(), 0);
    assert_eq!(statuses(&app, &sms_id).await, vec!["PENDING"; 40]);

    // Paused while the first chunk is at the operator (from inside its first call): that
    // chunk was taken before and finishes; the second chunk is not taken.
    sms_gateway::db::dispatch::set_paused(&app.db, false)
        .await
        .unwrap();
    let url = app.state.config.database.url.expose_secret().to_string();
    let in_flight = Arc::new(AtomicU64::new(u64::MAX));
    let seen = in_flight.clone();
    *op.on_call.lock().unwrap() = Some(Box::new(move |n| {
        if n == 1 {
            let (url, seen) = (url.clone(), seen.clone());
            // The hook is synchronous and holds up the test's runtime: pause on a thread,
            // runtime and connection of its own, and wait for the commit.
            std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().unwrap();
                let n = rt.block_on(async {
                    let db = sqlx::MySqlPool::connect(&url).await.unwrap();
                    sms_gateway::db::dispatch::set_paused(&db, true).await
                });
                seen.store(n.unwrap(), Ordering::SeqCst);
            })
            .join()
            .unwrap();
        }
    }));
    assert!(matches!(
        deliver_request(&ctx, request_id).await,
        Err(DeliveryError::Paused)
    ));
    assert_eq!(
        in_flight.load(Ordering::SeqCst),
        32,
        "the first chunk was in flight"
    );
    assert_eq!(
        op.calls(),
        32,
        "only the chunk taken before the pause was sent"
    );
    let now = statuses(&app, &sms_id).await;
    assert_eq!(now.iter().filter(|s| *s == "SENT").count(), 32);
    assert_eq!(now.iter().filter(|s| *s == "PENDING").count(), 8);

    // A worker that sees the pause after its take but before its call gives the recipient
    // back unsent.
    *op.on_call.lock().unwrap() = None;
    sms_gateway::db::dispatch::set_paused(&app.db, false)
        .await
        .unwrap();
    ctx.mirror_paused(true);
    assert!(matches!(
        deliver_request(&ctx, request_id).await,
        Err(DeliveryError::Paused)
    ));
    assert_eq!(op.calls(), 32);
    assert_eq!(app.leased_recipients().await, 0, "given back, not held");

    // Resumed: the rest goes out once.
    ctx.mirror_paused(false);
    let summary = deliver_request(&ctx, request_id).await.unwrap();
    assert_eq!(summary.sent, 8);
    assert_eq!(op.calls(), 40, "every recipient sent exactly once");
    assert_eq!(statuses(&app, &sms_id).await, vec!["SENT"; 40]);
    app.finish().await;
}
