//! Kill -9 right after uploads are acknowledged; restart on the same data
//! dir; every acknowledged upload becomes ready exactly once.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use photostream_analytics::{Analytics, EmbeddedAnalytics, EventKind};
use photostream_catalog::Catalog;
use photostream_search::{SearchIndex, TantivyIndex};
use photostream_tests::{files_under, fixture, png, Api, Upload};
use photostream_types::PhotoId;

struct Proc {
    child: Child,
    api: Api,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn spawn(data: &Path) -> Proc {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_photostream-under-test"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data)
        .env("RUST_LOG", "warn")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_ack_every_upload_becomes_ready_exactly_once() {
    let data = tempfile::tempdir().unwrap();
    let mut acked: Vec<String> = Vec::new();

    // Round 1: upload a burst, SIGKILL the moment the last is acknowledged.
    let p = spawn(data.path()).await;
    let dave = p.api.signed_up("dave").await;
    let big = fixture("jpeg-exif-12mp-olympus.jpg");
    for i in 0..12u32 {
        let bytes = if i % 4 == 0 { big.clone() } else { png(120, 90, i) };
        let photo = dave.upload_ok(bytes, &format!("burst-{i}.jpg"), Upload { title: Some(format!("burst {i}")), ..Default::default() }).await;
        acked.push(photo["id"].as_str().unwrap().to_string());
    }
    let token = dave.token.clone();
    sigkill(p);

    // Round 2: restart, upload more, kill again mid-processing.
    let p = spawn(data.path()).await;
    let dave = Api { token: token.clone(), ..p.api.clone() };
    for i in 12..18u32 {
        let photo = dave.upload_ok(big.clone(), &format!("burst-{i}.jpg"), Upload::default()).await;
        acked.push(photo["id"].as_str().unwrap().to_string());
    }
    sigkill(p);

    // Round 3: restart and let everything finish.
    let p = spawn(data.path()).await;
    let dave = Api { token, ..p.api.clone() };
    for id in &acked {
        dave.wait_ready(id, Duration::from_secs(120)).await;
    }
    // The photostream lists each exactly once.
    let (_, page) = dave.json("/v1/users/dave/photos?limit=100").await;
    let mut listed: Vec<String> = page["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()).collect();
    listed.sort();
    let mut expected = acked.clone();
    expected.sort();
    assert_eq!(listed, expected);
    sigterm(p);

    // Exactly once, checked in every backend's own files.
    let catalog = Catalog::connect(&format!("sqlite://{}", data.path().join("catalog.db").display())).await.unwrap();
    assert_eq!(catalog.photo_count().await.unwrap(), acked.len() as i64);
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
    }
    let files = files_under(&data.path().join("objects"));
    let thumbs = files.iter().filter(|f| f.contains("/thumbnail/")).count();
    let originals = files.iter().filter(|f| f.contains("/original/")).count();
    assert_eq!((originals, thumbs), (acked.len(), acked.len()), "{files:#?}");
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
