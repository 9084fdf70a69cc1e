//! The HTTP server's connection limits, over real sockets (raw TCP, so nothing pools or
//! retries): the connection cap makes the next connection wait in the backlog, a stalled
//! request head and an idle keep-alive connection are closed after their timeouts, and a
//! shutdown still answers the request in flight.

use std::net::SocketAddr;
use std::time::Duration;

use sms_gateway::startup::serve::{Limits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app};

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n";

/// The test app's router served with `limits` on an ephemeral port.
struct Server {
    addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

async fn start(app: &TestApp, limits: Limits) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(serve(
        listener,
        app.router.clone(),
        limits,
        stop.clone().cancelled_owned(),
    ));
    Server { addr, stop, task }
}

fn limits(max_connections: usize, header_ms: u64, idle_ms: u64) -> Limits {
    Limits {
        max_connections,
        header_timeout: Duration::from_millis(header_ms),
        idle_timeout: Duration::from_millis(idle_ms),
    }
}

/// One response read from `stream` (head and `content-length` body), or `None` when none
/// arrived within `wait` or the connection closed first.
async fn read_response(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let deadline = Instant::now() + wait;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if bytes.len() >= end + 4 + length {
                return Some(String::from_utf8_lossy(&bytes).to_string());
            }
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
            Ok(Ok(n)) => bytes.extend_from_slice(&chunk[..n]),
        }
    }
}

/// How long after `since` the server closed `stream` (end of file or reset), or `None` if
/// it was still open `wait` after the call.
async fn closed_after(stream: &mut TcpStream, since: Instant, wait: Duration) -> Option<Duration> {
    let deadline = Instant::now() + wait;
    let mut chunk = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(since.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

/// A connection on which one `GET /healthz` was answered (so the server has accepted it).
async fn served_connection(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(HEALTHZ).await.unwrap();
    let response = read_response(&mut stream, Duration::from_secs(5)).await;
    assert!(
        response
            .as_deref()
            .is_some_and(|r| r.starts_with("HTTP/1.1 200")),
        "a connection below the cap is served: {response:?}"
    );
    stream
}

/// The value of a metric sample (`name` followed by its labels, if any) in a scrape.
fn sample(name: &str) -> Option<f64> {
    sms_gateway::metrics::render()
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn at_the_connection_cap_the_next_connection_waits_in_the_backlog_until_one_closes() {
    sms_gateway::metrics::install();
    let app = spawn_app().await;
    let server = start(&app, limits(3, 10_000, 60_000)).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(served_connection(server.addr).await);
    }
    assert_eq!(sample("smsgw_http_connections_open"), Some(3.0));
    assert_eq!(sample("smsgw_http_connections_max"), Some(3.0));

    // The fourth connects (the kernel's backlog takes it) but is not served...
    let mut fourth = TcpStream::connect(server.addr).await.unwrap();
    fourth.write_all(HEALTHZ).await.unwrap();
    assert_eq!(
        read_response(&mut fourth, Duration::from_millis(500)).await,
        None,
        "a fourth connection is served past a cap of 3"
    );
    // ... until one of the three closes; the waiting request is then answered.
    drop(open.pop());
    let response = read_response(&mut fourth, Duration::from_secs(5)).await;
    assert!(
        response
            .as_deref()
            .is_some_and(|r| r.starts_with("HTTP/1.1 200")),
        "the waiting connection is served once a slot is free: {response:?}"
    );
    // Those still open are still served (keep-alive).
    open[0].write_all(HEALTHZ).await.unwrap();
    assert!(
        read_response(&mut open[0], Duration::from_secs(5))
            .await
            .is_some()
    );

    server.stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .expect("the server drains its idle connections at once")
        .unwrap();
    app.finish().await;
}

#[tokio::test]
async fn a_request_head_that_stalls_is_disconnected_after_the_header_timeout() {
    sms_gateway::metrics::install();
    let app = spawn_app().await;
    let server = start(&app, limits(100, 500, 60_000)).await;

    // A head sent in two parts within the timeout is served.
    let mut patient = TcpStream::connect(server.addr).await.unwrap();
    patient.write_all(&HEALTHZ[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    patient.write_all(&HEALTHZ[10..]).await.unwrap();
    assert!(
        read_response(&mut patient, Duration::from_secs(5))
            .await
            .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    );

    // Half a request line, then nothing: closed after the header timeout, not before.
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    let since = Instant::now();
    slow.write_all(b"GET /healthz HT").await.unwrap();
    let closed = closed_after(&mut slow, since, Duration::from_secs(5))
        .await
        .expect("a stalled request head is never disconnected");
    assert!(
        closed >= Duration::from_millis(450),
        "closed before the header timeout: {closed:?}"
    );
    // A connection that sends nothing at all is held no longer.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let since = Instant::now();
    assert!(
        closed_after(&mut silent, since, Duration::from_secs(5))
            .await
            .is_some(),
        "a connection that never sends a request is never disconnected"
    );
    assert_eq!(
        sample("smsgw_http_connections_closed_total{reason=\"header_timeout\"}"),
        Some(2.0)
    );

    server.stop.cancel();
    drop(patient);
    server.task.await.unwrap();
    app.finish().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    sms_gateway::metrics::install();
    let app = spawn_app().await;
    let server = start(&app, limits(100, 5_000, 800)).await;

    let mut stream = served_connection(server.addr).await;
    // Keep-alive: a second request on the same connection within the idle timeout.
    tokio::time::sleep(Duration::from_millis(100)).await;
    stream.write_all(HEALTHZ).await.unwrap();
    assert!(
        read_response(&mut stream, Duration::from_secs(5))
            .await
            .is_some_and(|r| r.starts_with("HTTP/1.1 200")),
        "the connection is kept alive between requests"
    );
    let since = Instant::now();
    let closed = closed_after(&mut stream, since, Duration::from_secs(4))
        .await
        .expect("an idle keep-alive connection is never closed");
    assert!(
        closed >= Duration::from_millis(750),
        "closed before the idle timeout: {closed:?}"
    );
    assert_eq!(
        sample("smsgw_http_connections_closed_total{reason=\"idle_timeout\"}"),
        Some(1.0)
    );
    assert_eq!(sample("smsgw_http_connections_open"), Some(0.0));

    server.stop.cancel();
    server.task.await.unwrap();
    app.finish().await;
}

#[tokio::test]
async fn a_shutdown_answers_the_request_in_flight_closes_idle_connections_and_stops_accepting() {
    let app = spawn_app().await;
    let server = start(&app, limits(100, 5_000, 60_000)).await;
    let mut idle = served_connection(server.addr).await;

    // A request in flight: its handler waits for the rest of the body.
    let body = r#"{"user_id": 999999, "balance": 1, "description": "x"}"#;
    let mut busy = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /balance/add HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    busy.write_all(head.as_bytes()).await.unwrap();
    busy.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    server.stop.cancel();
    let since = Instant::now();
    assert!(
        closed_after(&mut idle, since, Duration::from_secs(2))
            .await
            .is_some(),
        "an idle connection is closed at shutdown"
    );
    let refused = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if TcpStream::connect(server.addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    refused.await.expect("the listener is closed at shutdown");
    assert!(!server.task.is_finished(), "the request in flight was cut");

    busy.write_all(&body.as_bytes()[10..]).await.unwrap();
    let response = read_response(&mut busy, Duration::from_secs(5))
        .await
        .expect("the request in flight is answered");
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "{response}"
    );
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .expect("the server returns once the request in flight is answered")
        .unwrap();
    app.finish().await;
}
