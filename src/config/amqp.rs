//! RabbitMQ settings: the URL (a secret), the exchange and lane queues, prefetch.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use super::reader::Reader;
use super::redact_url;

/// RabbitMQ.
#[derive(Clone)]
pub struct AmqpConfig {
    /// `AMQP_URL` (may hold a password).
    pub url: SecretString,
    /// `AMQP_EXCHANGE`: durable direct exchange the outbox publishes to.
    pub exchange: String,
    /// `AMQP_QUEUE_NORMAL`: queue of normal messages.
    pub queue_normal: String,
    /// `AMQP_QUEUE_EXPRESS`: queue of express messages.
    pub queue_express: String,
    /// `AMQP_PREFETCH`: unacknowledged deliveries per consumer channel.
    pub prefetch: u16,
    /// `AMQP_QUORUM_QUEUES`: declare quorum queues (for a RabbitMQ cluster).
    pub quorum_queues: bool,
}

impl AmqpConfig {
    pub(super) fn read(r: &mut Reader) -> Self {
        let amqp = Self {
            url: SecretString::from(r.string("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")),
            exchange: r.string("AMQP_EXCHANGE", "sms"),
            queue_normal: r.string("AMQP_QUEUE_NORMAL", "sms.normal"),
            queue_express: r.string("AMQP_QUEUE_EXPRESS", "sms.express"),
            prefetch: r.ranged("AMQP_PREFETCH", 64, 1, 10_000),
            quorum_queues: r.bool("AMQP_QUORUM_QUEUES", false),
        };
        r.require_scheme("AMQP_URL", &amqp.url, &["amqp://", "amqps://"]);
        amqp
    }
}

impl fmt::Debug for AmqpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpConfig")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("exchange", &self.exchange)
            .field("queue_normal", &self.queue_normal)
            .field("queue_express", &self.queue_express)
            .field("prefetch", &self.prefetch)
            .field("quorum_queues", &self.quorum_queues)
            .finish()
    }
}
