//! The dispatcher's claim: the events of as many customers as it has free slots, the
//! customers whose events waited longest first, in the due index's order; the others are
//! left unleased for the next round (a round never claims what it cannot post).

use sms_gateway::db::callbacks::{Claimed, claim, totals};

use crate::helpers::spawn_app;

/// Queues an event of `customer` (status row `status_id`) due `due_ms_ago` ms ago.
async fn event(db: &sqlx::MySqlPool, customer: i64, status_id: i64, due_ms_ago: i64) -> i64 {
    sqlx::query(
        "insert into callback_events (customer_id, status_id, status, next_attempt_at) \
         values (?, ?, 'SENT', now(6) - interval ? microsecond)",
    )
    .bind(customer)
    .bind(status_id)
    .bind(due_ms_ago * 1_000)
    .execute(db)
    .await
    .unwrap()
    .last_insert_id() as i64
}

async fn leased(db: &sqlx::MySqlPool) -> Vec<i64> {
    sqlx::query_scalar("select id from callback_events where claimed_until > now(6) order by id")
        .fetch_all(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_claim_takes_the_longest_waiting_customers_it_has_slots_for_and_leases_nothing_else() {
    let app = spawn_app().await;
    let db = &app.db;
    // Customer 7's events waited longest, then 8's (a retry: a later id, due earlier), then
    // 9's; one of 8's is not due yet.
    let a = event(db, 7, 1, 5_000).await;
    let b = event(db, 9, 2, 1_000).await;
    let c = event(db, 7, 3, 3_000).await;
    let d = event(db, 8, 4, 4_000).await;
    let _not_due = event(db, 8, 5, -60_000).await;
    let parked = event(db, 9, 6, 9_000).await;
    sqlx::query("update callback_events set state = 'parked' where id = ?")
        .bind(parked)
        .execute(db)
        .await
        .unwrap();
    assert_eq!(totals(db).await.unwrap(), (5, 1), "the gauges' counts");

    let first = claim(db, &[], 100, 2, 100, 60_000).await.unwrap();
    assert_eq!(
        first,
        Claimed {
            ids: vec![a, d, c],
            peeked: 4
        },
        "the two customers that waited longest, every due event of theirs, in due order"
    );
    assert_eq!(
        leased(db).await,
        vec![a, c, d],
        "only what was claimed is leased"
    );

    // The next round finds customer 9's event (the others are leased).
    let second = claim(db, &[], 100, 2, 100, 60_000).await.unwrap();
    assert_eq!(second.ids, vec![b]);

    // Customers being served are skipped, and nothing is claimed without a free slot.
    sqlx::query("update callback_events set claimed_until = null")
        .execute(db)
        .await
        .unwrap();
    assert_eq!(
        claim(db, &[7, 8], 100, 5, 100, 60_000).await.unwrap().ids,
        vec![b]
    );
    assert!(
        claim(db, &[], 100, 0, 100, 60_000)
            .await
            .unwrap()
            .ids
            .is_empty()
    );
    assert_eq!(leased(db).await, vec![b]);

    // At most `per_customer` events of each customer: the oldest.
    sqlx::query("update callback_events set claimed_until = null")
        .execute(db)
        .await
        .unwrap();
    assert_eq!(
        claim(db, &[], 100, 5, 1, 60_000).await.unwrap().ids,
        vec![a, d, b]
    );
    sqlx::query("update callback_events set claimed_until = null")
        .execute(db)
        .await
        .unwrap();

    // A round looks at `peek` due events at most: the rest waits for the next round.
    let third = claim(db, &[], 1, 5, 100, 60_000).await.unwrap();
    assert_eq!(
        third,
        Claimed {
            ids: vec![a],
            peeked: 1
        }
    );
    app.finish().await;
}
