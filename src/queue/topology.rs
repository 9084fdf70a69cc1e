//! The broker topology, declared idempotently at start by every role that uses the broker:
//! a durable direct exchange routing `normal` and `express` to their durable queues, and a
//! dead-letter exchange and queue for messages a consumer rejects as poison.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

use crate::config::AmqpConfig;
use crate::domain::SmsType;

/// Routing key of a lane.
pub fn routing_key(sms_type: SmsType) -> &'static str {
    sms_type.as_str()
}

/// Name of the dead-letter exchange.
pub fn dead_letter_exchange(config: &AmqpConfig) -> String {
    format!("{}.dlx", config.exchange)
}

/// Name of the dead-letter queue.
pub fn dead_letter_queue(config: &AmqpConfig) -> String {
    format!("{}.dead", config.exchange)
}

/// The queue of a lane.
pub fn queue_name(config: &AmqpConfig, sms_type: SmsType) -> &str {
    match sms_type {
        SmsType::Normal => &config.queue_normal,
        SmsType::Express => &config.queue_express,
    }
}

/// Declares exchanges, queues and bindings (a no-op when they exist with the same settings).
pub async fn declare(channel: &Channel, config: &AmqpConfig) -> Result<(), lapin::Error> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let dlx = dead_letter_exchange(config);
    channel
        .exchange_declare(
            config.exchange.as_str().into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            dlx.as_str().into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;

    let queue_options = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let mut dead_args = FieldTable::default();
    if config.quorum_queues {
        dead_args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
    }
    let dlq = dead_letter_queue(config);
    channel
        .queue_declare(dlq.as_str().into(), queue_options, dead_args)
        .await?;
    channel
        .queue_bind(
            dlq.as_str().into(),
            dlx.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

    for lane in [SmsType::Express, SmsType::Normal] {
        let mut args = FieldTable::default();
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(dlx.as_str().into()),
        );
        if config.quorum_queues {
            args.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
        }
        let queue = queue_name(config, lane);
        channel
            .queue_declare(queue.into(), queue_options, args)
            .await?;
        channel
            .queue_bind(
                queue.into(),
                config.exchange.as_str().into(),
                routing_key(lane).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// Ready messages in a lane's queue, by a passive declare (fails if the queue is missing,
/// which closes the channel).
pub async fn depth(
    channel: &Channel,
    config: &AmqpConfig,
    sms_type: SmsType,
) -> Result<u32, lapin::Error> {
    message_count(channel, queue_name(config, sms_type)).await
}

/// Messages in the dead-letter queue, by a passive declare.
pub async fn dead_letter_depth(
    channel: &Channel,
    config: &AmqpConfig,
) -> Result<u32, lapin::Error> {
    message_count(channel, &dead_letter_queue(config)).await
}

/// Ready messages in `queue`, by a passive declare.
async fn message_count(channel: &Channel, queue: &str) -> Result<u32, lapin::Error> {
    let declared = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok(declared.message_count())
}
