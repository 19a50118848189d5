//! Listing photos for a caller: pages filtered by access in SQL so they stay
//! full, then each row checked by the ACL function, so there is one
//! authority even if the two drift. Photostreams, albums, favorites, group
//! pools and the feed all list through here.

use photostream_catalog::{Direction, Keyset, ListAccess, Photo, PhotoFilter};

use crate::access::if_visible;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::pagination::{keyset_page, Page};
use crate::views::PhotoView;
use crate::AppState;

/// One page of `owner`'s photos (as set in `filter`) that the caller may
/// see: filtered by access in SQL so pages stay full, then each row checked
/// by the ACL function so there is one authority even if the two drift.
pub async fn list_visible(
    st: &AppState,
    caller: &Caller,
    mut filter: PhotoFilter,
    direction: &Direction,
    limit: i64,
) -> Result<Page<PhotoView>, ApiError> {
    let sees_everything = caller
        .user()
        .is_some_and(|u| filter.owner.as_ref() == Some(&u.id));
    filter.access = match caller.user() {
        _ if sees_everything => ListAccess::Everything,
        Some(u) if filter.feed_of.is_some() => ListAccess::OwnOrVisibleTo(u.id.clone()),
        user => ListAccess::ReadyVisibleTo(user.map(|u| u.id.clone())),
    };
    let (photos, more) = st.catalog.list_photos(&filter, direction, limit).await?;
    let mut visible = Vec::with_capacity(photos.len());
    for p in photos {
        if let Some(p) = if_visible(st, caller, p).await? {
            visible.push(p);
        }
    }
    Ok(keyset_page(visible, more, direction, |p| p.keyset(), |p| st.photo_view(p, &caller)))
}

/// A page of photos listed under their own keysets (time favorited, time
/// added to a pool), keeping those the caller may see.
pub async fn keyed_page(
    st: &AppState,
    caller: &Caller,
    items: Vec<(Keyset, Photo)>,
    more: bool,
    direction: &Direction,
) -> Result<Page<PhotoView>, ApiError> {
    let mut visible = Vec::with_capacity(items.len());
    for (k, p) in items {
        if let Some(p) = if_visible(st, caller, p).await? {
            visible.push((k, p));
        }
    }
    Ok(keyset_page(visible, more, direction, |(k, _)| k.clone(), |(_, p)| st.photo_view(p, &caller)))
}
