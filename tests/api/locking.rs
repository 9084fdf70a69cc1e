//! The delivery path's locking reads lock the rows they ask for and nothing else.
//!
//! `claim_many` and `sent::record` read their recipients by id `for update`. Left to itself
//! the optimizer may read them through `idx_sms_status_lease (status, locked_until)` instead
//! of the primary key, and then locks every SENDING (or PENDING) row of the table on its way:
//! two lanes recording their sends deadlocked that way (CI, 2026-11-30), and the loser's
//! recipients stayed SENDING until their lease ran out. Here another transaction holds one
//! row that a batch does not ask for; the batch must not wait for it.

use std::time::Duration;

use serde_json::json;
use sms_gateway::db::sent::{self, Acceptance, Recorded};
use sms_gateway::db::{delivery, ledger, outbox};

use crate::helpers::{add_attempt, spawn_app};

#[tokio::test]
async fn taking_and_recording_recipients_never_waits_for_rows_they_do_not_name() {
    let app = spawn_app().await;
    let (_, key) = app.create_customer("locks", 1_000).await;
    let recipients: Vec<String> = (0..32).map(|i| format!("+9891200000{i:02}")).collect();
    let first = app
        .send_ok(&key, json!({"text": "a", "recipients": recipients}))
        .await;
    let second = app
        .send_ok(&key, json!({"text": "b", "recipients": recipients}))
        .await;
    let sending = app.status_ids(&first).await;
    let pending = app.status_ids(&second).await;
    let limit = Duration::from_secs(5);

    // All 32 of the first request SENDING; another transaction holds the last one.
    let taken = delivery::claim_many(&app.db, &sending, 60).await.unwrap();
    assert_eq!(taken.taken.len(), 32);
    let held = app.hold_status_row(sending[31]).await;
    let sent: Vec<Acceptance> = sending[..16]
        .iter()
        .map(|id| Acceptance {
            id: *id,
            attempt: 1,
            operator: "opA".into(),
            message_id: format!("opA-{id}"),
            customer_id: 1,
            callbacks: false,
        })
        .collect();
    let moved = tokio::time::timeout(limit, sent::record(&app.db, &sent))
        .await
        .expect("recording 16 sends waited for a row it does not record");
    let mut moved: Vec<(i64, Recorded)> =
        moved.into_iter().map(|(id, r)| (id, r.unwrap())).collect();
    moved.sort_by_key(|(id, _)| *id);
    assert_eq!(
        moved,
        sending[..16]
            .iter()
            .map(|id| (*id, Recorded::Sent))
            .collect::<Vec<_>>()
    );
    drop(held);

    // The second request's rows PENDING; another transaction holds the last one.
    let held = app.hold_status_row(pending[31]).await;
    let taken = tokio::time::timeout(limit, delivery::claim_many(&app.db, &pending[..16], 60))
        .await
        .expect("taking 16 recipients waited for a row it does not take")
        .unwrap();
    assert_eq!(
        taken.taken.iter().map(|r| r.id).collect::<Vec<_>>(),
        pending[..16].to_vec()
    );
    drop(held);
    app.finish().await;
}

