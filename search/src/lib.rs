//! Full-text search over photos: the [`SearchIndex`] trait, its embedded
//! backend on tantivy ([`TantivyIndex`]) and its networked backend on
//! Meilisearch ([`MeiliIndex`]).
//!
//! The index is a projection of the catalog, rebuilt from it when needed;
//! the catalog stays the source of truth. Documents carry what the engine
//! needs to filter by access (visibility, owner, viewer ids), so results are
//! filtered inside the engine and pages stay full. Callers still re-check
//! hits against the catalog, which makes privacy changes take effect before
//! the index catches up.

pub mod meili;
mod tantivy_index;

use async_trait::async_trait;
use photostream_types::{PhotoId, UserId, Visibility};

pub use meili::MeiliIndex;
pub use tantivy_index::TantivyIndex;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search backend error: {0}")]
    Backend(String),
    #[error("search backend unavailable: {0}")]
    Unavailable(String),
}

pub type Result<T, E = SearchError> = std::result::Result<T, E>;

/// One change to the index.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexChange {
    Upsert(SearchDoc),
    Remove(PhotoId),
}

impl IndexChange {
    pub fn id(&self) -> &PhotoId {
        match self {
            IndexChange::Upsert(d) => &d.id,
            IndexChange::Remove(id) => id,
        }
    }
}

/// One photo as the index sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchDoc {
    pub id: PhotoId,
    pub owner_id: UserId,
    pub owner: String,
    /// The album the photo is in (for `?album=` filters).
    pub album_id: String,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub visibility: Visibility,
    /// Users a `shared` photo is shared with.
    pub viewers: Vec<UserId>,
    pub created_ms: i64,
}

/// Who is searching, as the engine-side access filter sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Searcher {
    /// Public documents only.
    Anonymous,
    /// Public documents, the user's own, and those shared with them.
    User(UserId),
    /// Everything (moderators, rebuild checks).
    Unrestricted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Free text; every word must match (each allowing one typo).
    pub text: String,
    pub owner: Option<UserId>,
    pub tag: Option<String>,
    /// Only photos in this album (an album id).
    pub album: Option<String>,
    pub searcher: Searcher,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchHits {
    /// Best first.
    pub ids: Vec<PhotoId>,
    /// Whether more hits exist after this page.
    pub more: bool,
}

#[async_trait]
pub trait SearchIndex: Send + Sync + 'static {
    /// Inserts or replaces the document for `doc.id`; visible to `search`
    /// when this returns.
    async fn upsert(&self, doc: SearchDoc) -> Result<()>;
    /// Removes the document; idempotent.
    async fn remove(&self, id: &PhotoId) -> Result<()>;
    /// Several changes, each id at most once, all visible to `search` when
    /// this returns. Engines that pay per commit or per task do them in one
    /// (the indexer hands over what the stream has ready); the default
    /// applies them one by one.
    async fn apply(&self, changes: Vec<IndexChange>) -> Result<()> {
        for change in changes {
            match change {
                IndexChange::Upsert(d) => self.upsert(d).await?,
                IndexChange::Remove(id) => self.remove(&id).await?,
            }
        }
        Ok(())
    }
    async fn search(&self, query: &SearchQuery) -> Result<SearchHits>;
    /// How many documents carry this id (0 or 1 when healthy).
    async fn count_id(&self, id: &PhotoId) -> Result<u64>;
    async fn ping(&self) -> Result<()>;
    fn kind(&self) -> &'static str;
}

/// Splits free text into lower-case words, the way every backend sees them.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .take(16)
        .collect()
}
