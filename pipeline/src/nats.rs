//! NATS JetStream backend: `nats://host:4222`.
//!
//! One JetStream stream per topic (`{prefix}_{topic}`, file storage),
//! subjects `{prefix}.{topic}.{key}`. Each consumer group is a durable pull
//! consumer with explicit acks: instances of a group share it and split the
//! work, and a record not acknowledged within `ack_wait` (a crashed
//! instance's share) is redelivered. A publish returns once JetStream has
//! acknowledged it (stored). Order is kept per subject, i.e. per key, on
//! publish; with several members of a group, records of different keys are
//! handled concurrently.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, stream};
use async_trait::async_trait;
use futures::StreamExt;

use crate::{ConsumerGroup, Delivery, Envelope, EventLog, StreamError, Subscription, Topic};

pub struct NatsLog {
    client: async_nats::Client,
    js: jetstream::Context,
    prefix: String,
    ack_wait: Duration,
}

fn unavailable(e: impl std::fmt::Display) -> StreamError {
    StreamError::Unavailable(e.to_string())
}

impl NatsLog {
    /// Connects to `url` (`nats://host:port`). `prefix` namespaces streams
    /// and subjects (tests use a random one); `ack_wait` is how long an
    /// unacknowledged record waits before redelivery.
    pub async fn connect(url: &str, prefix: &str, ack_wait: Duration) -> Result<Self, StreamError> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(unavailable)?;
        let js = jetstream::new(client.clone());
        Ok(Self {
            client,
            js,
            prefix: prefix.to_string(),
            ack_wait,
        })
    }

    fn stream_name(&self, topic: &Topic) -> String {
        format!("{}_{}", self.prefix, topic.as_str()).replace('-', "_")
    }

    async fn stream(&self, topic: &Topic) -> Result<stream::Stream, StreamError> {
        self.js
            .get_or_create_stream(stream::Config {
                name: self.stream_name(topic),
                subjects: vec![format!("{}.{}.>", self.prefix, topic.as_str())],
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                max_age: Duration::from_secs(7 * 24 * 3600),
                ..Default::default()
            })
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl EventLog for NatsLog {
    async fn publish(&self, topic: &Topic, key: &str, envelope: &Envelope) -> Result<(), StreamError> {
        self.publish_batch(topic, &[(key.to_string(), envelope.clone())]).await
    }

    /// Every record sent before any acknowledgement is awaited: one round
    /// trip for the batch, not one per record.
    async fn publish_batch(&self, topic: &Topic, records: &[(String, Envelope)]) -> Result<(), StreamError> {
        self.stream(topic).await?;
        let mut acks = Vec::with_capacity(records.len());
        for (key, envelope) in records {
            let payload = serde_json::to_vec(envelope).map_err(unavailable)?;
            let key: String = key
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
                .collect();
            let subject = format!("{}.{}.{}", self.prefix, topic.as_str(), if key.is_empty() { "_" } else { &key });
            acks.push(self.js.publish(subject, payload.into()).await.map_err(unavailable)?);
        }
        for ack in acks {
            ack.await.map_err(unavailable)?;
        }
        Ok(())
    }

    async fn subscribe(&self, topic: &Topic, group: &ConsumerGroup) -> Result<Box<dyn Subscription>, StreamError> {
        let stream = self.stream(topic).await?;
        // Create or update: a durable consumer made by an older version
        // keeps its old limits otherwise (max_ack_pending was 64).
        let consumer: jetstream::consumer::Consumer<pull::Config> = stream
            .create_consumer(
                pull::Config {
                    durable_name: Some(group.as_str().to_string()),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: self.ack_wait,
                    max_ack_pending: MAX_ACK_PENDING,
                    ..Default::default()
                },
            )
            .await
            .map_err(unavailable)?;
        // Pulls of 16: the next round is already here when one is
        // committed (pulls of 4, the processors' default concurrency, left
        // each round waiting for its pull), and small enough that the
        // members of a group still share the work evenly.
        let messages = consumer
            .stream()
            .max_messages_per_batch(16)
            .messages()
            .await
            .map_err(unavailable)?;
        Ok(Box::new(NatsSubscription {
            messages,
            pending: HashMap::new(),
        }))
    }

    async fn lag(&self, topic: &Topic, group: &ConsumerGroup) -> Result<Option<u64>, StreamError> {
        let stream = self.stream(topic).await?;
        let mut consumer: jetstream::consumer::Consumer<pull::Config> = match stream.get_consumer(group.as_str()).await {
            Ok(c) => c,
            // A group that never subscribed has everything ahead of it.
            Err(_) => return Ok(None),
        };
        let info = consumer.info().await.map_err(unavailable)?;
        Ok(Some(info.num_pending + info.num_ack_pending as u64))
    }

    async fn ping(&self) -> Result<(), StreamError> {
        tokio::time::timeout(Duration::from_secs(2), self.client.flush())
            .await
            .map_err(|_| unavailable("NATS did not answer within 2 s"))?
            .map_err(unavailable)?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "nats"
    }
}

/// What one consumer group may hold delivered and unacknowledged: enough
/// for a batching processor's batch (analytics writes ClickHouse in large
/// inserts), small enough that a crashed member's share is redelivered
/// promptly. It was 64, which capped every batch at 64 records and made the
/// analytics group wait out its batch window for more that could not come.
const MAX_ACK_PENDING: i64 = 2048;

struct NatsSubscription {
    messages: pull::Stream,
    /// Delivered, not yet acknowledged, by stream sequence.
    pending: HashMap<u64, jetstream::Message>,
}

#[async_trait]
impl Subscription for NatsSubscription {
    fn max_uncommitted(&self) -> Option<usize> {
        Some(MAX_ACK_PENDING as usize)
    }

    async fn next(&mut self) -> Result<Delivery, StreamError> {
        let msg = self
            .messages
            .next()
            .await
            .ok_or(StreamError::Closed)?
            .map_err(unavailable)?;
        let info = msg.info().map_err(unavailable)?;
        let (seq, delivered) = (info.stream_sequence, info.delivered);
        let delivery = Delivery {
            position: seq,
            delivery_count: delivered.max(1) as u32,
            payload: msg.payload.to_vec(),
            commit_token: seq,
        };
        self.pending.insert(seq, msg);
        Ok(delivery)
    }

    async fn commit(&mut self, delivery: &Delivery) -> Result<(), StreamError> {
        if let Some(msg) = self.pending.remove(&delivery.commit_token) {
            msg.double_ack().await.map_err(unavailable)?;
        }
        Ok(())
    }

    /// The round's acknowledgements go out together and are confirmed
    /// together: one round trip for the round, not one per record. A
    /// record whose acknowledgement failed is redelivered after `ack_wait`.
    async fn commit_all(&mut self, deliveries: &[Delivery]) -> Result<(), StreamError> {
        let msgs: Vec<jetstream::Message> =
            deliveries.iter().filter_map(|d| self.pending.remove(&d.commit_token)).collect();
        let acks = futures::future::join_all(msgs.iter().map(|m| m.double_ack())).await;
        acks.into_iter().collect::<Result<Vec<()>, _>>().map_err(unavailable)?;
        Ok(())
    }
}
