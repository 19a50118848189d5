//! The embedded durable log: one append-only file per topic.
//!
//! Layout under the log directory:
//!
//! ```text
//! {topic}/log          frames: [len: u32 LE][crc32: u32 LE][payload]
//! {topic}/groups/{g}   the group's committed byte position, as decimal text
//! {topic}/start        where the retained frames begin (absent: 0)
//! ```
//!
//! **Retention** ([`EmbeddedLog::retain`]): once every consumer group of a
//! topic has committed past a point, the frames before it are of no use.
//! Their position is written to `start` (durably), then their disk blocks
//! are freed by punching a hole in the file (`fallocate` with
//! `PUNCH_HOLE | KEEP_SIZE`): positions stay byte offsets and never move,
//! so no commit or reader needs rewriting, while the space is returned to
//! the file system. A crash between the two steps only leaves the blocks
//! allocated until the next run. Readers and new groups begin at `start`.
//!
//! A publish appends one frame and `fsync`s before returning, so an
//! acknowledged publish survives kill -9 and power loss. On open, the file is
//! scanned and a torn tail (a frame cut short by a crash, or failing its
//! checksum) is truncated away: it was never acknowledged. Commits replace the
//! group file atomically (write, rename); at most once a second
//! ([`OFFSET_SYNC_EVERY`]) the new file is fsynced first. A killed process
//! loses no commit (the page cache survives it); a power loss may lose the
//! last second of commits, which only redelivers those records to
//! idempotent processors. Syncing every commit cost a file sync per record
//! per processor, which capped the pipeline near 100 records a second.
//!
//! Positions are byte offsets. Within one process a topic has one writer; a
//! group should have one member (this log serves a single machine; the
//! networked backends spread a group across instances).
//!
//! Modules: `frames` (the file format), `offsets` (position files),
//! `subscription` (the [`EventLog`](crate::EventLog) implementation and a group's reader).

mod frames;
mod offsets;
mod subscription;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use self::frames::{punch_hole, scan_valid_prefix};
use self::offsets::{read_offset, write_offset};
pub use self::offsets::OFFSET_SYNC_EVERY;
use crate::{ConsumerGroup, StreamError, Topic};

pub struct EmbeddedLog {
    dir: PathBuf,
    topics: Mutex<HashMap<String, Arc<TopicLog>>>,
}

struct TopicLog {
    dir: PathBuf,
    file: Arc<Mutex<File>>,
    /// Where the retained frames begin (see the module docs).
    start: Mutex<u64>,
    /// The end of the last complete frame; readers wait on it.
    end: watch::Sender<u64>,
}

impl EmbeddedLog {
    /// Opens (creating if needed) the log rooted at `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StreamError> {
        let dir = dir.into();
        create_dirs(&dir)?;
        Ok(Self {
            dir,
            topics: Mutex::new(HashMap::new()),
        })
    }

    fn topic(&self, topic: &Topic) -> Result<Arc<TopicLog>, StreamError> {
        let mut topics = self.topics.lock().expect("topic map poisoned");
        if let Some(t) = topics.get(topic.as_str()) {
            return Ok(t.clone());
        }
        let t = Arc::new(TopicLog::open(&self.dir.join(topic.as_str()))?);
        topics.insert(topic.as_str().to_string(), t.clone());
        Ok(t)
    }

    /// The byte position after the last complete record of `topic`.
    pub fn end_position(&self, topic: &Topic) -> Result<u64, StreamError> {
        Ok(*self.topic(topic)?.end.borrow())
    }

    /// The committed position of `group` on `topic` (0 when it never committed).
    pub fn committed_position(
        &self,
        topic: &Topic,
        group: &ConsumerGroup,
    ) -> Result<u64, StreamError> {
        self.topic(topic)?.position_of(group)
    }
}

/// `create_dir_all(dir)`, whose error names the path in the way when a
/// file sits where one of the directories belongs: on its own the error
/// says only "File exists" or "Not a directory".
fn create_dirs(dir: &Path) -> Result<(), StreamError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        match dir.ancestors().find(|a| a.exists() && !a.is_dir()) {
            Some(file) => StreamError::Io(std::io::Error::new(
                e.kind(),
                format!("{} exists and is not a directory: move it away or choose another data dir", file.display()),
            )),
            None => StreamError::Io(e),
        }
    })
}

