//! Meilisearch backend: `meilisearch+http://host:7700` (API key from config).
//!
//! Index settings: searchable `title`, `description`, `tags`, `owner`;
//! filterable `visibility`, `owner_id`, `viewers`, `tags`, `album_id`; sortable
//! `created_ms`; one typo allowed from 3 letters (as the tantivy backend),
//! two from 9. Access is expressed as a filter
//! (`visibility = "public" OR owner_id = "…" OR viewers = "…"`), so results
//! are filtered inside the engine. Writes wait for their task, so a write is
//! searchable when `upsert`/`remove` return (read-your-writes).

use async_trait::async_trait;
use meilisearch_sdk::client::Client;
use meilisearch_sdk::indexes::Index;
use meilisearch_sdk::settings::{MinWordSizeForTypos, Settings, TypoToleranceSettings};
use photostream_types::PhotoId;
use serde::{Deserialize, Serialize};

use crate::{IndexChange, Result, SearchDoc, SearchError, SearchHits, SearchIndex, SearchQuery, Searcher};

fn backend(e: impl std::fmt::Display) -> SearchError {
    SearchError::Backend(e.to_string())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct MeiliDoc {
    id: String,
    owner_id: String,
    owner: String,
    album_id: String,
    title: String,
    description: String,
    tags: Vec<String>,
    visibility: String,
    viewers: Vec<String>,
    created_ms: i64,
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    id: String,
}

pub struct MeiliIndex {
    client: Client,
    index: Index,
}

/// A filter value, quoted for Meilisearch's filter syntax.
fn quote(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The engine-side filter for a query: access first, then owner and tag.
pub fn filter_for(q: &SearchQuery) -> Option<String> {
    let mut parts = Vec::new();
    match &q.searcher {
        Searcher::Unrestricted => {}
        Searcher::Anonymous => parts.push("visibility = \"public\"".to_string()),
        Searcher::User(u) => parts.push(format!(
            "(visibility = \"public\" OR owner_id = {id} OR viewers = {id})",
            id = quote(u.as_str())
        )),
    }
    if let Some(owner) = &q.owner {
        parts.push(format!("owner_id = {}", quote(owner.as_str())));
    }
    if let Some(tag) = &q.tag {
        parts.push(format!("tags = {}", quote(tag)));
    }
    if let Some(album) = &q.album {
        parts.push(format!("album_id = {}", quote(album)));
    }
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

impl MeiliIndex {
    /// Connects to `url` (`http://host:7700`, the `meilisearch+` prefix
    /// stripped by the caller or here), creates index `uid` if needed and
    /// applies the settings, waiting for each task.
    pub async fn connect(url: &str, api_key: Option<&str>, uid: &str) -> Result<Self> {
        let url = url.strip_prefix("meilisearch+").unwrap_or(url);
        let client = Client::new(url, api_key).map_err(backend)?;
        client
            .health()
            .await
            .map_err(|e| SearchError::Unavailable(e.to_string()))?;
        let task = client.create_index(uid, Some("id")).await.map_err(backend)?;
        // "index already exists" is fine: settings below are idempotent.
        task.wait_for_completion(&client, None, None).await.map_err(backend)?;
        let index = client.index(uid);
        let settings = Settings::new()
            .with_searchable_attributes(["title", "description", "tags", "owner"])
            .with_filterable_attributes(["visibility", "owner_id", "viewers", "tags", "album_id"])
            .with_sortable_attributes(["created_ms"])
            .with_typo_tolerance(TypoToleranceSettings {
                enabled: Some(true),
                disable_on_attributes: None,
                disable_on_words: None,
                disable_on_numbers: None,
                min_word_size_for_typos: Some(MinWordSizeForTypos {
                    one_typo: Some(3),
                    two_typos: Some(9),
                }),
            });
        let task = index
            .set_settings(&settings)
            .await
            .map_err(backend)?
            .wait_for_completion(&client, None, None)
            .await
            .map_err(backend)?;
        if task.is_failure() {
            return Err(backend(format!("applying index settings failed: {task:?}")));
        }
        Ok(Self { client, index })
    }

    async fn wait(&self, task: meilisearch_sdk::task_info::TaskInfo) -> Result<()> {
        let done = task
            .wait_for_completion(&self.client, Some(std::time::Duration::from_millis(10)), Some(std::time::Duration::from_secs(30)))
            .await
            .map_err(backend)?;
        if done.is_failure() {
            return Err(backend(format!("Meilisearch task failed: {done:?}")));
        }
        Ok(())
    }
}

impl From<SearchDoc> for MeiliDoc {
    fn from(d: SearchDoc) -> Self {
        MeiliDoc {
            id: d.id.to_string(),
            owner_id: d.owner_id.to_string(),
            owner: d.owner,
            album_id: d.album_id,
            title: d.title,
            description: d.description,
            tags: d.tags,
            visibility: d.visibility.as_str().to_string(),
            viewers: d.viewers.iter().map(|v| v.to_string()).collect(),
            created_ms: d.created_ms,
        }
    }
}

#[async_trait]
impl SearchIndex for MeiliIndex {
    async fn upsert(&self, d: SearchDoc) -> Result<()> {
        self.apply(vec![IndexChange::Upsert(d)]).await
    }

    async fn remove(&self, id: &PhotoId) -> Result<()> {
        self.apply(vec![IndexChange::Remove(id.clone())]).await
    }

    /// At most two tasks for the whole batch: one document addition, one
    /// deletion (each id appears once, so their order does not matter).
    async fn apply(&self, changes: Vec<IndexChange>) -> Result<()> {
        let mut docs = Vec::new();
        let mut removed = Vec::new();
        for change in changes {
            match change {
                IndexChange::Upsert(d) => docs.push(MeiliDoc::from(d)),
                IndexChange::Remove(id) => removed.push(id.to_string()),
            }
        }
        if !docs.is_empty() {
            let task = self.index.add_or_replace(&docs, Some("id")).await.map_err(backend)?;
            self.wait(task).await?;
        }
        if !removed.is_empty() {
            let task = self.index.delete_documents(&removed).await.map_err(backend)?;
            self.wait(task).await?;
        }
        Ok(())
    }

    async fn search(&self, q: &SearchQuery) -> Result<SearchHits> {
        let filter = filter_for(q);
        let limit = q.limit.max(1);
        let mut search = self.index.search();
        search.with_query(&q.text).with_offset(q.offset).with_limit(limit + 1);
        if let Some(f) = &filter {
            search.with_filter(f);
        }
        let results = search.execute::<IdOnly>().await.map_err(backend)?;
        let mut ids = results
            .hits
            .into_iter()
            .filter_map(|h| h.result.id.parse::<PhotoId>().ok())
            .collect::<Vec<_>>();
        let more = ids.len() > limit;
        ids.truncate(limit);
        Ok(SearchHits { ids, more })
    }

    async fn count_id(&self, id: &PhotoId) -> Result<u64> {
        match self.index.get_document::<IdOnly>(id.as_str()).await {
            Ok(_) => Ok(1),
            Err(meilisearch_sdk::errors::Error::Meilisearch(e))
                if e.error_code == meilisearch_sdk::errors::ErrorCode::DocumentNotFound =>
            {
                Ok(0)
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn ping(&self) -> Result<()> {
        self.client
            .health()
            .await
            .map(|_| ())
            .map_err(|e| SearchError::Unavailable(e.to_string()))
    }

    fn kind(&self) -> &'static str {
        "meilisearch"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use photostream_types::UserId;

    #[test]
    fn filters_carry_the_access_rule() {
        let u = UserId::new();
        let q = SearchQuery {
            text: "x".into(),
            owner: None,
            tag: Some("say \"hi\"".into()),
            album: None,
            searcher: Searcher::User(u.clone()),
            offset: 0,
            limit: 10,
        };
        let f = filter_for(&q).unwrap();
        assert!(f.starts_with("(visibility = \"public\" OR owner_id = \""));
        assert!(f.contains(&format!("viewers = \"{u}\"")));
        assert!(f.ends_with("tags = \"say \\\"hi\\\"\""));
        let anon = SearchQuery { searcher: Searcher::Anonymous, tag: None, ..q.clone() };
        assert_eq!(filter_for(&anon).unwrap(), "visibility = \"public\"");
        let all = SearchQuery { searcher: Searcher::Unrestricted, tag: None, ..q };
        assert_eq!(filter_for(&all), None);
    }
}
