//! RabbitMQ: one supervised connection per process, reconnected with jittered backoff when the
//! broker goes away. Publishers and consumers open their channels from it.

pub mod topology;

use std::sync::Arc;
use std::time::Duration;

use lapin::{Connection, ConnectionProperties};
use secrecy::ExposeSecret;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::backoff::{Backoff, sleep_or_stop};
use crate::config::{AmqpConfig, SecretUrl};

/// A supervised broker connection.
pub struct Broker {
    url: SecretUrl,
    name: String,
    current: watch::Sender<Option<Arc<Connection>>>,
}

impl Broker {
    /// A broker handle; nothing connects until [`Broker::run_until_stopped`] runs.
    pub fn new(config: &AmqpConfig, connection_name: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            url: config.url.clone(),
            name: connection_name.into(),
            current: watch::Sender::new(None),
        })
    }

    /// Closes the connection (after shutdown, once every channel user has finished). Closing
    /// it while consumers still acknowledged made lapin log a connection error on every
    /// graceful stop, and their acknowledgements failed.
    pub async fn close(&self) {
        if let Some(conn) = self.current.send_replace(None) {
            let _ = conn.close(200, "shutdown".into()).await;
        }
    }

    /// True while a connection is open.
    pub fn is_connected(&self) -> bool {
        self.current
            .borrow()
            .as_ref()
            .is_some_and(|c| c.status().connected())
    }

    /// The open connection, waiting for one (or for `stop`) when there is none.
    pub async fn connection(&self, stop: &CancellationToken) -> Option<Arc<Connection>> {
        let mut rx = self.current.subscribe();
        loop {
            if let Some(conn) = rx.borrow_and_update().as_ref()
                && conn.status().connected()
            {
                return Some(conn.clone());
            }
            tokio::select! {
                _ = stop.cancelled() => return None,
                changed = rx.changed() => if changed.is_err() { return None },
                // A connection that died between two notifications is seen on the next tick.
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    /// Connects, watches the connection, reconnects with backoff; returns when `stop` fires,
    /// leaving the connection open for the consumers and publishers still finishing (their
    /// acknowledgements and confirms need it): [`Broker::close`] closes it once they are done.
    pub async fn run_until_stopped(self: Arc<Self>, stop: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        while !stop.is_cancelled() {
            let props =
                ConnectionProperties::default().with_connection_name(self.name.clone().into());
            let attempt = tokio::select! {
                _ = stop.cancelled() => break,
                r = Connection::connect(self.url.expose_secret(), props) => r,
            };
            match attempt {
                Ok(conn) => {
                    tracing::info!("connected to RabbitMQ");
                    backoff.reset();
                    let conn = Arc::new(conn);
                    self.current.send_replace(Some(conn.clone()));
                    loop {
                        if sleep_or_stop(Duration::from_millis(250), &stop).await {
                            break;
                        }
                        if !conn.status().connected() {
                            tracing::warn!("RabbitMQ connection lost; reconnecting");
                            break;
                        }
                    }
                    if stop.is_cancelled() {
                        break;
                    }
                    self.current.send_replace(None);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot connect to RabbitMQ; retrying");
                }
            }
            if backoff.wait(&stop).await {
                break;
            }
        }
    }
}
