//! [`EmbeddedLog`] as an [`EventLog`]: publishing (one write and one `fsync`
//! per batch), lag, and a group's subscription reading frames as they land.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::watch;

use super::frames::{count_frames, parse_header, HEADER, MAX_FRAME};
use super::offsets::{write_offset, OFFSET_SYNC_EVERY};
use super::{blocking, EmbeddedLog};
use crate::{ConsumerGroup, Delivery, Envelope, EventLog, StreamError, Subscription, Topic};

#[async_trait]
impl EventLog for EmbeddedLog {
    async fn publish(
        &self,
        topic: &Topic,
        key: &str,
        envelope: &Envelope,
    ) -> Result<(), StreamError> {
        self.publish_batch(topic, &[(key.to_string(), envelope.clone())]).await
    }

    /// All frames in one write and one `fsync`.
    async fn publish_batch(&self, topic: &Topic, records: &[(String, Envelope)]) -> Result<(), StreamError> {
        if records.is_empty() {
            return Ok(());
        }
        let t = self.topic(topic)?;
        let invalid = |e: String| StreamError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e));
        let mut frames = Vec::new();
        for (_, envelope) in records {
            let payload = serde_json::to_vec(envelope).map_err(|e| invalid(e.to_string()))?;
            if payload.len() > MAX_FRAME as usize {
                return Err(invalid("record too large".into()));
            }
            frames.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            frames.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            frames.extend_from_slice(&payload);
        }
        let file = t.file.clone();
        let new_end = blocking(move || {
            let mut f = file.lock().expect("log file poisoned");
            // Where this append starts, read under the lock (another
            // publish may have just appended).
            let start = f.metadata()?.len();
            let result = f.write_all(&frames).and_then(|_| f.sync_data());
            if let Err(e) = result {
                // Never leave a half-written frame behind a later good one.
                let _ = f.set_len(start);
                return Err(e);
            }
            Ok(start + frames.len() as u64)
        })
        .await?;
        t.end.send_if_modified(|end| {
            let grew = new_end > *end;
            *end = (*end).max(new_end);
            grew
        });
        Ok(())
    }

    async fn lag(&self, topic: &Topic, group: &ConsumerGroup) -> Result<Option<u64>, StreamError> {
        let t = self.topic(topic)?;
        let end = *t.end.borrow();
        let committed = t.position_of(group)?;
        if committed >= end {
            return Ok(Some(0));
        }
        let file = t.file.clone();
        let counted = blocking(move || {
            let f = file.lock().expect("log file poisoned").try_clone()?;
            count_frames(&f, committed, end, 10_000_000)
        })
        .await?;
        Ok(Some(counted))
    }

    async fn subscribe(
        &self,
        topic: &Topic,
        group: &ConsumerGroup,
    ) -> Result<Box<dyn Subscription>, StreamError> {
        let t = self.topic(topic)?;
        let offset_path = t.group_path(group);
        let position = t.position_of(group)?;
        if !offset_path.exists() {
            // A group counts for retention from the moment it subscribes,
            // before its first commit.
            let path = offset_path.clone();
            blocking(move || write_offset(&path, position, true)).await?;
        }
        let reader = File::open(t.dir.join("log"))?;
        Ok(Box::new(EmbeddedSubscription {
            reader: Arc::new(reader),
            end: t.end.subscribe(),
            position,
            offset_path,
            redelivery: HashMap::new(),
            synced_at: std::time::Instant::now(),
        }))
    }

    async fn enforce_retention(&self, topic: &Topic) -> Result<(), StreamError> {
        self.retain(topic).await.map(|_| ())
    }

    async fn ping(&self) -> Result<(), StreamError> {
        let dir = self.dir.clone();
        blocking(move || std::fs::metadata(&dir).map(|_| ())).await
    }

    fn kind(&self) -> &'static str {
        "embedded"
    }
}

struct EmbeddedSubscription {
    reader: Arc<File>,
    end: watch::Receiver<u64>,
    /// The next position to read.
    position: u64,
    offset_path: PathBuf,
    /// How often each uncommitted position was handed out by this member.
    redelivery: HashMap<u64, u32>,
    /// When the group file was last fsynced.
    synced_at: std::time::Instant,
}

#[async_trait]
impl Subscription for EmbeddedSubscription {
    async fn next(&mut self) -> Result<Delivery, StreamError> {
        loop {
            let end = *self.end.borrow_and_update();
            if self.position < end {
                let reader = self.reader.clone();
                let pos = self.position;
                let payload = blocking(move || {
                    let mut header = [0u8; HEADER as usize];
                    reader.read_exact_at(&mut header, pos)?;
                    let (n, _) = parse_header(&header);
                    let mut payload = vec![0u8; n as usize];
                    reader.read_exact_at(&mut payload, pos + HEADER)?;
                    Ok(payload)
                })
                .await?;
                let next = pos + HEADER + payload.len() as u64;
                let count = self.redelivery.entry(pos).or_insert(0);
                *count += 1;
                let delivery = Delivery {
                    position: pos,
                    delivery_count: *count,
                    payload,
                    commit_token: next,
                };
                // Advance the read cursor; an uncommitted record is redelivered
                // to the next subscription of this group (after a restart).
                self.position = next;
                return Ok(delivery);
            }
            if self.end.changed().await.is_err() {
                return Err(StreamError::Closed);
            }
        }
    }

    fn commits_cumulatively(&self) -> bool {
        true
    }

    async fn commit(&mut self, delivery: &Delivery) -> Result<(), StreamError> {
        self.redelivery.retain(|&position, _| position > delivery.position);
        let path = self.offset_path.clone();
        let next = delivery.commit_token;
        let sync = self.synced_at.elapsed() >= OFFSET_SYNC_EVERY;
        blocking(move || write_offset(&path, next, sync)).await?;
        if sync {
            self.synced_at = std::time::Instant::now();
        }
        Ok(())
    }
}
