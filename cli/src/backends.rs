//! Turns configured backend URLs into trait objects.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;
use photostream_analytics::{Analytics, EmbeddedAnalytics};
use photostream_catalog::Catalog;
use photostream_pipeline::{EmbeddedLog, EventLog};
use photostream_search::{SearchIndex, TantivyIndex};

use crate::Config;

/// Every backend the service talks to.
#[derive(Clone)]
pub struct Backends {
    pub catalog: Catalog,
    pub objects: Arc<dyn ObjectStore>,
    pub search: Arc<dyn SearchIndex>,
    pub stream: Arc<dyn EventLog>,
    pub analytics: Arc<dyn Analytics>,
}

impl Backends {
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
        let catalog = Catalog::connect(&config.catalog_url())
            .await
            .context("opening the catalog")?;
        Ok(Self {
            catalog,
            objects: objects(&config.objects, &config.data_dir)?,
            search: search(&config.search, &config.data_dir)?,
            stream: stream(&config.stream, &config.data_dir)?,
            analytics: analytics(&config.analytics, &config.data_dir).await?,
        })
    }
}

/// `local`, `file:///path`, or `s3://bucket[?endpoint=…&region=…&allow_http=true]`
/// (credentials from the usual `AWS_*` environment variables).
pub fn objects(url: &str, data_dir: &Path) -> anyhow::Result<Arc<dyn ObjectStore>> {
    if let Some(rest) = url.strip_prefix("s3://") {
        return s3(rest);
    }
    let root: PathBuf = match url {
        "local" => data_dir.join("objects"),
        u if u.starts_with("file://") => PathBuf::from(&u["file://".len()..]),
        other => bail!("unsupported objects backend {other:?}: use \"local\", file:///path or s3://bucket"),
    };
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let store = LocalFileSystem::new_with_prefix(&root)
        .with_context(|| format!("opening object store at {}", root.display()))?;
    Ok(Arc::new(store))
}

fn search(url: &str, data_dir: &Path) -> anyhow::Result<Arc<dyn SearchIndex>> {
    match url {
        "embedded" => Ok(Arc::new(
            TantivyIndex::open(&data_dir.join("search")).context("opening the search index")?,
        )),
        other => bail!("unsupported search backend {other:?}: use \"embedded\""),
    }
}

fn stream(url: &str, data_dir: &Path) -> anyhow::Result<Arc<dyn EventLog>> {
    match url {
        "embedded" => Ok(Arc::new(
            EmbeddedLog::open(data_dir.join("log")).context("opening the embedded log")?,
        )),
        other => bail!("unsupported stream backend {other:?}: use \"embedded\""),
    }
}

async fn analytics(url: &str, data_dir: &Path) -> anyhow::Result<Arc<dyn Analytics>> {
    match url {
        "embedded" => Ok(Arc::new(
            EmbeddedAnalytics::open(&data_dir.join("analytics.db"))
                .await
                .context("opening embedded analytics")?,
        )),
        other => bail!("unsupported analytics backend {other:?}: use \"embedded\""),
    }
}

fn s3(rest: &str) -> anyhow::Result<Arc<dyn ObjectStore>> {
    use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
    let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
    anyhow::ensure!(!bucket.is_empty(), "s3:// URL without a bucket");
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        // Create-only puts use If-None-Match, which S3 and MinIO honour.
        .with_conditional_put(S3ConditionalPut::ETagMatch);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        builder = match k {
            "endpoint" => builder.with_endpoint(v),
            "region" => builder.with_region(v),
            "allow_http" => builder.with_allow_http(v == "true"),
            "virtual_hosted" => builder.with_virtual_hosted_style_request(v == "true"),
            other => bail!("unknown s3:// option {other:?} (endpoint, region, allow_http, virtual_hosted)"),
        };
    }
    Ok(Arc::new(builder.build().context("configuring the S3 object store")?))
}
