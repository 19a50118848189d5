//! `photostream-bench backends`: throughput of each backend's hot operation,
//! the networked engine beside its embedded peer, measured in one run on
//! this machine (loopback only). These are the per-instance figures
//! docs/scaling.md builds its estimate on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use photostream_analytics::{Analytics, AnalyticsEvent, ClickHouseAnalytics, EmbeddedAnalytics, EventKind};
use photostream_cache::{ConcurrencyLimiter, InProcessLimiter, RedisLimiter};
use photostream_catalog::{Catalog, NewPhoto, OutboxEntry};
use photostream_pipeline::{ConsumerGroup, EmbeddedLog, Envelope, EventLog, NatsLog, PhotoUploaded, Record, Topic};
use photostream_types::{AlbumName, EventId, PhotoId, PhotoMetadata, UserId, Username, Visibility};
use sqlx::Connection;

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn row(what: &str, peer: &str, ours: f64, theirs: f64) {
    println!("{what:<44} {ours:>10.0}/s   {peer:<28} {theirs:>10.0}/s   {:>6.2}x", ours / theirs);
}

fn suffix() -> String {
    PhotoId::new().as_str().replace('-', "")[20..].to_string()
}

async fn catalog_inserts(c: &Catalog, n: usize, concurrency: usize) -> anyhow::Result<f64> {
    let user = c.create_user(&Username::parse(&format!("u{}", suffix()))?, "h").await?;
    let album = c.ensure_album(&user.id, &AlbumName::default_album()).await?;
    let start = Instant::now();
    let per_task = n / concurrency;
    let tasks = (0..concurrency).map(|t| {
        let (c, user, album) = (c.clone(), user.id.clone(), album.id.clone());
        async move {
            for i in 0..per_task {
                let id = PhotoId::new();
                let stem = format!("b{t}-{i}-{}", &id.as_str()[24..]);
                let p = NewPhoto {
                    id: id.clone(),
                    owner_id: user.clone(),
                    album_id: album.clone(),
                    title: "bench".into(),
                    description: String::new(),
                    visibility: Visibility::Public,
                    width: 4000,
                    height: 3000,
                    format: "jpeg".into(),
                    content_hash: "00".into(),
                    byte_size: 3_000_000,
                    file_name: format!("{stem}.jpg"),
                    file_stem: stem.clone(),
                    original_key: format!("u/default/original/{stem}.jpg"),
                    thumbnail_key: None,
                    metadata: PhotoMetadata::default(),
                    viewers: vec![],
                    watermark: false,
                };
                let outbox = OutboxEntry::new(EventId::new(), "photos", id.as_str(), "{}".into());
                c.insert_photo(&p, &outbox).await?;
            }
            anyhow::Ok(())
        }
    });
    for r in join_all(tasks).await {
        r?;
    }
    Ok(rate(per_task * concurrency, start.elapsed()))
}

fn envelope() -> Envelope {
    Envelope::new(
        Record::PhotoUploaded(PhotoUploaded {
            photo_id: PhotoId::new(),
            owner_id: UserId::new(),
            original_key: "alice/default/original/swans.jpg".into(),
            format: "jpeg".into(),
            bytes: 3_000_000,
            client_thumbnail_key: None,
            tags: vec!["birds".into()],
        }),
        Some("bench".into()),
    )
}

async fn publishes(log: Arc<dyn EventLog>, n: usize, concurrency: usize) -> anyhow::Result<f64> {
    let topic = Topic::photos();
    let start = Instant::now();
    let per = n / concurrency;
    let tasks = (0..concurrency).map(|t| {
        let (log, topic) = (log.clone(), topic.clone());
        async move {
            for i in 0..per {
                log.publish(&topic, &format!("k{t}-{i}"), &envelope()).await?;
            }
            anyhow::Ok(())
        }
    });
    for r in join_all(tasks).await {
        r?;
    }
    let published = rate(per * concurrency, start.elapsed());
    // Drain through one consumer to make sure they all arrived.
    let mut sub = log.subscribe(&topic, &ConsumerGroup::new("bench")?).await?;
    for _ in 0..per * concurrency {
        let d = tokio::time::timeout(Duration::from_secs(10), sub.next()).await??;
        sub.commit(&d).await?;
    }
    Ok(published)
}

