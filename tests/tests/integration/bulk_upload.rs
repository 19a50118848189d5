//! `photostream upload DIR` (the real binary) against a real server: every
//! image under a folder tree uploaded, a broken file reported with the
//! server's reason and a non-zero exit, and a re-run skipping everything by
//! content hash (`GET /v1/photos?sha256=`).

use std::path::Path;
use std::time::Duration;

use photostream_tests::{fixture, Api, TestServer};
use serde_json::{json, Value};

async fn run_upload(server: &str, token: &str, dir: &Path, extra: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_photostream-under-test"))
        .arg("upload")
        .arg(dir)
        .args(["--server", server, "--token", token])
        .args(extra)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.success(), stdout)
}

async fn by_hash(api: &Api, bytes: &[u8]) -> (u16, Value) {
    api.json(&format!(
        "/v1/photos?sha256={}",
        photostream_media::content_hash(bytes)
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_upload_reports_failures_and_resumes_by_content() {
    let server = TestServer::start().await;
    let uma = server.api().signed_up("uma").await;
    let r = uma
        .post("/v1/tokens")
        .json(&json!({"name": "bulk", "scopes": ["read", "write"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("trip/day 2")).unwrap();
    let files = [
        ("a.jpg", fixture("jpeg-exif-orient1-landscape.jpg")),
        ("trip/b.png", fixture("png-rgb.png")),
        ("trip/day 2/c.gif", fixture("gif-static.gif")),
    ];
    for (name, bytes) in &files {
        std::fs::write(root.join(name), bytes).unwrap();
    }
    std::fs::write(root.join("trip/broken.jpg"), fixture("bad-truncated.jpg")).unwrap();
    std::fs::write(root.join("notes.txt"), b"not an image, not uploaded").unwrap();

    let args = [
        "--album-from-folders",
        "--album",
        "Misc",
        "--visibility",
        "private",
    ];
    let (ok, out) = run_upload(&server.base, &token, root, &args).await;
    assert!(!ok, "a failed file makes the exit code non-zero");
    assert!(
        out.contains("uploaded 3, skipped 0 (already uploaded), failed 1"),
        "{out}"
    );
    let failure = out
        .lines()
        .find(|l| l.starts_with("failed: trip/broken.jpg: 4"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        failure.contains("422") || failure.contains("415"),
        "the server's reason: {failure}"
    );
    assert!(
        out.contains("3/4") || out.contains("4/4"),
        "progress counts files: {out}"
    );

    // Each file is on the server, in its folder's album, private.
    for (name, bytes) in &files {
        let (status, v) = by_hash(&uma, bytes).await;
        assert_eq!(status, 200, "{v}");
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{name}: {v}");
        let want_album = match *name {
            "a.jpg" => "misc",
            "trip/b.png" => "trip",
            _ => "trip-day-2",
        };
        assert_eq!(items[0]["album"], want_album, "{name}");
        assert_eq!(items[0]["visibility"], "private");
        uma.wait_ready(items[0]["id"].as_str().unwrap(), Duration::from_secs(60))
            .await;
    }
    assert_eq!(
        uma.json("/v1/users/uma/photos").await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // The look-up is the owner's own: others see nothing, bad input is a 400,
    // the anonymous a 401.
    let other = server.api().signed_up("vera").await;
    let (status, v) = by_hash(&other, &files[0].1).await;
    assert_eq!((status, v["items"].as_array().unwrap().len()), (200, 0));
    assert_eq!(uma.json("/v1/photos?sha256=xyz").await.0, 400);
    assert_eq!(uma.json("/v1/photos").await.0, 400);
    assert_eq!(
        server
            .api()
            .json(&format!("/v1/photos?sha256={}", "0".repeat(64)))
            .await
            .0,
        401
    );

    // Re-run without the broken file: everything skipped, success.
    std::fs::remove_file(root.join("trip/broken.jpg")).unwrap();
    let (ok, out) = run_upload(&server.base, &token, root, &args).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("uploaded 0, skipped 3 (already uploaded), failed 0"),
        "{out}"
    );
    assert_eq!(
        uma.json("/v1/users/uma/photos").await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // A bad token stops the run at once.
    let (ok, _) = run_upload(&server.base, "pst_not_a_token", root, &[]).await;
    assert!(!ok);
    server.stop().await;
}
