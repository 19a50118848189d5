//! The end-to-end flow once more, on every networked backend this machine
//! has at the same time: PostgreSQL, NATS JetStream, ClickHouse, Redis and
//! S3 (moto) — plus Meilisearch when `MEILI_URL` is set and Fluvio instead
//! of NATS when `FLUVIO_ENDPOINT` is set. Two service instances share the
//! backends, and their processors split one stream.

use std::time::Duration;

use photostream_analytics::{Analytics, ClickHouseAnalytics, EventKind};
use photostream_cli::{Config, Role};
use photostream_testkit::unique_suffix as suffix;
use photostream_tests::{fixture, png, TestServer, Upload};
use serde_json::Value;

async fn fresh_postgres() -> String {
    photostream_testkit::fresh_postgres("photostream_e2e").await
}

struct Shared {
    catalog: String,
    stream: String,
    prefix: String,
    search: Option<String>,
    analytics: String,
    cache: String,
    objects: String,
}

async fn shared_backends() -> Shared {
    let objects = crate::objects::fresh_s3_bucket().await;
    let stream = match std::env::var("FLUVIO_ENDPOINT") {
        Ok(e) => format!("fluvio://{}", e.trim_start_matches("fluvio://")),
        Err(_) => std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
    };
    let ch = std::env::var("TEST_CLICKHOUSE_URL").unwrap_or_else(|_| "clickhouse+http://127.0.0.1:8123".into());
    Shared {
        catalog: fresh_postgres().await,
        stream,
        prefix: format!("pse2e{}", suffix()),
        search: std::env::var("MEILI_URL").ok().map(|u| format!("meilisearch+{u}")),
        analytics: format!("{}/pse2e_{}", ch.trim_end_matches('/'), suffix()),
        cache: std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        objects,
    }
}

/// `member`: this instance's index among the processor instances (Fluvio
/// splits partitions by it; NATS ignores it).
async fn instance(s: &Shared, role: Role, member: (u32, u32)) -> TestServer {
    let data = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: data.path().to_path_buf(),
        role,
        catalog: s.catalog.clone(),
        stream: s.stream.clone(),
        stream_prefix: s.prefix.clone(),
        stream_ack_wait_secs: 5,
        stream_partitions: 4,
        stream_member: member.0,
        stream_members: member.1,
        search: s.search.clone().unwrap_or_else(|| "embedded".into()),
        search_index: s.prefix.clone(),
        search_key: std::env::var("MEILI_KEY").unwrap_or_default(),
        analytics: s.analytics.clone(),
        cache: s.cache.clone(),
        objects: s.objects.clone(),
        auth: photostream_cli::config::AuthConfig {
            // Instances of one deployment share the signing key.
            jwt_secret: format!("e2e-shared-secret-{}-0123456789abcdef", s.prefix),
            ..Default::default()
        },
        limits: photostream_cli::config::LimitsConfig { signups_per_address: 100_000, ..Default::default() },
        ..Config::default()
    };
    TestServer::start_config(config, data).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_on_every_networked_backend_with_two_instances() {
    let s = shared_backends().await;
    // With Meilisearch the roles can be split (API / processors / processors);
    // without it each instance keeps its own embedded index, so both run
    // everything (their processors still split the one stream).
    let (a, b, c) = if s.search.is_some() {
        (
            instance(&s, Role::Api, (0, 1)).await,
            instance(&s, Role::Processors, (0, 2)).await,
            Some(instance(&s, Role::Processors, (1, 2)).await),
        )
    } else {
        (instance(&s, Role::All, (0, 2)).await, instance(&s, Role::All, (1, 2)).await, None)
    };
    println!(
        "distributed e2e: catalog=PostgreSQL stream={} search={} analytics=ClickHouse cache=Redis objects=S3(moto)",
        s.stream,
        s.search.as_deref().unwrap_or("embedded tantivy per instance (MEILI_URL not set)")
    );
    let api = a.api();
    let (status, ready) = api.json("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    for (name, kind) in [("catalog", "sql"), ("analytics", "clickhouse"), ("cache", "redis")] {
        assert_eq!(ready["backends"][name]["kind"], kind, "{ready}");
    }
    let alice = api.signed_up("alice").await;

    let mut ids = Vec::new();
    for i in 0..16u32 {
        let (bytes, name) = match i {
            0 => (fixture("jpeg-exif-orient6-landscape.jpg"), "waterfall.jpg".to_string()),
            1 => (fixture("jpeg-exif-12mp-olympus.jpg"), "camera.jpg".to_string()),
            _ => (png(200, 150, i), format!("p{i}.png")),
        };
        let p = alice
            .upload_ok(bytes, &name, Upload {
                title: Some(format!("distributed kingfisher {i}")),
                metadata: Some(r#"{"tags":["river"]}"#.into()),
                ..Default::default()
            })
            .await;
        ids.push(p["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        alice.wait_ready(id, Duration::from_secs(120)).await;
    }
    let first: Value = alice.json(&format!("/v1/photos/{}", ids[0])).await.1;
    assert_eq!((first["width"].as_i64(), first["height"].as_i64()), (Some(600), Some(450)));
    let thumb = alice.get(first["urls"]["thumbnail"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(thumb.status(), 200);
    let img = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (50, 38));

    // The processors of several instances split the stream.
    let handled = |t: &TestServer| t.service().processor_stats("thumbnailer").map_or(0, |s| s.handled.load(std::sync::atomic::Ordering::Relaxed));
    let counts: Vec<u64> = [Some(&a), Some(&b), c.as_ref()].into_iter().flatten().map(handled).collect();
    println!("thumbnailer records per instance: {counts:?}");
    assert!(counts.iter().sum::<u64>() >= ids.len() as u64);
    assert!(counts.iter().filter(|n| **n > 0).count() >= 2, "work was not shared: {counts:?}");

    // Analytics reach ClickHouse once per upload.
    let ch = ClickHouseAnalytics::connect(&s.analytics).await.unwrap();
    for id in &ids {
        let id: photostream_types::PhotoId = id.parse().unwrap();
        let start = std::time::Instant::now();
        while ch.count(&id, EventKind::Upload).await.unwrap() != 1 {
            assert!(start.elapsed() < Duration::from_secs(30), "upload event for {id} not in ClickHouse");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(ch.top_tags(5).await.unwrap().first().map(|(t, n)| (t.as_str(), *n)), Some(("river", 16)));

    // Search (shared Meilisearch, or this instance's own index).
    if s.search.is_some() {
        let (_, hits) = alice.json("/v1/search?q=kingfisher&limit=100").await;
        assert_eq!(hits["items"].as_array().unwrap().len(), 16, "{hits}");
        let (_, hits) = alice.json("/v1/search?q=kingfsher+13").await;
        assert!(!hits["items"].as_array().unwrap().is_empty(), "typo search on Meilisearch");
    }

    // Deletion is immediate for every instance (shared catalog).
    let r = alice.http.delete(alice.url(&format!("/v1/photos/{}", ids[0]))).bearer_auth(alice.token.as_ref().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(alice.get(&format!("/v1/photos/{}", ids[0])).send().await.unwrap().status(), 404);
    if s.search.is_none() {
        let other = b.api().with_token(alice.token.as_ref().unwrap());
        assert_eq!(other.get(&format!("/v1/photos/{}", ids[0])).send().await.unwrap().status(), 404);
        assert_eq!(other.get(&format!("/v1/photos/{}", ids[1])).send().await.unwrap().status(), 200);
    }

    a.stop().await;
    b.stop().await;
    if let Some(c) = c {
        c.stop().await;
    }
}
