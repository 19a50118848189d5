//! The embedded search backend.
//!
//! Typo tolerance: each query word matches exactly (boosted) or within one
//! edit (Levenshtein distance 1, transpositions counting as one) for words of
//! three or more letters. Every word must match in some field.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use photostream_types::PhotoId;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, Value, FAST, INDEXED, STORED, STRING, TEXT,
};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

/// The index writer's memory arena: enough for a batch of 500 documents
/// (`processors::indexer`), at tantivy's minimum per thread.
const WRITER_MEMORY_BYTES: usize = 15_000_000;

use crate::{words, IndexChange, Result, SearchDoc, SearchError, SearchHits, SearchIndex, SearchQuery, Searcher};

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    owner_id: Field,
    owner: Field,
    title: Field,
    description: Field,
    tags_text: Field,
    tag: Field,
    album_id: Field,
    visibility: Field,
    viewer: Field,
    created_ms: Field,
}

pub struct TantivyIndex {
    reader: IndexReader,
    writer: Arc<Mutex<IndexWriter>>,
    fields: Fields,
    /// Searches running at once (one per core): each is CPU-bound on a
    /// blocking thread, so more than the cores only adds runnable threads
    /// that take time from the async workers serving every other request;
    /// the rest wait here, in order, without holding a thread.
    searching: Arc<tokio::sync::Semaphore>,
}

/// How many searches may run at once: the machine's cores.
fn search_slots() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        owner_id: b.add_text_field("owner_id", STRING),
        owner: b.add_text_field("owner", TEXT),
        title: b.add_text_field("title", TEXT),
        description: b.add_text_field("description", TEXT),
        tags_text: b.add_text_field("tags_text", TEXT),
        tag: b.add_text_field("tag", STRING),
        album_id: b.add_text_field("album_id", STRING),
        visibility: b.add_text_field("visibility", STRING),
        viewer: b.add_text_field("viewer", STRING),
        created_ms: b.add_i64_field("created_ms", INDEXED | FAST),
    };
    (b.build(), fields)
}

fn backend(e: impl std::fmt::Display) -> SearchError {
    SearchError::Backend(e.to_string())
}

impl TantivyIndex {
    /// Opens or creates the index in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(backend)?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir).map_err(backend)?;
        let index = Index::open_or_create(directory, schema).map_err(backend)?;
        Self::from_index(index, fields)
    }

    /// An index held in memory (tests, benchmarks).
    pub fn in_memory() -> Result<Self> {
        let (schema, fields) = schema();
        Self::from_index(Index::create_in_ram(schema), fields)
    }

    fn from_index(index: Index, fields: Fields) -> Result<Self> {
        // One indexing thread and one merge thread: the index takes a
        // trickle of documents beside a read-heavy API on the same cores,
        // and every commit starts a segment whose term table (4 MB at this
        // budget) is allocated and zeroed per indexing thread; with
        // tantivy's defaults (a thread per core, four merge threads) that
        // zeroing and the merges' bursts were 19 % of the server's CPU at
        // 10 uploads/s (docs/benchmarks.md).
        let options = tantivy::indexer::IndexWriterOptions::builder()
            .num_worker_threads(1)
            .num_merge_threads(1)
            .memory_budget_per_thread(WRITER_MEMORY_BYTES)
            .build();
        let writer = index.writer_with_options(options).map_err(backend)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(backend)?;
        Ok(Self {
            reader,
            writer: Arc::new(Mutex::new(writer)),
            fields,
            searching: Arc::new(tokio::sync::Semaphore::new(search_slots())),
        })
    }

    fn id_term(&self, id: &PhotoId) -> Term {
        Term::from_field_text(self.fields.id, id.as_str())
    }

    /// Runs a write and a commit on a blocking thread, then refreshes readers
    /// so the change is visible when this returns.
    async fn write(&self, f: impl FnOnce(&mut IndexWriter, Fields) -> Result<()> + Send + 'static) -> Result<()> {
        let writer = self.writer.clone();
        let reader = self.reader.clone();
        let fields = self.fields;
        tokio::task::spawn_blocking(move || {
            let mut w = writer.lock().map_err(|_| backend("index writer poisoned"))?;
            f(&mut w, fields)?;
            w.commit().map_err(backend)?;
            reader.reload().map_err(backend)
        })
        .await
        .map_err(backend)?
    }

    fn build_query(&self, q: &SearchQuery) -> Box<dyn Query> {
        let f = self.fields;
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for word in words(&q.text) {
            let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for field in [f.title, f.description, f.tags_text, f.owner] {
                let term = Term::from_field_text(field, &word);
                alternatives.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(
                        Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)),
                        2.0,
                    )),
                ));
                if word.chars().count() >= 3 {
                    alternatives.push((Occur::Should, Box::new(FuzzyTermQuery::new(term, 1, true))));
                }
            }
            must.push((Occur::Must, Box::new(BooleanQuery::new(alternatives))));
        }
        let exact = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        if let Some(owner) = &q.owner {
            must.push((Occur::Must, exact(f.owner_id, owner.as_str())));
        }
        if let Some(tag) = &q.tag {
            must.push((Occur::Must, exact(f.tag, tag)));
        }
        if let Some(album) = &q.album {
            must.push((Occur::Must, exact(f.album_id, album)));
        }
        match &q.searcher {
            Searcher::Unrestricted => {}
            Searcher::Anonymous => must.push((Occur::Must, exact(f.visibility, "public"))),
            Searcher::User(uid) => {
                let acl = BooleanQuery::new(vec![
                    (Occur::Should, exact(f.visibility, "public")),
                    (Occur::Should, exact(f.owner_id, uid.as_str())),
                    (Occur::Should, exact(f.viewer, uid.as_str())),
                ]);
                must.push((Occur::Must, Box::new(acl)));
            }
        }
        if must.is_empty() {
            return Box::new(AllQuery);
        }
        // A query of only filters still needs something that matches all.
        must.push((Occur::Must, Box::new(AllQuery)));
        Box::new(BooleanQuery::new(must))
    }
}

