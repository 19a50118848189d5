//! Access control as the API applies it. The pure decision lives in
//! `photostream_types::acl` and a catalog row's access facts in
//! `photostream_catalog::access_of` (both shared with the processors); this
//! module is the one gate every per-photo read and edit passes: loading a
//! photo the caller may see or edit, the moderator's look through review
//! (audited), and the paywall of originals.

use photostream_catalog::{Photo, User};
use photostream_types::{metric, PhotoId, UserId, Username};

pub use photostream_catalog::access_of;
pub use photostream_types::acl::{can_edit, can_fetch_original, can_view, PhotoAccess, Viewer};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::AppState;

/// The user named in a path, or 404 (also for names that do not parse).
pub async fn user_named(st: &AppState, name: &str) -> Result<User, ApiError> {
    let username = Username::parse(name).map_err(|_| ApiError::not_found())?;
    st.catalog.user_by_username(&username).await?.ok_or_else(ApiError::not_found)
}

const MAX_VIEWERS: usize = 200;

/// `Some(photo)` if the caller may see it; the ACL function decides.
pub async fn if_visible(st: &AppState, caller: &Caller, photo: Photo) -> Result<Option<Photo>, ApiError> {
    let viewers = st.catalog.viewer_ids(&photo).await?;
    let pending = pending_item_for_moderator(st, caller, &photo).await?;
    Ok(can_view(&caller.viewer(), &access_of(&photo, &viewers, pending)).then_some(photo))
}

/// Whether `photo` has a pending moderation item, asked only when the caller
/// is a moderator (for anyone else it changes nothing).
async fn pending_item_for_moderator(st: &AppState, caller: &Caller, photo: &Photo) -> Result<bool, ApiError> {
    if !caller.user().is_some_and(|u| u.moderator) || photo.owner_id == caller.user().expect("checked").id {
        return Ok(false);
    }
    Ok(st.catalog.pending_item_of(&photo.id).await?.is_some())
}

/// Whether the caller sees `photo` only because it is in front of them for
/// review (a moderator, not the owner, and nobody else could see it as they
/// do): such views are audited, and social actions on it are refused.
pub async fn seen_only_in_review(st: &AppState, caller: &Caller, photo: &Photo) -> Result<bool, ApiError> {
    match caller.user() {
        Some(user) if user.moderator => moderator_sees_only_in_review(st, &user.id, photo).await,
        _ => Ok(false),
    }
}

async fn moderator_sees_only_in_review(st: &AppState, moderator: &UserId, photo: &Photo) -> Result<bool, ApiError> {
    if *moderator == photo.owner_id {
        return Ok(false);
    }
    let viewers = st.catalog.viewer_ids(photo).await?;
    let as_member = Viewer::User { id: moderator.clone(), moderator: false };
    Ok(!can_view(&as_member, &access_of(photo, &viewers, false)))
}

/// [`audit_review_view`] for a signed URL, by the user it was signed for.
/// True if it was such a look.
pub async fn audit_signed_review_view(st: &AppState, subject: &str, photo: &Photo, what: &str) -> Result<bool, ApiError> {
    let Ok(id) = subject.parse::<UserId>() else {
        return Ok(false);
    };
    let Some(user) = st.catalog.user_by_id(&id).await? else {
        return Ok(false);
    };
    if user.role == "moderator" && moderator_sees_only_in_review(st, &id, photo).await? {
        st.catalog.audit_view(&photo.id, &id, what).await?;
        metric::MODERATOR_VIEWS_TOTAL.with([what]).increment(1);
        return Ok(true);
    }
    Ok(false)
}