async fn analytics_inserts(a: &dyn Analytics, n: usize, batch: usize) -> anyhow::Result<f64> {
    let start = Instant::now();
    for _ in 0..n / batch {
        let events: Vec<_> = (0..batch)
            .map(|_| AnalyticsEvent {
                id: EventId::new(),
                kind: EventKind::View,
                photo_id: PhotoId::new(),
                user_id: Some(UserId::new()),
                owner_id: None,
                at_ms: photostream_types::now_ms(),
                bytes: 0,
                format: None,
                tags: vec![],
            })
            .collect();
        a.record(&events).await?;
    }
    Ok(rate(n, start.elapsed()))
}

async fn slots(l: &dyn ConcurrencyLimiter, n: usize) -> anyhow::Result<f64> {
    let start = Instant::now();
    for i in 0..n {
        let slot = l.try_acquire(&format!("download:user:{}", i % 100)).await?.expect("free slot");
        slot.release().await;
    }
    Ok(rate(n, start.elapsed()))
}

pub async fn run() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    println!("{:<44} {:>12}   {:<28} {:>12}   {:>7}", "operation (ours)", "rate", "peer in the same run", "rate", "ratio");

    // Catalog: upload commits (photo row + outbox row in one transaction).
    let admin = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut conn = sqlx::PgConnection::connect(&admin).await?;
    let db = format!("photostream_bench_{}", suffix());
    sqlx::query(&format!("CREATE DATABASE {db}")).execute(&mut conn).await?;
    let pg = Catalog::connect(&format!("{}/{db}", admin.rsplit_once('/').unwrap().0)).await?;
    let lite = Catalog::connect(&format!("sqlite://{}", tmp.path().join("bench.db").display())).await?;
    for conc in [1, 16] {
        let p = catalog_inserts(&pg, 2000, conc).await?;
        let s = catalog_inserts(&lite, 2000, conc).await?;
        row(&format!("PostgreSQL upload commit, {conc} concurrent"), "SQLite (embedded)", p, s);
    }
    sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&mut conn).await.ok();

    // Stream: durable (acknowledged) publishes.
    let nats_url = std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    for conc in [1, 32] {
        let nats: Arc<dyn EventLog> = Arc::new(NatsLog::connect(&nats_url, &format!("psbench{}", suffix()), Duration::from_secs(30)).await?);
        let embedded: Arc<dyn EventLog> = Arc::new(EmbeddedLog::open(tmp.path().join(format!("log{conc}")))?);
        let n = publishes(nats, 5000, conc).await?;
        let e = publishes(embedded, 5000, conc).await?;
        row(&format!("NATS JetStream acked publish, {conc} concurrent"), "embedded log (fsync each)", n, e);
    }

    // Analytics: batched inserts of 1,000 events.
    let ch_base = std::env::var("TEST_CLICKHOUSE_URL").unwrap_or_else(|_| "clickhouse+http://127.0.0.1:8123".into());
    let ch = ClickHouseAnalytics::connect(&format!("{}/psbench_{}", ch_base.trim_end_matches('/'), suffix())).await?;
    let emb = EmbeddedAnalytics::open(&tmp.path().join("a.db")).await?;
    row(
        "ClickHouse events, batches of 1,000",
        "SQLite (embedded)",
        analytics_inserts(&ch, 50_000, 1000).await?,
        analytics_inserts(&emb, 50_000, 1000).await?,
    );

    // Per-user slots: acquire + release.
    let redis_url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let redis = RedisLimiter::connect(&redis_url, &format!("psbench{}", suffix()), Duration::from_secs(60)).await?;
    row(
        "Redis slot acquire+release",
        "in-process",
        slots(&redis, 5000).await?,
        slots(&InProcessLimiter::default(), 5000).await?,
    );
    Ok(())
}
