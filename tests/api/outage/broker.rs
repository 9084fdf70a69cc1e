//! The broker restarted under load: intake keeps answering 202 (the outbox holds what is
//! accepted), `/readyz` of the API stays 200 while saying the broker is down, and everything
//! accepted is delivered once the broker is back. Fails where readiness needs the broker in
//! the api role (503 for the whole outage).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Load, assert_nothing_lost};
use crate::helpers::own_services::OwnRabbit;
use crate::helpers::{Services, mock, operators_json, services, spawn_app_with_broker_on};

#[tokio::test]
async fn a_broker_restart_under_load_loses_nothing_and_the_api_stays_ready() {
    let rabbit = Arc::new(tokio::task::spawn_blocking(OwnRabbit::start).await.unwrap());
    let shared = services().await;
    let keep: Box<dyn std::any::Any + Send + Sync> = Box::new(rabbit.clone());
    let services = Services::at(shared.database_server_url.clone(), rabbit.url(), vec![keep]);
    let op = mock("opA", 0.0, 0.0).await;
    let app = spawn_app_with_broker_on(
        services,
        &[
            ("OPERATORS", &operators_json(&[("opA", &op)])),
            ("DELIVERY_LEASE_SECS", "10"),
            ("OUTBOX_LEASE_SECS", "2"),
            ("AMQP_CONFIRM_TIMEOUT_MS", "1000"),
        ],
    )
    .await;
    app.run_pipeline();
    let opening = 10_000_000;
    let (customer, key) = app.create_customer("acme", opening).await;
    let app = Arc::new(app);

    // /readyz of the API, every 100 ms for the whole test.
    let probing = Arc::new(AtomicBool::new(true));
    let probe = {
        let (app, probing) = (app.clone(), probing.clone());
        tokio::spawn(async move {
            let (mut not_ready, mut saw_broker_down) = (Vec::new(), false);
            while probing.load(Ordering::Relaxed) {
                let r = app.get("/readyz", None).await;
                if r.status != 200 {
                    not_ready.push(r.text.clone());
                }
                saw_broker_down |= r.body["broker"] == "down";
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (not_ready, saw_broker_down)
        })
    };

    let load = Load::start(&app, &key, 4);
    load.wait_for_more(100, Duration::from_secs(60)).await;
    let node = rabbit.clone();
    tokio::task::spawn_blocking(move || node.stop())
        .await
        .unwrap();
    // Intake goes on during the outage.
    load.wait_for_more(100, Duration::from_secs(30)).await;
    let node = rabbit.clone();
    tokio::task::spawn_blocking(move || node.restart())
        .await
        .unwrap();
    load.wait_for_more(100, Duration::from_secs(60)).await;
    let answers = load.finish().await;

    let (accepted, _) = assert_nothing_lost(&app, customer, opening, &answers, false).await;
    probing.store(false, Ordering::Relaxed);
    let (not_ready, saw_broker_down) = probe.await.unwrap();
    assert!(
        not_ready.is_empty(),
        "/readyz of the api role failed {} times during the broker outage, e.g. {}",
        not_ready.len(),
        not_ready[0]
    );
    assert!(saw_broker_down, "/readyz never reported the broker down");
    eprintln!(
        "{accepted} requests accepted across the broker restart; operator calls: {}",
        op.stats.snapshot().accepted
    );
    let app = Arc::try_unwrap(app).ok().expect("the load has ended");
    app.finish().await;
}