fn document(f: &Fields, d: &SearchDoc) -> TantivyDocument {
    let mut doc = doc!(
        f.id => d.id.as_str(),
        f.owner_id => d.owner_id.as_str(),
        f.owner => d.owner.as_str(),
        f.album_id => d.album_id.as_str(),
        f.title => d.title.as_str(),
        f.description => d.description.as_str(),
        f.visibility => d.visibility.as_str(),
        f.created_ms => d.created_ms,
    );
    for t in &d.tags {
        doc.add_text(f.tag, t);
        doc.add_text(f.tags_text, t.replace('-', " "));
    }
    for v in &d.viewers {
        doc.add_text(f.viewer, v.as_str());
    }
    doc
}

#[async_trait]
impl SearchIndex for TantivyIndex {
    async fn upsert(&self, d: SearchDoc) -> Result<()> {
        self.apply(vec![IndexChange::Upsert(d)]).await
    }

    async fn remove(&self, id: &PhotoId) -> Result<()> {
        self.apply(vec![IndexChange::Remove(id.clone())]).await
    }

    /// One commit (and one reader reload) for the whole batch: a commit
    /// writes and syncs a segment, so committing per document caps the
    /// indexer at a few dozen documents a second.
    async fn apply(&self, changes: Vec<IndexChange>) -> Result<()> {
        let terms: Vec<Term> = changes.iter().map(|c| self.id_term(c.id())).collect();
        self.write(move |w, f| {
            for (change, id_term) in changes.into_iter().zip(terms) {
                w.delete_term(id_term);
                if let IndexChange::Upsert(d) = change {
                    w.add_document(document(&f, &d)).map_err(backend)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn search(&self, q: &SearchQuery) -> Result<SearchHits> {
        let query = self.build_query(q);
        let searcher = self.reader.searcher();
        let id_field = self.fields.id;
        let (offset, limit) = (q.offset, q.limit.max(1));
        let slot = self.searching.clone().acquire_owned().await.map_err(backend)?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let top = TopDocs::with_limit(limit + 1).and_offset(offset);
            let hits = searcher.search(&query, &top).map_err(backend)?;
            let mut ids = Vec::with_capacity(hits.len());
            for (_, addr) in hits {
                let doc: TantivyDocument = searcher.doc(addr).map_err(backend)?;
                let id = doc
                    .get_first(id_field)
                    .and_then(|v| v.as_str())
                    .and_then(|s| s.parse::<PhotoId>().ok())
                    .ok_or_else(|| backend("document without a valid id"))?;
                ids.push(id);
            }
            let more = ids.len() > limit;
            ids.truncate(limit);
            Ok(SearchHits { ids, more })
        })
        .await
        .map_err(backend)?
    }

    async fn count_id(&self, id: &PhotoId) -> Result<u64> {
        let query = TermQuery::new(self.id_term(id), IndexRecordOption::Basic);
        let searcher = self.reader.searcher();
        let n = searcher.search(&query, &Count).map_err(backend)?;
        Ok(n as u64)
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "tantivy"
    }
}
