//! The test's own exchange and queues on the broker: channels, depths, draining, removal.

use super::TestApp;

impl TestApp {
    /// A channel of its own on the test broker.
    pub async fn amqp_channel(&self) -> lapin::Channel {
        let conn = lapin::Connection::connect(&self.services.amqp_url, Default::default())
            .await
            .expect("connect to RabbitMQ");
        conn.create_channel().await.expect("channel")
    }

    /// How many messages wait in a queue.
    pub async fn queue_depth(&self, queue: &str) -> u32 {
        self.try_queue_depth(queue)
            .await
            .expect("passive queue.declare")
    }

    /// How many messages wait in a queue that a publisher or worker may not have declared yet
    /// (they declare the topology once their channel is up): a missing queue holds nothing.
    pub async fn published_depth(&self, queue: &str) -> u32 {
        match self.try_queue_depth(queue).await {
            Ok(n) => n,
            Err(e) if is_not_found(&e) => 0,
            Err(e) => panic!("passive queue.declare: {e}"),
        }
    }

    /// How many messages wait in a queue; an error when there is no such queue (a passive
    /// declare, on a channel of its own since the failure closes it).
    pub async fn try_queue_depth(&self, queue: &str) -> Result<u32, lapin::Error> {
        let queue = self
            .amqp_channel()
            .await
            .queue_declare(
                queue.into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await?;
        Ok(queue.message_count())
    }

    /// Takes every message waiting in a queue (acknowledging them).
    pub async fn drain_queue(&self, queue: &str) -> Vec<lapin::message::BasicGetMessage> {
        let channel = self.amqp_channel().await;
        let mut out = Vec::new();
        while let Some(m) = channel
            .basic_get(
                queue.into(),
                lapin::options::BasicGetOptions { no_ack: true },
            )
            .await
            .expect("basic.get")
        {
            out.push(m);
        }
        out
    }
}

/// A channel error saying the queue does not exist.
fn is_not_found(e: &lapin::Error) -> bool {
    matches!(
        e.kind(),
        lapin::ErrorKind::ProtocolError(amqp)
            if matches!(
                amqp.kind(),
                lapin::protocol::AMQPErrorKind::Soft(lapin::protocol::AMQPSoftError::NOTFOUND)
            )
    )
}

/// Removes a test's exchange `names[0]`, its queues `names[1..]` and their dead-letter pair.
pub(super) async fn delete_amqp(url: &str, names: &[String; 3]) {
    let Ok(conn) = lapin::Connection::connect(url, Default::default()).await else {
        return;
    };
    let Ok(ch) = conn.create_channel().await else {
        return;
    };
    for q in [&names[1], &names[2], &format!("{}.dead", names[0])] {
        let _ = ch
            .queue_delete(
                q.as_str().into(),
                lapin::options::QueueDeleteOptions::default(),
            )
            .await;
    }
    for e in [names[0].clone(), format!("{}.dlx", names[0])] {
        let _ = ch
            .exchange_delete(
                e.as_str().into(),
                lapin::options::ExchangeDeleteOptions::default(),
            )
            .await;
    }
    let _ = conn.close(200, "bye".into()).await;
}
