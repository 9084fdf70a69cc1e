//! Outages of the real services under load, on a MariaDB and a RabbitMQ node of the test's
//! own (`helpers::own_services`; the machine's shared ones are never stopped): the database
//! restarted and killed, the broker restarted, a queue message lost, dead letters replayed.
//! In their own nextest group (`.config/nextest.toml`).

mod broker;
mod database;
mod stranded;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::TestApp;

/// Recipients per request of the load.
pub const RECIPIENTS: usize = 5;

/// One answer of `POST /sms/send` under load.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub sms_identifier: Option<String>,
    pub cost: i64,
    /// Shown when an assertion fails.
    #[expect(dead_code, reason = "read through Debug in assertion messages")]
    pub body: String,
}

/// Clients sending 5-recipient requests back to back until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    tasks: tokio::task::JoinSet<Vec<Answer>>,
}

impl Load {
    /// Starts `clients` clients of customer `key`.
    pub fn start(app: &Arc<TestApp>, key: &str, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for c in 0..clients {
            let (app, key, stop, accepted) =
                (app.clone(), key.to_string(), stop.clone(), accepted.clone());
            tasks.spawn(async move {
                let mut answers = Vec::new();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let base = 9_120_000_000u64 + c as u64 * 10_000_000 + i * RECIPIENTS as u64;
                    let recipients: Vec<String> = (0..RECIPIENTS as u64)
                        .map(|r| format!("+98{}", base + r))
                        .collect();
                    let r = app
                        .send(&key, json!({"text": "hi", "recipients": recipients}))
                        .await;
                    let status = r.status.as_u16();
                    if status == 202 {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    } else {
                        // A 503 asks to retry later; do not spin on a database that is down.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    answers.push(Answer {
                        status,
                        sms_identifier: r.body["sms_identifier"].as_str().map(String::from),
                        cost: r.body["cost"].as_i64().unwrap_or(0),
                        body: r.text,
                    });
                    i += 1;
                }
                answers
            });
        }
        Self {
            stop,
            accepted,
            tasks,
        }
    }

    /// Requests accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Waits until `n` more requests than now were accepted (at most `limit`).
    pub async fn wait_for_more(&self, n: usize, limit: Duration) {
        let target = self.accepted() + n;
        let deadline = Instant::now() + limit;
        while self.accepted() < target {
            assert!(
                Instant::now() < deadline,
                "the load got only {} of {target} acceptances within {limit:?}",
                self.accepted()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the clients and returns every answer.
    pub async fn finish(mut self) -> Vec<Answer> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        while let Some(answers) = self.tasks.join_next().await {
            all.extend(answers.expect("a load client panicked"));
        }
        all
    }
}

/// The checks every outage test ends with: each answer was 202 or 503 (`allow_503`), every
/// 202's recipients were all sent, no request exists that was not answered 202, and the
/// ledger charged exactly the 202s' costs. Returns (accepted, unavailable).
pub async fn assert_nothing_lost(
    app: &TestApp,
    customer: i64,
    opening: i64,
    answers: &[Answer],
    allow_503: bool,
) -> (usize, usize) {
    let odd: Vec<&Answer> = answers
        .iter()
        .filter(|a| !(a.status == 202 || (allow_503 && a.status == 503)))
        .collect();
    assert!(
        odd.is_empty(),
        "{} of {} answers were neither 202 nor an allowed 503, e.g. {:?}",
        odd.len(),
        answers.len(),
        &odd[..odd.len().min(3)]
    );
    let accepted: Vec<&Answer> = answers.iter().filter(|a| a.status == 202).collect();
    let unavailable = answers.len() - accepted.len();

    app.wait_until_every_recipient_is_sent(Duration::from_secs(90), "the outage")
        .await;
    for a in &accepted {
        let sms_id = a
            .sms_identifier
            .as_deref()
            .expect("a 202 names its request");
        assert_eq!(
            app.sent_recipients_of(sms_id).await,
            RECIPIENTS as i64,
            "accepted request {sms_id} lost a recipient"
        );
    }
    assert_eq!(
        app.count("sms_requests").await as usize,
        accepted.len(),
        "requests in the database that were not answered 202 (charged behind a 503?)"
    );
    let charged: i64 = accepted.iter().map(|a| a.cost).sum();
    assert_eq!(
        app.total_charged().await,
        charged,
        "the ledger charged other than the 202s"
    );
    assert_eq!(app.balance_of(customer).await, opening - charged);
    assert_eq!(
        app.refund_count().await,
        0,
        "nothing failed, so nothing was refunded"
    );
    (accepted.len(), unavailable)
}
