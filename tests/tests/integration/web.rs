//! The browser app as the server serves it (the app itself is tested in a
//! real browser by scripts/browser-e2e): pages, hashed immutable assets,
//! the security headers, Open Graph tags only for public photos, and the
//! API's JSON 404 left alone.

use std::time::Duration;

use photostream_tests::{fixture, TestServer, Upload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_assets_and_open_graph() {
    let server = TestServer::start().await;
    let anon = server.api();
    let alice = server.api().signed_up("alice").await;

    // Every page URL gets the app, with the CSP and no inline script.
    for path in ["/", "/signin", "/upload", "/u/alice", "/search?q=cat", "/settings/tokens"] {
        let r = anon.get(path).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8", "{path}");
        let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let html = r.text().await.unwrap();
        assert!(html.contains("<script type=\"module\" src=\"/assets/"), "{path}: {html}");
        assert!(!html.contains("<script>"), "no inline script");
    }
    // Assets: hashed URLs, immutable, revalidated by ETag.
    let html = anon.get("/").send().await.unwrap().text().await.unwrap();
    let start = html.find("src=\"/assets/").unwrap() + 5;
    let app_js = &html[start..start + html[start..].find('"').unwrap()];
    assert!(app_js.ends_with("/app.js"), "{app_js}");
    assert!(html.contains(&app_js.replace("/app.js", "/app.css")), "one build prefix for all");
    let r = anon.get(app_js).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/javascript; charset=utf-8");
    assert!(r.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let r = anon.get(app_js).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(r.status(), 304);
    // Sub-modules resolve next to app.js.
    let module = app_js.replace("/app.js", "/js/api.js");
    assert_eq!(anon.get(&module).send().await.unwrap().status(), 200, "{module}");
    // Test and tooling files are not served.
    for p in ["/assets/x/package.json", "/assets/x/tests/e2e.mjs", "/assets/x/dev-server.mjs", "/assets/x/index.html"] {
        assert_eq!(anon.get(p).send().await.unwrap().status(), 404, "{p}");
    }
    // The API keeps its JSON 404; a browser gets the app's page, as 404.
    let r = anon.get("/v1/no-such-route").send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/json");
    let r = anon.get("/no-such-page").header("accept", "text/html").send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let r = anon.get("/no-such-page").send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");

    // Open Graph: a public photo's page previews; a private one's says nothing.
    let public = alice
        .upload_ok(fixture("jpeg-progressive.jpg"), "cat.jpg", Upload { title: Some("A <cat> & friends".into()), ..Default::default() })
        .await;
    let private = alice
        .upload_ok(
            fixture("jpeg-progressive.jpg"),
            "secret.jpg",
            Upload { title: Some("Secret title".into()), visibility: Some("private".into()), ..Default::default() },
        )
        .await;
    let (public, private) = (public["id"].as_str().unwrap(), private["id"].as_str().unwrap());
    alice.wait_ready(public, Duration::from_secs(30)).await;
    alice.wait_ready(private, Duration::from_secs(30)).await;
    let page = anon.get(&format!("/photos/{public}")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<meta property=\"og:title\" content=\"A &lt;cat&gt; &amp; friends\">"), "{page}");
    assert!(page.contains("property=\"og:image\" content=\"http://"), "{page}");
    let page = anon.get(&format!("/photos/{private}")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("og:title") && !page.contains("Secret title"), "{page}");
}
