//! `GET /openapi.json` describes every route of the contract in
//! `../shared/API.md`, and every operation it lists answers (it is not the
//! fallback's 404 or 405). Schemathesis (scripts/schemathesis, run by
//! scripts/test) then fuzzes the server against this document.

use std::collections::BTreeSet;

use photostream_tests::{fixtures_dir, TestServer};
use serde_json::Value;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Routes API.md gained this round that are not built yet, each with the
/// open issue that builds it. The test fails if one of them is served (take
/// it off this list) and if any other route of the contract is missing, so
/// the list can only shrink.
const NOT_YET_BUILT: [(&str, &str, &str); 0] = [];

/// Every `METHOD /path` (and `METHOD / METHOD /path`) that API.md names.
fn contract_operations(api_md: &str) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    let words: Vec<&str> = api_md
        .split(|c: char| c.is_whitespace() || c == '|' || c == ',' || c == '`')
        .filter(|w| !w.is_empty())
        .collect();
    let mut pending: Vec<&str> = Vec::new();
    for w in words {
        if METHODS.contains(&w) {
            pending.push(w);
        } else if w == "/" && !pending.is_empty() {
            // "PUT / DELETE /path": another method follows.
        } else if w.starts_with('/') && !pending.is_empty() {
            let path = w.split(['?', '[']).next().unwrap().trim_end_matches(['.', ')']);
            for m in pending.drain(..) {
                ops.insert((m.to_string(), path.to_string()));
            }
        } else {
            pending.clear();
        }
    }
    ops
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_every_route_of_the_contract() {
    let api_md = std::fs::read_to_string(fixtures_dir().join("../../API.md")).expect("../shared/API.md");
    let contract = contract_operations(&api_md);
    assert!(contract.len() >= 40, "parsed only {} operations from API.md: {contract:?}", contract.len());

    let server = TestServer::start().await;
    let api = server.api();
    let r = api.get("/openapi.json").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);

    let paths = doc["paths"].as_object().expect("paths");
    let mut described = BTreeSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            described.insert((method.clone(), path.clone()));
            let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{method} {path}: no responses"));
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{method} {path}: no success response"
            );
            assert_eq!(
                responses["default"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{method} {path}: errors undescribed"
            );
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{method} {path}: untagged");
        }
    }
    let not_yet: BTreeSet<(String, String)> =
        NOT_YET_BUILT.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    let missing: Vec<_> = contract.difference(&described).filter(|op| !not_yet.contains(*op)).collect();
    assert!(missing.is_empty(), "API.md routes missing from /openapi.json: {missing:?}");
    let built: Vec<_> = not_yet.intersection(&described).collect();
    assert!(built.is_empty(), "now served, take them off NOT_YET_BUILT: {built:?}");
    for (method, path, issue) in NOT_YET_BUILT {
        assert!(contract.contains(&(method.to_string(), path.to_string())), "{method} {path} is no longer in API.md");
        println!("NOT RUN: {method} {path} is in API.md but not built yet ({issue})");
    }

    // Every schema reference resolves.
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for piece in text.split("\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling $ref to {name}");
    }

    // The upload form says what each part is: text fields are plain text,
    // `metadata` is a JSON object (so clients and fuzzers know a text part
    // is just text; tests/schemathesis/schemathesis.toml relies on it).
    let form = &doc["paths"]["/v1/photos"]["post"]["requestBody"]["content"]["multipart/form-data"];
    let encoding = form["encoding"].as_object().expect("the upload form declares each part's encoding");
    for text in ["title", "description", "album", "visibility", "viewers"] {
        assert!(encoding[text]["contentType"].as_str().unwrap().starts_with("text/plain"), "{text}: {}", encoding[text]);
    }
    assert_eq!(encoding["metadata"]["contentType"], "application/json");
    assert!(encoding["file"]["contentType"].as_str().unwrap().contains("image/jpeg"));
    assert_eq!(form["schema"]["$ref"], "#/components/schemas/UploadForm");
    let upload_form = &doc["components"]["schemas"]["UploadForm"];
    assert!(upload_form["required"].as_array().unwrap().iter().any(|r| r == "file"), "{upload_form}");

    // Every described operation answers its method (no 405) and, even with
    // placeholder ids and no credentials, never with a 5xx.
    for (method, path) in &described {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        if concrete.ends_with("/stream") {
            continue; // server-sent events: an open stream, not a quick answer
        }
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = api.http.request(m, api.url(&concrete)).send().await.unwrap();
        let status = r.status().as_u16();
        assert_ne!(status, 405, "{method} {path}");
        assert!(status < 500, "{method} {concrete}: {status}");
    }
    println!("openapi: {} operations described, {} named by API.md, all present", described.len(), contract.len());
}

#[test]
fn contract_parser_reads_the_table_forms() {
    let ops = contract_operations(
        "| PUT / DELETE /v1/photos/{id}/favorite | 204 |\n\
         | GET /v1/photos/{id}/viewers, PUT /v1/photos/{id}/viewers | owner |\n\
         | GET /v1/search?q=…[&owner=] | x |\n`GET /healthz` (up), `GET /openapi.json`.",
    );
    let want: BTreeSet<(String, String)> = [
        ("PUT", "/v1/photos/{id}/favorite"),
        ("DELETE", "/v1/photos/{id}/favorite"),
        ("GET", "/v1/photos/{id}/viewers"),
        ("PUT", "/v1/photos/{id}/viewers"),
        ("GET", "/v1/search"),
        ("GET", "/healthz"),
        ("GET", "/openapi.json"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(ops, want);
}
