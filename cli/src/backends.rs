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

fn objects(url: &str, data_dir: &Path) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let root: PathBuf = match url {
        "local" => data_dir.join("objects"),
        u if u.starts_with("file://") => PathBuf::from(&u["file://".len()..]),
        other => bail!("unsupported objects backend {other:?}: use \"local\" or file:///path"),
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
