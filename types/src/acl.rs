//! Who may see what: one pure function, asked by every read path (the API's
//! handlers and the processors that decide who to notify alike).
//!
//! Invisible means 404, never 403, so callers turn `false` into not-found.

use crate::{PhotoStatus, UserId, Visibility};

/// The caller as access control sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    Anonymous,
    User { id: UserId, moderator: bool },
}

impl Viewer {
    pub fn user_id(&self) -> Option<&UserId> {
        match self {
            Viewer::Anonymous => None,
            Viewer::User { id, .. } => Some(id),
        }
    }
}

/// The facts about a photo that access depends on.
#[derive(Debug, Clone, Copy)]
pub struct PhotoAccess<'a> {
    pub owner: &'a UserId,
    pub visibility: Visibility,
    pub status: PhotoStatus,
    pub deleted: bool,
    /// Users a `shared` photo is shared with.
    pub viewers: &'a [UserId],
    /// In front of moderators: a pending moderation item (the checks or
    /// users' reports raised it), or held (`under_review`) or `rejected`.
    pub in_review: bool,
}

/// Whether `viewer` may see the photo (its JSON, files, and listings).
///
/// - Deleted photos: nobody.
/// - The owner: always (every status).
/// - Moderators: what everyone may, and besides a photo while it is in
///   front of them for review (`in_review`), whatever its visibility —
///   never someone's private photo that nobody reported or flagged.
/// - Everyone else: only `ready` photos that are public, or shared with them.
pub fn can_view(viewer: &Viewer, photo: &PhotoAccess<'_>) -> bool {
    if photo.deleted {
        return false;
    }
    let (id, moderator) = match viewer {
        Viewer::Anonymous => (None, false),
        Viewer::User { id, moderator } => (Some(id), *moderator),
    };
    if id == Some(photo.owner) || (moderator && photo.in_review) {
        return true;
    }
    if photo.status != PhotoStatus::Ready {
        return false;
    }
    match photo.visibility {
        Visibility::Public => true,
        Visibility::Private => false,
        Visibility::Shared => id.is_some_and(|id| photo.viewers.contains(id)),
    }
}

/// Whether `viewer` may change the photo (title, visibility, deletion).
pub fn can_edit(viewer: &Viewer, photo: &PhotoAccess<'_>) -> bool {
    !photo.deleted && viewer.user_id() == Some(photo.owner)
}

/// Whether `viewer`, who may see the photo ([`can_view`]), may also fetch
/// its original. Originals are a premium feature: the owner always may,
/// premium users may, and a moderator may while the photo is in front of
/// them for review (judging a report can need full resolution; those looks
/// are audited). Anyone else gets the thumbnail and the display rendition
/// only. `free_originals` (config `premium.free_originals`) lifts the gate.
/// Asked only after `can_view` said yes.
pub fn can_fetch_original(viewer: &Viewer, premium: bool, photo: &PhotoAccess<'_>, free_originals: bool) -> bool {
    if free_originals {
        return true;
    }
    match viewer {
        Viewer::Anonymous => false,
        Viewer::User { id, moderator } => id == photo.owner || premium || (*moderator && photo.in_review),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_table() {
        let owner = UserId::new();
        let friend = UserId::new();
        let stranger = UserId::new();
        let viewers = [friend.clone()];
        let anon = Viewer::Anonymous;
        let as_user = |id: &UserId| Viewer::User { id: id.clone(), moderator: false };
        let moderator = Viewer::User { id: UserId::new(), moderator: true };
        let photo = |visibility, status, deleted| PhotoAccess {
            owner: &owner,
            visibility,
            status,
            deleted,
            viewers: &viewers,
            // Held and rejected photos are in review by definition.
            in_review: matches!(status, PhotoStatus::UnderReview | PhotoStatus::Rejected),
        };
        use PhotoStatus::*;
        use Visibility::*;
        // (visibility, status, deleted) → [anon, stranger, viewer, owner, moderator]
        let table = [
            ((Public, Ready, false), [true, true, true, true, true]),
            // Not reported, not flagged: not the moderator's business.
            ((Private, Ready, false), [false, false, false, true, false]),
            ((Shared, Ready, false), [false, false, true, true, false]),
            ((Public, Processing, false), [false, false, false, true, false]),
            ((Public, UnderReview, false), [false, false, false, true, true]),
            ((Public, Rejected, false), [false, false, false, true, true]),
            ((Private, UnderReview, false), [false, false, false, true, true]),
            ((Shared, Rejected, false), [false, false, false, true, true]),
            ((Public, Ready, true), [false, false, false, false, false]),
            ((Shared, Ready, true), [false, false, false, false, false]),
        ];
        for ((v, s, d), expected) in table {
            let p = photo(v, s, d);
            let got = [
                can_view(&anon, &p),
                can_view(&as_user(&stranger), &p),
                can_view(&as_user(&friend), &p),
                can_view(&as_user(&owner), &p),
                can_view(&moderator, &p),
            ];
            assert_eq!(got, expected, "{v:?} {s:?} deleted={d}");
        }
        // A reported private photo (a pending item) is in front of them.
        let reported = PhotoAccess { in_review: true, ..photo(Private, Ready, false) };
        assert!(can_view(&moderator, &reported));
        assert!(!can_view(&as_user(&stranger), &reported));
        assert!(can_edit(&as_user(&owner), &photo(Public, Ready, false)));
        assert!(!can_edit(&as_user(&friend), &photo(Shared, Ready, false)));
        assert!(!can_edit(&moderator, &photo(Public, Ready, false)));
        assert!(!can_edit(&as_user(&owner), &photo(Public, Ready, true)));
    }

    #[test]
    fn the_original_paywall() {
        let owner = UserId::new();
        let other = UserId::new();
        let access = |in_review| PhotoAccess {
            owner: &owner,
            visibility: Visibility::Public,
            status: PhotoStatus::Ready,
            deleted: false,
            viewers: &[],
            in_review,
        };
        let user = |id: &UserId, moderator| Viewer::User { id: id.clone(), moderator };
        // (viewer, premium, in_review) → gated answer; with free originals, always yes.
        let table = [
            (Viewer::Anonymous, false, false, false),
            (user(&owner, false), false, false, true),
            (user(&other, false), false, false, false),
            (user(&other, false), true, false, true),
            (user(&other, false), false, true, false),
            (user(&other, true), false, false, false),
            (user(&other, true), false, true, true),
            (user(&other, true), true, false, true),
        ];
        for (viewer, premium, in_review, expected) in table {
            let a = access(in_review);
            assert_eq!(can_fetch_original(&viewer, premium, &a, false), expected, "{viewer:?} premium={premium} in_review={in_review}");
            assert!(can_fetch_original(&viewer, premium, &a, true));
        }
    }
}
