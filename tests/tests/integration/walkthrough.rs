//! Register → log in → upload every fixture kind → ready → thumbnails,
//! object layout, search.

use std::time::Duration;

use photostream_tests::{files_under, fixture, manifest, Api, TestServer, Upload};

const READY: Duration = Duration::from_secs(60);

async fn thumbnail_of(api: &Api, photo: &serde_json::Value) -> image::DynamicImage {
    let url = photo["urls"]["thumbnail"].as_str().expect("thumbnail url");
    let r = api.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    image::load_from_memory(&r.bytes().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_kind_goes_from_upload_to_ready() {
    let server = TestServer::start().await;
    let alice = server.api().signed_up("alice").await;

    let mut uploaded = Vec::new();
    for (file, valid) in manifest() {
        if !valid {
            continue;
        }
        let bytes = fixture(&file);
        let r = alice
            .upload(bytes, &file, Upload { title: Some(format!("fixture {file}")), ..Default::default() })
            .await;
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(status, 202, "{file}: {body}");
        uploaded.push((file, body));
    }
    assert!(uploaded.len() >= 25);

    for (file, photo) in &uploaded {
        let id = photo["id"].as_str().unwrap();
        let ready = alice.wait_ready(id, READY).await;
        // Layout: {user}/{album}/{resolution}/{file}, `default` album.
        let stem = file.rsplit_once('.').unwrap().0;
        let original = ready["urls"]["original"].as_str().unwrap();
        assert!(original.starts_with(&format!("/media/alice/default/original/{stem}.")), "{original}");
        let thumb_url = ready["urls"]["thumbnail"].as_str().unwrap();
        assert!(
            thumb_url.starts_with(&format!("/media/alice/default/thumbnail/{stem}_thumbnail.")),
            "{thumb_url}"
        );
        let display = ready["urls"]["display"].as_str().unwrap_or_else(|| panic!("{file}: no display rendition"));
        assert!(display.starts_with(&format!("/media/alice/default/display/{stem}_display.jpg")), "{display}");
        let thumb = thumbnail_of(&alice, &ready).await;
        let (w, h) = (ready["width"].as_i64().unwrap() as u32, ready["height"].as_i64().unwrap() as u32);
        assert_eq!(thumb.width(), w.min(50), "{file}: thumbnail width");
        let expected_h = ((h as f64) * thumb.width() as f64 / w as f64).round().max(1.0) as u32;
        assert!(thumb.height().abs_diff(expected_h) <= 1, "{file}: {}x{} for {w}x{h}", thumb.width(), thumb.height());
        // The same bytes through the photo route.
        let r = alice.get(&format!("/v1/photos/{id}/thumbnail")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }

    // Every stored object is one of ours, in the layout.
    let files = files_under(&server.objects_dir());
    // Original, thumbnail and display rendition of each.
    assert_eq!(files.len(), uploaded.len() * 3, "{files:#?}");
    assert!(files.iter().all(|f| ["original", "thumbnail", "display"]
        .iter()
        .any(|r| f.starts_with(&format!("alice/default/{r}/")))));

    // Upright for all 8 orientations: each looks like orientation 1.
    let orient = |n: u8| {
        uploaded
            .iter()
            .find(|(f, _)| f == &format!("jpeg-exif-orient{n}-landscape.jpg"))
            .map(|(_, p)| p["id"].as_str().unwrap().to_string())
            .unwrap()
    };
    let mut thumbs = Vec::new();
    for n in 1..=8u8 {
        let p = alice.wait_ready(&orient(n), READY).await;
        assert_eq!((p["width"].as_i64(), p["height"].as_i64()), (Some(600), Some(450)), "display size {n}");
        thumbs.push(thumbnail_of(&alice, &p).await.to_rgb8());
    }
    for (i, t) in thumbs.iter().enumerate() {
        assert_eq!(t.dimensions(), (50, 38), "orientation {}", i + 1);
        let diff: f64 = t
            .pixels()
            .zip(thumbs[0].pixels())
            .map(|(a, b)| a.0.iter().zip(b.0.iter()).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum::<f64>())
            .sum::<f64>()
            / (3.0 * 50.0 * 38.0);
        assert!(diff < 25.0, "orientation {} is not upright (diff {diff:.1})", i + 1);
    }

    // Search by a title word, and with a one-letter typo, anonymously.
    let anon = server.api();
    let hit_ids = |v: &serde_json::Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()).collect()
    };
    let progressive = &uploaded.iter().find(|(f, _)| f == "jpeg-progressive.jpg").unwrap().1;
    for q in ["progressive", "progresive", "prgoressive", "progressivo"] {
        let (status, v) = anon.json(&format!("/v1/search?q=jpeg+{q}")).await;
        assert_eq!(status, 200);
        assert!(hit_ids(&v).contains(&progressive["id"].as_str().unwrap().to_string()), "q={q}: {v}");
    }
    let (_, v) = anon.json("/v1/search?q=zebracorn").await;
    assert!(hit_ids(&v).is_empty());

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_file_name_twice_gets_two_keys_and_albums_are_honoured() {
    let server = TestServer::start().await;
    let bob = server.api().signed_up("bob").await;
    let a = bob.upload_ok(photostream_tests::png(64, 48, 1), "swans.png", Upload::default()).await;
    let b = bob.upload_ok(photostream_tests::png(64, 48, 2), "swans.png", Upload::default()).await;
    let c = bob.upload_ok(photostream_tests::png(64, 48, 3), "swans.gif", Upload::default()).await;
    let d = bob
        .upload_ok(photostream_tests::png(64, 48, 4), "../../swans.png", Upload { album: Some("Summer Trip".into()), ..Default::default() })
        .await;
    let mut keys = Vec::new();
    for p in [&a, &b, &c, &d] {
        let ready = bob.wait_ready(p["id"].as_str().unwrap(), READY).await;
        keys.push(ready["urls"]["original"].as_str().unwrap().to_string());
        keys.push(ready["urls"]["thumbnail"].as_str().unwrap().to_string());
    }
    assert_eq!(keys[0], "/media/bob/default/original/swans.png");
    assert_eq!(keys[1], "/media/bob/default/thumbnail/swans_thumbnail.png");
    assert_eq!(keys[6], "/media/bob/summer-trip/original/swans.png");
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), keys.len(), "{keys:#?}");
    // The sniffed format decides the extension, not the client's name.
    assert!(keys[4].ends_with(".png"), "{}", keys[4]);
    // Hostile names are tamed into safe keys, not refused: 1,000 characters,
    // control characters, a NUL, a path, only dots.
    let long = format!("{}.png", "n".repeat(1000));
    for (name, stem) in [
        (long.as_str(), "n".repeat(80)),
        ("tab\there.png", "tab-here".to_string()),
        ("..\\..\\win.png", "win".to_string()),
        ("....", "photo".to_string()),
    ] {
        let p = bob.upload_ok(photostream_tests::png(8, 8, 9), name, Upload::default()).await;
        let original = p["urls"]["original"].as_str().unwrap();
        let file = original.split('?').next().unwrap().rsplit('/').next().unwrap();
        assert!(file.starts_with(&stem) && file.len() <= 80 + 16, "{name:?} stored as {original}");
        assert!(file.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{original}");
        let ready = bob.wait_ready(p["id"].as_str().unwrap(), READY).await;
        let r = bob.get(ready["urls"]["thumbnail"].as_str().unwrap()).send().await.unwrap();
        assert_eq!(r.status(), 200, "{original}");
    }
    // Control characters that break the part's header are a malformed
    // request: 400, nothing stored.
    let stored = photostream_tests::files_under(&server.objects_dir()).len();
    for name in ["bell\u{7}.png", "nul\u{0}.png", "crlf\r\nx: y.png"] {
        let r = bob.upload(photostream_tests::png(8, 8, 9), name, Upload::default()).await;
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_eq!(status, 400, "{name:?}: {body}");
        assert!(body.contains("invalid_multipart"), "{body}");
    }
    assert_eq!(photostream_tests::files_under(&server.objects_dir()).len(), stored);
    server.stop().await;
}