impl TopicLog {
    fn open(dir: &Path) -> Result<Self, StreamError> {
        create_dirs(&dir.join("groups"))?;
        let path = dir.join("log");
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let start = read_offset(&dir.join("start"))?;
        let valid = scan_valid_prefix(&mut file, start)?;
        let len = file.metadata()?.len();
        if valid < len {
            tracing::warn!(
                path = %path.display(),
                dropped_bytes = len - valid,
                "truncating a torn tail left by a crash"
            );
            file.set_len(valid)?;
            file.sync_all()?;
        }
        let (end, _) = watch::channel(valid);
        Ok(Self {
            dir: dir.to_path_buf(),
            file: Arc::new(Mutex::new(file)),
            start: Mutex::new(start.min(valid)),
            end,
        })
    }

    fn group_path(&self, group: &ConsumerGroup) -> PathBuf {
        self.dir.join("groups").join(group.as_str())
    }

    fn start(&self) -> u64 {
        *self.start.lock().expect("start poisoned")
    }

    /// A group's position: its commit, or the retention start if that is
    /// later (a new group begins at the oldest retained frame).
    fn position_of(&self, group: &ConsumerGroup) -> Result<u64, StreamError> {
        Ok(read_offset(&self.group_path(group))?.max(self.start()))
    }

    /// The lowest position every group has committed, if any group exists.
    fn all_groups_passed(&self) -> Result<Option<u64>, StreamError> {
        let mut lowest: Option<u64> = None;
        for entry in std::fs::read_dir(self.dir.join("groups"))? {
            let path = entry?.path();
            if path.extension().is_some() {
                continue; // a commit's temporary file
            }
            let at = read_offset(&path)?;
            lowest = Some(lowest.map_or(at, |l| l.min(at)));
        }
        Ok(lowest)
    }
}

