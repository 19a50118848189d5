//! A photo's life as one pure transition function.
//!
//! A photo is uploaded `processing`. It becomes `ready` once three marks are
//! all set: the thumbnailer made its renditions, the indexer wrote its search
//! document, and the moderation checks passed it. Moderation can hold it
//! (`under_review`, after the checks or enough users' reports) or reject it;
//! a moderator's decision restores or rejects it. Deletion ends its life.
//!
//! The catalog writes every one of these changes as one atomic SQL
//! statement (concurrent processors set their marks at the same time); its
//! `lifecycle` module holds those statements and tests each against
//! [`Lifecycle::on`] over every state.

use crate::PhotoStatus;

/// Where a photo is in its life: its status and the marks that gate
/// readiness, as stored on its catalog row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lifecycle {
    pub status: PhotoStatus,
    /// The thumbnail (and display rendition) exist.
    pub thumbnail_done: bool,
    /// The search document exists.
    pub indexed: bool,
    /// The moderation checks ran, or a moderator decided.
    pub moderated: bool,
    /// The owner deleted the photo (its row stays until purged).
    pub deleted: bool,
    /// `ready_ms` is set: when the processors first finished with it.
    pub ready_stamped: bool,
}

/// Something that happens to a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleEvent {
    /// The thumbnailer recorded the thumbnail.
    ThumbnailDone,
    /// The indexer recorded the search document.
    Indexed,
    /// The moderation checks passed a new upload.
    UploadApproved,
    /// The moderation checks held a new upload for review.
    UploadHeld,
    /// The moderation checks rejected a new upload.
    UploadRejected,
    /// The checks held an edit of a live photo, or users' reports reached
    /// the threshold: hidden pending review.
    HeldForReview,
    /// The checks rejected an edit of a live photo.
    EditRejected,
    /// A moderator approved the photo (or reversed a rejection).
    ModeratorApproved,
    /// A moderator rejected the photo.
    ModeratorRejected,
    /// The owner deleted the photo.
    Deleted,
}

impl LifecycleEvent {
    pub const ALL: [LifecycleEvent; 10] = [
        Self::ThumbnailDone,
        Self::Indexed,
        Self::UploadApproved,
        Self::UploadHeld,
        Self::UploadRejected,
        Self::HeldForReview,
        Self::EditRejected,
        Self::ModeratorApproved,
        Self::ModeratorRejected,
        Self::Deleted,
    ];
}

/// What an event does to a photo it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub next: Lifecycle,
    /// `ready_ms` becomes now.
    pub stamps_ready: bool,
    /// `acl_version` is bumped: who may see the photo may have changed, so
    /// signed URLs are revoked and search and caches follow.
    pub bumps_acl: bool,
}

impl Lifecycle {
    /// A photo just accepted: `processing`, with its thumbnail done if a
    /// verified client thumbnail came with the upload.
    pub fn uploaded(thumbnail_done: bool) -> Self {
        Self {
            status: PhotoStatus::Processing,
            thumbnail_done,
            indexed: false,
            moderated: false,
            deleted: false,
            ready_stamped: false,
        }
    }

    /// Whether every mark that gates readiness is set.
    pub fn marks_complete(self) -> bool {
        self.thumbnail_done && self.indexed && self.moderated
    }

    /// What `event` does to a photo in this state; `None` when it does not
    /// apply (the catalog's statement then changes no row, which is how
    /// redeliveries and stale decisions become no-ops).
    pub fn on(self, event: LifecycleEvent) -> Option<Transition> {
        use LifecycleEvent::*;
        use PhotoStatus::*;
        let mut next = self;
        let mut stamps_ready = false;
        let bumps_acl;
        match event {
            ThumbnailDone | Indexed => {
                // The processors' marks land even on a deleted photo: the
                // purger reads the keys they record.
                if event == ThumbnailDone {
                    next.thumbnail_done = true;
                } else {
                    next.indexed = true;
                }
                if self.status == Processing && next.marks_complete() {
                    next.status = Ready;
                    stamps_ready = true;
                }
                bumps_acl = false;
            }
            UploadApproved | UploadHeld | UploadRejected => {
                // Once per upload: a redelivered verdict changes nothing.
                if self.moderated || self.deleted {
                    return None;
                }
                next.moderated = true;
                // The processors are finished with it whatever the verdict.
                stamps_ready = self.status == Processing && self.thumbnail_done && self.indexed;
                next.status = match (event, self.status) {
                    (UploadApproved, Processing) if stamps_ready => Ready,
                    (UploadHeld, Processing | Ready) => UnderReview,
                    (UploadRejected, Processing | Ready | UnderReview) => Rejected,
                    (_, status) => status,
                };
                bumps_acl = event != UploadApproved;
            }
            HeldForReview => {
                if self.deleted || !matches!(self.status, Processing | Ready) {
                    return None;
                }
                next.status = UnderReview;
                bumps_acl = true;
            }
            EditRejected => {
                if self.deleted || self.status == Rejected {
                    return None;
                }
                next.status = Rejected;
                bumps_acl = true;
            }
            ModeratorApproved => {
                if self.deleted || !matches!(self.status, UnderReview | Rejected) {
                    return None;
                }
                next.moderated = true;
                if self.thumbnail_done && self.indexed {
                    next.status = Ready;
                    stamps_ready = !self.ready_stamped;
                } else {
                    next.status = Processing;
                }
                bumps_acl = true;
            }
            ModeratorRejected => {
                if self.deleted {
                    return None;
                }
                next.moderated = true;
                next.status = Rejected;
                bumps_acl = true;
            }
            Deleted => {
                if self.deleted {
                    return None;
                }
                next.deleted = true;
                bumps_acl = true;
            }
        }
        next.ready_stamped |= stamps_ready;
        Some(Transition {
            next,
            stamps_ready,
            bumps_acl,
        })
    }

