//! The worker's reads of many queue messages at once (`db::slices::load`): each slice gets
//! its own request and exactly its own open recipients, whatever else is in the batch.

use sms_gateway::db::messages;
use sms_gateway::db::slices::{self, SliceKey};

use crate::helpers::spawn_app;

async fn request(app: &crate::helpers::TestApp, customer: i64, id: &str, recipients: usize) -> i64 {
    let to: Vec<String> = (0..recipients).map(|i| format!("+98912{i:07}")).collect();
    let request = messages::NewRequest {
        sms_identifier: id,
        customer_id: customer,
        sms_type: "normal",
        body: id,
        encoding: "GSM-7",
        segments: 1,
        recipients: &to,
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
    let mut tx = app.db.begin().await.unwrap();
    let request_id = messages::insert_request(&mut tx, &request).await.unwrap();
    tx.commit().await.unwrap();
    request_id
}

async fn status_ids(app: &crate::helpers::TestApp, request_id: i64) -> Vec<i64> {
    sqlx::query_scalar("select id from sms_status where request_id = ? order by id")
        .bind(request_id)
        .fetch_all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn slices_loaded_together_each_get_their_own_request_and_open_recipients() {
    let app = spawn_app().await;
    // The requests are written here directly, not through intake (and its daily counters).
    app.expect_daily_counts_untracked();
    let (customer, _) = app.create_customer("acme", 0).await;
    let big = request(&app, customer, "big", 70).await;
    let one = request(&app, customer, "one", 1).await;
    let three = request(&app, customer, "three", 3).await;
    let big_ids = status_ids(&app, big).await;
    let three_ids = status_ids(&app, three).await;
    // Of `three`: the first is SENT, the second held by a live lease, the third's lease ran
    // out (open again).
    sqlx::query("update sms_status set status = 'SENT' where id = ?")
        .bind(three_ids[0])
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("update sms_status set status = 'SENDING', locked_until = now(6) + interval 60 second where id = ?")
        .bind(three_ids[1])
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("update sms_status set status = 'SENDING', locked_until = now(6) - interval 1 second where id = ?")
        .bind(three_ids[2])
        .execute(&app.db)
        .await
        .unwrap();

    let key = |request_id, after_id| SliceKey {
        request_id,
        after_id,
    };
    let keys = [
        key(big, 0),
        key(one, 0),
        key(i64::MAX, 0),
        key(big, big_ids[64]),
        key(three, 0),
        key(three, three_ids[2]),
        key(one, 0),
    ];
    let loaded = slices::load(&app.db, &keys, 65).await.unwrap();
    assert_eq!(loaded.len(), keys.len());
    let ids = |i: usize| -> Vec<i64> {
        loaded[i]
            .as_ref()
            .unwrap()
            .recipients
            .iter()
            .map(|r| r.id)
            .collect()
    };
    assert_eq!(loaded[0].as_ref().unwrap().request.sms_identifier, "big");
    assert_eq!(ids(0), big_ids[..65].to_vec(), "the first 65, in id order");
    assert_eq!(loaded[1].as_ref().unwrap().request.body, "one");
    assert_eq!(ids(1).len(), 1);
    assert!(loaded[2].is_none(), "no request, no slice");
    assert_eq!(
        ids(3),
        big_ids[65..].to_vec(),
        "the same request from a later slice"
    );
    assert_eq!(ids(4), vec![three_ids[2]], "only the open recipient");
    assert_eq!(
        loaded[4].as_ref().unwrap().recipients[0].recipient,
        "+989120000002"
    );
    // A request read whole in one list still starts after `after_id`, and a request asked
    // for twice is given to both keys.
    assert_eq!(ids(5), Vec::<i64>::new(), "nothing after the last open one");
    assert_eq!(ids(6), ids(1));
    app.finish().await;
}
