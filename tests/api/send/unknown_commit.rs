//! A commit whose outcome is unknown (the connection lost during COMMIT, no answer in time) is
//! looked up before the client is answered: the lookup waits until the transaction has ended
//! either way, then tells committed from rolled back, and says "unknown" only when its bound
//! passes first.

use std::time::Duration;

use sms_gateway::intake::resolve::resolve;
use sms_gateway::intake::{Probe, Resolution};

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_lookup_waits_for_the_transaction_then_tells_committed_from_rolled_back() {
    let app = spawn_app().await;
    let (customer, _) = app.create_customer("acme", 10).await;
    for commit in [true, false] {
        let sms_id = uuid::Uuid::new_v4().to_string();
        let tx = app.acceptance_before_its_commit(customer, &sms_id).await;
        let (db, id) = (app.db.clone(), sms_id.clone());
        let looking = tokio::spawn(async move {
            let customers = [customer];
            let probe = Probe {
                customers: &customers,
                sms_identifier: &id,
            };
            resolve(&db, probe, Duration::from_secs(10)).await
        });
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert!(
            !looking.is_finished(),
            "the lookup answered while the transaction was still open"
        );
        if commit {
            tx.commit().await.unwrap();
        } else {
            tx.rollback().await.unwrap();
        }
        let expected = if commit {
            Resolution::Committed
        } else {
            Resolution::NotCommitted
        };
        assert_eq!(looking.await.unwrap(), expected);
    }

    // A transaction that outlives the bound leaves the outcome unknown.
    let sms_id = uuid::Uuid::new_v4().to_string();
    let tx = app.acceptance_before_its_commit(customer, &sms_id).await;
    let probe = Probe {
        customers: &[customer],
        sms_identifier: &sms_id,
    };
    assert_eq!(
        resolve(&app.db, probe, Duration::from_millis(1_500)).await,
        Resolution::Unknown
    );
    tx.rollback().await.unwrap();
    app.finish().await;
}
