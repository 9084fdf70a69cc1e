//! RabbitMQ settings: the URL (a secret), the exchange and lane queues, prefetch.

use super::SecretUrl;
use super::reader::Reader;

/// RabbitMQ.
#[derive(Clone, Debug)]
pub struct AmqpConfig {
    /// `AMQP_URL` (may hold a password).
    pub url: SecretUrl,
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
        Self {
            url: r.url(
                "AMQP_URL",
                "amqp://guest:guest@127.0.0.1:5672/%2f",
                &["amqp://", "amqps://"],
            ),
            exchange: r.string("AMQP_EXCHANGE", "sms"),
            queue_normal: r.string("AMQP_QUEUE_NORMAL", "sms.normal"),
            queue_express: r.string("AMQP_QUEUE_EXPRESS", "sms.express"),
            prefetch: r.ranged("AMQP_PREFETCH", 64, 1, 10_000),
            quorum_queues: r.bool("AMQP_QUORUM_QUEUES", false),
        }
    }
}
