//! The crash harness: the real binary killed with SIGKILL at random moments
//! during bursts of uploads, on embedded defaults and on PostgreSQL + NATS
//! JetStream; every acknowledged upload becomes ready exactly once. Also the
//! admin and rebuild commands, run as the binary.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use photostream_analytics::{Analytics, EmbeddedAnalytics, EventKind};
use photostream_catalog::Catalog;
use photostream_search::{SearchIndex, TantivyIndex};
use photostream_tests::{files_under, fixture, png, Api, Upload};
use photostream_types::PhotoId;

pub(crate) struct Proc {
    pub(crate) child: Child,
    pub(crate) api: Api,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn spawn(data: &Path) -> Proc {
    spawn_with(data, &[]).await
}

/// Starts the real binary on `data` with extra `PHOTOSTREAM_*` settings.
pub(crate) async fn spawn_with(data: &Path, env: &[(String, String)]) -> Proc {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_photostream-under-test"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data)
        .env("RUST_LOG", "warn")
        .env("PHOTOSTREAM_LIMITS__SIGNUPS_PER_ADDRESS", "100000")
        .env("PHOTOSTREAM_SIGNALS__UPLOADS_PER_WINDOW", "0")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the photostream binary");
    let api = Api::new(&format!("http://127.0.0.1:{port}"));
    let start = Instant::now();
    loop {
        if let Ok(r) = api.get("/healthz").send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(30), "server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Proc { child, api }
}

impl Drop for Proc {
    /// A failing test must not leave a server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sigkill(p: Proc) {
    // std's Child::kill sends SIGKILL on Unix; Drop does exactly that.
    drop(p);
}

fn sigterm(mut p: Proc) {
    let status = Command::new("kill").arg("-TERM").arg(p.child.id().to_string()).status().unwrap();
    assert!(status.success());
    let start = Instant::now();
    loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            drop(p);
            assert!(status.success(), "graceful shutdown failed: {status}");
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no graceful shutdown");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One upload that never panics: `Some(id)` only when it was acknowledged
/// (202); a connection cut by the kill is simply not acknowledged.
async fn try_upload(api: &Api, bytes: Vec<u8>, name: String) -> Option<String> {
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(bytes).file_name(name.clone()))
        .text("title", format!("crash {name}"));
    let r = api.post("/v1/photos").multipart(form).send().await.ok()?;
    if r.status() != 202 {
        return None;
    }
    let v: serde_json::Value = r.json().await.ok()?;
    v["id"].as_str().map(str::to_string)
}

/// The crash harness: bursts of concurrent uploads, SIGKILL at a random
/// moment (seeded, printed), restart, several times; then every upload that
/// was acknowledged must end `ready` exactly once: one catalog row, one
/// listing entry, one thumbnail, one search document, one analytics event.
/// Uploads cut off by the kill were never acknowledged and may or may not
/// exist; they must not break anything either.
async fn random_kills(name: &str, env: Vec<(String, String)>, catalog_url: impl Fn(&Path) -> String) {
    use rand::{Rng, SeedableRng};
    let seed: u64 = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    println!("crash harness ({name}): seed {seed} (CRASH_SEED={seed} replays it)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let data = tempfile::tempdir().unwrap();
    let big = fixture("jpeg-exif-12mp-olympus.jpg");
    let p = spawn_with(data.path(), &env).await;
    let token = p.api.signed_up("dave").await.token;
    drop(p);
    let mut acked: Vec<String> = Vec::new();
    let rounds = 5;
    for round in 0..rounds {
        let p = spawn_with(data.path(), &env).await;
        let dave = Api { token: token.clone(), ..p.api.clone() };
        let kill_after = Duration::from_millis(rng.gen_range(300..2500));
        let mut uploaders = tokio::task::JoinSet::new();
        for worker in 0..3u32 {
            let dave = dave.clone();
            let big = big.clone();
            let seed = rng.gen::<u32>();
            uploaders.spawn(async move {
                let mut mine = Vec::new();
                for i in 0..1000u32 {
                    let bytes = if (seed + i) % 5 == 0 { big.clone() } else { png(120, 90, seed.wrapping_add(i)) };
                    match try_upload(&dave, bytes, format!("r{round}-w{worker}-{i}.png")).await {
                        Some(id) => mine.push(id),
                        None => break, // the server is gone
                    }
                }
                mine
            });
        }
        tokio::time::sleep(kill_after).await;
        sigkill(p);
        let before = acked.len();
        while let Some(done) = uploaders.join_next().await {
            acked.extend(done.unwrap());
        }
        println!("crash harness ({name}): round {round}: SIGKILL after {kill_after:?}, {} acknowledged", acked.len() - before);
    }
    assert!(acked.len() >= rounds, "too few uploads acknowledged to mean anything: {}", acked.len());

    // Restart and let everything finish.
    let p = spawn_with(data.path(), &env).await;
    let dave = Api { token, ..p.api.clone() };
    for id in &acked {
        dave.wait_ready(id, Duration::from_secs(180)).await;
    }
    // "Ready" does not wait for analytics; records a killed instance held
    // unacknowledged come back after the ack wait. Finished means every
    // consumer group has nothing left (the lag gauges, refreshed every 5 s).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = dave.http.get(dave.url("/metrics")).send().await.unwrap().text().await.unwrap();
        let lags: Vec<f64> = text
            .lines()
            .filter(|l| l.starts_with("photostream_consumer_lag_records{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        if !lags.is_empty() && lags.iter().all(|l| *l == 0.0) {
            break;
        }
        assert!(Instant::now() < deadline, "consumers did not catch up: {lags:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The photostream lists each acknowledged photo exactly once.
    let mut listed: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/v1/users/dave/photos?limit=100".to_string(),
            Some(c) => format!("/v1/users/dave/photos?limit=100&previous_last={c}"),
        };
        let (_, page) = dave.json(&path).await;
        listed.extend(page["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()));
        match page["next"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    for id in &acked {
        assert_eq!(listed.iter().filter(|l| *l == id).count(), 1, "{id} listed once");
    }
    sigterm(p);

    // Exactly once, checked in each backend itself.
    let catalog = Catalog::connect(&catalog_url(data.path())).await.unwrap();
    assert!(catalog.outbox_pending(10).await.unwrap().is_empty(), "outbox not drained");
    let index = TantivyIndex::open(&data.path().join("search")).unwrap();
    let analytics = EmbeddedAnalytics::open(&data.path().join("analytics.db")).await.unwrap();
    for id in &acked {
        let id: PhotoId = id.parse().unwrap();
        let photo = catalog.photo(&id).await.unwrap().unwrap();
        assert_eq!(photo.status.as_str(), "ready");
        assert!(photo.ready_ms.is_some());
        assert_eq!(index.count_id(&id).await.unwrap(), 1, "search documents for {id}");
        assert_eq!(analytics.count(&id, EventKind::Upload).await.unwrap(), 1, "upload events for {id}");
        let thumb = photo.thumbnail_key.expect("thumbnail key");
        assert!(data.path().join("objects").join(&thumb).exists(), "thumbnail of {id}");
    }
    // No stray or doubled files: one original and one thumbnail per row.
    let rows = catalog.photo_count().await.unwrap() as usize;
    let files = files_under(&data.path().join("objects"));
    let thumbs = files.iter().filter(|f| f.contains("/thumbnail/")).count();
    let originals = files.iter().filter(|f| f.contains("/original/")).count();
    assert!(rows >= acked.len());
    assert_eq!(thumbs, rows, "one thumbnail per photo");
    // A kill between storing an original and committing its row leaves an
    // orphan the sweeper removes after its grace period; nothing else.
    assert!(originals >= rows && originals - rows <= 3 * rounds, "{originals} originals for {rows} rows");
    println!("crash harness ({name}): {} acknowledged uploads over {rounds} kills, each ready exactly once", acked.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_embedded() {
    random_kills("embedded", Vec::new(), |data| format!("sqlite://{}", data.join("catalog.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_postgres_nats() {
    let suffix = photostream_testkit::unique_suffix();
    let pg = photostream_testkit::fresh_postgres("photostream_crash").await;
    let nats = std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let env = vec![
        ("PHOTOSTREAM_CATALOG".to_string(), pg.clone()),
        ("PHOTOSTREAM_STREAM".to_string(), nats),
        ("PHOTOSTREAM_STREAM_PREFIX".to_string(), format!("crash{suffix}")),
        // Records in flight at the kill come back after this.
        ("PHOTOSTREAM_STREAM_ACK_WAIT_SECS".to_string(), "3".to_string()),
    ];
    random_kills("PostgreSQL + NATS JetStream", env, move |_| pg.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_grants_and_revokes_the_moderator_role() {
    let data = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", data.path().join("catalog.db").display());
    let catalog = Catalog::connect(&url).await.unwrap();
    let bob = photostream_types::Username::parse("bob").unwrap();
    catalog.create_user(&bob, "not-a-real-hash").await.unwrap();
    let admin = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_photostream-under-test"))
            .arg("admin")
            .args(args)
            .arg("--data-dir")
            .arg(data.path())
            .output()
            .unwrap()
    };
    let out = admin(&["grant-moderator", "bob"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(catalog.user_by_username(&bob).await.unwrap().unwrap().role, "moderator");
    let out = admin(&["revoke-moderator", "bob"]);
    assert!(out.status.success());
    assert_eq!(catalog.user_by_username(&bob).await.unwrap().unwrap().role, "user");
    let out = admin(&["grant-moderator", "nobody"]);
    assert!(!out.status.success(), "unknown users are an error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_and_rethumb_rebuild_lost_derived_data() {
    let data = tempfile::tempdir().unwrap();
    let p = spawn(data.path()).await;
    let erin = p.api.signed_up("erin").await;
    let mut ids = Vec::new();
    for i in 0..3u32 {
        let photo = erin
            .upload_ok(png(90, 60, i), &format!("r{i}.png"), Upload { title: Some(format!("heron number {i}")), ..Default::default() })
            .await;
        ids.push(photo["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        erin.wait_ready(id, Duration::from_secs(60)).await;
    }
    let token = erin.token.clone();
    sigterm(p);

    // Lose the whole search index and every thumbnail.
    std::fs::remove_dir_all(data.path().join("search")).unwrap();
    let thumbs: Vec<_> = files_under(&data.path().join("objects")).into_iter().filter(|f| f.contains("/thumbnail/")).collect();
    assert_eq!(thumbs.len(), 3);
    for t in &thumbs {
        std::fs::remove_file(data.path().join("objects").join(t)).unwrap();
    }
    let run = |cmd: &str| {
        Command::new(env!("CARGO_BIN_EXE_photostream-under-test"))
            .arg(cmd)
            .arg("--data-dir")
            .arg(data.path())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = run("reindex");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("reindexed 3 photo(s), 0 failed"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("resume with --from"));
    let out = run("rethumb");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let thumbs_again: Vec<_> = files_under(&data.path().join("objects")).into_iter().filter(|f| f.contains("/thumbnail/")).collect();
    assert_eq!(thumbs_again, thumbs);

    let p = spawn(data.path()).await;
    let erin = Api { token, ..p.api.clone() };
    let (_, hits) = erin.json("/v1/search?q=heron").await;
    assert_eq!(hits["items"].as_array().unwrap().len(), 3, "{hits}");
    for id in &ids {
        assert_eq!(erin.get(&format!("/v1/photos/{id}/thumbnail")).send().await.unwrap().status(), 200);
    }
    sigterm(p);
}
