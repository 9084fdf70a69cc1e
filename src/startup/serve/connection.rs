//! One HTTP connection: hyper's HTTP/1.1 connection around the router, and the watch that
//! closes it when a request's head is too slow or the connection idles too long.
//!
//! The connection is in one of three phases ([`Phase`]): reading a request's head (from the
//! connection's start, or from the first byte after an idle spell), busy (requests in flight,
//! from hyper's call of the service until the response body is written or dropped), or idle.
//! The socket wrapper ([`Tracked`]) sees the first byte, the service wrapper ([`Tracking`])
//! sees requests start and finish; the watch ([`Activity::timed_out`]) sleeps until the
//! deadline of the current phase. A timed-out connection is dropped (its socket closed):
//! nothing is in flight on it.

use std::convert::Infallible;
use std::io;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::Limits;
use crate::metrics::{self, HttpTimeout};

/// Serves one connection until it closes, times out, or drains after `stop`.
pub(super) async fn serve(
    stream: TcpStream,
    app: Router,
    limits: Limits,
    stop: CancellationToken,
    _slot: OwnedSemaphorePermit,
) {
    let _open = Open::count();
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let service = Tracking {
        app,
        activity: activity.clone(),
    };
    let mut conn = pin!(
        http1::Builder::new()
            .keep_alive(true)
            .header_read_timeout(None)
            .serve_connection(io, service)
    );
    let mut timed_out = pin!(activity.timed_out(limits));
    let mut draining = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(error = %e, "HTTP connection ended with an error");
                }
                return;
            }
            reason = &mut timed_out => {
                metrics::http_connection_timed_out(reason);
                tracing::debug!(reason = reason.as_str(), "HTTP connection closed");
                return;
            }
            () = stop.cancelled(), if !draining => {
                // Idle: closed now; a request in flight: answered, then closed.
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Counts an open connection for its lifetime.
struct Open;

impl Open {
    fn count() -> Self {
        metrics::http_connections_open(1.0);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::http_connections_open(-1.0);
    }
}

/// What a connection is doing, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request's head: from the connection's start or a later request's first
    /// byte.
    Head(Instant),
    /// This many requests in flight.
    Busy(usize),
    /// Keep-alive, no request since then.
    Idle(Instant),
}

/// A connection's phase, shared by its socket, its service and its watch.
struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            phase: Mutex::new(Phase::Head(Instant::now())),
            changed: Notify::new(),
        }
    }

    fn update(&self, change: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        let next = change(*phase);
        if next != *phase {
            *phase = next;
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: on an idle connection, a request's head has started.
    fn bytes_arrived(&self) {
        self.update(|p| match p {
            Phase::Idle(_) => Phase::Head(Instant::now()),
            p => p,
        });
    }

    /// A request started (hyper read its head); in flight until the guard drops.
    fn request_started(self: &Arc<Self>) -> InFlight {
        self.update(|p| match p {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        });
        InFlight(self.clone())
    }

    /// Resolves when the current phase outlives its limit.
    async fn timed_out(&self, limits: Limits) -> HttpTimeout {
        loop {
            let phase = *self.phase.lock().unwrap_or_else(|e| e.into_inner());
            let (deadline, reason) = match phase {
                Phase::Head(since) => (since + limits.header_timeout, HttpTimeout::Header),
                Phase::Idle(since) => (since + limits.idle_timeout, HttpTimeout::Idle),
                Phase::Busy(_) => {
                    self.changed.notified().await;
                    continue;
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {
                    if *self.phase.lock().unwrap_or_else(|e| e.into_inner()) == phase {
                        return reason;
                    }
                }
                () = self.changed.notified() => {}
            }
        }
    }
}

/// A request in flight; dropped when its response body is written (or the request dropped).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.update(|p| match p {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        });
    }
}

/// The socket, telling the connection's [`Activity`] when bytes arrive.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The router as hyper's service, marking each request in flight until its response body
/// is done.
#[derive(Clone)]
struct Tracking {
    app: Router,
    activity: Arc<Activity>,
}

impl hyper::service::Service<Request<Incoming>> for Tracking {
    type Response = Response<Guarded>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.request_started();
        let app = self.app.clone();
        Box::pin(async move {
            let response = app.oneshot(req.map(Body::new)).await?;
            Ok(response.map(|body| Guarded {
                body,
                _in_flight: in_flight,
            }))
        })
    }
}

/// A response body holding its request in flight.
struct Guarded {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
