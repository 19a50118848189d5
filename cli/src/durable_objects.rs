//! The local object store, made durable: `object_store`'s `LocalFileSystem`
//! writes each object to a temporary file and renames it into place, but
//! never syncs either, so after a power cut (or a kernel crash) an upload
//! the API acknowledged — its catalog row committed and synced — could
//! come back without its original, or a ready photo without its
//! thumbnail. [`DurableLocal`] syncs the object's file and its directory
//! (which holds the rename) before a write returns.
//!
//! It also keeps what the uploads write from piling up in the page cache:
//! unsynced, the writes of a busy minute (190 MB in the load benchmark's
//! seed) were written back by the kernel's flusher in bursts every 5 s,
//! beside the reads (docs/benchmarks.md, the tenth sitting).
//!
//! Reads, listings and deletes go straight to the inner store; a delete
//! is not synced (a photo whose delete is lost to a power cut is swept
//! again: the catalog's deletion commits first). Multipart uploads are
//! passed through unsynced; nothing in photostream writes through them.

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, Result,
};

#[derive(Debug)]
pub struct DurableLocal {
    inner: LocalFileSystem,
}

impl DurableLocal {
    pub fn new(inner: LocalFileSystem) -> Self {
        Self { inner }
    }

    /// Syncs the object at `location` and the directory that names it.
    async fn sync(&self, location: &Path) -> Result<()> {
        let file: PathBuf = self.inner.path_to_filesystem(location)?;
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&file)?.sync_all()?;
            if let Some(dir) = file.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .map_err(|e| generic(e.into()))?
        .map_err(|e| generic(Box::new(e)))
    }
}

fn generic(source: Box<dyn std::error::Error + Send + Sync>) -> object_store::Error {
    object_store::Error::Generic { store: "LocalFileSystem (synced)", source }
}

impl fmt::Display for DurableLocal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (synced)", self.inner)
    }
}

#[async_trait]
impl ObjectStore for DurableLocal {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        let result = self.inner.put_opts(location, payload, opts).await?;
        self.sync(location).await?;
        Ok(result)
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn delete(&self, location: &Path) -> Result<()> {
        self.inner.delete(location).await
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy(&self, from: &Path, to: &Path) -> Result<()> {
        self.inner.copy(from, to).await?;
        self.sync(to).await
    }

    async fn copy_if_not_exists(&self, from: &Path, to: &Path) -> Result<()> {
        self.inner.copy_if_not_exists(from, to).await?;
        self.sync(to).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::PutMode;

    fn store(dir: &std::path::Path) -> DurableLocal {
        DurableLocal::new(LocalFileSystem::new_with_prefix(dir).unwrap())
    }

    #[tokio::test]
    async fn writes_read_back_and_keep_put_modes() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let key = Path::from("ada/holiday/thumb_50/beach.jpg");
        s.put(&key, PutPayload::from_static(b"one")).await.unwrap();
        assert_eq!(s.get(&key).await.unwrap().bytes().await.unwrap().as_ref(), b"one");
        assert_eq!(std::fs::read(dir.path().join("ada/holiday/thumb_50/beach.jpg")).unwrap(), b"one");
        // The inner store's create-only mode still refuses an existing key.
        let again = s.put_opts(&key, PutPayload::from_static(b"two"), PutMode::Create.into()).await;
        assert!(matches!(again, Err(object_store::Error::AlreadyExists { .. })), "{again:?}");
        assert_eq!(s.get(&key).await.unwrap().bytes().await.unwrap().as_ref(), b"one");
        s.copy(&key, &Path::from("ada/holiday/thumb_50/copy.jpg")).await.unwrap();
        s.delete(&key).await.unwrap();
        assert!(matches!(s.get(&key).await, Err(object_store::Error::NotFound { .. })));
        assert_eq!(s.get(&Path::from("ada/holiday/thumb_50/copy.jpg")).await.unwrap().bytes().await.unwrap().as_ref(), b"one");
    }
}
