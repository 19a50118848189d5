//! The object-store contract, against local files and S3 (moto's S3 server,
//! `TEST_S3_ENDPOINT`, default `http://127.0.0.1:5000`; unreachable is a
//! failure, not a skip).

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::{path::Path, GetOptions, GetRange, ObjectStore, PutMode, PutOptions, PutPayload};

pub async fn contract(store: Arc<dyn ObjectStore>) {
    let key = Path::parse("alice/default/original/swans.jpg").unwrap();
    let body = Bytes::from((0..=255u8).cycle().take(10_000).collect::<Vec<_>>());
    store.put_opts(&key, PutPayload::from(body.clone()), PutOptions::from(PutMode::Create)).await.unwrap();
    // Create-only: a second writer of the same key loses, the first's bytes stay.
    let again = store
        .put_opts(&key, PutPayload::from(Bytes::from_static(b"other")), PutOptions::from(PutMode::Create))
        .await;
    assert!(matches!(again, Err(object_store::Error::AlreadyExists { .. })), "{again:?}");
    let got = store.get(&key).await.unwrap().bytes().await.unwrap();
    assert_eq!(got, body);
    let head = store.head(&key).await.unwrap();
    assert_eq!(head.size, 10_000);
    let range = store
        .get_opts(&key, GetOptions { range: Some(GetRange::Bounded(100..200)), ..Default::default() })
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(range, body.slice(100..200));
    let thumb = Path::parse("alice/default/thumbnail/swans_thumbnail.jpg").unwrap();
    store.put(&thumb, PutPayload::from_static(b"thumb")).await.unwrap();
    let listed: Vec<_> = store.list(Some(&Path::from("alice"))).map_ok(|m| m.location.to_string()).try_collect().await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    store.delete(&key).await.unwrap();
    assert!(matches!(store.head(&key).await, Err(object_store::Error::NotFound { .. })));
    store.delete(&thumb).await.unwrap();
}

#[tokio::test]
async fn local_files_meet_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(photostream_cli::backends::objects("local", dir.path()).unwrap()).await;
}

/// Creates a fresh bucket on the S3 test server and returns its URL.
pub async fn fresh_s3_bucket() -> String {
    let endpoint = std::env::var("TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5000".into());
    let bucket = format!("pstest-{}", &photostream_types::PhotoId::new().as_str().replace('-', "")[20..]);
    photostream_tests::install_crypto();
    let r = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("the S3 test server at {endpoint} is required (moto_server): {e}"));
    assert!(r.status().is_success(), "creating bucket: {}", r.status());
    // moto accepts any credentials; object_store wants some.
    std::env::set_var("AWS_ACCESS_KEY_ID", std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "test".into()));
    std::env::set_var("AWS_SECRET_ACCESS_KEY", std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into()));
    format!("s3://{bucket}?endpoint={endpoint}&region=us-east-1&allow_http=true")
}

#[tokio::test]
async fn s3_meets_the_contract() {
    let url = fresh_s3_bucket().await;
    let dir = tempfile::tempdir().unwrap();
    contract(photostream_cli::backends::objects(&url, dir.path()).unwrap()).await;
    println!("objects contract: ran against S3 (moto) at {url}");
}
