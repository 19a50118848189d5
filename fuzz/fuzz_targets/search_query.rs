//! Search queries as users type them: word splitting, the Meilisearch
//! filter built from them (quotes always balanced), and a real search on a
//! small in-memory tantivy index. Never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use photostream_search::meili::filter_for;
use photostream_search::{words, SearchDoc, SearchIndex, SearchQuery, Searcher, TantivyIndex};
use photostream_types::{PhotoId, UserId, Visibility};
use std::sync::OnceLock;

fn index() -> &'static (tokio::runtime::Runtime, TantivyIndex) {
    static INDEX: OnceLock<(tokio::runtime::Runtime, TantivyIndex)> = OnceLock::new();
    INDEX.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let index = TantivyIndex::in_memory().unwrap();
        rt.block_on(async {
            for (i, title) in ["kingfisher by the river", "swans at dusk", "night market"].iter().enumerate() {
                index
                    .upsert(SearchDoc {
                        id: PhotoId::new(),
                        owner_id: UserId::new(),
                        owner: format!("user{i}"),
                        album_id: "a".into(),
                        title: title.to_string(),
                        description: String::new(),
                        tags: vec!["birds".into()],
                        visibility: Visibility::Public,
                        viewers: vec![],
                        created_ms: i as i64,
                    })
                    .await
                    .unwrap();
            }
        });
        (rt, index)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let w = words(text);
    assert!(w.len() <= 16);
    let (tag, album) = text.split_once('|').map_or((None, None), |(a, b)| (Some(a.to_string()), Some(b.to_string())));
    let q = SearchQuery { text: text.to_string(), owner: None, tag, album, searcher: Searcher::Anonymous, offset: 0, limit: 20 };
    if let Some(f) = filter_for(&q) {
        // Every user value sits inside a quoted string with its quotes escaped.
        let unescaped = f.replace("\\\\", "").replace("\\\"", "");
        assert_eq!(unescaped.matches('"').count() % 2, 0, "unbalanced quotes in {f:?}");
    }
    let (rt, index) = index();
    let _ = rt.block_on(index.search(&q));
});
