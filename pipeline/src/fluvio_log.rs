//! Fluvio backend: `fluvio://host:9003` (the SC's public endpoint).
//!
//! One Fluvio topic per photostream topic (`{prefix}-{topic}`), records
//! keyed by photo id so one photo's records stay in one partition, in order.
//! Producers wait for the SPU's acknowledgement. Each consumer group is a
//! Fluvio *consumer* (named offsets per partition) with manual offset
//! management: a commit stores the offset of the last record handed out and
//! flushes it, so a restarted member resumes after its group's last commit
//! and re-reads what was not committed.
//!
//! Fluvio has no group rebalancing, so members split a group's work by
//! partition: member `i` of `n` consumes the partitions `p` with
//! `p % n == i` (config `stream_member` / `stream_members`; give a topic at
//! least as many partitions as members). A member that dies leaves its
//! partitions unread until it (or a replacement with its index) restarts.

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
    /// (this member's index, number of members) within every group.
    member: (u32, u32),
}

fn unavailable(e: impl std::fmt::Display) -> StreamError {
    StreamError::Unavailable(e.to_string())
}

impl FluvioLog {
    /// Connects to the SC at `endpoint` (`host:port`, `fluvio://` optional).
    /// `member` is this instance's (index, count) for splitting partitions.
    pub async fn connect(endpoint: &str, prefix: &str, partitions: u32, member: (u32, u32)) -> Result<Self, StreamError> {
        if member.1 == 0 || member.0 >= member.1 {
            return Err(unavailable(format!("invalid stream member {} of {}", member.0, member.1)));
        }
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
            member,
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
        // A new topic's partitions are assigned to SPUs asynchronously; a
        // consumer that starts before that sees some partitions fail.
        for _ in 0..100 {
            let topics = admin.list::<TopicSpec, String>(vec![name.to_string()]).await.map_err(unavailable)?;
            let provisioned = topics.iter().any(|t| {
                t.name == name && t.status.resolution == fluvio::metadata::topic::TopicResolution::Provisioned
            });
            if provisioned {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(unavailable(format!("topic {name} was not provisioned within 10 s")))
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
        let mine: Vec<u32> = (0..self.partitions).filter(|p| p % self.member.1 == self.member.0).collect();
        if mine.is_empty() {
            // More members than partitions: this one has nothing to read.
            return Ok(Box::new(IdleSubscription));
        }
        let mut builder = ConsumerConfigExt::builder();
        builder
            .topic(name)
            .offset_consumer(format!("{}-{}", self.prefix, group.as_str()))
            .offset_start(Offset::beginning())
            .offset_strategy(OffsetManagementStrategy::Manual);
        for p in mine {
            builder.partition(p);
        }
        let config = builder.build().map_err(unavailable)?;
        let stream = self.fluvio.consumer_with_config(config).await.map_err(unavailable)?;
        Ok(Box::new(FluvioSubscription {
            stream: Box::pin(stream),
            seq: 0,
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

/// A member with no partitions: waits forever, commits nothing.
struct IdleSubscription;

#[async_trait]
impl Subscription for IdleSubscription {
    async fn next(&mut self) -> Result<Delivery, StreamError> {
        std::future::pending().await
    }
    async fn commit(&mut self, _: &Delivery) -> Result<(), StreamError> {
        Ok(())
    }
}

struct FluvioSubscription {
    stream: std::pin::Pin<Box<dyn ConsumerStream + Send>>,
    /// Sequence number of the last record handed out (Fluvio commits "the
    /// last record yielded", whatever its partition).
    seq: u64,
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
        self.seq += 1;
        Ok(Delivery {
            position: record.offset() as u64,
            delivery_count: 1,
            payload: record.value().to_vec(),
            commit_token: self.seq,
        })
    }

    /// Fluvio's consumer stream can drop records fetched for a `next` that
    /// was abandoned mid-read (found by the end-to-end suite: a batching
    /// consumer under timeouts missed records), so it is not cancel-safe.
    fn cancel_safe(&self) -> bool {
        false
    }

    /// The runner commits in order, so committing the newest delivery
    /// covers the ones before it.
    async fn commit(&mut self, delivery: &Delivery) -> Result<(), StreamError> {
        if delivery.commit_token == self.seq {
            self.stream.offset_commit().await.map_err(unavailable)?;
            self.stream.offset_flush().await.map_err(unavailable)?;
        }
        Ok(())
    }
}
