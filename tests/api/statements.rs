//! Batched statements reuse a bounded set of prepared statements (see `db::batch`): a batch of
//! any size never makes a connection prepare a new text past the first few, nor evict (close)
//! one. Driven on a pool of one connection, so the session counters see every statement.

use sms_gateway::db::ledger::{self, Entry, EntryType};
use sms_gateway::db::sent::{self, Acceptance, Recorded};
use sms_gateway::db::{daily, delivery, fair_share, messages, outbox, slices};
use sms_gateway::domain::SmsType;

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn batches_of_every_size_reuse_a_bounded_set_of_prepared_statements() {
    let app = spawn_app_with(&[("DB_MAX_CONNECTIONS", "1")]).await;
    let mut users = Vec::new();
    for i in 0..130 {
        users.push(app.create_customer(&format!("c{i}"), 1_000_000).await.0);
    }
    let recipients: Vec<String> = (0..1_000).map(|i| format!("+98912{i:07}")).collect();
    let (prepared_before, closed_before, conn_before) = app.statement_counters().await;

    // Intake: group-commit batches of 1 to 130 requests (1 to 7 recipients each, with and
    // without a validity), then one request of 1,000 recipients; all rolled back.
    let ids: Vec<String> = (0..130).map(|i| format!("sms-{i}")).collect();
    for (n, many) in (1..=130).map(|n| (n, false)).chain([(1, true)]) {
        let requests: Vec<messages::NewRequest<'_>> = (0..n)
            .map(|i| messages::NewRequest {
                sms_identifier: &ids[i],
                customer_id: users[i],
                sms_type: "normal",
                body: "hello",
                encoding: "GSM-7",
                segments: 1,
                recipients: &recipients[..if many { 1_000 } else { i % 7 + 1 }],
                price_per_segment: 1,
                cost: 1,
                operators: "",
                validity_seconds: (i % 2 == 0).then_some(3_600),
                traceparent: None,
                created_at: chrono::Utc::now(),
                sender: None,
                client_reference: None,
                personal: &[],
                send_at: None,
                callback_url: None,
            })
            .collect();
        let mut tx = app.db.begin().await.unwrap();
        let balances = ledger::lock_balances(&mut tx, &users[..n]).await.unwrap();
        assert_eq!(balances.len(), n);
        let settings = fair_share::settings(&mut tx, &users[..n]).await.unwrap();
        assert_eq!(settings.len(), n);
        fair_share::clocks(&mut *tx).await.unwrap();
        let states: Vec<fair_share::AccountState> = balances.values().map(|a| a.state).collect();
        fair_share::save_states(&mut tx, &states).await.unwrap();
        let charges: Vec<ledger::Charge> = users[..n]
            .iter()
            .map(|u| ledger::Charge {
                debit: 1,
                state: balances[u].state,
            })
            .collect();
        let entries: Vec<(Entry<'_>, i64)> = (0..n)
            .map(|i| {
                let entry = Entry {
                    customer_id: users[i],
                    entry_type: EntryType::Charge,
                    transaction_id: &ids[i],
                    description: None,
                    sms_identifier: Some(&ids[i]),
                };
                (entry, -1)
            })
            .collect();
        assert!(
            ledger::charge_many(&mut tx, &charges, &entries)
                .await
                .unwrap()
        );
        let request_ids = messages::insert_requests(&mut tx, &requests).await.unwrap();
        assert_eq!(request_ids.len(), n);
        let rows: Vec<outbox::NewRow<'_>> = requests
            .iter()
            .zip(&request_ids)
            .map(|(r, id)| outbox::NewRow {
                request_id: *id,
                sms_identifier: r.sms_identifier,
                priority: 0,
                traceparent: None,
                vtime: 0,
                vstep: 10_000,
                recipients: 1,
                send_at: None,
            })
            .collect();
        outbox::insert_many(&mut tx, &rows).await.unwrap();
        let counts: Vec<(daily::Key, daily::Counts)> = requests
            .iter()
            .map(|r| {
                let key = daily::Key::of(r.customer_id, r.created_at, SmsType::Normal);
                (key, counted(r))
            })
            .collect();
        daily::add(&mut tx, &counts).await.unwrap();
        tx.rollback().await.unwrap();
    }

    // Delivery: chunks of 1 to 64 recipients taken and recorded SENT; the outbox rows of the
    // same requests claimed, released and finally published in claims of 1 to 64.
    for n in 1..=64 {
        let mut tx = app.db.begin().await.unwrap();
        let sms_id = format!("d-{n}");
        let request = messages::NewRequest {
            sms_identifier: &sms_id,
            customer_id: users[0],
            sms_type: "normal",
            body: "hello",
            encoding: "GSM-7",
            segments: 1,
            recipients: &recipients[..n],
            price_per_segment: 0,
            cost: 0,
            operators: "",
            validity_seconds: None,
            traceparent: None,
            created_at: chrono::Utc::now(),
            sender: None,
            client_reference: None,
            personal: &[],
            send_at: None,
            callback_url: None,
        };
        let request_id = messages::insert_request(&mut tx, &request).await.unwrap();
        let key = daily::Key::of(users[0], request.created_at, SmsType::Normal);
        daily::add(&mut tx, &[(key, counted(&request))])
            .await
            .unwrap();
        outbox::insert(&mut tx, request_id, &sms_id, 0, None)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let open = delivery::open_recipients(&app.db, request_id, 0, 1_000)
            .await
            .unwrap();
        let status_ids: Vec<i64> = open.iter().map(|r| r.id).collect();
        let taken = delivery::claim_many(&app.db, &status_ids, 30)
            .await
            .unwrap();
        assert_eq!(taken.taken.len(), n);
        let sent: Vec<Acceptance> = status_ids
            .iter()
            .map(|id| Acceptance {
                id: *id,
                attempt: 1,
                operator: "op-a".into(),
                message_id: format!("m-{id}"),
                customer_id: 1,
                callbacks: false,
            })
            .collect();
        let moved = sent::record(&app.db, &sent).await;
        assert_eq!(moved.len(), n);
        assert!(
            moved
                .iter()
                .all(|(_, r)| r.as_ref().unwrap() == &Recorded::Sent)
        );
    }
    // The worker's reads: requests and open recipients of 1 to 64 slices at once.
    let request_ids: Vec<i64> = sqlx::query_scalar("select id from sms_requests order by id")
        .fetch_all(&app.db)
        .await
        .unwrap();
    for n in 1..=slices::MAX_SLICES {
        let keys: Vec<slices::SliceKey> = request_ids
            .iter()
            .cycle()
            .take(n)
            .map(|&request_id| slices::SliceKey {
                request_id,
                after_id: 0,
            })
            .collect();
        let loaded = slices::load(&app.db, &keys, 65).await.unwrap();
        assert_eq!(loaded.len(), n);
        assert!(loaded.iter().all(Option::is_some));
    }
    for limit in 1..=64 {
        let claimed = outbox::claim(&app.db, 0, limit, "owner").await.unwrap();
        assert_eq!(claimed.len(), limit as usize);
        let claimed_ids: Vec<i64> = claimed.iter().map(|r| r.id).collect();
        let released = outbox::release(&app.db, &claimed_ids, "owner", 0, "test")
            .await
            .unwrap();
        assert_eq!(released, u64::from(limit));
        let promoted = outbox::promote_due(&app.db, 0, 0, 1_000).await.unwrap();
        assert_eq!(promoted, u64::from(limit));
    }
    let claimed = outbox::claim(&app.db, 0, 64, "owner").await.unwrap();
    let claimed_ids: Vec<i64> = claimed.iter().map(|r| r.id).collect();
    let deleted = outbox::delete_published(&app.db, &claimed_ids, "owner")
        .await
        .unwrap();
    assert_eq!(deleted, 64);

    let (prepared, closed, conn) = app.statement_counters().await;
    assert_eq!(conn, conn_before, "the pool replaced its connection");
    let prepared = prepared - prepared_before;
    assert_eq!(
        closed - closed_before,
        0,
        "statements were evicted from the cache"
    );
    // Well over 2,000 statements ran; every text is a kind of statement times one of its
    // power-of-two sizes. A text that follows the row count would add hundreds.
    assert!(
        prepared <= 170,
        "{prepared} statements prepared: some text depends on its batch size"
    );
    eprintln!("{prepared} statement texts prepared");
    app.finish().await;
}

/// What intake adds to the daily counters for `request`.
fn counted(request: &messages::NewRequest<'_>) -> daily::Counts {
    let recipients = request.recipients.len() as i64;
    daily::Counts {
        requests: 1,
        recipients,
        segments: recipients * i64::from(request.segments),
        cost: request.cost,
        ..daily::Counts::default()
    }
}
