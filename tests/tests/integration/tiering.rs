//! Storage tiering over HTTP: `photostream tier` (the real binary, beside a
//! serving instance on the same data dir) moves originals to the cold store;
//! reads stay the same bytes at the same URLs with `x-storage-class: cold`;
//! `storage.rewarm_on_read` brings them back; and SIGKILLs in the middle of
//! moves never lose or corrupt an original.

use std::path::Path;
use std::time::{Duration, Instant};

use photostream_tests::{files_under, fixture, png, Api, TestServer, Upload};
use photostream_types::{PhotoId, StorageTier};

/// Runs `photostream ARGS --data-dir DATA` with the cold store at `cold`.
fn photostream_command(data: &Path, cold: &Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_photostream-under-test"));
    cmd.args(args)
        .arg("--data-dir")
        .arg(data)
        .env(
            "PHOTOSTREAM_STORAGE__COLD",
            format!("file://{}", cold.display()),
        )
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    cmd
}

/// Runs `photostream tier` on `data` with the cold store at `cold`.
fn tier_command(data: &Path, cold: &Path, older_than: &str) -> tokio::process::Command {
    photostream_command(data, cold, &["tier", "--older-than", older_than])
}

/// The original's bytes and whether they came from the cold store; a 429
/// (the previous download's slot not yet released) is retried.
async fn read_original(api: &Api, path: &str) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = api.get(path).send().await.unwrap();
        if r.status() == 429 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        assert_eq!(r.status(), 200, "{path}");
        let cold = r
            .headers()
            .get("x-storage-class")
            .is_some_and(|v| v == "cold");
        return (r.bytes().await.unwrap().to_vec(), cold);
    }
}

async fn tier_of(server: &TestServer, id: &str) -> StorageTier {
    let id: PhotoId = id.parse().unwrap();
    server
        .catalog()
        .photo(&id)
        .await
        .unwrap()
        .unwrap()
        .storage_tier
}

