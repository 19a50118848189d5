//! Fluvio backend: `fluvio://host:9003` (the SC's public endpoint).
//!
//! One Fluvio topic per photostream topic (`{prefix}-{topic}`, one
//! partition by default so per-key order holds trivially; more partitions
//! are a deployment choice, keyed by photo id). Producers wait for the SPU's
//! acknowledgement. Each consumer group is a Fluvio *consumer* (named offset)
//! with manual offset management: a commit stores the offset of the last
//! record handed out and flushes it to the cluster, so a restarted member
//! resumes after its group's last commit and re-reads what was not committed.

use std::time::Duration;

use async_trait::async_trait;
use fluvio::consumer::{ConsumerConfigExt, ConsumerStream, OffsetManagementStrategy};
use fluvio::metadata::topic::TopicSpec;
use fluvio::{Fluvio, FluvioConfig, Offset};
use futures::StreamExt;

use crate::{ConsumerGroup, Delivery, Envelope, EventLog, StreamError, Subscription, Topic};

pub struct FluvioLog {
    fluvio: Fluvio,
    prefix: String,
    partitions: u32,
}

fn unavailable(e: impl std::fmt::Display) -> StreamError {
    StreamError::Unavailable(e.to_string())
}

impl FluvioLog {
    /// Connects to the SC at `endpoint` (`host:port`, `fluvio://` optional).
    pub async fn connect(endpoint: &str, prefix: &str, partitions: u32) -> Result<Self, StreamError> {
        let addr = endpoint.strip_prefix("fluvio://").unwrap_or(endpoint);
        let config = FluvioConfig::new(addr);
        let fluvio = tokio::time::timeout(Duration::from_secs(10), Fluvio::connect_with_config(&config))
            .await
            .map_err(|_| unavailable(format!("Fluvio at {addr} did not answer within 10 s")))?
            .map_err(unavailable)?;
        Ok(Self {
            fluvio,
            prefix: prefix.to_string(),
            partitions: partitions.max(1),
        })
    }

    fn topic_name(&self, topic: &Topic) -> String {
        format!("{}-{}", self.prefix, topic.as_str()).replace('_', "-")
    }

    async fn ensure_topic(&self, name: &str) -> Result<(), StreamError> {
        let admin = self.fluvio.admin().await;
        let exists = admin
            .list::<TopicSpec, String>(vec![name.to_string()])
            .await
            .map_err(unavailable)?
            .iter()
            .any(|t| t.name == name);
        if !exists {
            let spec = TopicSpec::new_computed(self.partitions, 1, None);
            if let Err(e) = admin.create(name.to_string(), false, spec).await {
                // Another instance may have created it meanwhile.
                let again = admin.list::<TopicSpec, String>(vec![name.to_string()]).await.map_err(unavailable)?;
                if !again.iter().any(|t| t.name == name) {
                    return Err(unavailable(e));
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl EventLog for FluvioLog {
    async fn publish(&self, topic: &Topic, key: &str, envelope: &Envelope) -> Result<(), StreamError> {
        let name = self.topic_name(topic);
        self.ensure_topic(&name).await?;
        let payload = serde_json::to_vec(envelope).map_err(unavailable)?;
        let producer = self.fluvio.topic_producer(name).await.map_err(unavailable)?;
        let output = producer.send(key.as_bytes().to_vec(), payload).await.map_err(unavailable)?;
        producer.flush().await.map_err(unavailable)?;
        output.wait().await.map_err(unavailable)?;
        Ok(())
    }

    async fn subscribe(&self, topic: &Topic, group: &ConsumerGroup) -> Result<Box<dyn Subscription>, StreamError> {
        let name = self.topic_name(topic);
        self.ensure_topic(&name).await?;
        let mut builder = ConsumerConfigExt::builder();
        builder
            .topic(name)
            .offset_consumer(format!("{}-{}", self.prefix, group.as_str()))
            .offset_start(Offset::beginning())
            .offset_strategy(OffsetManagementStrategy::Manual);
        for p in 0..self.partitions {
            builder.partition(p);
        }
        let config = builder.build().map_err(unavailable)?;
        let stream = self.fluvio.consumer_with_config(config).await.map_err(unavailable)?;
        Ok(Box::new(FluvioSubscription {
            stream: Box::pin(stream),
            last_yielded: None,
        }))
    }

    async fn ping(&self) -> Result<(), StreamError> {
        let admin = self.fluvio.admin().await;
        tokio::time::timeout(Duration::from_secs(3), admin.list::<TopicSpec, String>(vec![]))
            .await
            .map_err(|_| unavailable("Fluvio did not answer within 3 s"))?
            .map_err(unavailable)?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "fluvio"
    }
}

struct FluvioSubscription {
    stream: std::pin::Pin<Box<dyn ConsumerStream + Send>>,
    /// (partition-independent) offset of the last record handed out.
    last_yielded: Option<i64>,
}

#[async_trait]
impl Subscription for FluvioSubscription {
    async fn next(&mut self) -> Result<Delivery, StreamError> {
        let record = self
            .stream
            .next()
            .await
            .ok_or(StreamError::Closed)?
            .map_err(unavailable)?;
        let offset = record.offset();
        self.last_yielded = Some(offset);
        Ok(Delivery {
            position: offset as u64,
            delivery_count: 1,
            payload: record.value().to_vec(),
            commit_token: offset as u64,
        })
    }

    /// Fluvio commits "the last record yielded"; the runner commits in
    /// order, so committing the newest delivery covers the ones before it.
    async fn commit(&mut self, delivery: &Delivery) -> Result<(), StreamError> {
        if self.last_yielded == Some(delivery.commit_token as i64) {
            self.stream.offset_commit().await.map_err(unavailable)?;
            self.stream.offset_flush().await.map_err(unavailable)?;
        }
        Ok(())
    }
}
