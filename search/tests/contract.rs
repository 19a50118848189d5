//! The behavioural contract every [`SearchIndex`] backend must meet. The
//! same `contract` function runs against each implementation.

use photostream_search::{IndexChange, SearchDoc, SearchIndex, SearchQuery, Searcher, TantivyIndex};
use photostream_types::{PhotoId, UserId, Visibility};

fn doc(owner: &UserId, title: &str, visibility: Visibility, created_ms: i64) -> SearchDoc {
    SearchDoc {
        id: PhotoId::new(),
        owner_id: owner.clone(),
        owner: "alice".into(),
        album_id: if title.starts_with("Secret") { "album-b".into() } else { "album-a".into() },
        title: title.into(),
        description: "taken at the lake".into(),
        tags: vec!["birds".into(), "sunset-beach".into()],
        visibility,
        viewers: vec![],
        created_ms,
    }
}

fn query(text: &str, searcher: Searcher) -> SearchQuery {
    SearchQuery {
        text: text.into(),
        owner: None,
        tag: None,
        album: None,
        searcher,
        offset: 0,
        limit: 10,
    }
}

pub async fn contract(index: &dyn SearchIndex) {
    let alice = UserId::new();
    let bob = UserId::new();
    let carol = UserId::new();
    let swans = doc(&alice, "Swans on the river", Visibility::Public, 1);
    let mut secret = doc(&alice, "Secret swans", Visibility::Private, 2);
    let mut shared = doc(&alice, "Shared swans", Visibility::Shared, 3);
    shared.viewers = vec![bob.clone()];
    for d in [&swans, &secret, &shared] {
        index.upsert(d.clone()).await.unwrap();
    }

    // A title word, and a one-letter typo of it.
    let hits = index.search(&query("river", Searcher::Anonymous)).await.unwrap();
    assert_eq!(hits.ids, vec![swans.id.clone()]);
    let hits = index.search(&query("rivr", Searcher::Anonymous)).await.unwrap();
    assert_eq!(hits.ids, vec![swans.id.clone()], "deletion typo");
    let hits = index.search(&query("rover", Searcher::Anonymous)).await.unwrap();
    assert_eq!(hits.ids, vec![swans.id.clone()], "substitution typo");
    let hits = index.search(&query("lkae", Searcher::Anonymous)).await.unwrap();
    assert_eq!(hits.ids, vec![swans.id.clone()], "transposition in the description");
    // Tags and owner names are searchable too.
    let hits = index.search(&query("sunset", Searcher::Anonymous)).await.unwrap();
    assert_eq!(hits.ids, vec![swans.id.clone()]);
    assert!(index.search(&query("penguins", Searcher::Anonymous)).await.unwrap().ids.is_empty());

    // Access filters are applied inside the engine.
    let ids = |h: photostream_search::SearchHits| {
        let mut v = h.ids;
        v.sort();
        v
    };
    let mut all = vec![swans.id.clone(), secret.id.clone(), shared.id.clone()];
    all.sort();
    assert_eq!(ids(index.search(&query("swans", Searcher::User(alice.clone()))).await.unwrap()), all);
    let mut bob_sees = vec![swans.id.clone(), shared.id.clone()];
    bob_sees.sort();
    assert_eq!(ids(index.search(&query("swans", Searcher::User(bob.clone()))).await.unwrap()), bob_sees);
    assert_eq!(
        index.search(&query("swans", Searcher::User(carol.clone()))).await.unwrap().ids,
        vec![swans.id.clone()]
    );

    // Filters by owner and tag.
    let mut q = query("", Searcher::Unrestricted);
    q.owner = Some(bob.clone());
    assert!(index.search(&q).await.unwrap().ids.is_empty());
    q.owner = Some(alice.clone());
    q.tag = Some("sunset-beach".into());
    assert_eq!(index.search(&q).await.unwrap().ids.len(), 3);
    q.album = Some("album-b".into());
    assert_eq!(index.search(&q).await.unwrap().ids, vec![secret.id.clone()]);

    // Upsert replaces; remove removes; both are idempotent.
    secret.visibility = Visibility::Public;
    index.upsert(secret.clone()).await.unwrap();
    index.upsert(secret.clone()).await.unwrap();
    assert_eq!(index.count_id(&secret.id).await.unwrap(), 1);
    assert_eq!(index.search(&query("secret", Searcher::Anonymous)).await.unwrap().ids, vec![secret.id.clone()]);
    index.remove(&secret.id).await.unwrap();
    index.remove(&secret.id).await.unwrap();
    assert_eq!(index.count_id(&secret.id).await.unwrap(), 0);

    // Paging by offset covers every hit exactly once.
    for i in 0..7 {
        index.upsert(doc(&carol, &format!("pelican {i}"), Visibility::Public, 10 + i)).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut q = query("pelican", Searcher::Anonymous);
    q.limit = 3;
    loop {
        let page = index.search(&q).await.unwrap();
        seen.extend(page.ids.clone());
        if !page.more {
            break;
        }
        q.offset += 3;
    }
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!((n, seen.len()), (7, 7));

    // A batch of changes is visible when `apply` returns: new documents,
    // a replacement and a removal, in one write.
    let herons: Vec<SearchDoc> = (0..50).map(|i| doc(&carol, &format!("heron {i}"), Visibility::Public, 100 + i)).collect();
    let mut changes: Vec<IndexChange> = herons.iter().cloned().map(IndexChange::Upsert).collect();
    let mut renamed = swans.clone();
    renamed.title = "Cormorant on the river".into();
    changes.push(IndexChange::Upsert(renamed));
    changes.push(IndexChange::Remove(shared.id.clone()));
    index.apply(changes).await.unwrap();
    let mut q = query("heron", Searcher::Anonymous);
    q.limit = 100;
    assert_eq!(index.search(&q).await.unwrap().ids.len(), 50);
    assert_eq!(index.search(&query("cormorant", Searcher::Anonymous)).await.unwrap().ids, vec![swans.id.clone()]);
    assert_eq!(index.count_id(&swans.id).await.unwrap(), 1);
    assert_eq!(index.count_id(&shared.id).await.unwrap(), 0);
    index.apply(Vec::new()).await.unwrap();
    index.ping().await.unwrap();
}

#[tokio::test]
async fn tantivy_on_disk_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(dir.path()).unwrap();
    contract(&index).await;
}

