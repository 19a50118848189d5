//! `GET /v1/explore`: public photos ranked for the caller, each with the
//! reason it was picked.
//!
//! Candidates are the newest public, ready photos (bounded) and the
//! trending ones (the top of the signals' latest window, through the same
//! public-and-ready rule: trending never shows what the viewer can't see),
//! minus the caller's own and those already favorited. Each candidate scores
//!
//! ```text
//! follow          × [owner is followed]
//! favorite_owner  × [caller favorited other photos of this owner]
//! tag             × min(3, tags shared with photos the caller favorited)
//! trending        × ln(1 + trending score)
//! recency         × 0.5 ^ (age / recency_half_life)
//! ```
//!
//! with the weights from config (`[explore]`). The trending score is the
//! windowed signal of `photostream-signals` (`docs/streaming-sql.md`):
//! favorites and views (a tenth each) over a sliding hour, hop one minute,
//! each decayed linearly with its age. The reason is the signal
//! that contributed most. Anonymous callers and new users have no personal
//! signals, so the ranking falls back to trending and recency (cold start).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use photostream_catalog::Direction;
use photostream_types::PhotoId;
use serde::Serialize;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::pagination::{decode_offset, encode_offset, Page, PageParams};
use crate::views::PhotoView;
use crate::AppState;

const CANDIDATES: i64 = 500;
/// Trending photos considered beyond the newest candidates.
const TRENDING: usize = 100;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ExploreItem {
    photo: PhotoView,
    score: f64,
    reason: String,
}

/// `GET /v1/explore`: personalised and trending public photos, each with the reason it was picked.
#[utoipa::path(get, path = "/v1/explore", tag = "reading", params(PageParams),
    responses((status = 200, description = "A page of ranked photos", body = Page<ExploreItem>)))]
pub async fn explore(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Page<ExploreItem>>, ApiError> {
    let limit = params.limit()? as usize;
    let offset = match &params.previous_last {
        Some(c) => decode_offset(c)?,
        None => 0,
    };
    let w = st.config.explore;
    let now = photostream_types::now_ms();

    let mut followed = HashSet::new();
    let mut favorited = HashSet::new();
    let mut liked_owners: HashMap<String, ()> = HashMap::new();
    let mut liked_tags: HashSet<String> = HashSet::new();
    if let Some(u) = caller.user() {
        followed.extend(st.catalog.following_ids(&u.id).await?);
        let (favs, _) = st.catalog.list_favorites(&u.id, &Direction::First, 100).await?;
        for (_, p) in favs {
            favorited.insert(p.id.clone());
            liked_owners.insert(p.owner.to_string(), ());
            liked_tags.extend(p.metadata.tags.iter().cloned());
        }
    }
    // From the signals' latest window; an outage only loses this part of the ranking.
    let trending: HashMap<PhotoId, f64> = match st.signals.trending(photostream_signals::At::Latest, TRENDING).await {
        Ok(t) => t.photos.into_iter().collect(),
        Err(e) => {
            tracing::warn!(error = %e, "explore: trending unavailable");
            HashMap::new()
        }
    };
    let mut candidates = st.catalog.recent_public_photos(CANDIDATES).await?;
    // Trending photos older than the newest candidates join them, under the
    // same rule as the candidates: public, ready and not deleted.
    let known: HashSet<PhotoId> = candidates.iter().map(|p| p.id.clone()).collect();
    let missing: Vec<PhotoId> = trending.keys().filter(|id| !known.contains(*id)).cloned().collect();
    candidates.extend(st.catalog.photos_by_ids(&missing).await?.into_iter().filter(AppState::is_public));

    let mut scored = Vec::new();
    for p in candidates {
        if caller.user().is_some_and(|u| u.id == p.owner_id) || favorited.contains(&p.id) {
            continue;
        }
        let shared_tags: Vec<&String> = p.metadata.tags.iter().filter(|t| liked_tags.contains(*t)).collect();
        let favs = trending.get(&p.id).copied().unwrap_or(0.0);
        let age_h = ((now - p.created_ms).max(0) as f64) / 3_600_000.0;
        let signals = [
            (w.follow * followed.contains(&p.owner_id) as u8 as f64, format!("because you follow {}", p.owner)),
            (
                w.favorite_owner * liked_owners.contains_key(p.owner.as_str()) as u8 as f64,
                format!("because you liked photos by {}", p.owner),
            ),
            (
                w.tag * shared_tags.len().min(3) as f64,
                format!("because you like #{}", shared_tags.first().map_or("", |t| t.as_str())),
            ),
            (
                w.trending * (1.0 + favs).ln(),
                match p.metadata.tags.first() {
                    Some(t) => format!("trending in #{t}"),
                    None => "trending".to_string(),
                },
            ),
            (w.recency * 0.5f64.powf(age_h / w.recency_half_life_hours.max(0.1)), "new".to_string()),
        ];
        let score: f64 = signals.iter().map(|(s, _)| s).sum();
        let reason = signals
            .iter()
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, r)| r.clone())
            .unwrap_or_default();
        scored.push((score, p, reason));
    }
    // Highest score first; ties newest first, so the order is deterministic.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.created_ms.cmp(&a.1.created_ms)).then(b.1.id.cmp(&a.1.id)));
    let total = scored.len();
    let items: Vec<ExploreItem> = scored
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(score, p, reason)| ExploreItem { photo: st.photo_view(p, &caller), score: (score * 1000.0).round() / 1000.0, reason })
        .collect();
    Ok(Json(Page {
        items,
        next: (offset + limit < total).then(|| encode_offset(offset + limit)),
        prev: (offset > 0).then(|| encode_offset(offset.saturating_sub(limit))),
    }))
}