    /// Every combination of status and marks (reachable or not), for tests
    /// that check an implementation against [`on`](Self::on).
    pub fn every() -> impl Iterator<Item = Lifecycle> {
        use PhotoStatus::*;
        [Processing, Ready, UnderReview, Rejected]
            .into_iter()
            .flat_map(|status| {
                (0..32u8).map(move |bits| Lifecycle {
                    status,
                    thumbnail_done: bits & 1 != 0,
                    indexed: bits & 2 != 0,
                    moderated: bits & 4 != 0,
                    deleted: bits & 8 != 0,
                    ready_stamped: bits & 16 != 0,
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LifecycleEvent::*;
    use PhotoStatus::*;

    fn live(
        status: PhotoStatus,
        thumbnail_done: bool,
        indexed: bool,
        moderated: bool,
    ) -> Lifecycle {
        Lifecycle {
            status,
            thumbnail_done,
            indexed,
            moderated,
            deleted: false,
            ready_stamped: status == Ready,
        }
    }

    /// The status each event leads to from each status, for a live photo
    /// whose other marks are all set (`None`: the event does not apply).
    #[test]
    fn every_status_and_event_with_the_other_marks_set() {
        let table: [(LifecycleEvent, [Option<PhotoStatus>; 4]); 10] = [
            // from:           Processing,        Ready,             UnderReview,       Rejected
            (
                ThumbnailDone,
                [Some(Ready), Some(Ready), Some(UnderReview), Some(Rejected)],
            ),
            (
                Indexed,
                [Some(Ready), Some(Ready), Some(UnderReview), Some(Rejected)],
            ),
            (ModeratorApproved, [None, None, Some(Ready), Some(Ready)]),
            (
                ModeratorRejected,
                [
                    Some(Rejected),
                    Some(Rejected),
                    Some(Rejected),
                    Some(Rejected),
                ],
            ),
            (
                HeldForReview,
                [Some(UnderReview), Some(UnderReview), None, None],
            ),
            (
                EditRejected,
                [Some(Rejected), Some(Rejected), Some(Rejected), None],
            ),
            (
                Deleted,
                [
                    Some(Processing),
                    Some(Ready),
                    Some(UnderReview),
                    Some(Rejected),
                ],
            ),
            // Already moderated: the upload verdicts are redeliveries.
            (UploadApproved, [None, None, None, None]),
            (UploadHeld, [None, None, None, None]),
            (UploadRejected, [None, None, None, None]),
        ];
        for (event, row) in table {
            for (from, expected) in [Processing, Ready, UnderReview, Rejected]
                .into_iter()
                .zip(row)
            {
                let got = live(from, true, true, true)
                    .on(event)
                    .map(|t| t.next.status);
                assert_eq!(got, expected, "{from:?} on {event:?}");
            }
        }
    }

    /// The upload verdicts on a photo the checks have not seen, by status
    /// and by whether the other two marks are set.
    #[test]
    fn every_status_and_upload_verdict() {
        let table: [(LifecycleEvent, bool, [PhotoStatus; 4]); 6] = [
            (UploadApproved, true, [Ready, Ready, UnderReview, Rejected]),
            (
                UploadApproved,
                false,
                [Processing, Ready, UnderReview, Rejected],
            ),
            (
                UploadHeld,
                true,
                [UnderReview, UnderReview, UnderReview, Rejected],
            ),
            (
                UploadHeld,
                false,
                [UnderReview, UnderReview, UnderReview, Rejected],
            ),
            (
                UploadRejected,
                true,
                [Rejected, Rejected, Rejected, Rejected],
            ),
            (
                UploadRejected,
                false,
                [Rejected, Rejected, Rejected, Rejected],
            ),
        ];
        for (event, marks, row) in table {
            for (from, expected) in [Processing, Ready, UnderReview, Rejected]
                .into_iter()
                .zip(row)
            {
                let t = live(from, marks, marks, false)
                    .on(event)
                    .expect("applies once");
                assert_eq!(
                    t.next.status, expected,
                    "{from:?} on {event:?} (marks {marks})"
                );
                assert!(t.next.moderated);
                assert_eq!(t.bumps_acl, event != UploadApproved);
                assert_eq!(
                    t.stamps_ready,
                    from == Processing && marks,
                    "{from:?} on {event:?}"
                );
            }
        }
    }

    #[test]
    fn a_photo_becomes_ready_whichever_mark_lands_last() {
        let orders = [
            [ThumbnailDone, Indexed, UploadApproved],
            [ThumbnailDone, UploadApproved, Indexed],
            [Indexed, ThumbnailDone, UploadApproved],
            [Indexed, UploadApproved, ThumbnailDone],
            [UploadApproved, ThumbnailDone, Indexed],
            [UploadApproved, Indexed, ThumbnailDone],
        ];
        for order in orders {
            let mut photo = Lifecycle::uploaded(false);
            let mut stamps = 0;
            for (i, event) in order.into_iter().enumerate() {
                let t = photo.on(event).unwrap();
                photo = t.next;
                stamps += t.stamps_ready as u32;
                assert_eq!(photo.status == Ready, i == 2, "{order:?}");
            }
            assert_eq!(stamps, 1, "ready exactly once: {order:?}");
        }
    }

    #[test]
    fn a_held_upload_is_restored_by_a_moderator_and_ready_once_its_marks_are_in() {
        let held = Lifecycle::uploaded(false).on(UploadHeld).unwrap().next;
        assert_eq!(held.status, UnderReview);
        let approved = held.on(ModeratorApproved).unwrap().next;
        assert_eq!(approved.status, Processing);
        let ready = approved
            .on(ThumbnailDone)
            .unwrap()
            .next
            .on(Indexed)
            .unwrap();
        assert_eq!(ready.next.status, Ready);
        assert!(ready.stamps_ready);
        // Processing finished while held: approval makes it ready at once,
        // keeping the first stamp.
        let finished = Lifecycle::uploaded(true).on(Indexed).unwrap().next;
        let held = finished.on(UploadHeld).unwrap();
        assert!(held.stamps_ready && held.next.status == UnderReview);
        let approved = held.next.on(ModeratorApproved).unwrap();
        assert_eq!(approved.next.status, Ready);
        assert!(!approved.stamps_ready);
    }

    /// Properties of every state × event, whatever the marks.
    #[test]
    fn invariants_over_every_state_and_event() {
        for state in Lifecycle::every() {
            for event in LifecycleEvent::ALL {
                let Some(t) = state.on(event) else {
                    // Only these events can fail to apply, and never to a
                    // live photo the rules admit.
                    assert!(
                        !matches!(event, ThumbnailDone | Indexed),
                        "{state:?} {event:?}"
                    );
                    continue;
                };
                let next = t.next;
                // Marks are never unset; deletion is final.
                assert!(next.thumbnail_done >= state.thumbnail_done);
                assert!(next.indexed >= state.indexed);
                assert!(next.moderated >= state.moderated);
                assert_eq!(next.deleted, state.deleted || event == Deleted);
                if state.deleted {
                    // A deleted photo only takes the processors' marks (and
                    // may still turn `ready` from them: invisible all the same).
                    assert!(
                        matches!(event, ThumbnailDone | Indexed),
                        "a deleted photo only takes marks"
                    );
                }
                // Ready is entered only with every mark set.
                if next.status == Ready && state.status != Ready {
                    assert!(next.marks_complete(), "{state:?} {event:?}");
                }
                // The stamp is taken when processing finishes, and kept.
                assert_eq!(next.ready_stamped, state.ready_stamped || t.stamps_ready);
                if t.stamps_ready {
                    assert!(next.thumbnail_done && next.indexed, "{state:?} {event:?}");
                }
                // The processors' marks never change who may see a photo,
                // except by making it ready; everything else revokes.
                assert_eq!(
                    t.bumps_acl,
                    !matches!(event, ThumbnailDone | Indexed | UploadApproved)
                );
                // Only a moderator's approval leaves review or rejection.
                if matches!(state.status, UnderReview | Rejected) && next.status != state.status {
                    assert!(
                        matches!(
                            event,
                            ModeratorApproved | ModeratorRejected | EditRejected | UploadRejected
                        ),
                        "{state:?} {event:?}"
                    );
                    if matches!(next.status, Ready | Processing) {
                        assert_eq!(event, ModeratorApproved);
                    }
                }
            }
        }
    }

    #[test]
    fn every_enumerates_each_state_once() {
        let all: std::collections::HashSet<_> = Lifecycle::every().collect();
        assert_eq!(all.len(), 4 * 32);
    }
}
