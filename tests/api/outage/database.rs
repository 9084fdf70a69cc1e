//! The database restarted (SIGTERM) and killed (SIGKILL) under load: every `POST /sms/send`
//! answer is 202 or 503, nothing answered 503 was charged, every 202 is delivered, and the
//! ledger holds. Fails without the lookup of commits of unknown outcome (a commit cut by the
//! outage was answered 500 or 503 while it had happened) and without time bounds (requests
//! hanging on dead connections until the request timeout, charged behind its 503).

use std::sync::Arc;
use std::time::Duration;

use super::{Load, assert_nothing_lost};
use crate::helpers::own_services::OwnMariaDb;
use crate::helpers::{Services, mock, operators_json, services, spawn_app_with_broker_on};

#[derive(Clone, Copy, Debug)]
enum Outage {
    Restart,
    Kill,
}

#[tokio::test]
async fn a_database_restart_under_load_loses_nothing_and_answers_202_or_503() {
    database_outage_under_load(Outage::Restart).await;
}

#[tokio::test]
async fn a_database_sigkill_under_load_loses_nothing_and_answers_202_or_503() {
    database_outage_under_load(Outage::Kill).await;
}

async fn database_outage_under_load(outage: Outage) {
    // Every commit waits up to 100 ms in the server (binlog group commit), as on a slow
    // disk: the outage then always cuts commits in flight, the window this test is about.
    let own = Arc::new(
        tokio::task::spawn_blocking(|| {
            OwnMariaDb::start_with(&[
                "--log-bin=binlog",
                "--sync-binlog=1",
                "--binlog-commit-wait-count=64",
                "--binlog-commit-wait-usec=100000",
            ])
        })
        .await
        .unwrap(),
    );
    let shared = services().await;
    let keep: Box<dyn std::any::Any + Send + Sync> = Box::new(own.clone());
    let services = Services::at(own.url(), shared.amqp_url.clone(), vec![keep]);
    let op = mock("opA", 0.0, 0.0).await;
    let app = spawn_app_with_broker_on(
        services,
        &[
            ("OPERATORS", &operators_json(&[("opA", &op)])),
            ("DB_MAX_CONNECTIONS", "20"),
            ("DB_ACQUIRE_TIMEOUT_MS", "1000"),
            ("INTAKE_TIMEOUT_MS", "2000"),
            ("INTAKE_RESOLVE_TIMEOUT_MS", "7000"),
            ("REQUEST_TIMEOUT_MS", "10000"),
            ("DELIVERY_LEASE_SECS", "10"),
            ("OUTBOX_LEASE_SECS", "2"),
        ],
    )
    .await;
    app.run_pipeline();
    let opening = 10_000_000;
    let (customer, key) = app.create_customer("acme", opening).await;
    let app = Arc::new(app);

    // Eight clients keep group-commit batches of several requests in flight; a lone request
    // is one too. Three kills: each lands on whichever batch is committing.
    let load = Load::start(&app, &key, 8);
    load.wait_for_more(50, Duration::from_secs(60)).await;
    let times = match outage {
        Outage::Restart => 1,
        Outage::Kill => 3,
    };
    for _ in 0..times {
        let db = own.clone();
        tokio::task::spawn_blocking(move || {
            match outage {
                Outage::Restart => db.stop(),
                Outage::Kill => db.kill(),
            }
            std::thread::sleep(Duration::from_secs(1));
            db.run();
        })
        .await
        .unwrap();
        // Intake recovers once the server is back.
        load.wait_for_more(50, Duration::from_secs(60)).await;
    }
    let answers = load.finish().await;

    let (accepted, unavailable) =
        assert_nothing_lost(&app, customer, opening, &answers, true).await;
    eprintln!(
        "{outage:?}: {accepted} requests accepted, {unavailable} answered 503; operator calls: {}",
        op.stats.snapshot().accepted
    );
    let app = Arc::try_unwrap(app).ok().expect("the load has ended");
    app.finish().await;
}
