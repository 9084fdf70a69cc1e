//! Concurrent sends: nobody overdrafts, and group commit keeps every request whole.

use serde_json::json;

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn concurrent_sends_never_overdraft() {
    let app = spawn_app_with(&[("DB_MAX_CONNECTIONS", "20")]).await;
    let (id, key) = app.create_customer("acme", 100).await;
    let app = std::sync::Arc::new(app);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let app = app.clone();
        let key = key.clone();
        tasks.spawn(async move {
            app.send(
                &key,
                json!({"text": "hi", "recipients": [format!("+98912{:07}", 1_000_000 + i)]}),
            )
            .await
            .status
            .as_u16()
        });
    }
    let mut accepted = 0;
    let mut refused = 0;
    while let Some(status) = tasks.join_next().await {
        match status.unwrap() {
            202 => accepted += 1,
            402 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((accepted, refused), (100, 100));
    assert_eq!(app.balance_of(id).await, 0);
    assert_eq!(app.count("sms_status").await, 100);
    assert_eq!(app.count("outbox_events").await, 100);
    let app = std::sync::Arc::into_inner(app).unwrap();
    app.finish().await;
}

/// Group commit: many concurrent requests of several customers, single and multi-recipient,
/// partial and not, share transactions; each one is still all-or-nothing, nobody overdrafts,
/// and every accepted request has exactly its rows.
#[tokio::test]
async fn group_commit_keeps_every_request_whole_and_never_overdrafts() {
    sms_gateway::metrics::install();
    let app = std::sync::Arc::new(spawn_app_with(&[("DB_MAX_CONNECTIONS", "20")]).await);
    let mut customers = Vec::new();
    for (name, balance) in [("a", 40), ("b", 0), ("c", 75), ("d", 7)] {
        customers.push(app.create_customer(name, balance).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300usize {
        let app = app.clone();
        let (_, key) = customers[i % customers.len()].clone();
        let recipients: Vec<String> = (0..1 + i % 3)
            .map(|r| format!("+98912{:07}", 1_000_000 + i * 10 + r))
            .collect();
        let body = json!({
            "text": "hi",
            "recipients": recipients,
            "type": if i % 5 == 0 { "express" } else { "normal" },
            "allow_partial": i % 7 == 0,
        });
        tasks.spawn(async move {
            let r = app.send(&key, body).await;
            (r.status.as_u16(), r.body)
        });
    }
    let mut charged = std::collections::HashMap::<String, i64>::new();
    let mut recipients = std::collections::HashMap::<String, i64>::new();
    while let Some(done) = tasks.join_next().await {
        let (status, body) = done.unwrap();
        match status {
            202 => {
                let id = body["sms_identifier"].as_str().unwrap().to_string();
                recipients.insert(id.clone(), body["recipients"].as_i64().unwrap());
                charged.insert(id, body["cost"].as_i64().unwrap());
            }
            402 => {}
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert!(!charged.is_empty(), "some requests were accepted");
    let spent: i64 = charged.values().sum();
    let mut left = 0;
    for (id, _) in &customers {
        let balance = app.balance_of(*id).await;
        assert!(balance >= 0, "customer {id} overdrafted: {balance}");
        left += balance;
    }
    assert_eq!(
        spent + left,
        40 + 75 + 7,
        "every credit is either spent or left"
    );
    for (sms_id, want) in &recipients {
        let rows = app.status_ids(sms_id).await.len() as i64;
        assert_eq!(
            rows, *want,
            "{sms_id}: one status row per accepted recipient"
        );
        assert_eq!(
            app.outbox_rows_of(sms_id).await,
            1,
            "{sms_id}: one outbox row"
        );
        assert_eq!(
            app.charged_for(sms_id).await,
            charged[sms_id],
            "{sms_id}: its charge is in the ledger"
        );
    }
    assert_eq!(app.count("sms_requests").await, charged.len() as i64);
    // The requests did share transactions.
    let scrape = sms_gateway::metrics::render();
    let value = |name: &str| -> f64 {
        scrape
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let (requests, transactions) = (
        value("smsgw_intake_batch_size_sum"),
        value("smsgw_intake_batch_size_count"),
    );
    assert!(
        requests > transactions,
        "{requests} requests in {transactions} transactions: nothing was grouped"
    );
    let app = std::sync::Arc::into_inner(app).unwrap();
    app.finish().await;
}
