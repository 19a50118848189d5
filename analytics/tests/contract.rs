//! The analytics contract, run against the embedded backend and ClickHouse
//! (`TEST_CLICKHOUSE_URL`, default `clickhouse+http://127.0.0.1:8123`; a
//! fresh database per run; unreachable is a failure, not a skip).

use photostream_analytics::{Analytics, AnalyticsEvent, ClickHouseAnalytics, EmbeddedAnalytics, EventKind};
use photostream_types::{EventId, PhotoId, UserId};

fn owner() -> UserId {
    "01a21081-0000-7000-8000-000000000001".parse().unwrap()
}

fn event(kind: EventKind, photo: &PhotoId, tags: &[&str]) -> AnalyticsEvent {
    AnalyticsEvent {
        id: EventId::new(),
        kind,
        photo_id: photo.clone(),
        user_id: Some(UserId::new()),
        owner_id: Some(owner()),
        at_ms: photostream_types::now_ms(),
        bytes: 1000,
        format: Some("jpeg".into()),
        tags: tags.iter().map(|t| t.to_string()).collect(),
    }
}

async fn contract(a: &dyn Analytics) {
    a.ping().await.unwrap();
    let photo = PhotoId::new();
    let upload = event(EventKind::Upload, &photo, &["birds", "lake"]);
    let views: Vec<_> = (0..3).map(|_| event(EventKind::View, &photo, &[])).collect();
    a.record(&[upload.clone()]).await.unwrap();
    a.record(&views).await.unwrap();
    // Redelivery of the same events, in another batch: counted once.
    a.record(&[upload.clone(), views[0].clone()]).await.unwrap();
    a.record(&views).await.unwrap();
    assert_eq!(a.count(&photo, EventKind::Upload).await.unwrap(), 1);
    assert_eq!(a.count(&photo, EventKind::View).await.unwrap(), 3);
    assert_eq!(a.count(&PhotoId::new(), EventKind::View).await.unwrap(), 0);
    let today = a.daily(EventKind::View, &photostream_analytics::Scope::Photo(photo.clone()), 0).await.unwrap();
    assert_eq!(today.len(), 1);
    assert_eq!(today[0].1, 3, "{today:?}");
    assert_eq!(today[0].0.len(), 10, "YYYY-MM-DD");
    let by_owner = a.daily(EventKind::View, &photostream_analytics::Scope::Owner(owner()), 0).await.unwrap();
    assert!(by_owner.iter().map(|(_, n)| n).sum::<u64>() >= 3);
    let top = a.top(EventKind::View, 0, 5).await.unwrap();
    assert_eq!(top.iter().find(|(p, _)| *p == photo).map(|(_, n)| *n), Some(3), "{top:?}");
    a.record(&[]).await.unwrap();
}

#[tokio::test]
async fn embedded_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(&EmbeddedAnalytics::open(&dir.path().join("a.db")).await.unwrap()).await;
}

#[tokio::test]
async fn clickhouse_meets_the_contract_and_its_views_deduplicate() {
    let base = std::env::var("TEST_CLICKHOUSE_URL").unwrap_or_else(|_| "clickhouse+http://127.0.0.1:8123".into());
    let db = format!("pstest_{}", &PhotoId::new().as_str().replace('-', "")[20..]);
    let url = format!("{}/{db}", base.trim_end_matches('/'));
    let ch = ClickHouseAnalytics::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("ClickHouse at {base} is required: {e}"));
    contract(&ch).await;

    // The materialized views an analyst reads count each event once too.
    let photo = PhotoId::new();
    let v = event(EventKind::View, &photo, &[]);
    ch.record(&[v.clone(), v.clone()]).await.unwrap();
    ch.record(&[v.clone(), event(EventKind::View, &photo, &[])]).await.unwrap();
    let daily = ch.daily_views(&photo).await.unwrap();
    assert_eq!(daily.iter().map(|(_, n)| n).sum::<u64>(), 2, "{daily:?}");
    let tags = ch.top_tags(10).await.unwrap();
    assert_eq!(tags.iter().find(|(t, _)| t == "birds").map(|(_, n)| *n), Some(1), "{tags:?}");
    let uploads = ch.daily_uploads().await.unwrap();
    assert_eq!(uploads.iter().map(|(_, n)| n).sum::<u64>(), 1);
    println!("analytics contract: ran against ClickHouse at {base} (database {db})");
}
