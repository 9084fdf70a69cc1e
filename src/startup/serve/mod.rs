//! The HTTP server: serves the router over HTTP/1.1 (keep-alive, through hyper's connection
//! builder) within the limits of docs/OPERATIONS.md's "HTTP connections":
//!
//! - at most `HTTP_MAX_CONNECTIONS` connections at once: at the cap the server stops calling
//!   `accept`, so new connections wait in the kernel's listen backlog instead of failing;
//! - a request's head (request line and headers) must arrive within `HTTP_HEADER_TIMEOUT_MS`
//!   of the connection's start or of the first byte of a later request, and a keep-alive
//!   connection with no request is closed after `HTTP_IDLE_TIMEOUT_SECS` ([`connection`]);
//! - graceful shutdown: when `shutdown` resolves the listener is closed, idle connections
//!   are closed, and those with a request in flight finish it, then close.
//!
//! hyper's own `header_read_timeout` is off: its timer also runs while a keep-alive
//! connection is idle, so it cannot tell a slow head from an idle connection. HTTP/2 is not
//! served: one connection could then carry many requests, past the connection cap.

mod connection;

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::HttpConfig;
use crate::metrics;

/// The connection limits of the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `HTTP_MAX_CONNECTIONS`.
    pub max_connections: usize,
    /// `HTTP_HEADER_TIMEOUT_MS`.
    pub header_timeout: Duration,
    /// `HTTP_IDLE_TIMEOUT_SECS`.
    pub idle_timeout: Duration,
}

impl Limits {
    /// The limits configured for the HTTP API.
    pub fn of(http: &HttpConfig) -> Self {
        Self {
            max_connections: http.max_connections,
            header_timeout: http.header_timeout,
            idle_timeout: http.idle_timeout,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains: returns once every
/// connection has closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) {
    metrics::http_connections_max(limits.max_connections);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let stop = CancellationToken::new();
    let connections = TaskTracker::new();
    let mut shutdown = pin!(shutdown);
    loop {
        // A slot first: at the cap, nothing is accepted and the backlog holds the rest.
        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the slots are never closed"),
        };
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    drop(slot);
                    if !is_connection_error(&e) {
                        // Out of file descriptors, most likely: give connections time to end.
                        tracing::error!(error = %e, "accepting an HTTP connection failed");
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                    continue;
                }
            },
        };
        connections.spawn(connection::serve(
            stream,
            app.clone(),
            limits,
            stop.clone(),
            slot,
        ));
    }
    drop(listener);
    stop.cancel();
    connections.close();
    tracing::debug!(
        connections = connections.len(),
        "HTTP server stopped accepting; draining its connections"
    );
    connections.wait().await;
}

/// An error of one incoming connection, not of the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