/// Originals (not renditions) under an object-store directory; staging
/// files of an interrupted local put (`name#n`) are not objects.
fn originals_in(dir: &Path) -> Vec<String> {
    files_under(dir)
        .into_iter()
        .filter(|f| f.contains("/original/") && !f.contains('#'))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_originals_read_the_same_and_rewarm_on_read() {
    let cold = tempfile::tempdir().unwrap();
    let cold_url = format!("file://{}", cold.path().display());
    let server = TestServer::start_with(|c| {
        c.storage.cold = cold_url.clone();
        c.storage.rewarm_on_read = true;
    })
    .await;
    let tina = server.api().signed_up("tina").await;
    let a_bytes = fixture("jpeg-exif-orient1-landscape.jpg");
    let b_bytes = png(300, 200, 7);
    let a = tina
        .upload_ok(a_bytes.clone(), "a.jpg", Upload::default())
        .await;
    let b = tina
        .upload_ok(b_bytes.clone(), "b.png", Upload::default())
        .await;
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    tina.wait_ready(a_id, Duration::from_secs(60)).await;
    let b = tina.wait_ready(b_id, Duration::from_secs(60)).await;
    let b_media = b["urls"]["original"].as_str().unwrap().to_string();
    assert!(b_media.starts_with("/media/"), "{b_media}");

    // Hot: no storage-class header.
    let (bytes, was_cold) = read_original(&tina, &format!("/v1/photos/{a_id}/original")).await;
    assert_eq!((bytes == a_bytes, was_cold), (true, false));

    // `--older-than 1d` leaves photos uploaded (or read) just now alone.
    let out = tier_command(server.data.path(), cold.path(), "1d")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(originals_in(cold.path()).is_empty());

    let out = tier_command(server.data.path(), cold.path(), "0")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("tiered 2 original(s)"), "{stdout}");
    assert_eq!(tier_of(&server, a_id).await, StorageTier::Cold);
    assert_eq!(tier_of(&server, b_id).await, StorageTier::Cold);
    assert!(
        originals_in(&server.objects_dir()).is_empty(),
        "hot copies deleted"
    );
    assert_eq!(originals_in(cold.path()).len(), 2);
    assert!(
        files_under(&server.objects_dir())
            .iter()
            .any(|f| f.contains("/thumbnail/")),
        "renditions stay hot"
    );

    // Metrics: bytes and objects per tier.
    let metrics = tina
        .http
        .get(tina.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let cold_objects = "photostream_storage_objects{tier=\"cold\"} 2";
    assert!(
        metrics.lines().any(|l| l == cold_objects),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("storage_"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Cold reads: the same bytes at the same URLs, marked cold; a Range too.
    let r = tina
        .get(&format!("/v1/photos/{a_id}/original"))
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["x-storage-class"], "cold");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &a_bytes[..10]);
    let (bytes, was_cold) = read_original(&tina, &b_media).await;
    assert!(
        bytes == b_bytes && was_cold,
        "/media/… original served from the cold store"
    );

    // rewarm_on_read: those reads brought both back hot.
    let deadline = Instant::now() + Duration::from_secs(30);
    while tier_of(&server, a_id).await != StorageTier::Hot
        || tier_of(&server, b_id).await != StorageTier::Hot
    {
        assert!(Instant::now() < deadline, "not rewarmed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (bytes, was_cold) = read_original(&tina, &format!("/v1/photos/{a_id}/original")).await;
    assert_eq!((bytes == a_bytes, was_cold), (true, false));
    let (bytes, was_cold) = read_original(&tina, &b_media).await;
    assert_eq!((bytes == b_bytes, was_cold), (true, false));
    assert!(
        originals_in(cold.path()).is_empty(),
        "cold copies deleted after rewarming"
    );
    assert_eq!(originals_in(&server.objects_dir()).len(), 2);

    // Just read: a pass with the configured age leaves them hot.
    let out = tier_command(server.data.path(), cold.path(), "1h")
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    assert_eq!(tier_of(&server, a_id).await, StorageTier::Hot);

    // A deleted cold photo's original goes from the cold store too.
    let out = tier_command(server.data.path(), cold.path(), "0")
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    assert_eq!(tier_of(&server, a_id).await, StorageTier::Cold);
    let r = tina
        .http
        .delete(tina.url(&format!("/v1/photos/{a_id}")))
        .bearer_auth(tina.token.as_ref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let deadline = Instant::now() + Duration::from_secs(30);
    while originals_in(cold.path()).len() != 1 {
        assert!(
            Instant::now() < deadline,
            "the purger left the cold original: {:?}",
            originals_in(cold.path())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

/// A photo whose original is cold still re-renders: `photostream rethumb`
/// and a watermark change read the original from the cold store (they read
/// the hot store only, and failed), and the photo stays cold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_photos_rethumb_and_take_a_watermark_change() {
    let cold = tempfile::tempdir().unwrap();
    let cold_url = format!("file://{}", cold.path().display());
    let server = TestServer::start_with(|c| c.storage.cold = cold_url.clone()).await;
    let cleo = server.api().signed_up("cleo").await;
    let up = cleo.upload_ok(fixture("jpeg-exif-orient1-landscape.jpg"), "c.jpg", Upload::default()).await;
    let id = up["id"].as_str().unwrap().to_string();
    let ready = cleo.wait_ready(&id, Duration::from_secs(60)).await;
    let display = ready["urls"]["display"].as_str().unwrap().split('?').next().unwrap().to_string();
    let out = tier_command(server.data.path(), cold.path(), "0").output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(tier_of(&server, &id).await, StorageTier::Cold);

    // The watermark goes on: the running thumbnailer re-renders the display
    // rendition from the cold original.
    let r = cleo
        .http
        .patch(cleo.url(&format!("/v1/photos/{id}")))
        .bearer_auth(cleo.token.as_deref().unwrap())
        .json(&serde_json::json!({"watermark": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, photo) = cleo.json(&format!("/v1/photos/{id}")).await;
        let url = photo["urls"]["display"].as_str().unwrap_or_default().split('?').next().unwrap().to_string();
        if url.ends_with("_display_wm.jpg") {
            assert_ne!(url, display);
            break;
        }
        assert!(Instant::now() < deadline, "the marked display rendition of a cold photo was not made: {photo}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Every rendition lost; rethumb (run as the operator does, with the
    // service stopped: the embedded search index admits one writer) makes
    // them again from the cold original.
    let objects = server.objects_dir();
    let data = server.stop().await;
    for f in files_under(&objects).iter().filter(|f| f.contains("/thumbnail/") || f.contains("/display/")) {
        std::fs::remove_file(objects.join(f)).unwrap();
    }
    let out = photostream_command(data.path(), cold.path(), &["rethumb"]).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("rethumbed 1 photo(s), 0 failed"));
    let renditions = files_under(&objects);
    assert!(renditions.iter().any(|f| f.contains("/thumbnail/")), "{renditions:?}");
    assert!(renditions.iter().any(|f| f.ends_with("_display_wm.jpg")), "{renditions:?}");
    assert!(originals_in(&objects).is_empty(), "rethumb leaves the original cold: {renditions:?}");
    assert_eq!(originals_in(cold.path()).len(), 1);
}

/// SIGKILL `photostream tier` at random moments (seeded, printed) while it
/// moves originals, several times; after every kill each original reads back
/// with the right bytes, and a final run finishes every move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_tier_moves_loses_nothing() {
    use rand::{Rng, SeedableRng};
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("tier crash harness: seed {seed} (CRASH_SEED={seed} replays it)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let cold = tempfile::tempdir().unwrap();
    // The server has the cold store (it reads cold originals) but does not
    // rewarm, so only the killed command moves anything.
    let cold_url = format!("file://{}", cold.path().display());
    let server = TestServer::start_with(|c| c.storage.cold = cold_url.clone()).await;
    let vic = server.api().signed_up("vic").await;
    let sources = [
        fixture("jpeg-exif-12mp-olympus.jpg"),
        fixture("jpeg-exif-gps-phone.jpg"),
        fixture("png-rgba-transparent.png"),
        png(400, 300, 1),
    ];
    let mut photos: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..24 {
        let bytes = sources[i % sources.len()].clone();
        let ext = if i % 4 == 2 || i % 4 == 3 {
            "png"
        } else {
            "jpg"
        };
        let v = vic
            .upload_ok(bytes.clone(), &format!("p{i}.{ext}"), Upload::default())
            .await;
        photos.push((v["id"].as_str().unwrap().to_string(), bytes));
    }
    for (id, _) in &photos {
        vic.wait_ready(id, Duration::from_secs(120)).await;
    }
    let check_all = |label: String| {
        let vic = vic.clone();
        let photos = photos.clone();
        async move {
            for (id, bytes) in &photos {
                let (got, _) = read_original(&vic, &format!("/v1/photos/{id}/original")).await;
                assert!(
                    got == *bytes,
                    "{label}: photo {id} read back wrong ({} bytes, want {})",
                    got.len(),
                    bytes.len()
                );
            }
        }
    };

    let (mut killed_mid_pass, mut finished_early) = (0, 0);
    for round in 0..8 {
        use tokio::io::AsyncBufReadExt;
        let mut child = tier_command(server.data.path(), cold.path(), "0")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // The kill lands after `moves_first` originals were reported moved,
        // plus a random delay: somewhere inside the next move (copy, verify,
        // flip or delete), or between two.
        let moves_first = rng.gen_range(0..3);
        let delay = Duration::from_micros(rng.gen_range(0..6000));
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut moved = 0;
        let exited = loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await;
            match line.expect("tier went silent").unwrap() {
                None => break true,
                Some(l) if l.contains(" → ") || l.starts_with("FAILED") => {
                    moved += 1;
                    if moved > moves_first {
                        break false;
                    }
                }
                Some(_) => {}
            }
        };
        if exited {
            assert!(
                child.wait().await.unwrap().success(),
                "round {round}: tier failed on its own"
            );
            finished_early += 1;
            println!("tier crash harness: round {round}: the pass finished before the kill");
            // Back to hot for the next round, by the server's own code path.
            let mover = photostream_tiering::Mover::new(
                server.catalog().clone(),
                photostream_tiering::Tiers::new(
                    server.service().backends.objects.clone(),
                    server.service().backends.cold_objects.clone(),
                ),
            );
            for (id, _) in &photos {
                let id: PhotoId = id.parse().unwrap();
                let p = server.catalog().photo(&id).await.unwrap().unwrap();
                mover
                    .drive(&p, photostream_tiering::Goal::Hot)
                    .await
                    .unwrap();
            }
        } else {
            tokio::time::sleep(delay).await;
            child.kill().await.unwrap();
            let mut tiers = Vec::new();
            for (id, _) in &photos {
                tiers.push(tier_of(&server, id).await);
            }
            let done = tiers.iter().filter(|t| **t == StorageTier::Cold).count();
            if done < photos.len() {
                killed_mid_pass += 1;
            }
            let half = tiers
                .iter()
                .filter(|t| matches!(t, StorageTier::ColdLeavingHot | StorageTier::HotLeavingCold))
                .count();
            println!(
                "tier crash harness: round {round}: SIGKILL {delay:?} after move {moved}: {done}/{} cold, {half} half-done",
                photos.len()
            );
        }
        check_all(format!("after round {round}")).await;
    }
    assert!(
        killed_mid_pass >= 4,
        "too few kills landed mid-pass to mean anything: {killed_mid_pass}"
    );
    println!("tier crash harness: {killed_mid_pass} kill(s) mid-pass, {finished_early} run(s) finished first");

    // A run to the end finishes every move.
    let out = tier_command(server.data.path(), cold.path(), "0")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for (id, _) in &photos {
        assert_eq!(tier_of(&server, id).await, StorageTier::Cold, "photo {id}");
    }
    assert!(
        originals_in(&server.objects_dir()).is_empty(),
        "{:?}",
        originals_in(&server.objects_dir())
    );
    assert_eq!(originals_in(cold.path()).len(), photos.len());
    check_all("after the final run".into()).await;
    for (id, _) in &photos {
        let (_, was_cold) = read_original(&vic, &format!("/v1/photos/{id}/original")).await;
        assert!(was_cold);
    }
    // Nothing left to do.
    let out = tier_command(server.data.path(), cold.path(), "0")
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("tiered 0 original(s)"));
    server.stop().await;
}
