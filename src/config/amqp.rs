//! RabbitMQ settings: the URL (a secret), the exchange and lane queues, prefetch.

use std::time::Duration;

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
    /// `AMQP_CONFIRM_TIMEOUT_MS`: how long a publisher waits for a round's publishes and
    /// confirms (a blocked connection, a broker alarm); the rows not confirmed by then are
    /// given back and published again.
    pub confirm_timeout: Duration,
    /// `STRANDED_AFTER_SECS`: a request with recipients still waiting this long, no outbox row
    /// and its lane's queue empty has lost its queue message; the sweeper re-queues it.
    pub stranded_after: Duration,
    /// `QUEUE_READY_RECIPIENTS`: about how many recipients the publishers keep ready in each
    /// lane's queue (beyond what consumers have prefetched); the rest waits in the outbox in
    /// the fair order. Enough to cover a publisher round at full speed, small enough that a
    /// message queued behind them waits little.
    pub ready_recipients: u32,
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
            confirm_timeout: r.millis("AMQP_CONFIRM_TIMEOUT_MS", 5_000, 10, 600_000),
            stranded_after: r.secs("STRANDED_AFTER_SECS", 120, 1, 86_400),
            ready_recipients: r.ranged("QUEUE_READY_RECIPIENTS", 512, 1, 1_000_000),
        }
    }
}
