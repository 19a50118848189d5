//! Keyset pagination never repeats or skips while photos keep arriving.

use std::collections::HashSet;
use std::time::Duration;

use photostream_tests::{png, Api, TestServer, Upload};

async fn upload_ready(api: &Api, seed: u32) -> String {
    let p = api.upload_ok(png(32, 24, seed), &format!("p{seed}.png"), Upload::default()).await;
    let id = p["id"].as_str().unwrap().to_string();
    api.wait_ready(&id, Duration::from_secs(30)).await;
    id
}

fn ids(page: &serde_json::Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_neither_repeat_nor_skip_while_uploads_continue() {
    let server = TestServer::start().await;
    let carol = server.api().signed_up("carol").await;
    let anon = server.api();
    let mut existing = Vec::new();
    for seed in 0..11 {
        existing.push(upload_ready(&carol, seed).await);
    }

    // Walk forward, uploading between pages.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = Vec::new();
    let mut seed = 100;
    loop {
        let path = match &cursor {
            None => "/v1/users/carol/photos?limit=3".to_string(),
            Some(c) => format!("/v1/users/carol/photos?limit=3&previous_last={c}"),
        };
        let (status, page) = anon.json(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(ids(&page));
        pages.push(page.clone());
        upload_ready(&carol, seed).await;
        seed += 1;
        match page["next"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an item was repeated: {seen:?}");
    // Newest first, and everything that existed throughout was seen.
    let mut expected = existing.clone();
    expected.reverse();
    assert_eq!(seen, expected);

    // And back again with previous_first from the last page.
    let last = pages.last().unwrap();
    let mut back = Vec::new();
    let mut cursor = last["prev"].as_str().map(str::to_string);
    while let Some(c) = cursor {
        let (status, page) = anon.json(&format!("/v1/users/carol/photos?limit=3&previous_first={c}")).await;
        assert_eq!(status, 200);
        let mut page_ids = ids(&page);
        page_ids.reverse();
        back.extend(page_ids);
        cursor = page["prev"].as_str().map(str::to_string);
    }
    // Walking back reaches the photos uploaded meanwhile too, none twice.
    let unique: HashSet<_> = back.iter().collect();
    assert_eq!(unique.len(), back.len());
    let before_last_page: Vec<_> = expected[..expected.len() - ids(last).len()].iter().rev().cloned().collect();
    assert_eq!(&back[..before_last_page.len()], &before_last_page[..]);
    assert_eq!(back.len(), before_last_page.len() + (seed - 100) as usize);
    server.stop().await;
}
