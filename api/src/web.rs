//! The browser app: the files under `web/` (plain ES modules and CSS, no
//! build step), embedded in the binary and served by the same router as
//! the API, which the app calls like any other client (Bearer tokens, the
//! same access checks: no second authorisation path, and no cookies, so no
//! cross-site request can act for a user).
//!
//! - Assets live at `/assets/{build}/{path}`, where `build` is a hash over
//!   every embedded file: any change gives new URLs, so they are served
//!   `immutable` for a year, with the build as their ETag.
//! - Every page URL of the app (`/`, `/photos/{id}`, `/u/{name}`, …) gets
//!   `index.html`, with its asset references rewritten to the hashed URLs
//!   and, on a photo anonymous visitors may see, Open Graph tags so a
//!   shared link previews. Other paths keep the API's JSON 404 (a browser
//!   asking for HTML gets the app, which shows its own not-found page).
//! - A Content-Security-Policy without `unsafe-inline` on every answer:
//!   scripts, styles and connections from this origin only.

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;

#[derive(RustEmbed)]
#[folder = "../web/"]
#[include = "index.html"]
#[include = "*.js"]
#[include = "*.css"]
#[include = "*.svg"]
#[include = "*.png"]
#[include = "*.ico"]
#[include = "*.webmanifest"]
#[exclude = "node_modules/*"]
#[exclude = "tests/*"]
#[exclude = "*.mjs"]
#[exclude = "*.json"]
struct Assets;

/// Every answer of the app carries these.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The app's page paths: their first segment.
const PAGES: &[&str] = &[
    "", "signin", "signup", "upload", "feed", "explore", "search", "notifications", "stats", "settings",
    "moderation", "groups", "u", "photos", "albums",
];

struct Built {
    /// Hex prefix of a SHA-256 over every asset's path and hash.
    build: String,
    /// `index.html` with its asset references rewritten.
    index: String,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let mut paths: Vec<String> = Assets::iter().map(|p| p.into_owned()).collect();
        paths.sort();
        let mut hasher = Sha256::new();
        for p in &paths {
            hasher.update(p.as_bytes());
            if let Some(f) = Assets::get(p) {
                hasher.update(f.metadata.sha256_hash());
            }
        }
        let build = hex::encode(&hasher.finalize()[..8]);
        let raw = Assets::get("index.html")
            .map(|f| String::from_utf8_lossy(&f.data).into_owned())
            .unwrap_or_else(|| "<!doctype html><title>photostream</title><p>The web app is not built in.".into());
        let mut index = raw;
        for p in paths.iter().filter(|p| p.as_str() != "index.html") {
            for quote in ['"', '\''] {
                index = index.replace(&format!("={quote}/{p}{quote}"), &format!("={quote}/assets/{build}/{p}{quote}"));
            }
        }
        Built { build, index }
    })
}

fn secured(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    r
}

/// `GET /assets/{build}/{*path}`.
pub async fn asset(uri: Uri, headers: HeaderMap) -> Response {
    let rest = uri.path().strip_prefix("/assets/").unwrap_or("");
    let Some((build, path)) = rest.split_once('/') else {
        return ApiError::not_found().into_response();
    };
    let Some(file) = Assets::get(path).filter(|_| path != "index.html") else {
        return ApiError::not_found().into_response();
    };
    let current = built();
    let etag = format!("\"{}\"", current.build);
    let cache = if build == current.build {
        "public, max-age=31536000, immutable"
    } else {
        // A page from an older build asked: today's file, not cached.
        "no-cache"
    };
    let mime = mime_for(path);
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return secured((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    secured(
        (
            [(header::CONTENT_TYPE, mime.to_string()), (header::CACHE_CONTROL, cache.to_string()), (header::ETAG, etag)],
            file.data.into_owned(),
        )
            .into_response(),
    )
}

fn mime_for(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, e)| e) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// The router's fallback: the app's pages for browsers, the API's JSON 404
/// (or 405) for everything else.
pub async fn fallback(State(st): State<Arc<AppState>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let api_path = matches!(first, "v1" | "media" | "assets" | "healthz" | "readyz" | "metrics" | "openapi.json");
    if api_path || (method != Method::GET && method != Method::HEAD) {
        return ApiError::not_found().into_response();
    }
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let page = PAGES.contains(&first);
    if !page && !wants_html {
        return ApiError::not_found().into_response();
    }
    let mut html = built().index.clone();
    if first == "photos" {
        if let Some(id) = path.trim_start_matches("/photos/").split('/').next() {
            if let Some(tags) = open_graph(&st, id, &headers).await {
                html = html.replacen("</head>", &format!("{tags}</head>"), 1);
            }
        }
    }
    let status = if page { StatusCode::OK } else { StatusCode::NOT_FOUND };
    secured(
        (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            html,
        )
            .into_response(),
    )
}

/// Open Graph tags for a photo that anonymous visitors may see (the same
/// check as `GET /v1/photos/{id}` for an anonymous caller); `None` for any
/// other, so a private photo's title never leaks into a page.
async fn open_graph(st: &AppState, id: &str, headers: &HeaderMap) -> Option<String> {
    let photo = crate::access::visible_photo(st, &Caller::Anonymous, id).await.ok()?;
    let view = st.photo_view(photo, &Caller::Anonymous);
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = match headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) {
        Some("https") => "https",
        _ => "http",
    };
    let title = if view.title.is_empty() { format!("A photo by {}", view.owner) } else { view.title.clone() };
    let mut tags = String::new();
    let mut meta = |property: &str, content: &str| {
        tags.push_str(&format!("<meta property=\"{property}\" content=\"{}\">\n", escape(content)));
    };
    meta("og:type", "article");
    meta("og:site_name", "photostream");
    meta("og:title", &title);
    if !view.description.is_empty() {
        meta("og:description", &view.description);
    }
    meta("og:url", &format!("{scheme}://{host}/photos/{}", view.id));
    if let Some(thumb) = &view.urls.thumbnail {
        meta("og:image", &format!("{scheme}://{host}{thumb}"));
    }
    Some(tags)
}

/// HTML attribute and text escaping.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn index_points_at_hashed_assets() {
        let b = built();
        assert_eq!(b.build.len(), 16);
        if Assets::get("app.js").is_some() {
            assert!(b.index.contains(&format!("/assets/{}/app.js", b.build)), "{}", b.index);
        }
    }
}