#[tokio::test]
async fn the_loser_of_a_deadlock_runs_again_and_both_commit() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    let app = spawn_app().await;
    let (_, key) = app.create_customer("deadlock", 1_000).await;
    let sms = app
        .send_ok(
            &key,
            json!({"text": "a", "recipients": ["+989120000001", "+989120000002"]}),
        )
        .await;
    let ids = app.status_ids(&sms).await;
    // Both take their first row, meet, then ask for the other's: InnoDB rolls one back.
    let meet = Arc::new(tokio::sync::Barrier::new(2));
    let runs = Arc::new(AtomicU32::new(0));
    let crossing = |first: i64, second: i64| {
        let (db, meet, runs) = (app.db.clone(), meet.clone(), runs.clone());
        let mine = Arc::new(AtomicU32::new(0));
        async move {
            sms_gateway::db::retry_transient(3, || {
                let (db, meet, runs, mine) = (db.clone(), meet.clone(), runs.clone(), mine.clone());
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    let mut tx = db.begin().await?;
                    for (step, id) in [first, second].into_iter().enumerate() {
                        if step == 1 && mine.fetch_add(1, Ordering::SeqCst) == 0 {
                            meet.wait().await;
                        }
                        add_attempt(&mut tx, id).await?;
                    }
                    tx.commit().await
                }
            })
            .await
        }
    };
    let (a, b) = tokio::time::timeout(
        Duration::from_secs(20),
        futures::future::join(crossing(ids[0], ids[1]), crossing(ids[1], ids[0])),
    )
    .await
    .expect("the crossing transactions never finished");
    a.unwrap();
    b.unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 3, "one deadlock, one repeat");
    let attempts = app.attempts_of(&[ids[0], ids[1]]).await;
    assert_eq!(attempts, vec![2, 2], "each transaction committed once");
    app.finish().await;
}

#[tokio::test]
async fn publishers_and_group_commit_never_wait_for_rows_they_do_not_name() {
    let app = spawn_app().await;
    let mut customers = Vec::new();
    for i in 0..8 {
        customers.push(app.create_customer(&format!("c{i}"), 1_000).await);
    }
    for (_, key) in &customers {
        app.send_ok(key, json!({"text": "a", "recipients": ["+989120000001"]}))
            .await;
    }
    let limit = Duration::from_secs(5);

    // Publisher p1 claims all 8 outbox rows; another transaction holds the last one.
    let claimed = outbox::claim(&app.db, 0, 100, "p1").await.unwrap();
    assert_eq!(claimed.len(), 8);
    let ids: Vec<i64> = claimed.iter().map(|r| r.id).collect();
    let held = app.hold_row("outbox_events", "id", ids[7]).await;
    let released = tokio::time::timeout(limit, outbox::release(&app.db, &ids[..2], "p1", 0, "x"))
        .await
        .expect("releasing 2 rows waited for a row it does not release")
        .unwrap();
    assert_eq!(released, 2);
    let deleted = tokio::time::timeout(limit, outbox::delete_published(&app.db, &ids[2..7], "p1"))
        .await
        .expect("deleting 5 published rows waited for a row it does not delete")
        .unwrap();
    assert_eq!(deleted, 5);
    drop(held);
    // Released rows wait until due, then join the fair order again.
    outbox::promote_due(&app.db, 0, 0, 100).await.unwrap();
    let claimed = tokio::time::timeout(limit, outbox::claim(&app.db, 0, 100, "p2"))
        .await
        .expect("claiming waited")
        .unwrap();
    assert_eq!(claimed.len(), 2, "the 2 released rows");

    // Group commit locks and debits the balances of its batch's customers only.
    let held = app.hold_balance(customers[7].0).await;
    let users: Vec<i64> = customers[..4].iter().map(|(id, _)| *id).collect();
    let mut tx = app.db.begin().await.unwrap();
    let balances = tokio::time::timeout(limit, ledger::lock_balances(&mut tx, &users))
        .await
        .expect("locking 4 balances waited for another customer's")
        .unwrap();
    assert_eq!(balances.len(), 4);
    let charges: Vec<ledger::Charge> = users
        .iter()
        .map(|id| ledger::Charge {
            debit: 1,
            state: balances[id].state,
        })
        .collect();
    let covered = tokio::time::timeout(limit, ledger::charge_many(&mut tx, &charges, &[]))
        .await
        .expect("debiting 4 balances waited for another customer's")
        .unwrap();
    assert!(covered);
    tx.rollback().await.unwrap();
    drop(held);
    // Nothing publishes in this test: p1 still holds the row it neither released nor
    // deleted, p2 the 2 released rows it claimed again.
    app.expect_claimed_outbox_rows(3);
    app.finish().await;
}
