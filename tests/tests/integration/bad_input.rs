//! Bad input gets a clear 4xx with the error body and changes nothing.

use photostream_tests::{assert_client_error, files_under, fixture, manifest, png, TestServer, Upload};
use reqwest::multipart::{Form, Part};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_fixture_is_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let alice = server.api().signed_up("alice").await;
    let mut refused = 0;
    for (file, valid) in manifest() {
        if valid {
            continue;
        }
        let r = alice.upload(fixture(&file), &file, Upload::default()).await;
        let status = r.status().as_u16();
        assert!((400..500).contains(&status), "{file}: {status}");
        let code = assert_client_error(r, status, &file).await;
        let expected = match file.as_str() {
            "bad-empty.jpg" => "empty_file",
            "bad-text-renamed.jpg" => "unsupported_media_type",
            "bad-bomb-65535x66601.gif" => "image_too_large",
            _ => "undecodable_image",
        };
        assert_eq!(code, expected, "{file}");
        refused += 1;
    }
    assert!(refused >= 6);
    assert!(files_under(&server.objects_dir()).is_empty(), "something was stored");
    let (_, stream) = alice.json("/v1/users/alice/photos").await;
    assert_eq!(stream["items"].as_array().unwrap().len(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_clear_client_errors() {
    let server = TestServer::start_with(|c| c.uploads.max_bytes = 256 * 1024).await;
    let anon = server.api();
    let alice = anon.signed_up("alice").await;

    // Accounts.
    let r = anon.post("/v1/users").json(&serde_json::json!({"username": "alice", "password": "another password"})).send().await.unwrap();
    assert_eq!(assert_client_error(r, 409, "taken").await, "username_taken");
    let r = anon.post("/v1/users").json(&serde_json::json!({"username": "a/../b", "password": "xxxxxxxxxx"})).send().await.unwrap();
    assert_client_error(r, 400, "bad username").await;
    let r = anon.post("/v1/users").json(&serde_json::json!({"username": "shorty", "password": "x"})).send().await.unwrap();
    assert_client_error(r, 400, "short password").await;
    let r = anon.post("/v1/users").header("content-type", "application/json").body("{not json").send().await.unwrap();
    assert_client_error(r, 400, "bad json").await;
    let r = anon.post("/v1/users").body("username=x").send().await.unwrap();
    assert_client_error(r, 415, "no content type").await;
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let r = anon.post("/v1/users").header("content-type", "application/json").body(deep).send().await.unwrap();
    assert_client_error(r, 400, "deep json").await;
    // The field values as an array (serde's derive would take it): refused.
    let r = anon.post("/v1/users").json(&serde_json::json!(["mallory", "correct horse battery"])).send().await.unwrap();
    assert_eq!(assert_client_error(r, 400, "array body").await, "invalid_json");
    let huge = serde_json::json!({"username": "x".repeat(200_000), "password": "y"});
    // Refused before it is read in full, so the connection closes: its own client.
    let r = reqwest::Client::new().post(anon.url("/v1/users")).json(&huge).send().await.unwrap();
    assert_client_error(r, 413, "huge json").await;
    let r = anon.post("/v1/sessions").json(&serde_json::json!({"username": "alice", "password": "wrong password"})).send().await.unwrap();
    assert_client_error(r, 401, "wrong password").await;
    let r = anon.post("/v1/sessions").json(&serde_json::json!({"username": "nobody", "password": "wrong password"})).send().await.unwrap();
    assert_client_error(r, 401, "unknown user").await;

    // Credentials.
    let r = anon.upload(png(10, 10, 1), "a.png", Upload::default()).await;
    assert_client_error(r, 401, "anonymous upload").await;
    for bad in ["Bearer garbage", "Bearer ", "Basic YWxpY2U6eA==", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."] {
        let r = anon.http.get(anon.url("/v1/users/alice/photos")).header("authorization", bad).send().await.unwrap();
        assert_client_error(r, 401, bad).await;
    }
    let mut tampered = alice.token.clone().unwrap();
    tampered.insert(tampered.len() - 3, 'x');
    let r = anon.http.get(anon.url("/v1/search?q=x")).bearer_auth(tampered).send().await.unwrap();
    assert_client_error(r, 401, "tampered").await;

    // Uploads.
    let token = alice.token.clone().unwrap();
    let mut body = part("file", Some("big.jpg"), &vec![0xFF; 8 * 1024 * 1024]);
    body.extend_from_slice(b"--XyZ--\r\n");
    let (status, text, all_sent) = raw_multipart(&server.base, &token, body).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("payload_too_large"), "{text}");
    assert!(!all_sent, "the server read the whole oversized body");
    let r = alice.post("/v1/photos").header("content-type", "application/json").body("{}").send().await.unwrap();
    assert_eq!(assert_client_error(r, 415, "not multipart").await, "unsupported_media_type");
    let r = alice.post("/v1/photos").header("content-type", "multipart/form-data").body("x").send().await.unwrap();
    assert_client_error(r, 415, "multipart without a boundary").await;
    let r = anon.get("/media/alice/default/original/x.jpg?exp=soon&sig=zz").send().await.unwrap();
    assert_client_error(r, 400, "malformed signature query").await;
    let r = alice.post("/v1/photos").multipart(Form::new().text("title", "no file")).send().await.unwrap();
    assert_eq!(assert_client_error(r, 400, "no file").await, "missing_file");
    let form = Form::new().part("file", Part::bytes(png(10, 10, 1)).file_name("a.png")).text("sneaky", "x");
    let r = alice.post("/v1/photos").multipart(form).send().await.unwrap();
    assert_eq!(assert_client_error(r, 400, "unknown field").await, "unknown_field");
    let mut body = Vec::new();
    for i in 0..5000 {
        body.extend(part(&format!("f{i}"), None, b"x"));
    }
    body.extend_from_slice(b"--XyZ--\r\n");
    let (status, text, _) = raw_multipart(&server.base, &token, body).await;
    assert_eq!(status, 400, "thousands of parts: {text}");
    let form = Form::new().part("file", Part::bytes(png(10, 10, 1)).file_name("a.png")).part("title", Part::bytes(vec![0xff, 0xfe, 0x80]));
    let r = alice.post("/v1/photos").multipart(form).send().await.unwrap();
    assert_client_error(r, 400, "invalid utf-8 title").await;
    let r = alice.upload(png(10, 10, 1), "a.png", Upload { title: Some("x".repeat(201)), ..Default::default() }).await;
    assert_client_error(r, 400, "long title").await;
    let r = alice.upload(png(10, 10, 1), "a.png", Upload { title: Some("bell\u{7}".into()), ..Default::default() }).await;
    assert_client_error(r, 400, "control characters").await;
    let r = alice.upload(png(10, 10, 1), "a.png", Upload { visibility: Some("everyone".into()), ..Default::default() }).await;
    assert_client_error(r, 400, "bad visibility").await;
    let r = alice.upload(png(10, 10, 1), "a.png", Upload { metadata: Some("{\"license\": \"mine\"}".into()), ..Default::default() }).await;
    assert_client_error(r, 400, "bad licence").await;
    let r = alice.upload(png(10, 10, 1), "a.png", Upload { metadata: Some("[1,2".into()), ..Default::default() }).await;
    assert_client_error(r, 400, "bad metadata json").await;
    let r = alice.upload(png(10, 10, 1), "a.png", Upload { metadata: Some("[null, null]".into()), ..Default::default() }).await;
    assert_client_error(r, 400, "metadata as an array").await;
    let r = alice.upload(png(10, 10, 1), "a.png", Upload { album: Some("../..".into()), ..Default::default() }).await;
    assert_client_error(r, 400, "bad album").await;
    // A valid PNG header over garbage: recognised, then refused on decode.
    let mut polyglot = png(64, 64, 1);
    let n = polyglot.len();
    for b in &mut polyglot[60..n - 20] {
        *b = 0x5a;
    }
    let r = alice.upload(polyglot, "poly.png", Upload::default()).await;
    assert_client_error(r, 422, "garbage after a valid header").await;
    // A client thumbnail of the wrong width.
    let r = alice.upload(png(200, 100, 1), "t.png", Upload { thumbnail: Some(png(40, 20, 1)), ..Default::default() }).await;
    assert_eq!(assert_client_error(r, 422, "wrong thumbnail").await, "bad_thumbnail");
    // A client thumbnail with the wrong aspect ratio.
    let r = alice.upload(png(200, 100, 1), "t.png", Upload { thumbnail: Some(png(50, 50, 1)), ..Default::default() }).await;
    assert_eq!(assert_client_error(r, 422, "wrong aspect").await, "bad_thumbnail");

    // Reads.
    for path in [
        "/v1/photos/not-an-id",
        "/v1/photos/01a21081-7421-77f5-9fda-093fba2f1a7f",
        "/v1/photos/../../etc/passwd",
        "/v1/users/nobody/photos",
        "/media/alice/default/original/nothing.jpg",
        "/media/alice/default/original/..%2F..%2Fjwt.key",
        "/v1/nothing",
    ] {
        let r = anon.get(path).send().await.unwrap();
        assert_client_error(r, 404, path).await;
    }
    for path in [
        "/v1/users/alice/photos?limit=0",
        "/v1/users/alice/photos?limit=1000",
        "/v1/users/alice/photos?previous_last=garbage",
        "/v1/users/alice/photos?limit=abc",
        "/v1/search",
        "/v1/search?q=a&previous_last=zzz",
    ] {
        let r = anon.get(path).send().await.unwrap();
        assert_client_error(r, 400, path).await;
    }
    let r = anon.http.delete(anon.url("/healthz")).send().await.unwrap();
    assert_client_error(r, 405, "wrong method").await;

    assert!(files_under(&server.objects_dir()).is_empty(), "something was stored");
    server.stop().await;
}

/// Posts a multipart body over a raw socket and reads the answer even when
/// the server refuses before reading the whole body (an HTTP client library
/// reports that early close as a write error instead of the response).
/// Returns the status, the response text and whether the whole body was sent.
async fn raw_multipart(base: &str, token: &str, body: Vec<u8>) -> (u16, String, bool) {
    let addr = base.trim_start_matches("http://").to_string();
    let token = token.to_string();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
        write!(
            s,
            "POST /v1/photos HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        let mut all_sent = true;
        for chunk in body.chunks(64 * 1024) {
            if s.write_all(chunk).is_err() {
                all_sent = false; // refused early
                break;
            }
        }
        let mut response = Vec::new();
        let _ = s.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        (status, text, all_sent)
    })
    .await
    .unwrap()
}

