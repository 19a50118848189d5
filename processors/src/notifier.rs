//! Turns social records into notifications.
//!
//! - a comment → the photo's owner and everyone else who commented on it;
//! - a favorite → the photo's owner;
//! - a follow → the followed user;
//! - a new photo → the owner's followers (write-time fan-out, in pages; an
//!   owner with more than [`FANOUT_LIMIT`] followers is skipped here, their
//!   followers see the photo in their feed, which is assembled at read time).
//!
//! Nobody is notified about a photo they may not see (the shared ACL
//! function decides; the API checks again when notifications are read).
//! Each notification is keyed by (recipient, stream event), so redelivery
//! never notifies twice.

use async_trait::async_trait;
use photostream_catalog::{access_of, Catalog, NewNotification, Photo};
use photostream_pipeline::{Envelope, Record};
use photostream_types::acl::{can_view, PhotoAccess, Viewer};
use photostream_types::{PhotoId, PhotoStatus, UserId, Visibility};

use crate::{ProcessError, Processor};

/// Followers above this count get no per-follower "new photo" rows.
pub const FANOUT_LIMIT: usize = 10_000;
const FANOUT_PAGE: i64 = 500;
/// Records per batch: their notifications are written in one commit.
const BATCH_RECORDS: usize = 64;
/// A batch whose fan-out grows past this many rows is written in several
/// commits (bounds the memory of one batch; each write is idempotent).
const MAX_ROWS_PER_COMMIT: usize = 5_000;
/// Records whose notifications are worked out at once: a record costs a few
/// catalog reads (the photo, its followers), which overlap. A batch holds at
/// most this many records' fan-outs (each at most [`FANOUT_LIMIT`] rows)
/// beside [`MAX_ROWS_PER_COMMIT`] rows waiting for their commit.
const PLANNED_AT_ONCE: usize = 8;

pub struct Notifier {
    catalog: Catalog,
}

impl Notifier {
    pub fn new(catalog: Catalog) -> Self {
        Self { catalog }
    }

    /// Whether `user` may see `photo` (a `processing` photo counts as it
    /// will be once ready: the reader checks again).
    fn sees(photo: &Photo, viewers: &[UserId], user: &UserId) -> bool {
        let status = match photo.status {
            PhotoStatus::Processing => PhotoStatus::Ready,
            s => s,
        };
        let access = PhotoAccess { status, ..access_of(photo, viewers, false) };
        can_view(&Viewer::User { id: user.clone(), moderator: false }, &access)
    }

    async fn live_photo(&self, id: &PhotoId) -> Result<Option<Photo>, ProcessError> {
        Ok(self
            .catalog
            .photo(id)
            .await
            .map_err(ProcessError::transient)?
            .filter(|p| p.deleted_ms.is_none()))
    }

}

/// Notifications a record causes, collected before any is written.
#[derive(Default)]
struct Planned(Vec<NewNotification>);

impl Planned {
    /// Nobody is notified of their own action.
    fn push(&mut self, n: NewNotification) {
        if n.user_id != n.actor_id {
            self.0.push(n);
        }
    }
}