/// Records in the moderation audit log that a moderator saw `photo` (`what`:
/// its page, original, …) through review. The audit row names the item the
/// photo is reviewed under. True if it was such a look.
pub async fn audit_review_view(st: &AppState, caller: &Caller, photo: &Photo, what: &str) -> Result<bool, ApiError> {
    if !seen_only_in_review(st, caller, photo).await? {
        return Ok(false);
    }
    let moderator = &caller.user().expect("a moderator").id;
    st.catalog.audit_view(&photo.id, moderator, what).await?;
    metric::MODERATOR_VIEWS_TOTAL.with([what]).increment(1);
    Ok(true)
}

/// Whether the caller, who may see `photo`, may fetch its original: the
/// owner, premium users, and moderators while it is in front of them for
/// review (`acl::can_fetch_original`); 402 `premium_required` for others.
pub async fn original_allowed(st: &AppState, caller: &Caller, photo: &Photo) -> Result<bool, ApiError> {
    if st.original_allowed(caller, photo, false) {
        return Ok(true);
    }
    let pending = pending_item_for_moderator(st, caller, photo).await?;
    Ok(pending && st.original_allowed(caller, photo, true))
}

/// 404 unless the caller may see `photo`.
pub async fn ensure_visible(st: &AppState, caller: &Caller, photo: Photo) -> Result<Photo, ApiError> {
    if_visible(st, caller, photo).await?.ok_or_else(ApiError::not_found)
}

/// Loads a photo the caller may see, or 404 (also for ids that do not
/// parse, so nothing about existence leaks).
pub async fn visible_photo(st: &AppState, caller: &Caller, id: &str) -> Result<Photo, ApiError> {
    let id: PhotoId = id.parse().map_err(|_| ApiError::not_found())?;
    let photo = st.catalog.photo(&id).await?.ok_or_else(ApiError::not_found)?;
    ensure_visible(st, caller, photo).await
}

/// Loads a photo the caller may edit: 404 if they cannot see it, 403 if
/// they can see it but it is not theirs.
pub async fn editable_photo(st: &AppState, caller: &Caller, id: &str) -> Result<Photo, ApiError> {
    caller.require_user()?;
    let photo = visible_photo(st, caller, id).await?;
    let viewers = st.catalog.viewer_ids(&photo).await?;
    if !can_edit(&caller.viewer(), &access_of(&photo, &viewers, false)) {
        return Err(ApiError::forbidden("only the photo's owner may change it"));
    }
    Ok(photo)
}

/// Resolves usernames to ids; unknown names are a 400 naming them.
pub async fn resolve_usernames(st: &AppState, names: &[String]) -> Result<Vec<UserId>, ApiError> {
    if names.len() > MAX_VIEWERS {
        return Err(ApiError::bad_request(ErrorCode::TooManyViewers, format!("at most {MAX_VIEWERS} viewers")));
    }
    let mut ids = Vec::new();
    for raw in names {
        let user = match Username::parse(raw) {
            Ok(u) => st.catalog.user_by_username(&u).await?,
            Err(_) => None,
        };
        let user = user.ok_or_else(|| {
            ApiError::bad_request(ErrorCode::UnknownUser, format!("no user {:?}", raw.chars().take(40).collect::<String>()))
        })?;
        if !ids.contains(&user.id) {
            ids.push(user.id);
        }
    }
    Ok(ids)
}

/// Whether the user a signed original URL names may fetch it now (a
/// premium grant may have lapsed since it was signed).
pub async fn subject_may_fetch_original(st: &AppState, subject: &str, photo: &Photo) -> Result<bool, ApiError> {
    let Ok(id) = subject.parse::<UserId>() else {
        return Ok(false);
    };
    let Some(user) = st.catalog.user_by_id(&id).await? else {
        return Ok(false);
    };
    let moderator = user.role == "moderator";
    let pending = moderator && user.id != photo.owner_id && st.catalog.pending_item_of(&photo.id).await?.is_some();
    let viewer = Viewer::User { id: user.id.clone(), moderator };
    let access = access_of(photo, &[], pending);
    let premium = user.is_premium_at(photostream_types::now_ms());
    Ok(can_fetch_original(&viewer, premium, &access, st.config.free_originals))
}