#[tokio::test]
async fn tantivy_in_memory_meets_the_contract() {
    contract(&TantivyIndex::in_memory().unwrap()).await;
}

/// Searches beyond the ones the index runs at once (one per core) wait
/// their turn and each still gets its own answer; a search abandoned while
/// waiting (a client gone) gives its turn up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tantivy_answers_more_searches_than_it_runs_at_once() {
    let index = std::sync::Arc::new(TantivyIndex::in_memory().unwrap());
    let alice = UserId::new();
    let river = doc(&alice, "Swans on the river", Visibility::Public, 1);
    let meadow = doc(&alice, "Geese in the meadow", Visibility::Public, 2);
    index.apply(vec![IndexChange::Upsert(river.clone()), IndexChange::Upsert(meadow.clone())]).await.unwrap();

    let abandoned: Vec<_> = (0..16)
        .map(|_| {
            let index = index.clone();
            tokio::spawn(async move { index.search(&query("river", Searcher::Anonymous)).await })
        })
        .collect();
    for a in &abandoned {
        a.abort();
    }
    let searches: Vec<_> = (0..64)
        .map(|i| {
            let index = index.clone();
            let (word, want) = if i % 2 == 0 { ("river", river.id.clone()) } else { ("meadow", meadow.id.clone()) };
            tokio::spawn(async move { (index.search(&query(word, Searcher::Anonymous)).await.unwrap().ids, want) })
        })
        .collect();
    for s in searches {
        let (ids, want) = s.await.unwrap();
        assert_eq!(ids, vec![want]);
    }
}

/// Runs against Meilisearch when `MEILI_URL` (and `MEILI_KEY`, if the
/// server has a master key) are set; says so plainly when it did not run.
#[tokio::test]
async fn meilisearch_meets_the_contract_when_configured() {
    let Some(url) = photostream_testkit::optional_service("MEILI_URL", "Meilisearch contract; no Meilisearch server in CI") else {
        return;
    };
    let key = std::env::var("MEILI_KEY").ok();
    let uid = format!("pstest_{}", photostream_testkit::unique_suffix());
    let index = photostream_search::MeiliIndex::connect(&url, key.as_deref(), &uid)
        .await
        .unwrap_or_else(|e| panic!("MEILI_URL={url} is set but unreachable: {e}"));
    contract(&index).await;
    println!("search contract: ran against Meilisearch at {url} (index {uid})");
}