impl Notifier {
    /// What `envelope` should notify, read from the catalog (no writes).
    async fn plan(&self, envelope: &Envelope, out: &mut Planned) -> Result<(), ProcessError> {
        let source = envelope.id.to_string();
        // Stamped again when written (see `write`).
        let at = photostream_types::now_ms();
        let base = |user: UserId, kind: &'static str, actor: UserId, photo: Option<PhotoId>| NewNotification {
            user_id: user,
            kind,
            actor_id: actor,
            photo_id: photo,
            comment_id: None,
            source: source.clone(),
            created_ms: at,
            note: None,
        };
        match &envelope.record {
            Record::CommentAdded(r) => {
                let Some(photo) = self.live_photo(&r.photo_id).await? else { return Ok(()) };
                let viewers = self.catalog.viewer_ids(&photo).await.map_err(ProcessError::transient)?;
                let mut recipients = vec![photo.owner_id.clone()];
                for c in self.catalog.commenters(&photo.id).await.map_err(ProcessError::transient)? {
                    if !recipients.contains(&c) {
                        recipients.push(c);
                    }
                }
                for user in recipients {
                    if Self::sees(&photo, &viewers, &user) {
                        let mut n = base(user, "comment", r.author_id.clone(), Some(photo.id.clone()));
                        n.comment_id = Some(r.comment_id.clone());
                        out.push(n);
                    }
                }
            }
            Record::Favorited(r) => {
                let Some(photo) = self.live_photo(&r.photo_id).await? else { return Ok(()) };
                out.push(base(photo.owner_id.clone(), "favorite", r.user_id.clone(), Some(photo.id.clone())));
            }
            Record::Followed(r) => {
                out.push(base(r.followee_id.clone(), "follow", r.follower_id.clone(), None));
            }
            Record::PhotoUploaded(r) => {
                let Some(photo) = self.live_photo(&r.photo_id).await? else { return Ok(()) };
                if photo.visibility == Visibility::Private {
                    return Ok(());
                }
                let viewers = self.catalog.viewer_ids(&photo).await.map_err(ProcessError::transient)?;
                let mut after: Option<UserId> = None;
                let mut sent = 0usize;
                loop {
                    let page = self
                        .catalog
                        .follower_ids(&photo.owner_id, after.as_ref(), FANOUT_PAGE)
                        .await
                        .map_err(ProcessError::transient)?;
                    if page.is_empty() {
                        break;
                    }
                    for user in &page {
                        if Self::sees(&photo, &viewers, user) {
                            out.push(base(user.clone(), "new_photo", photo.owner_id.clone(), Some(photo.id.clone())));
                            sent += 1;
                        }
                    }
                    if sent >= FANOUT_LIMIT {
                        tracing::info!(owner = %photo.owner_id, "fan-out limit reached; followers see it in their feed");
                        break;
                    }
                    if page.len() < FANOUT_PAGE as usize {
                        break; // the last page: no need to ask for an empty one
                    }
                    after = page.last().cloned();
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[async_trait]
impl Processor for Notifier {
    fn name(&self) -> &'static str {
        "notifier"
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), ProcessError> {
        self.handle_batch(std::slice::from_ref(envelope)).await
    }

    /// Fan-out in batches: the notifications of every record handed over
    /// are written in one transaction (one commit for the whole batch).
    fn batch_size(&self) -> usize {
        BATCH_RECORDS
    }

    fn batch_wait(&self, _default: std::time::Duration) -> std::time::Duration {
        std::time::Duration::from_millis(50)
    }

    /// Records are planned [`PLANNED_AT_ONCE`] at a time (their catalog
    /// reads overlap), in order.
    async fn handle_batch(&self, envelopes: &[Envelope]) -> Result<(), ProcessError> {
        let mut planned = Planned::default();
        for round in envelopes.chunks(PLANNED_AT_ONCE) {
            for one in futures::future::join_all(round.iter().map(|envelope| self.plan_one(envelope))).await {
                planned.0.extend(one?.0);
                // After each record, as before: a commit holds at most one
                // record's fan-out past the limit.
                if planned.0.len() >= MAX_ROWS_PER_COMMIT {
                    self.write(&mut planned).await?;
                }
            }
        }
        self.write(&mut planned).await
    }
}

impl Notifier {
    /// What one record should notify.
    async fn plan_one(&self, envelope: &Envelope) -> Result<Planned, ProcessError> {
        let mut one = Planned::default();
        self.plan(envelope, &mut one).await?;
        Ok(one)
    }

    /// Writes what is planned in one commit. Stamped with the time of the
    /// write, not of the event, so the live stream, which follows insertion
    /// order, never misses a late-processed event.
    async fn write(&self, planned: &mut Planned) -> Result<(), ProcessError> {
        let at = photostream_types::now_ms();
        for n in &mut planned.0 {
            n.created_ms = at;
        }
        self.catalog.add_notifications(&planned.0).await.map_err(ProcessError::transient)?;
        planned.0.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_photo::photo;

    #[test]
    fn followers_see_public_photos_and_shared_ones_only_when_listed() {
        let (follower, friend) = (UserId::new(), UserId::new());
        let mut p = photo("swans");
        assert!(Notifier::sees(&p, &[], &follower));
        p.visibility = Visibility::Shared;
        assert!(!Notifier::sees(&p, &[], &follower));
        assert!(Notifier::sees(&p, &[friend.clone()], &friend));
        p.visibility = Visibility::Private;
        assert!(!Notifier::sees(&p, &[friend.clone()], &friend));
        assert!(Notifier::sees(&p, &[], &p.owner_id.clone()), "the owner always sees it");
    }

    #[test]
    fn a_processing_photo_counts_as_it_will_be_once_ready() {
        let follower = UserId::new();
        let mut p = photo("swans");
        p.status = PhotoStatus::Processing;
        assert!(Notifier::sees(&p, &[], &follower));
        for held in [PhotoStatus::UnderReview, PhotoStatus::Rejected] {
            p.status = held;
            assert!(!Notifier::sees(&p, &[], &follower), "{held:?}");
        }
        p.status = PhotoStatus::Ready;
        p.deleted_ms = Some(2);
        assert!(!Notifier::sees(&p, &[], &follower), "deleted");
    }
}
