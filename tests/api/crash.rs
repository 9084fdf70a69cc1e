//! The real `sms-gateway` binary, killed with SIGKILL (or stopped with SIGTERM) while it
//! accepts and delivers, then started again: no accepted message is lost, none is refunded,
//! the ledger holds, each recipient reaches the operator once and almost no call repeats.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde_json::json;
use sms_gateway::mock_operator::MockOperatorConfig;

use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app_with_broker, spawn_mock_operator};

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where a started gateway's log goes: the terminal with `TEST_LOG=1`, else this file.
fn log_path(port: u16) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("sms-gateway-crash-test-{port}.log"))
}

/// Starts the gateway binary; `lease` is its DELIVERY_LEASE_SECS.
fn start(app: &TestApp, port: u16, operators: &str, lease: u64) -> Gateway {
    let cfg = &app.state.config;
    let log = || -> Stdio {
        if std::env::var_os("TEST_LOG").is_some() {
            return Stdio::inherit();
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path(port))
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null())
    };
    let child = Command::new(env!("CARGO_BIN_EXE_sms-gateway"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", cfg.database.url.expose_secret())
        .env("AMQP_URL", cfg.amqp.url.expose_secret())
        .env("AMQP_EXCHANGE", &cfg.amqp.exchange)
        .env("AMQP_QUEUE_NORMAL", &cfg.amqp.queue_normal)
        .env("AMQP_QUEUE_EXPRESS", &cfg.amqp.queue_express)
        .env("ADMIN_TOKEN", ADMIN_TOKEN)
        .env("OPERATORS", operators)
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("OUTBOX_LEASE_SECS", "2")
        .env("DELIVERY_LEASE_SECS", lease.to_string())
        .env("RUST_LOG", "warn,sms_gateway::startup=info")
        // TEST_LOG=1 shows the gateway's own log lines.
        .stdout(log())
        .stderr(log())
        .spawn()
        .expect("start sms-gateway");
    Gateway(child)
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the gateway did not become ready");
}

#[tokio::test]
async fn sigkill_under_load_loses_nothing_and_refunds_nothing() {
    stop_under_load(Stop::Kill).await;
}

#[tokio::test]
async fn sigterm_under_load_drains_and_leaves_nothing_claimed() {
    stop_under_load(Stop::Term).await;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    Kill,
    Term,
}

async fn stop_under_load(how: Stop) {
    let op = spawn_mock_operator(MockOperatorConfig {
        name: "opA".into(),
        api_key: Some("opA-key-0123456789".into()),
        latency: Duration::from_millis(20),
        ..Default::default()
    })
    .await;
    let stats = op.stats.clone();
    // Timeouts short enough for the lease of 3 s (DELIVERY_LEASE_SECS must cover them).
    let operators = json!([{"name": "opA", "url": op.url, "api_key": op.key, "timeout_ms": 200,
        "status_url": op.url.replace("/send", "/status")}])
    .to_string();

    let app = spawn_app_with_broker(&[("OPERATORS", &operators)]).await;
    let (id, key) = app.create_customer("acme", 100_000).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    let _ = std::fs::remove_file(log_path(port));
    // After a kill the restart waits for the dead process's leases: 3 s keeps that short.
    // A graceful stop leaves nothing leased (asserted below), so its test takes a lease no
    // slow machine runs out under a live worker: a repeated call there is the stop's doing.
    let lease = match how {
        Stop::Kill => 3,
        Stop::Term => 30,
    };
    let gateway = start(&app, port, &operators, lease);
    wait_ready(&http, &base).await;

    // Eight clients send until the process dies under them.
    // Accepted requests with their recipient counts.
    let accepted = Arc::new(tokio::sync::Mutex::new(Vec::<(String, i64)>::new()));
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..8 {
        let (http, base, key, accepted) =
            (http.clone(), base.clone(), key.clone(), accepted.clone());
        clients.spawn(async move {
            for i in 0..10_000 {
                // Every eighth request is a bulk of 40 recipients: more than one delivery
                // chunk, so a stop cuts requests half sent.
                let recipients: Vec<String> = if i % 8 == 7 {
                    (0..40).map(|k| format!("+98914{c:01}{i:04}{k:02}")).collect()
                } else {
                    vec![format!("+98912{c:03}{i:04}"), format!("+98913{c:03}{i:04}")]
                };
                let n = recipients.len() as i64;
                let body = json!({"text": "hi", "type": if i % 4 == 0 { "express" } else { "normal" },
                    "recipients": recipients});
                match http.post(format!("{base}/sms/send")).bearer_auth(&key).json(&body).send().await {
                    Ok(r) if r.status() == 202 => {
                        let v: serde_json::Value = r.json().await.unwrap();
                        accepted.lock().await.push((v["sms_identifier"].as_str().unwrap().to_string(), n));
                    }
                    // The process died: outcome unknown for this one; stop.
                    _ => return,
                }
            }
        });
    }
    // Stop once real traffic has flowed, however fast this machine is right now.
    let deadline = Instant::now() + Duration::from_secs(60);
    while accepted.lock().await.len() < 50 {
        assert!(
            Instant::now() < deadline,
            "the gateway accepted fewer than 50 sends in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    match how {
        Stop::Kill => drop(gateway), // SIGKILL
        Stop::Term => {
            let mut gateway = gateway;
            let pid = gateway.0.id().to_string();
            Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            let started = Instant::now();
            let status = loop {
                if let Some(status) = gateway.0.try_wait().unwrap() {
                    break status;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(40),
                    "no exit after SIGTERM"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            assert!(status.success(), "graceful shutdown exits 0: {status}");
            // A graceful stop logs no error (the broker connection closed under the
            // consumers' last acknowledgements did, from lapin).
            if std::env::var_os("TEST_LOG").is_none() {
                let log = std::fs::read_to_string(log_path(port)).unwrap_or_default();
                let errors: Vec<&str> = log
                    .lines()
                    .filter(|l| l.contains("\"level\":\"ERROR\""))
                    .collect();
                assert!(
                    errors.is_empty(),
                    "errors logged by a graceful stop:\n{}\n\nthe whole log:\n{log}",
                    errors.join("\n")
                );
                assert!(
                    log.contains("SIGTERM received"),
                    "the gateway's log was not captured:\n{log}"
                );
            }
            // Nothing stays claimed: publishers stop between rounds, workers settle what
            // they took before exiting.
            assert_eq!(
                app.claimed_outbox_rows().await,
                0,
                "outbox rows left claimed by a clean shutdown"
            );
            assert_eq!(
                app.leased_recipients().await,
                0,
                "recipients left leased by a clean shutdown"
            );
        }
    }
    while clients.join_next().await.is_some() {}
    let accepted = accepted.lock().await.clone();
    assert!(
        accepted.len() >= 50,
        "too little traffic before the kill: {}",
        accepted.len()
    );

    let _gateway = start(&app, port, &operators, lease);
    // The restarted gateway publishes whatever the stop left in the outbox.
    app.expect_outbox_drained();
    wait_ready(&http, &base).await;
    app.wait_until_every_recipient_is_sent(Duration::from_secs(90), "the restart")
        .await;
    // Every 202 the clients saw is a request whose recipients were all sent.
    for (sms_id, n) in &accepted {
        assert_eq!(
            app.sent_recipients_of(sms_id).await,
            *n,
            "accepted request {sms_id} lost a recipient"
        );
    }
    assert_eq!(
        app.refund_count().await,
        0,
        "nothing failed, so nothing may be refunded"
    );
    let rows = app.count("sms_status").await as u64;
    let charged = app.total_charged().await;
    assert_eq!(
        charged as u64,
        rows + app.recipients_of_type("express").await as u64,
        "each recipient charged exactly its price"
    );
    assert_eq!(app.balance_of(id).await, 100_000 - charged);
    // Towards the operator: every recipient delivered exactly once (the operator honours the
    // reference, and a recipient taken again is looked up before it is sent), and almost no
    // call repeated: a stop cuts at most the calls in flight, and those are found by lookup.
    let seen = stats.snapshot();
    eprintln!(
        "accepted before the stop: {} requests; recipients: {rows}; operator accepted: {}, \
         repeated calls: {}, lookups: {} (found {})",
        accepted.len(),
        seen.accepted,
        seen.repeated,
        seen.lookups,
        seen.lookups_found
    );
    assert_eq!(seen.accepted, rows, "each recipient delivered once");
    match how {
        Stop::Term => assert_eq!(seen.repeated, 0, "a graceful stop repeats no call"),
        Stop::Kill => assert!(
            seen.repeated * 100 <= rows,
            "{} of {rows} calls repeated after a kill (more than 1 %)",
            seen.repeated
        ),
    }
    app.finish().await;
}
