//! An original download while it runs: the one slot per user it holds, and
//! the re-check of what allowed it (the photo still there, the signature
//! still current or the caller still allowed, the paywall still open), so a
//! deletion, a revocation or a lapsed premium cuts a download in flight.

use std::sync::Arc;

use futures::TryStreamExt;
use photostream_cache::SlotGuard;

use crate::access::{if_visible, original_allowed, subject_may_fetch_original};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;

/// Takes the single original-download slot of `user` (the caller, or the
/// user a signed URL was signed for), else of the client address, or 429.
pub async fn download_slot(st: &AppState, user: Option<&str>, addr: Option<std::net::IpAddr>) -> Result<SlotGuard, ApiError> {
    let who = match (user, addr) {
        (Some(u), _) => format!("download:user:{u}"),
        (None, Some(a)) => format!("download:addr:{a}"),
        (None, None) => "download:anonymous".to_string(),
    };
    st.limiter
        .try_acquire(&who)
        .await
        .map_err(|e| ApiError::unavailable("limiter", e))?
        .ok_or_else(|| ApiError::too_many("one original download at a time; retry when the first finishes", 1))
}

/// How often an original download in progress re-checks its access.
pub const DOWNLOAD_RECHECK: std::time::Duration = std::time::Duration::from_secs(2);
/// The longest one original download may last (64 MB at the slowest body
/// pace a client is allowed, 16 KiB/s, takes 68 minutes).
pub const DOWNLOAD_MAX: std::time::Duration = std::time::Duration::from_secs(2 * 3600);

/// What an original download holds while its body streams: the download
/// slot, and what it needs to re-check that it may go on.
pub struct Held {
    pub slot: SlotGuard,
    pub recheck: Recheck,
}

/// Re-checks, during a download, what allowed it: the photo is not deleted,
/// and either the signature's `acl_version` is still current, or the caller
/// may still see the photo with a credential that is still good.
pub struct Recheck {
    st: Arc<AppState>,
    photo: photostream_types::PhotoId,
    caller: Caller,
    signed_acl: Option<i64>,
    opened_ms: i64,
    paywall: Paywall,
}

/// Who an original's paywall asks about, when the download opens and again
/// while it runs (a revoked or lapsed premium ends a download in flight).
#[derive(Clone)]
pub enum Paywall {
    /// Not gated: a moderator's review, `premium.free_originals`, or not an
    /// original.
    Open,
    /// The caller of the request.
    Caller,
    /// The user a signed URL was issued to.
    Subject(String),
}

impl Paywall {
    pub async fn allows(&self, st: &AppState, caller: &Caller, photo: &photostream_catalog::Photo) -> Result<bool, ApiError> {
        match self {
            Paywall::Open => Ok(true),
            Paywall::Caller => original_allowed(st, caller, photo).await,
            Paywall::Subject(subject) => subject_may_fetch_original(st, subject, photo).await,
        }
    }
}

impl Recheck {
    pub fn new(st: &Arc<AppState>, photo: &photostream_catalog::Photo, caller: Caller, signed_acl: Option<i64>) -> Self {
        Self {
            st: st.clone(),
            photo: photo.id.clone(),
            caller,
            signed_acl,
            opened_ms: photostream_types::now_ms(),
            paywall: Paywall::Open,
        }
    }

    pub fn paywall(self, paywall: Paywall) -> Self {
        Self { paywall, ..self }
    }

    async fn still_allowed(&self) -> bool {
        let Ok(Some(photo)) = self.st.catalog.photo(&self.photo).await else {
            return false;
        };
        if photo.deleted_ms.is_some() {
            return false;
        }
        if !self.paywall.allows(&self.st, &self.caller, &photo).await.unwrap_or(false) {
            return false;
        }
        if let Some(v) = self.signed_acl {
            return photo.acl_version == v;
        }
        if let Some(user) = self.caller.user() {
            if !user.still_valid(&self.st, self.opened_ms).await.unwrap_or(false) {
                return false;
            }
        }
        matches!(if_visible(&self.st, &self.caller, photo).await, Ok(Some(_)))
    }
}

/// `stream` (a body of `len` bytes), re-checking `held.recheck` every
/// [`DOWNLOAD_RECHECK`] and ending with an error (the connection is cut)
/// when access ended or the download outlived [`DOWNLOAD_MAX`]. `held`
/// moves into the stream. The slot is released before the chunk that
/// completes the body is handed on, so a client that starts its next
/// download the moment this one's last byte arrives finds the slot free
/// (dropped with the body instead, the release trailed the last byte);
/// a body that ends early or a client that goes away releases it on drop.
pub fn guarded(
    stream: impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    held: Held,
    len: u64,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    let started = tokio::time::Instant::now();
    let Held { slot, recheck } = held;
    let (mut slot, recheck) = (Some(slot), Arc::new(recheck));
    let (mut checked, mut sent) = (started, 0u64);
    stream.and_then(move |chunk| {
        let due = checked.elapsed() >= DOWNLOAD_RECHECK;
        if due {
            checked = tokio::time::Instant::now();
        }
        sent = sent.saturating_add(chunk.len() as u64);
        let last = if sent >= len { slot.take() } else { None };
        let recheck = recheck.clone();
        async move {
            if started.elapsed() >= DOWNLOAD_MAX {
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the download took too long"));
            }
            if due && !recheck.still_allowed().await {
                return Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, "access to the photo ended"));
            }
            if let Some(slot) = last {
                slot.release().await;
            }
            Ok(chunk)
        }
    })
}
