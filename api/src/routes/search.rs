//! Full-text search, filtered by access in the engine and re-checked
//! against the catalog so privacy changes apply before the index catches up.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use photostream_search::{SearchQuery, Searcher};
use photostream_types::{normalise_tag, Username};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::error_code::ErrorCode;
use crate::extract::ApiQuery;
use crate::pagination::{decode_offset, encode_offset, Page, PageParams};
use crate::access::if_visible;
use crate::views::PhotoView;
use crate::AppState;

const MAX_QUERY_CHARS: usize = 200;

#[derive(Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    owner: Option<String>,
    tag: Option<String>,
    /// An album id (from `GET /v1/users/{username}/albums`).
    album: Option<String>,
    #[serde(flatten)]
    page: PageParams,
}

/// `GET /v1/search`: full-text search (typo tolerant) over photos the caller may see.
#[utoipa::path(get, path = "/v1/search", tag = "reading",
    params(("q" = Option<String>, Query, description = "Words to look for in titles, descriptions and tags"),
           ("owner" = Option<String>, Query, description = "Only this user's photos (a username)"),
           ("tag" = Option<String>, Query, description = "Only photos with this tag"),
           ("album" = Option<String>, Query, description = "Only photos in this album (an album id)"),
           PageParams),
    responses((status = 200, description = "A page of hits, best first", body = Page<PhotoView>)))]
pub async fn search(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<Page<PhotoView>>, ApiError> {
    let limit = params.page.limit()? as usize;
    if params.q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidQuery,
            format!("q is longer than {MAX_QUERY_CHARS} characters"),
        ));
    }
    if params.q.trim().is_empty() && params.owner.is_none() && params.tag.is_none() && params.album.is_none() {
        return Err(ApiError::bad_request(ErrorCode::MissingQuery, "give q, owner, tag or album"));
    }
    if let Some(a) = &params.album {
        if a.parse::<photostream_types::AlbumId>().is_err() {
            return Ok(Json(Page { items: vec![], next: None, prev: None }));
        }
    }
    let offset = match (&params.page.previous_last, &params.page.previous_first) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidCursor,
                "give previous_last or previous_first, not both",
            ))
        }
        (Some(c), None) => decode_offset(c)?,
        (None, Some(c)) => decode_offset(c)?.saturating_sub(limit),
        (None, None) => 0,
    };
    let owner = match &params.owner {
        None => None,
        Some(name) => {
            let found = match Username::parse(name) {
                Ok(u) => st.catalog.user_by_username(&u).await?,
                Err(_) => None,
            };
            match found {
                Some(u) => Some(u.id),
                None => return Ok(Json(Page { items: vec![], next: None, prev: None })),
            }
        }
    };
    let searcher = match caller.user() {
        None => Searcher::Anonymous,
        // Moderators search as members: they find what is in front of
        // them through the review queue, not by searching private photos.
        Some(u) => Searcher::User(u.id.clone()),
    };
    let query = SearchQuery {
        text: params.q.clone(),
        owner,
        tag: params.tag.as_deref().map(normalise_tag).transpose()?,
        album: params.album.clone(),
        searcher,
        offset,
        limit,
    };
    let hits = st.search.search(&query).await?;
    let mut items = Vec::with_capacity(hits.ids.len());
    // The engine filtered by access already; the catalog is checked too
    // (one query for the page) so a change committed a moment ago is
    // honoured before the index catches up.
    for photo in st.catalog.photos_by_ids(&hits.ids).await? {
        if let Some(photo) = if_visible(&st, &caller, photo).await? {
            items.push(st.photo_view(photo, &caller));
        }
    }
    Ok(Json(Page {
        items,
        next: hits.more.then(|| encode_offset(offset + limit)),
        prev: (offset > 0).then(|| encode_offset(offset)),
    }))
}
