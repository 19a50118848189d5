//! Helpers for photostream's end-to-end tests: a real server on port 0 with
//! a temporary data dir, an HTTP client that speaks the API, fixtures, and
//! generated images.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use photostream_cli::{Config, RunningService};
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use tempfile::TempDir;

/// `shared/fixtures/images` beside the repository (or `$FIXTURES_DIR`).
pub use photostream_testkit::fixtures_dir;

/// `(file, valid)` for every row of the fixture manifest.
pub fn manifest() -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(fixtures_dir().join("MANIFEST.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[0].to_string(), c[5] == "yes")
        })
        .collect()
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A PNG of the given size in a colour derived from `seed`.
pub fn png(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (seed.wrapping_mul(37) % 256) as u8,
            ((x * 255) / width.max(1)) as u8,
            ((y * 255) / height.max(1)) as u8,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A PNG of random noise over 20 MB, so a download is still streaming when
/// the next request arrives.
pub fn big_png() -> Vec<u8> {
    use rand::RngCore;
    let (w, h) = (3000u32, 2400u32);
    let mut raw = vec![0u8; (w * h * 3) as usize];
    rand::thread_rng().fill_bytes(&mut raw);
    let img = image::RgbImage::from_raw(w, h, raw).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    let out = out.into_inner();
    assert!(out.len() > 20_000_000, "{}", out.len());
    out
}

pub fn install_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // Logs from in-process servers when debugging: RUST_LOG=info cargo test …
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// The whole service in this process, on 127.0.0.1:0.
pub struct TestServer {
    pub base: String,
    pub data: TempDir,
    service: Option<RunningService>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        install_crypto();
        let data = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: data.path().to_path_buf(),
            ..Config::default()
        };
        // Every test user signs up from 127.0.0.1; the sign-up limit has
        // its own test.
        config.limits.signups_per_address = 100_000;
        // Originals are gated behind premium by default; the suites written
        // before the paywall download them as any viewer. The premium suite
        // turns the gate back on.
        config.premium.free_originals = true;
        adjust(&mut config);
        Self::start_config(config, data).await
    }

    /// Starts with a complete config (its data dir inside `data`).
    pub async fn start_config(config: Config, data: TempDir) -> Self {
        install_crypto();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let service = photostream_cli::start(config, Some(listener)).await.unwrap();
        // A processors-only instance serves no HTTP: its base stays empty.
        let base = service.local_addr().map(|a| format!("http://{a}")).unwrap_or_default();
        Self {
            base,
            data,
            service: Some(service),
        }
    }

    pub fn api(&self) -> Api {
        Api::new(&self.base)
    }

    /// The running service (for its processor counters).
    pub fn service(&self) -> &RunningService {
        self.service.as_ref().unwrap()
    }

    /// The running service's catalog (for test set-up such as roles).
    pub fn catalog(&self) -> &photostream_catalog::Catalog {
        &self.service.as_ref().unwrap().backends.catalog
    }

    /// The JWT key the server signs sessions with (to forge tokens).
    pub fn jwt_key(&self) -> Vec<u8> {
        let hex_key = std::fs::read_to_string(self.data.path().join("jwt.key")).unwrap();
        (0..hex_key.trim().len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex_key[i..i + 2], 16).unwrap())
            .collect()
    }

    pub fn objects_dir(&self) -> PathBuf {
        self.data.path().join("objects")
    }

    pub async fn stop(mut self) -> TempDir {
        self.service.take().unwrap().shutdown().await.unwrap();
        self.data
    }
}

/// Every file under `dir`, as paths relative to it.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A client of the HTTP API.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

/// Optional upload fields.
#[derive(Default, Clone)]
pub struct Upload {
    pub title: Option<String>,
    pub description: Option<String>,
    pub album: Option<String>,
    pub visibility: Option<String>,
    pub metadata: Option<String>,
    pub thumbnail: Option<Vec<u8>>,
    /// `true` / `false`; absent: the owner's `watermark_default`.
    pub watermark: Option<bool>,
}

impl Api {
    pub fn new(base: &str) -> Self {
        install_crypto();
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            base: base.to_string(),
            token: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.auth(self.http.get(self.url(path)))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.auth(self.http.post(self.url(path)))
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    /// The same client, connecting from another loopback address (127.0.0.0/8
    /// is all loopback on Linux), as a second client machine would.
    pub fn from_address(&self, addr: &str) -> Api {
        Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .local_address(addr.parse::<std::net::IpAddr>().unwrap())
                .build()
                .unwrap(),
            ..self.clone()
        }
    }

    pub fn with_token(&self, token: &str) -> Api {
        Api {
            token: Some(token.to_string()),
            ..self.clone()
        }
    }

    /// Registers `username` and logs in; returns the authenticated client.
    pub async fn signed_up(&self, username: &str) -> Api {
        let body = serde_json::json!({"username": username, "password": "correct horse battery"});
        let r = self.post("/v1/users").json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201, "register {username}: {}", r.text().await.unwrap());
        let r = self.post("/v1/sessions").json(&body).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        Api {
            token: Some(v["token"].as_str().unwrap().to_string()),
            ..self.clone()
        }
    }

    pub async fn upload(&self, bytes: Vec<u8>, file_name: &str, opts: Upload) -> reqwest::Response {
        let mut form = Form::new().part("file", Part::bytes(bytes).file_name(file_name.to_string()));
        for (k, v) in [
            ("title", opts.title),
            ("description", opts.description),
            ("album", opts.album),
            ("visibility", opts.visibility),
            ("metadata", opts.metadata),
            ("watermark", opts.watermark.map(|w| w.to_string())),
        ] {
            if let Some(v) = v {
                form = form.text(k, v);
            }
        }
        if let Some(t) = opts.thumbnail {
            form = form.part("thumbnail", Part::bytes(t).file_name("thumb"));
        }
        self.post("/v1/photos").multipart(form).send().await.unwrap()
    }

    /// Uploads and asserts 202; returns the photo JSON.
    pub async fn upload_ok(&self, bytes: Vec<u8>, file_name: &str, opts: Upload) -> Value {
        let r = self.upload(bytes, file_name, opts).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 202, "upload {file_name}: {body}");
        assert_eq!(body["status"], "processing");
        body
    }

    /// Polls the photo until it is `ready` (panics after `timeout`).
    pub async fn wait_ready(&self, id: &str, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            let r = self.get(&format!("/v1/photos/{id}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "photo {id} should be visible to its owner");
            let v: Value = r.json().await.unwrap();
            if v["status"] == "ready" {
                return v;
            }
            assert!(start.elapsed() < timeout, "photo {id} not ready after {timeout:?}: {v}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn json(&self, path: &str) -> (u16, Value) {
        let r = self.get(path).send().await.unwrap();
        let status = r.status().as_u16();
        let body = r.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}

/// Asserts that an answer is a 4xx with the API's error body.
pub async fn assert_client_error(r: reqwest::Response, expected: u16, context: &str) -> String {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, expected, "{context}: {body}");
    let code = body["error"]["code"].as_str().unwrap_or_else(|| panic!("{context}: no error code in {body}"));
    assert!(body["error"]["message"].is_string(), "{context}: no message");
    code.to_string()
}