fn part(name: &str, file_name: Option<&str>, data: &[u8]) -> Vec<u8> {
    let disposition = match file_name {
        Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\""),
        None => format!("form-data; name=\"{name}\""),
    };
    let mut out = format!("--XyZ\r\nContent-Disposition: {disposition}\r\n\r\n").into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// Regression (schemathesis, seed 3160): in a multipart form a text part is
/// just text, so a title that spells a JSON value is a title like any other
/// and is kept verbatim. The negative cases that mean something on a form
/// (no file, metadata that is not a JSON object, a repeated or unknown
/// part) are refused with a clear 400 and store nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_parts_are_text_and_meaningful_form_violations_are_refused() {
    let server = TestServer::start().await;
    let alice = server.api().signed_up("alice").await;
    let form = Form::new()
        .part("file", Part::bytes(png(12, 8, 3)).file_name("a.png"))
        .part("title", Part::text("{\"\": null}").mime_str("text/plain; charset=utf-8").unwrap())
        .text("description", "[1, 2]");
    let r = alice.post("/v1/photos").multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let photo: serde_json::Value = r.json().await.unwrap();
    assert_eq!(photo["title"], "{\"\": null}");
    assert_eq!(photo["description"], "[1, 2]");
    alice.wait_ready(photo["id"].as_str().unwrap(), std::time::Duration::from_secs(30)).await;

    let before = files_under(&server.objects_dir()).len();
    for (what, metadata) in [("a JSON string", "\"tags\""), ("a number", "7"), ("null", "null"), ("an array", "[]")] {
        let r = alice.upload(png(10, 10, 1), "b.png", Upload { metadata: Some(metadata.into()), ..Default::default() }).await;
        assert_eq!(assert_client_error(r, 400, what).await, "invalid_metadata", "{what}");
    }
    let form = Form::new()
        .part("file", Part::bytes(png(10, 10, 1)).file_name("c.png"))
        .text("title", "one")
        .text("title", "two");
    let r = alice.post("/v1/photos").multipart(form).send().await.unwrap();
    assert_eq!(assert_client_error(r, 400, "repeated title").await, "duplicate_field");
    assert_eq!(files_under(&server.objects_dir()).len(), before, "a refused upload stored something");
    server.stop().await;
}
