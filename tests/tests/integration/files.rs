//! Serving files: validators, caching, ranges, and client thumbnails.

use std::time::Duration;

use photostream_tests::{assert_client_error, fixture, png, TestServer, Upload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbnails_revalidate_and_originals_serve_ranges() {
    let server = TestServer::start().await;
    let alice = server.api().signed_up("alice").await;
    let anon = server.api();
    let original = fixture("jpeg-exif-gps-phone.jpg");
    let p = alice.upload_ok(original.clone(), "phone.jpg", Upload::default()).await;
    let id = p["id"].as_str().unwrap();
    alice.wait_ready(id, Duration::from_secs(30)).await;

    let r = anon.get(&format!("/v1/photos/{id}/thumbnail")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert!(r.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let thumb = r.bytes().await.unwrap();
    // No EXIF (GPS) in the thumbnail.
    assert!(!thumb.windows(4).any(|w| w == b"Exif"));
    let r = anon
        .get(&format!("/v1/photos/{id}/thumbnail"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    let r = anon.get(&format!("/v1/photos/{id}/original")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &original[..]);
    let r = anon
        .get(&format!("/v1/photos/{id}/original"))
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes 100-199/{}", original.len())
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &original[100..200]);
    let r = anon
        .get(&format!("/v1/photos/{id}/original"))
        .header("range", format!("bytes={}-", original.len() + 5))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);

    // The CDN path serves the same bytes.
    let media = p["urls"]["original"].as_str().unwrap();
    let r = anon.get(media).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), original.len());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_client_thumbnail_is_kept() {
    let server = TestServer::start().await;
    let alice = server.api().signed_up("alice").await;
    let client_thumb = png(50, 25, 9);
    let p = alice
        .upload_ok(png(400, 200, 9), "wide.png", Upload { thumbnail: Some(client_thumb.clone()), ..Default::default() })
        .await;
    let id = p["id"].as_str().unwrap();
    let ready = alice.wait_ready(id, Duration::from_secs(30)).await;
    assert_eq!(ready["urls"]["thumbnail"], "/media/alice/default/thumbnail/wide_thumbnail.png");
    let r = alice.get(&format!("/v1/photos/{id}/thumbnail")).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &client_thumb[..]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_thumbnail_of_another_picture_is_replaced_by_the_servers() {
    let server = TestServer::start().await;
    let alice = server.api().signed_up("alice").await;
    // A client that ignored EXIF orientation 3: its thumbnail is upside down.
    let original = photostream_tests::fixture("jpeg-exif-orient3-landscape.jpg");
    let stored = image::load_from_memory(&original).unwrap();
    let flipped = stored.resize_exact(50, 38, image::imageops::FilterType::Triangle);
    let mut client_thumb = std::io::Cursor::new(Vec::new());
    flipped.write_to(&mut client_thumb, image::ImageFormat::Png).unwrap();
    let client_thumb = client_thumb.into_inner();
    let p = alice
        .upload_ok(original, "upside.jpg", Upload { thumbnail: Some(client_thumb.clone()), ..Default::default() })
        .await;
    let id = p["id"].as_str().unwrap();
    let ready = alice.wait_ready(id, Duration::from_secs(30)).await;
    // The server's own (a JPEG, from the JPEG original), not the client's PNG.
    assert_eq!(ready["urls"]["thumbnail"], "/media/alice/default/thumbnail/upside_thumbnail.jpg", "{ready}");
    let r = alice.get(&format!("/v1/photos/{id}/thumbnail")).send().await.unwrap();
    assert_ne!(r.bytes().await.unwrap().as_ref(), &client_thumb[..]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_thumbnail_is_in_the_hot_cache_before_its_first_read() {
    let server = TestServer::start().await;
    let alice = server.api().signed_up("alice").await;
    let cache = server.service().backends.thumbnail_cache.clone();
    let key_of = |ready: &serde_json::Value| {
        let url = ready["urls"]["thumbnail"].as_str().unwrap();
        url.strip_prefix("/media/").unwrap().split('?').next().unwrap().to_string()
    };

    // The thumbnailer stored it and put the same bytes in the cache.
    let p = alice.upload_ok(png(300, 200, 4), "warm.png", Upload::default()).await;
    let id = p["id"].as_str().unwrap();
    let key = key_of(&alice.wait_ready(id, Duration::from_secs(30)).await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let cached = loop {
        // The warm-up is not waited for: it may land just after `ready`.
        if let Some(b) = cache.get(&key).await.unwrap() {
            break b;
        }
        assert!(tokio::time::Instant::now() < deadline, "the thumbnailer never warmed the cache");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let r = alice.get(&format!("/v1/photos/{id}/thumbnail")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), cached);
    let stored = std::fs::read(server.objects_dir().join(&key)).unwrap();
    assert_eq!(&stored[..], &cached[..]);

    // A kept client thumbnail is not made by the thumbnailer: its first
    // read misses and fills the cache behind the response.
    let client_thumb = png(50, 25, 9);
    let p = alice
        .upload_ok(png(400, 200, 9), "kept.png", Upload { thumbnail: Some(client_thumb.clone()), ..Default::default() })
        .await;
    let id = p["id"].as_str().unwrap();
    let key = key_of(&alice.wait_ready(id, Duration::from_secs(30)).await);
    assert!(cache.get(&key).await.unwrap().is_none());
    let r = alice.get(&format!("/v1/photos/{id}/thumbnail")).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &client_thumb[..]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while cache.get(&key).await.unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "the miss never filled the cache");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Deleting the photo purges the entry (the API answers 404 before the
    // cache is asked either way).
    let r = alice.http.delete(alice.url(&format!("/v1/photos/{id}")))
        .bearer_auth(alice.token.as_ref().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while cache.get(&key).await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "the purger never removed the entry");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_freed_by_a_move_does_not_reuse_the_moved_photos_files() {
    let server = TestServer::start().await;
    let alice = server.api().signed_up("alice").await;
    let anon = server.api();
    // A public photo, then moved: its files keep their keys in the old album.
    let a = alice.upload_ok(fixture("jpeg-exif-gps-phone.jpg"), "swans.jpg", Upload::default()).await;
    let a_id = a["id"].as_str().unwrap();
    let a_ready = alice.wait_ready(a_id, Duration::from_secs(30)).await;
    let a_thumb = anon.get(&format!("/v1/photos/{a_id}/thumbnail")).send().await.unwrap().bytes().await.unwrap();
    let r = alice.post("/v1/albums").json(&serde_json::json!({"name": "kept"})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = alice.http.patch(alice.url(&format!("/v1/photos/{a_id}"))).bearer_auth(alice.token.as_ref().unwrap())
        .json(&serde_json::json!({"album": "kept"})).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // Another picture by the same stem (another extension) into the old
    // album, private: it gets names of its own, and the moved photo still
    // shows its own picture at every URL it had.
    let b = alice
        .upload_ok(png(300, 200, 7), "swans.png", Upload { visibility: Some("private".into()), ..Default::default() })
        .await;
    let b_id = b["id"].as_str().unwrap();
    let b_ready = alice.wait_ready(b_id, Duration::from_secs(30)).await;
    for rendition in ["original", "thumbnail", "display"] {
        assert_ne!(b_ready["urls"][rendition], a_ready["urls"][rendition], "{rendition}: {b_ready}");
    }
    let r = anon.get(&format!("/v1/photos/{a_id}/thumbnail")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), a_thumb);
    let r = anon.get(a_ready["urls"]["thumbnail"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap(), a_thumb);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_exposed_in_prometheus_format() {
    let server = TestServer::start().await;
    let alice = server.api().signed_up("alice").await;
    // A kept client thumbnail is not warmed by the thumbnailer: its first
    // read misses the hot cache and fills it behind the response; a later
    // one hits.
    let p = alice
        .upload_ok(png(400, 200, 9), "m.png", Upload { thumbnail: Some(png(50, 25, 9)), ..Default::default() })
        .await;
    alice.wait_ready(p["id"].as_str().unwrap(), Duration::from_secs(30)).await;
    let r = alice.upload(b"not an image".to_vec(), "x.jpg", Upload::default()).await;
    assert_eq!(r.status(), 415);
    let hit = r#"photostream_cache_requests_total{cache="thumbnail",result="hit"}"#;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        let r = alice.get(&format!("/v1/photos/{}/thumbnail", p["id"].as_str().unwrap())).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = server.api().get("/metrics").send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        let text = r.text().await.unwrap();
        if text.contains(hit) || tokio::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for needle in [
        r#"photostream_http_requests_total{method="POST",route="/v1/photos",status="202"}"#,
        r#"photostream_http_request_duration_seconds_bucket{method="GET",route="/v1/photos/{id}",status="200""#,
        r#"photostream_uploads_total{outcome="accepted"}"#,
        r#"photostream_uploads_total{outcome="rejected",reason="unsupported_media_type"}"#,
        r#"photostream_processor_records_total{processor="thumbnailer",outcome="handled"}"#,
        r#"photostream_processor_records_total{processor="moderation",outcome="handled"}"#,
        "photostream_processor_handle_seconds",
        r#"photostream_downloads_total{resolution="thumbnail"}"#,
        r#"photostream_download_bytes_total{resolution="thumbnail"}"#,
        r#"photostream_cache_requests_total{cache="thumbnail",result="miss"}"#,
        r#"photostream_cache_requests_total{cache="thumbnail",result="hit"}"#,
        r#"photostream_consumer_lag_records{processor="thumbnailer"}"#,
        r#"photostream_consumer_lag_seconds{processor="search-indexer"}"#,
        r#"photostream_backend_up{backend="catalog"} 1"#,
        "photostream_outbox_pending",
        "photostream_moderation_queue_depth",
        r#"photostream_moderation_decisions_total{action="approve",by="auto",subject="photo"}"#,
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_on_their_own_port_when_configured() {
    // How processors-only instances are scraped; any role may use it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = TestServer::start_with(|c| {
        c.metrics_listen = format!("127.0.0.1:{port}");
    })
    .await;
    let api = photostream_tests::Api::new(&format!("http://127.0.0.1:{port}"));
    let start = std::time::Instant::now();
    loop {
        let text = api.get("/metrics").send().await.unwrap().text().await.unwrap();
        if text.contains(r#"photostream_backend_up{backend="stream"} 1"#) && text.contains("photostream_consumer_lag_records") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no processor metrics:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(api.get("/healthz").send().await.unwrap().status(), 200);
    server.stop().await;
}

/// Phone photos: HEIC (iPhone, HEVC, rotated by `irot`) and AVIF (AV1,
/// with EXIF) become ready with upright 50 px JPEG thumbnails carrying no
/// metadata, and their originals are kept byte for byte. Damaged and
/// declared-huge ones are refused with a 4xx and leave nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heic_and_avif_uploads_end_to_end() {
    if !photostream_media::Format::Heic.supported() {
        assert!(std::env::var_os("CI").is_none(), "libheif (Debian libheif1) is missing in CI");
        eprintln!("NOT RUN: libheif is not installed");
        return;
    }
    let server = TestServer::start().await;
    let alice = server.api().signed_up("alice").await;
    for (file, display, thumb) in [
        ("heic-12mp-iphone13.heic", (3024, 4032), (50, 67)),
        ("avif-exif.avif", (1920, 1080), (50, 28)),
    ] {
        let original = fixture(file);
        let p = alice.upload_ok(original.clone(), file, Upload::default()).await;
        let id = p["id"].as_str().unwrap();
        let ready = alice.wait_ready(id, Duration::from_secs(60)).await;
        assert_eq!((ready["width"].as_u64().unwrap(), ready["height"].as_u64().unwrap()), display, "{file}");
        let r = alice.get(&format!("/v1/photos/{id}/thumbnail")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{file}");
        assert_eq!(r.headers()["content-type"], "image/jpeg", "{file}");
        let bytes = r.bytes().await.unwrap();
        assert!(!bytes.windows(4).any(|w| w == b"Exif"), "{file}: no EXIF or GPS in the thumbnail");
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), thumb, "{file}: 50 px wide, upright");
        let r = alice.get(&format!("/v1/photos/{id}/original")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let mime = if file.ends_with(".heic") { "image/heic" } else { "image/avif" };
        assert_eq!(r.headers()["content-type"], mime, "{file}");
        assert_eq!(r.bytes().await.unwrap().as_ref(), &original[..], "{file}: original byte for byte");
    }

    // Damaged files, made from the fixtures.
    let heic = fixture("heic-12mp-iphone13.heic");
    let avif = fixture("avif-exif.avif");
    let mut broken_boxes = heic.clone();
    broken_boxes[40..400].fill(0xA5);
    let mut huge = heic.clone();
    // The primary image's `ispe` declares 20000x20000 (400 MP).
    let mut declared = Vec::from(4032u32.to_be_bytes());
    declared.extend_from_slice(&3024u32.to_be_bytes());
    let offsets: Vec<usize> =
        (0..huge.len() - 16).filter(|&i| &huge[i..i + 4] == b"ispe" && huge[i + 8..i + 16] == declared[..]).collect();
    assert!(!offsets.is_empty());
    for i in offsets {
        huge[i + 8..i + 12].copy_from_slice(&20_000u32.to_be_bytes());
        huge[i + 12..i + 16].copy_from_slice(&20_000u32.to_be_bytes());
    }
    for (name, bytes, status, code) in [
        ("half.heic", heic[..heic.len() / 2].to_vec(), 422, "undecodable_image"),
        ("half.avif", avif[..avif.len() / 2].to_vec(), 422, "undecodable_image"),
        ("boxes.heic", broken_boxes, 422, "undecodable_image"),
        ("huge.heic", huge, 422, "image_too_large"),
    ] {
        let r = alice.upload(bytes, name, Upload::default()).await;
        let got = assert_client_error(r, status, name).await;
        assert_eq!(got, code, "{name}");
    }
    let (_, list) = alice.json("/v1/users/alice/photos").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "refused uploads left nothing");
}

/// The display rendition: 1024 px on the long edge, never upscaled,
/// upright, JPEG without metadata, in `urls.display` and at
/// `/v1/photos/{id}/display`, with the thumbnail's access rules; deleted
/// with the photo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_renditions() {
    let server = TestServer::start().await;
    let alice = server.api().signed_up("alice").await;
    let bob = server.api().signed_up("bob").await;
    let anon = server.api();
    for (file, visibility, size) in [
        ("jpeg-exif-12mp-olympus.jpg", "public", (1024, 768)),
        // EXIF orientation 6: stored 450x600, displayed 600x450; never upscaled.
        ("jpeg-exif-orient6-landscape.jpg", "private", (600, 450)),
        ("heic-12mp-iphone13.heic", "public", (768, 1024)),
    ] {
        if file.ends_with(".heic") && !photostream_media::Format::Heic.supported() {
            continue;
        }
        let p = alice
            .upload_ok(fixture(file), file, Upload { visibility: Some(visibility.into()), ..Default::default() })
            .await;
        let id = p["id"].as_str().unwrap();
        let ready = alice.wait_ready(id, Duration::from_secs(60)).await;
        let url = ready["urls"]["display"].as_str().unwrap_or_else(|| panic!("{file}: no display URL in {ready}"));
        let stem = file.rsplit_once('.').unwrap().0;
        assert!(url.starts_with(&format!("/media/alice/default/display/{stem}_display.jpg")), "{url}");
        let r = alice.get(&format!("/v1/photos/{id}/display")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{file}");
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        let etag = r.headers()["etag"].to_str().unwrap().to_string();
        let bytes = r.bytes().await.unwrap();
        assert!(!bytes.windows(4).any(|w| w == b"Exif"), "{file}: no metadata");
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), size, "{file}");
        let r = alice.get(&format!("/v1/photos/{id}/display")).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(r.status(), 304);
        // The CDN path (signed when not public) serves the same bytes.
        let r = anon.get(url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{file}: {url}");
        assert_eq!(r.bytes().await.unwrap(), bytes);
        // Upright: the orientation-6 fixture's display looks like orientation 1's.
        if visibility == "private" {
            assert_eq!(bob.get(&format!("/v1/photos/{id}/display")).send().await.unwrap().status(), 404);
            assert_eq!(anon.get(&format!("/v1/photos/{id}/display")).send().await.unwrap().status(), 404);
            let unsigned = url.split('?').next().unwrap();
            assert_eq!(anon.get(unsigned).send().await.unwrap().status(), 404);
            let upright = image::load_from_memory(&{
                let p = alice.upload_ok(fixture("jpeg-exif-orient1-landscape.jpg"), "o1.jpg", Upload::default()).await;
                let id1 = p["id"].as_str().unwrap().to_string();
                alice.wait_ready(&id1, Duration::from_secs(30)).await;
                alice.get(&format!("/v1/photos/{id1}/display")).send().await.unwrap().bytes().await.unwrap()
            })
            .unwrap();
            let diff: f64 = img
                .to_luma8()
                .pixels()
                .zip(upright.to_luma8().pixels())
                .map(|(a, b)| a[0].abs_diff(b[0]) as f64)
                .sum::<f64>()
                / (600.0 * 450.0);
            assert!(diff < 25.0, "orientation 6 display differs from upright by {diff:.1}");
        }
        // Deleted with the photo, on every path.
        let r = alice.http.delete(alice.url(&format!("/v1/photos/{id}"))).bearer_auth(alice.token.as_deref().unwrap()).send().await.unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(alice.get(&format!("/v1/photos/{id}/display")).send().await.unwrap().status(), 404);
        assert_eq!(anon.get(url).send().await.unwrap().status(), 404);
    }
}
