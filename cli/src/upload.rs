//! `photostream upload DIR`: the bulk uploader. Every image under a folder,
//! one at a time through `POST /v1/photos`, resumable by content: a file
//! whose SHA-256 the server already holds for this user
//! (`GET /v1/photos?sha256=`) is skipped. 429 and 5xx answers are retried,
//! honouring `Retry-After`; anything else the server refuses is reported
//! with its reason and makes the command fail at the end.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::{Response, StatusCode};

use crate::progress::Progress;

/// File name endings taken as images (the server sniffs the real format).
const IMAGE_EXTENSIONS: [&str; 12] = [
    "jpg", "jpeg", "png", "gif", "webp", "tif", "tiff", "bmp", "heic", "heif", "avif", "jfif",
];
/// The longest wait between attempts when the server names none.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// `photostream upload`'s options (its command-line arguments).
#[derive(Debug, Clone, clap::Args)]
pub struct UploadOptions {
    pub dir: PathBuf,
    /// The server's base URL, e.g. https://photos.example.org.
    #[arg(long)]
    pub server: String,
    /// A session token or a personal API token with the read and write scopes.
    #[arg(long, env = "PHOTOSTREAM_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The album every file goes to (default: the server's `default`).
    #[arg(long)]
    pub album: Option<String>,
    /// Name each file's album after its folder under DIR (files directly
    /// in DIR go to --album).
    #[arg(long)]
    pub album_from_folders: bool,
    /// public, private or shared (default: the album's).
    #[arg(long)]
    pub visibility: Option<String>,
    /// Ask for watermarked display renditions (sends watermark=true).
    #[arg(long)]
    pub watermark: bool,
    /// Extra attempts per file on 429, 5xx or a dropped connection.
    #[arg(long, default_value_t = 5)]
    pub retries: u32,
}

/// What happened to each file.
#[derive(Debug, Default)]
pub struct Summary {
    pub uploaded: Vec<PathBuf>,
    pub skipped: Vec<PathBuf>,
    /// The file and the server's (or the file system's) reason.
    pub failed: Vec<(PathBuf, String)>,
}

/// Every image file under `dir`, recursively, in path order (hidden files
/// and folders left out).
pub fn images_under(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && is_image_name(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The album a file goes to: its folder under `dir` with `--album-from-folders`
/// (`2024/summer/a.jpg` → `2024 summer`, made a slug by the server), else
/// `--album`, else the server's default.
fn album_for(options: &UploadOptions, file: &Path) -> Option<String> {
    if options.album_from_folders {
        let folder = file.parent()?.strip_prefix(&options.dir).ok()?;
        let name: Vec<String> = folder
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if !name.is_empty() {
            return Some(name.join(" "));
        }
    }
    options.album.clone()
}

pub async fn run(options: UploadOptions) -> anyhow::Result<Summary> {
    let files =
        images_under(&options.dir).with_context(|| format!("reading {}", options.dir.display()))?;
    let total_bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let client = reqwest::Client::builder()
        // Only the given server: no proxy from the environment.
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(600))
        .build()
        .context("building the HTTP client")?;
    let uploader = Uploader {
        client,
        options: &options,
    };
    let mut progress = Progress::new(files.len() as u64, Some(total_bytes));
    let mut summary = Summary::default();
    for file in files {
        let shown = file
            .strip_prefix(&options.dir)
            .unwrap_or(&file)
            .display()
            .to_string();
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        match uploader.one(&file).await {
            Ok(Outcome::Uploaded(id)) => {
                progress.advance(size, &format!("uploaded {shown} ({id})"));
                summary.uploaded.push(file);
            }
            Ok(Outcome::Skipped(id)) => {
                progress.advance(size, &format!("skipped {shown}: already uploaded ({id})"));
                summary.skipped.push(file);
            }
            Err(Failure::File(reason)) => {
                progress.advance(size, &format!("FAILED {shown}: {reason}"));
                summary.failed.push((file, reason));
            }
            Err(Failure::Fatal(e)) => {
                progress.finish();
                return Err(e);
            }
        }
    }
    progress.finish();
    Ok(summary)
}

enum Outcome {
    Uploaded(String),
    Skipped(String),
}

enum Failure {
    /// This file failed; go on with the next.
    File(String),
    /// Nothing will work (bad token, wrong server): stop.
    Fatal(anyhow::Error),
}

struct Uploader<'a> {
    client: reqwest::Client,
    options: &'a UploadOptions,
}

