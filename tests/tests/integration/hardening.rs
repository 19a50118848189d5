//! Abuse resistance over HTTP: slow clients (408), per-user stream caps,
//! sign-up limits, download slots held by signed URLs' subjects, and
//! downloads that end when their access does.

use std::time::Duration;

use photostream_tests::{assert_client_error, big_png, png, Api, TestServer, Upload};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connects to the server's raw TCP port.
async fn connect(api: &Api) -> TcpStream {
    TcpStream::connect(api.base.trim_start_matches("http://")).await.unwrap()
}

/// Everything the server sends until it closes, or panics after `within`.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> String {
    let mut out = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut out)).await {
        Ok(_) => String::from_utf8_lossy(&out).into_owned(),
        Err(_) => panic!("the server kept the connection open for {within:?}: {:?}", String::from_utf8_lossy(&out)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_and_bodies_get_408_and_free_the_upload_slot() {
    let server = TestServer::start_with(|c| {
        c.limits.header_timeout_secs = 1;
        c.limits.body_grace_secs = 1;
        c.limits.body_min_bytes_per_sec = 1000;
    })
    .await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;

    // A head that stalls half-way: 408, then the connection closes.
    let mut s = connect(&anon).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: photostream\r\nX-Slow: ").await.unwrap();
    let answer = read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");

    // An idle connection is closed without an answer.
    let mut s = connect(&anon).await;
    assert_eq!(read_until_closed(&mut s, Duration::from_secs(10)).await, "");

    // A JSON body that stalls: 408, and nothing was created.
    let mut s = connect(&anon).await;
    s.write_all(b"POST /v1/users HTTP/1.1\r\nHost: photostream\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{\"username\": \"slo")
        .await
        .unwrap();
    let answer = read_until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
    assert_eq!(anon.get("/v1/users/slo/photos").send().await.unwrap().status(), 404);

    // An upload that trickles (a byte every 200 ms, far below the pace)
    // ends with 408 while the client is still sending, and frees the slot.
    let token = alice.token.clone().unwrap();
    let mut s = connect(&anon).await;
    let head = format!(
        "POST /v1/photos HTTP/1.1\r\nHost: photostream\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 1000000\r\n\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.png\"\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let (mut read, mut write) = s.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..200 {
            if write.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), read.read_to_end(&mut out)).await.expect("the slow upload was never ended").ok();
    let answer = String::from_utf8_lossy(&out);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    trickle.abort();
    let r = alice.upload(png(10, 10, 1), "next.png", Upload::default()).await;
    assert_eq!(r.status(), 202, "the slow upload still holds the slot");

    // A body at a normal pace is unaffected.
    let r = alice.upload(png(300, 200, 2), "normal.png", Upload::default()).await;
    assert_eq!(r.status(), 202);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_streams_are_capped_per_user() {
    let server = TestServer::start_with(|c| c.limits.streams_per_user = 2).await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let bob = anon.signed_up("bob").await;
    let first = alice.get("/v1/notifications/stream").send().await.unwrap();
    assert_eq!(first.status(), 200);
    let second = alice.get("/v1/notifications/stream").send().await.unwrap();
    assert_eq!(second.status(), 200);
    let r = alice.get("/v1/notifications/stream").send().await.unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(assert_client_error(r, 429, "a third stream").await, "too_many_requests");
    // Another user has their own allowance.
    assert_eq!(bob.get("/v1/notifications/stream").send().await.unwrap().status(), 200);
    // Closing one frees its slot.
    drop(first);
    let start = std::time::Instant::now();
    loop {
        let r = alice.get("/v1/notifications/stream").send().await.unwrap();
        if r.status() == 200 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "the closed stream's slot was never released");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(second);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ups_are_limited_per_address() {
    let server = TestServer::start_with(|c| c.limits.signups_per_address = 3).await;
    let anon = server.api();
    for name in ["one", "two", "three"] {
        anon.signed_up(name).await;
    }
    // A malformed sign-up is refused for what it is and uses up nothing.
    let r = anon.post("/v1/users").json(&json!({"username": "x y", "password": "correct horse battery"})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body = json!({"username": "four", "password": "correct horse battery"});
    let r = anon.post("/v1/users").json(&body).send().await.unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(assert_client_error(r, 429, "a fourth sign-up").await, "too_many_requests");
    // Another address is not affected, and nothing was created for the refused one.
    let elsewhere = anon.from_address("127.0.0.2");
    let r = elsewhere.post("/v1/users").json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    server.stop().await;
}

/// Uploads a 20 MB private photo of `owner`'s and waits until it is ready:
/// its id, size and signed original URL (signed for `owner`).
async fn big_private_photo(owner: &Api) -> (String, usize, String) {
    let big = big_png();
    let p = owner.upload_ok(big.clone(), "big.png", Upload { visibility: Some("private".into()), ..Default::default() }).await;
    let id = p["id"].as_str().unwrap().to_string();
    owner.wait_ready(&id, Duration::from_secs(120)).await;
    let (_, photo) = owner.json(&format!("/v1/photos/{id}")).await;
    let signed = photo["urls"]["original"].as_str().unwrap().to_string();
    (id, big.len(), signed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_original_holds_the_download_slot_of_the_user_it_was_signed_for() {
    let server = TestServer::start().await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let (id, len, signed) = big_private_photo(&alice).await;
    assert!(signed.contains("&u="), "the URL names whom it was signed for: {signed}");

    // Alice's first download streams (one chunk read)…
    let mut first = alice.get(&format!("/v1/photos/{id}/original")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    first.chunk().await.unwrap().unwrap();
    // …so her signed URL, fetched without any credential, is her second.
    let r = anon.get(&signed).send().await.unwrap();
    assert_eq!(assert_client_error(r, 429, "a second download through the signed URL").await, "too_many_requests");
    // Tampering with the subject breaks the signature (404, as for any bad signature).
    let alice_id = signed.split("&u=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let forged = signed.replace(&format!("u={alice_id}"), "u=someone-else");
    assert_ne!(forged, signed);
    assert_eq!(anon.get(&forged).send().await.unwrap().status(), 404);
    let unnamed = signed.replace(&format!("&u={alice_id}"), "");
    assert_eq!(anon.get(&unnamed).send().await.unwrap().status(), 404);
    // Once the first download is over, the signed URL downloads.
    drop(first);
    let start = std::time::Instant::now();
    loop {
        let r = anon.get(&signed).send().await.unwrap();
        if r.status() == 200 {
            assert_eq!(r.bytes().await.unwrap().len(), len);
            break;
        }
        assert_eq!(r.status(), 429);
        assert!(start.elapsed() < Duration::from_secs(10), "the slot was never released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

/// Reads the rest of `resp` slowly; the bytes it got before the server
/// ended it (an error or an early end), or panics when it was all served.
async fn cut_short(mut resp: reqwest::Response, len: usize, what: &str) -> usize {
    let mut got = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, resp.chunk()).await.expect("the download neither ended nor finished") {
            Ok(Some(c)) => got += c.len(),
            Ok(None) | Err(_) => break,
        }
    }
    assert!(got < len, "{what}: the whole file was served ({got} of {len} bytes)");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_in_progress_end_when_their_access_ends() {
    let server = TestServer::start().await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let (id, len, signed) = big_private_photo(&alice).await;

    // A signed URL's download ends when the photo's access changes.
    let mut dl = anon.get(&signed).send().await.unwrap();
    assert_eq!(dl.status(), 200);
    dl.chunk().await.unwrap().unwrap();
    let r = alice
        .http
        .patch(alice.url(&format!("/v1/photos/{id}")))
        .bearer_auth(alice.token.as_ref().unwrap())
        .json(&json!({"visibility": "shared"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Past the re-check interval, the rest is refused.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    cut_short(dl, len, "signed download after a visibility change").await;

    // A session's download ends when the session logs out.
    let mut dl = alice.get(&format!("/v1/photos/{id}/original")).send().await.unwrap();
    assert_eq!(dl.status(), 200);
    dl.chunk().await.unwrap().unwrap();
    assert_eq!(alice.post("/v1/sessions/logout").send().await.unwrap().status(), 204);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    cut_short(dl, len, "download after logout").await;
    server.stop().await;
}

/// A premium member's download of someone else's original ends when the
/// membership is revoked: the paywall is asked again while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_premium_download_ends_when_premium_is_revoked() {
    let server = TestServer::start_with(|c| c.premium.free_originals = false).await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let pat = anon.signed_up("pat").await;
    photostream_cli::premium_admin::grant(server.catalog(), "pat", None, Some("ops")).await.unwrap();
    let big = big_png();
    let p = alice.upload_ok(big.clone(), "big.png", Upload::default()).await;
    let id = p["id"].as_str().unwrap().to_string();
    alice.wait_ready(&id, Duration::from_secs(120)).await;

    let mut dl = pat.get(&format!("/v1/photos/{id}/original")).send().await.unwrap();
    assert_eq!(dl.status(), 200);
    dl.chunk().await.unwrap().unwrap();
    photostream_cli::premium_admin::revoke(server.catalog(), "pat", Some("ops")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    cut_short(dl, big.len(), "a premium download after the membership was revoked").await;
    let r = pat.get(&format!("/v1/photos/{id}/original")).send().await.unwrap();
    assert_eq!(assert_client_error(r, 402, "original after revoke").await, "premium_required");
    server.stop().await;
}

/// A 10,000 × 10,000 16-bit RGBA PNG of one colour: 800 MB of pixels in a
/// file of about a megabyte (written row by row, never held whole).
fn sixteen_bit_bomb() -> Vec<u8> {
    use std::io::Write;
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file.reopen().unwrap()), 10_000, 10_000);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Sixteen);
    enc.set_compression(png::Compression::Fast);
    let mut w = enc.write_header().unwrap().into_stream_writer().unwrap();
    let row: Vec<u8> = (0..10_000).flat_map(|_| [0x12, 0x34, 0x80, 0x00, 0x40, 0x00, 0xff, 0xff]).collect();
    for _ in 0..10_000 {
        w.write_all(&row).unwrap();
    }
    w.finish().unwrap();
    std::fs::read(file.path()).unwrap()
}

/// Peak resident memory of a process, in bytes (`VmHWM`).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// The bound stated in docs/security.md for this scenario.
const PEAK_RSS_BOUND: u64 = 512 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoding_memory_is_bounded_by_the_budget_not_the_pixel_limit() {
    let data = tempfile::tempdir().unwrap();
    let budget = [("PHOTOSTREAM_UPLOADS__DECODE_MEMORY_MB".to_string(), "32".to_string())];
    let p = crate::crash::spawn_with(data.path(), &budget).await;
    let anon = p.api.clone();
    let bomb = sixteen_bit_bomb();
    assert!(bomb.len() < 8 << 20, "{}", bomb.len());
    let baseline = peak_rss(p.child.id());

    // Three users upload the 100-megapixel 16-bit PNG at once: accepted,
    // verified and thumbnailed row by row.
    let mut users = Vec::new();
    for name in ["ann", "ben", "cat"] {
        users.push(anon.signed_up(name).await);
    }
    let uploads = users.iter().map(|u| {
        let bomb = bomb.clone();
        async move { u.upload_ok(bomb, "bomb.png", Upload::default()).await["id"].as_str().unwrap().to_string() }
    });
    let ids = futures::future::join_all(uploads).await;
    for (u, id) in users.iter().zip(&ids) {
        let ready = u.wait_ready(id, Duration::from_secs(300)).await;
        assert_eq!(ready["width"], 10_000, "{ready}");
    }
    let peak = peak_rss(p.child.id());
    println!(
        "memory: peak RSS {} MiB (baseline {} MiB) after three concurrent 100 MP 16-bit PNG uploads; bound {} MiB",
        peak >> 20,
        baseline >> 20,
        PEAK_RSS_BOUND >> 20
    );
    assert!(peak < PEAK_RSS_BOUND, "peak RSS {} MiB", peak >> 20);

    // A format decoded whole (BMP) needing more than the whole budget is
    // refused with a clear 422, before any pixel is allocated.
    let bmp = {
        let img = image::RgbImage::new(4000, 3000);
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Bmp).unwrap();
        out.into_inner()
    };
    let r = users[0].upload(bmp, "wide.bmp", Upload::default()).await;
    let message = assert_client_error(r, 422, "a BMP needing 36 MB with a 32 MB budget").await;
    assert_eq!(message, "image_too_large");
    let peak_after = peak_rss(p.child.id());
    assert!(peak_after < PEAK_RSS_BOUND, "peak RSS {} MiB", peak_after >> 20);
    drop(p);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smaller_ones() {
    let server = TestServer::start_with(|c| c.metrics_token = "scrape-me-please".into()).await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;

    // Authenticate first: an anonymous upload with no body is 401, not 415.
    let r = anon.post("/v1/photos").send().await.unwrap();
    assert_eq!(assert_client_error(r, 401, "anonymous empty upload").await, "unauthorized");

    // Messages are human and stable: no serde positions, no decoder dumps.
    let r = anon.post("/v1/users").header("content-type", "application/json").body(r#"{"username": "x""#).send().await.unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["message"], "the body is not valid JSON", "{body}");
    let r = anon.post("/v1/users").json(&json!({"username": "bob"})).send().await.unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    let m = body["error"]["message"].as_str().unwrap();
    assert!(m.contains("missing field `password`") && !m.contains("line") && !m.contains("Failed to"), "{m}");
    let r = alice.upload(photostream_tests::fixture("bad-truncated.png"), "t.png", Upload::default()).await;
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "undecodable_image");
    let m = body["error"]["message"].as_str().unwrap();
    assert!(!m.contains("IDAT") && !m.contains("chunk") && !m.contains("zlib"), "{m}");
    // A refused size says the real size (a 65536 × 65536 PNG header).
    let mut huge = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut huge, 65536, 65536);
        enc.set_color(png::ColorType::Rgb);
        let w = enc.write_header().unwrap();
        std::mem::forget(w); // a header and nothing else
    }
    let r = alice.upload(huge, "huge.png", Upload::default()).await;
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "image_too_large", "{body}");
    let m = body["error"]["message"].as_str().unwrap();
    assert!(m.contains("65536x65536") || m.contains("larger than the limit"), "{m}");
    assert!(!m.contains("0x0"), "{m}");

    // A JPEG-compressed YCbCr TIFF (baseline TIFF 6.0) is a TIFF like any other.
    let tif = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../media/tests/data/tiff-jpeg-ycbcr.tif")).unwrap();
    let p = alice.upload_ok(tif, "scan.tif", Upload::default()).await;
    let ready = alice.wait_ready(p["id"].as_str().unwrap(), Duration::from_secs(60)).await;
    assert_eq!((ready["width"].as_u64(), ready["height"].as_u64()), (Some(160), Some(120)), "{ready}");

    // Album names of private albums are the owner's business.
    let r = alice.post("/v1/albums").json(&json!({"name": "surprise-party", "default_visibility": "private"})).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = alice.post("/v1/albums").json(&json!({"name": "holidays", "default_visibility": "public"})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let names = |v: serde_json::Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_string()).collect()
    };
    let (_, mine) = alice.json("/v1/users/alice/albums").await;
    assert!(names(mine).contains(&"surprise-party".to_string()));
    let (_, theirs) = anon.json("/v1/users/alice/albums").await;
    let theirs = names(theirs);
    assert!(theirs.contains(&"holidays".to_string()), "{theirs:?}");
    assert!(!theirs.contains(&"surprise-party".to_string()), "{theirs:?}");

    // A duplicate group name is 409, as documented.
    let r = alice.post("/v1/groups").json(&json!({"name": "Herons"})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = alice.post("/v1/groups").json(&json!({"name": "herons"})).send().await.unwrap();
    assert_eq!(assert_client_error(r, 409, "duplicate group").await, "name_taken");

    // /metrics with a token configured: only its bearers.
    assert_eq!(anon.get("/metrics").send().await.unwrap().status(), 404);
    assert_eq!(anon.with_token("wrong").get("/metrics").send().await.unwrap().status(), 404);
    let r = anon.with_token("scrape-me-please").get("/metrics").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("photostream_http_requests_total"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_weigh_the_reporters_standing() {
    // Accounts count fully from 4 s old here (a week by default).
    let server = TestServer::start_with(|c| {
        c.moderation.report_threshold = 3;
        c.moderation.report_full_weight_age_secs = 4;
    })
    .await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let mona = anon.signed_up("mona").await;
    server.catalog().set_role(&photostream_types::Username::parse("mona").unwrap(), "moderator").await.unwrap();
    let public_photo = |seed: u32| {
        let alice = alice.clone();
        async move {
            let p = alice.upload_ok(png(60, 40, seed), &format!("p{seed}.png"), Upload::default()).await;
            let id = p["id"].as_str().unwrap().to_string();
            alice.wait_ready(&id, Duration::from_secs(30)).await;
            id
        }
    };
    let report = |api: Api, id: String| async move {
        let r = api.post(&format!("/v1/photos/{id}/reports")).json(&json!({"reason": "spam"})).send().await.unwrap();
        assert_eq!(r.status(), 202);
    };
    let mut reporters = Vec::new();
    for name in ["xavier", "xena", "xerxes"] {
        reporters.push(anon.signed_up(name).await);
    }

    // Three brand-new accounts (0.2 each) cannot hide a photo…
    let first = public_photo(1).await;
    for r in &reporters {
        report(r.clone(), first.clone()).await;
    }
    assert_eq!(anon.json(&format!("/v1/photos/{first}")).await.0, 200, "hidden by throwaway accounts");
    // …but their reports are in the queue.
    let (_, q) = mona.json("/v1/moderation/queue?limit=100").await;
    let item = q["items"].as_array().unwrap().iter().find(|i| i["photo"]["id"] == first.as_str()).cloned().unwrap();
    assert_eq!(item["report_count"], 3);

    // The same accounts once established (1.0 each) do hide one.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let second = public_photo(2).await;
    for r in &reporters {
        report(r.clone(), second.clone()).await;
    }
    assert_eq!(anon.json(&format!("/v1/photos/{second}")).await.0, 404, "three established reporters hide it");

    // A moderator dismisses both: their reports now weigh 0.5 each (two
    // dismissed), and three of them no longer hide a photo.
    let (_, q) = mona.json("/v1/moderation/queue?limit=100").await;
    for i in q["items"].as_array().unwrap() {
        let r = mona
            .post(&format!("/v1/moderation/queue/{}/decision", i["id"].as_str().unwrap()))
            .json(&json!({"action": "approve", "note": "not spam"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(anon.json(&format!("/v1/photos/{second}")).await.0, 200, "approval restores it");
    let third = public_photo(3).await;
    for r in &reporters {
        report(r.clone(), third.clone()).await;
    }
    assert_eq!(anon.json(&format!("/v1/photos/{third}")).await.0, 200, "reporters whose reports were dismissed hid it");
    server.stop().await;
}

/// Polls `id` (as its owner) until it leaves `processing`; its final JSON.
async fn settled(owner: &Api, id: &str) -> serde_json::Value {
    let start = std::time::Instant::now();
    loop {
        let (_, p) = owner.json(&format!("/v1/photos/{id}")).await;
        if p["status"] != "processing" {
            return p;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{id} never left processing: {p}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sideways_and_mirrored_copies_of_a_blocked_photo_are_caught_until_the_block_is_reversed() {
    let server = TestServer::start().await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;
    let bob = anon.signed_up("bob").await;
    let carol = anon.signed_up("carol").await;
    let mona = anon.signed_up("mona").await;
    server.catalog().set_role(&photostream_types::Username::parse("mona").unwrap(), "moderator").await.unwrap();

    // Alice's photo, reported by bob and rejected by mona with "block similar".
    let original = photostream_tests::fixture("jpeg-exif-orient1-landscape.jpg");
    let p = alice.upload_ok(original.clone(), "orig.jpg", Upload::default()).await;
    let id = p["id"].as_str().unwrap().to_string();
    alice.wait_ready(&id, Duration::from_secs(30)).await;
    let r = bob.post(&format!("/v1/photos/{id}/reports")).json(&json!({"reason": "stolen"})).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let (_, q) = mona.json("/v1/moderation/queue?limit=100").await;
    let item = q["items"].as_array().unwrap().iter().find(|i| i["photo"]["id"] == id.as_str()).unwrap()["id"].as_str().unwrap().to_string();
    let r = mona
        .post(&format!("/v1/moderation/queue/{item}/decision"))
        .json(&json!({"action": "reject", "note": "stolen", "block_similar": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // Copies: half the size, re-encoded, EXIF gone, and stored sideways or
    // mirrored.
    let img = image::load_from_memory(&original).unwrap().resize(300, 300, image::imageops::FilterType::Triangle);
    let jpeg = |i: &image::DynamicImage| {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&i.to_rgb8()).unwrap();
        out
    };
    for (name, copy) in [("sideways", img.rotate90()), ("mirrored", img.fliph()), ("upside-down", img.rotate180())] {
        let p = carol.upload_ok(jpeg(&copy), &format!("{name}.jpg"), Upload::default()).await;
        let done = settled(&carol, p["id"].as_str().unwrap()).await;
        // Caught: rejected outright or held for review (by its distance).
        assert!(matches!(done["status"].as_str(), Some("rejected" | "under_review")), "the {name} copy passed: {done}");
    }
    // An unrelated photo is not caught.
    let other = photostream_tests::fixture("jpeg-exif-gps-phone.jpg");
    let p = carol.upload_ok(other, "other.jpg", Upload::default()).await;
    assert_eq!(settled(&carol, p["id"].as_str().unwrap()).await["status"], "ready");

    // Mona reverses the rejection: the hash leaves the blocklist, and the
    // next sideways copy is accepted without a restart.
    let r = mona
        .post(&format!("/v1/moderation/queue/{item}/decision"))
        .json(&json!({"action": "approve", "note": "it was hers"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let p = carol.upload_ok(jpeg(&img.rotate270()), "again.jpg", Upload::default()).await;
    assert_eq!(settled(&carol, p["id"].as_str().unwrap()).await["status"], "ready", "the reversed block still applies");
    server.stop().await;
}