impl EmbeddedLog {
    /// Retention for `topic`: frames every consumer group has committed past
    /// give their disk space back (see the module docs). A topic no group
    /// reads keeps everything. Returns the new retention start.
    pub async fn retain(&self, topic: &Topic) -> Result<u64, StreamError> {
        let t = self.topic(topic)?;
        let Some(passed) = t.all_groups_passed()? else { return Ok(t.start()) };
        let end = *t.end.borrow();
        let new_start = passed.min(end);
        if new_start <= t.start() {
            return Ok(t.start());
        }
        let (dir, file) = (t.dir.clone(), t.file.clone());
        blocking(move || {
            write_offset(&dir.join("start"), new_start, true)?;
            let f = file.lock().expect("log file poisoned").try_clone()?;
            // Whole file-system blocks only; the partial one stays.
            punch_hole(&f, new_start / 4096 * 4096)
        })
        .await?;
        *t.start.lock().expect("start poisoned") = new_start;
        Ok(new_start)
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, StreamError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StreamError::Unavailable(format!("blocking task failed: {e}")))?
        .map_err(StreamError::Io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    use crate::{Delivery, Envelope, EventLog};
    use crate::{PhotoUploaded, Record};
    use photostream_types::{PhotoId, UserId};

    fn envelope(n: u64) -> Envelope {
        Envelope::new(
            Record::PhotoUploaded(PhotoUploaded {
                photo_id: PhotoId::new(),
                owner_id: UserId::new(),
                original_key: format!("u/default/original/{n}.jpg"),
                format: "jpeg".into(),
                bytes: n,
                client_thumbnail_key: None,
                tags: vec![],
            }),
            None,
        )
    }

    fn bytes_of(d: &Delivery) -> u64 {
        match d.envelope().unwrap().record {
            Record::PhotoUploaded(r) => r.bytes,
            _ => unreachable!(),
        }
    }

    /// A data dir holding a file where the log's directory belongs is
    /// refused with a message that names it.
    #[test]
    fn a_file_where_the_log_belongs_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, b"not a log").unwrap();
        let err = EmbeddedLog::open(&path).err().expect("a file is not a log directory").to_string();
        assert!(err.contains("exists and is not a directory"), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"not a log", "left as it was");
    }

    /// So is a file where a topic's directory belongs, found when the
    /// topic is first used.
    #[test]
    fn a_file_where_a_topic_belongs_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(Topic::photos().as_str());
        std::fs::write(&path, b"not a topic").unwrap();
        let log = EmbeddedLog::open(dir.path()).unwrap();
        let err = log.end_position(&Topic::photos()).err().expect("a file is not a topic directory").to_string();
        assert!(err.contains("exists and is not a directory"), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"not a topic", "left as it was");
    }

    /// What every group has passed gives its disk blocks back; positions
    /// do not move, so every group resumes where it was, across a reopen.
    #[tokio::test]
    async fn retention_frees_what_every_group_has_passed() {
        let dir = tempfile::tempdir().unwrap();
        let topic = Topic::photos();
        let (fast, slow) = (ConsumerGroup::new("fast").unwrap(), ConsumerGroup::new("slow").unwrap());
        let log = EmbeddedLog::open(dir.path()).unwrap();
        let batch: Vec<(String, Envelope)> = (0..2000).map(|n| ("k".to_string(), envelope(n))).collect();
        log.publish_batch(&topic, &batch).await.unwrap();
        let mut a = log.subscribe(&topic, &fast).await.unwrap();
        let mut b = log.subscribe(&topic, &slow).await.unwrap();
        for _ in 0..2000 {
            let d = a.next().await.unwrap();
            a.commit(&d).await.unwrap();
        }
        // The slow group has read nothing: nothing may go.
        assert_eq!(log.retain(&topic).await.unwrap(), 0);
        let mut cut = 0;
        for _ in 0..1500 {
            let d = b.next().await.unwrap();
            b.commit(&d).await.unwrap();
            cut = d.commit_token;
        }
        let allocated = |p: &Path| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(p).unwrap().blocks() * 512
        };
        let file = dir.path().join("photos").join("log");
        let (size, before) = (std::fs::metadata(&file).unwrap().len(), allocated(&file));
        assert_eq!(log.retain(&topic).await.unwrap(), cut, "up to the slowest group");
        let after = allocated(&file);
        assert_eq!(std::fs::metadata(&file).unwrap().len(), size, "positions never move");
        assert!(after + cut / 2 < before, "blocks freed: {before} -> {after} of {size}");
        drop((a, b, log));

        // Reopened: the slow group resumes at record 1500, a new group
        // starts at the retention start, new records still arrive.
        let log = EmbeddedLog::open(dir.path()).unwrap();
        let mut b = log.subscribe(&topic, &slow).await.unwrap();
        assert_eq!(bytes_of(&b.next().await.unwrap()), 1500);
        let mut late = log.subscribe(&topic, &ConsumerGroup::new("late").unwrap()).await.unwrap();
        assert_eq!(bytes_of(&late.next().await.unwrap()), 1500);
        log.publish(&topic, "k", &envelope(9999)).await.unwrap();
        assert_eq!(log.lag(&topic, &slow).await.unwrap(), Some(501));
        // The late group now counts: it holds retention back.
        assert_eq!(log.retain(&topic).await.unwrap(), cut);
    }

    #[tokio::test]
    async fn resumes_from_committed_offset_and_drops_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let topic = Topic::photos();
        let group = ConsumerGroup::new("thumbnailer").unwrap();
        let sent: Vec<Envelope> = (0..5).map(envelope).collect();
        {
            let log = EmbeddedLog::open(dir.path()).unwrap();
            for e in &sent {
                log.publish(&topic, "k", e).await.unwrap();
            }
            let mut sub = log.subscribe(&topic, &group).await.unwrap();
            for e in &sent[..2] {
                let d = sub.next().await.unwrap();
                assert_eq!(&d.envelope().unwrap(), e);
                sub.commit(&d).await.unwrap();
            }
            // Read the third but crash before committing it.
            let d = sub.next().await.unwrap();
            assert_eq!(&d.envelope().unwrap(), &sent[2]);
        }
        // Simulate a crash mid-append: half a frame at the end.
        let path = dir.path().join("photos/log");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2]).unwrap();
        drop(f);

        let log = EmbeddedLog::open(dir.path()).unwrap();
        let mut sub = log.subscribe(&topic, &group).await.unwrap();
        for e in &sent[2..] {
            let d = sub.next().await.unwrap();
            assert_eq!(&d.envelope().unwrap(), e);
            sub.commit(&d).await.unwrap();
        }
        // The torn frame is gone and new appends land after the good ones.
        let extra = envelope(99);
        log.publish(&topic, "k", &extra).await.unwrap();
        let d = sub.next().await.unwrap();
        assert_eq!(d.envelope().unwrap(), extra);
    }

    #[tokio::test]
    async fn groups_are_independent_and_wait_for_new_records() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(EmbeddedLog::open(dir.path()).unwrap());
        let topic = Topic::photos();
        let mut a = log
            .subscribe(&topic, &ConsumerGroup::new("a").unwrap())
            .await
            .unwrap();
        let mut b = log
            .subscribe(&topic, &ConsumerGroup::new("b").unwrap())
            .await
            .unwrap();
        let waiter = tokio::spawn(async move { a.next().await.unwrap().envelope().unwrap() });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let e = envelope(1);
        log.publish(&topic, "k", &e).await.unwrap();
        assert_eq!(waiter.await.unwrap(), e);
        assert_eq!(b.next().await.unwrap().envelope().unwrap(), e);
    }

    #[test]
    fn names_are_checked() {
        assert!(Topic::new("../x").is_err());
        assert!(ConsumerGroup::new("").is_err());
        assert!(ConsumerGroup::new("search-indexer").is_ok());
    }
}