impl Uploader<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.options.server.trim_end_matches('/'))
    }

    async fn one(&self, file: &Path) -> Result<Outcome, Failure> {
        let bytes = tokio::fs::read(file)
            .await
            .map_err(|e| Failure::File(format!("cannot read: {e}")))?;
        let sha256 = photostream_media::content_hash(&bytes);
        let lookup = self
            .send(|| {
                self.client
                    .get(self.url("/v1/photos"))
                    .query(&[("sha256", &sha256)])
            })
            .await?;
        match lookup.status() {
            StatusCode::OK => {
                let body: serde_json::Value = lookup
                    .json()
                    .await
                    .map_err(|e| Failure::File(format!("lookup: {e}")))?;
                if let Some(first) = body["items"].as_array().and_then(|items| items.first()) {
                    return Ok(Outcome::Skipped(
                        first["id"].as_str().unwrap_or("?").to_string(),
                    ));
                }
            }
            s => return Err(refused(s, lookup).await),
        }
        let name = file
            .file_name()
            .map_or_else(|| "upload".into(), |n| n.to_string_lossy().into_owned());
        let album = album_for(self.options, file);
        let form = || {
            let mut form = reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.clone()),
            );
            if let Some(a) = &album {
                form = form.text("album", a.clone());
            }
            if let Some(v) = &self.options.visibility {
                form = form.text("visibility", v.clone());
            }
            // Sent only when asked: the server refuses form fields it does not know.
            if self.options.watermark {
                form = form.text("watermark", "true");
            }
            form
        };
        let r = self
            .send(|| self.client.post(self.url("/v1/photos")).multipart(form()))
            .await?;
        if r.status().is_success() {
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            return Ok(Outcome::Uploaded(
                body["id"].as_str().unwrap_or("?").to_string(),
            ));
        }
        Err(refused(r.status(), r).await)
    }

    /// Sends the request `make` builds, again on 429, 5xx or a broken
    /// connection (after `Retry-After`, else an exponential backoff), up to
    /// `retries` more times. Any other answer is returned.
    async fn send(&self, make: impl Fn() -> reqwest::RequestBuilder) -> Result<Response, Failure> {
        let mut backoff = Duration::from_millis(500);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt > self.options.retries;
            let wait = match make().bearer_auth(&self.options.token).send().await {
                Ok(r)
                    if r.status() == StatusCode::TOO_MANY_REQUESTS
                        || r.status().is_server_error() =>
                {
                    if last {
                        return Ok(r);
                    }
                    retry_after(&r).unwrap_or(backoff)
                }
                Ok(r) => return Ok(r),
                Err(e) if last => {
                    return Err(Failure::File(format!("no answer from the server: {e}")))
                }
                Err(_) => backoff,
            };
            tokio::time::sleep(wait.min(Duration::from_secs(300))).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// `Retry-After` in seconds (the form this server sends).
fn retry_after(r: &Response) -> Option<Duration> {
    let secs: u64 = r
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

/// The server's reason for refusing, as `422 invalid_image: …`; a refusal
/// of the credential itself ends the whole run.
async fn refused(status: StatusCode, r: Response) -> Failure {
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    let code = body["error"]["code"].as_str().unwrap_or("");
    let message = body["error"]["message"].as_str().unwrap_or("");
    let reason = format!("{} {code}: {message}", status.as_u16());
    if status == StatusCode::UNAUTHORIZED
        || (status == StatusCode::FORBIDDEN && code == "insufficient_scope")
    {
        return Failure::Fatal(anyhow::anyhow!("the server refused the token: {reason}"));
    }
    Failure::File(reason)
}

/// Prints the summary; an error (a non-zero exit) when any file failed.
pub fn report(summary: &Summary, dir: &Path) -> anyhow::Result<()> {
    println!(
        "uploaded {}, skipped {} (already uploaded), failed {}",
        summary.uploaded.len(),
        summary.skipped.len(),
        summary.failed.len()
    );
    for (file, reason) in &summary.failed {
        println!(
            "failed: {}: {reason}",
            file.strip_prefix(dir).unwrap_or(file).display()
        );
    }
    if !summary.failed.is_empty() {
        bail!("{} file(s) failed to upload", summary.failed.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_images_recursively_and_names_albums_after_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("2024/summer")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        for f in [
            "a.JPG",
            "notes.txt",
            "2024/summer/b.png",
            ".hidden/c.jpg",
            "2024/d.webp",
        ] {
            std::fs::write(root.join(f), b"x").unwrap();
        }
        let found = images_under(root).unwrap();
        let rel: Vec<String> = found
            .iter()
            .map(|f| f.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(rel, ["2024/d.webp", "2024/summer/b.png", "a.JPG"]);

        let mut options = UploadOptions {
            dir: root.to_path_buf(),
            server: String::new(),
            token: String::new(),
            album: Some("Trips".into()),
            album_from_folders: true,
            visibility: None,
            watermark: false,
            retries: 0,
        };
        assert_eq!(
            album_for(&options, &found[1]).as_deref(),
            Some("2024 summer")
        );
        assert_eq!(
            album_for(&options, &found[2]).as_deref(),
            Some("Trips"),
            "files at the top use --album"
        );
        options.album_from_folders = false;
        assert_eq!(album_for(&options, &found[1]).as_deref(), Some("Trips"));
    }
}
