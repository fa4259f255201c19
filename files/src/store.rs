//! The area's object store, through `object_store`: one API over a local directory and
//! S3-compatible services. Objects are named `{appKey}/{fileId}` (and `….preview` for an
//! image's resized copy), so an app's objects can be listed and removed together. A
//! resumable upload keeps the chunks it has received as `{appKey}/{fileId}.parts/{offset}`
//! until the last one arrives, in the store every edge of the area shares, so a client
//! may send each chunk to any of them.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where an area keeps its files (`[files]` in an edge's configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "store", rename_all = "lowercase", deny_unknown_fields)]
pub enum StoreConfig {
    /// A directory on this machine: `meridian dev` and areas whose edges share a disk.
    Local { dir: PathBuf },
    /// An S3-compatible bucket in the area's region (AWS S3, MinIO, Ceph).
    S3 {
        bucket: String,
        region: String,
        /// For services other than AWS, e.g. `http://127.0.0.1:9000`.
        #[serde(default)]
        endpoint: Option<String>,
        /// Credentials; when absent, the environment's (AWS_ACCESS_KEY_ID, an instance
        /// profile) are used.
        #[serde(default)]
        access_key_id: Option<String>,
        #[serde(default)]
        secret_access_key: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("file store {0}")]
    Setup(String),
    #[error("not found")]
    NotFound,
    #[error("file store: {0}")]
    Io(String),
}

impl From<object_store::Error> for StoreError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => StoreError::NotFound,
            other => StoreError::Io(other.to_string()),
        }
    }
}

/// Which object of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectName<'a> {
    Original {
        app_key: &'a str,
        file_id: &'a str,
    },
    Preview {
        app_key: &'a str,
        file_id: &'a str,
    },
    /// A chunk of a resumable upload, starting at byte `offset` of the file.
    Part {
        app_key: &'a str,
        file_id: &'a str,
        offset: u64,
    },
}

/// How much of a local object one read takes.
const LOCAL_READ_BYTES: u64 = 1 << 20;

/// The directory of a file's parts.
const PARTS: &str = ".parts";

impl ObjectName<'_> {
    fn path(self) -> Path {
        match self {
            ObjectName::Original { app_key, file_id } => Path::from(format!("{app_key}/{file_id}")),
            ObjectName::Preview { app_key, file_id } => {
                Path::from(format!("{app_key}/{file_id}.preview"))
            }
            ObjectName::Part {
                app_key,
                file_id,
                offset,
            } => Path::from(format!("{app_key}/{file_id}{PARTS}/{offset:020}")),
        }
    }
}

/// A stored chunk of a resumable upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub offset: u64,
    pub size: u64,
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    /// A local store's directory: `object_store` renames a finished object into place
    /// without syncing it, so the store syncs it (and its directory) itself before an
    /// upload is answered. An S3 store is durable when it answers.
    local_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.inner)
    }
}

impl Store {
    pub fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        let inner: Arc<dyn ObjectStore> = match config {
            StoreConfig::Local { dir } => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Setup(format!("directory {}: {e}", dir.display())))?;
                let local = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| StoreError::Setup(format!("directory {}: {e}", dir.display())))?;
                return Ok(Store {
                    inner: Arc::new(local),
                    local_dir: Some(dir.clone()),
                });
            }
            StoreConfig::S3 {
                bucket,
                region,
                endpoint,
                access_key_id,
                secret_access_key,
            } => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_region(region);
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                if let (Some(id), Some(secret)) = (access_key_id, secret_access_key) {
                    builder = builder
                        .with_access_key_id(id)
                        .with_secret_access_key(secret);
                }
                let s3 = builder
                    .build()
                    .map_err(|e| StoreError::Setup(format!("bucket {bucket}: {e}")))?;
                Arc::new(s3)
            }
        };
        Ok(Store {
            inner,
            local_dir: None,
        })
    }

    /// Where a local store keeps the object, to sync it.
    fn local_file(&self, name: ObjectName<'_>) -> Option<PathBuf> {
        let dir = self.local_dir.as_ref()?;
        Some(dir.join(name.path().as_ref()))
    }

    /// Starts writing an object; nothing is visible until [`Upload::finish`].
    pub fn upload(&self, name: ObjectName<'_>) -> Upload {
        Upload {
            writer: BufWriter::new(self.inner.clone(), name.path()),
            hash: Sha256::new(),
            written: 0,
            local_file: self.local_file(name),
        }
    }

    /// Writes a whole (small) object, durably.
    pub async fn put(&self, name: ObjectName<'_>, bytes: Bytes) -> Result<(), StoreError> {
        self.inner.put(&name.path(), bytes.into()).await?;
        if let Some(file) = self.local_file(name) {
            sync(file).await?;
        }
        Ok(())
    }

    /// The object's size in bytes.
    pub async fn size(&self, name: ObjectName<'_>) -> Result<u64, StoreError> {
        Ok(self.inner.head(&name.path()).await?.size)
    }

    /// The bytes of `range` (already checked against the size), as they are read.
    pub async fn read(
        &self,
        name: ObjectName<'_>,
        range: Range<u64>,
    ) -> Result<BoxStream<'static, Result<Bytes, StoreError>>, StoreError> {
        let path = name.path();
        if self.local_dir.is_some() {
            // A local store's own stream reads 8 KiB at a time, each read a blocking task
            // and a frame of its own; a download reads in larger pieces instead.
            self.inner.head(&path).await?;
            let inner = self.inner.clone();
            let pieces = futures::stream::try_unfold(range.start, move |at| {
                let (inner, path, end) = (inner.clone(), path.clone(), range.end);
                async move {
                    if at >= end {
                        return Ok(None);
                    }
                    let next = end.min(at + LOCAL_READ_BYTES);
                    let piece = inner.get_range(&path, at..next).await?;
                    Ok(Some((piece, next)))
                }
            });
            return Ok(pieces.boxed());
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..GetOptions::default()
        };
        let got = self.inner.get_opts(&path, options).await?;
        Ok(got.into_stream().map_err(StoreError::from).boxed())
    }

    /// Up to `limit` files with an object last written before `before_ms`, as
    /// (App Key, file id); a preview names its file. Objects not named as this crate
    /// names them are skipped.
    pub async fn files_before(
        &self,
        before_ms: u64,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut found = std::collections::BTreeSet::new();
        let mut listing = self.inner.list(None);
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            let written_ms = u64::try_from(meta.last_modified.timestamp_millis()).unwrap_or(0);
            if written_ms >= before_ms {
                continue;
            }
            let path = meta.location.as_ref();
            let Some((app_key, object)) = path.split_once('/') else {
                continue;
            };
            let file_id = object.strip_suffix(".preview").unwrap_or(object);
            if !app_key.contains('/') && !file_id.contains('/') {
                found.insert((app_key.to_string(), file_id.to_string()));
                if found.len() >= limit {
                    break;
                }
            }
        }
        Ok(found.into_iter().collect())
    }

    /// The chunks a resumable upload has stored, in the order of their offsets.
    pub async fn parts(&self, app_key: &str, file_id: &str) -> Result<Vec<Part>, StoreError> {
        let prefix = Path::from(format!("{app_key}/{file_id}{PARTS}"));
        let mut parts = Vec::new();
        let mut listing = self.inner.list(Some(&prefix));
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            let offset = meta.location.filename().and_then(|name| name.parse().ok());
            if let Some(offset) = offset {
                parts.push(Part {
                    offset,
                    size: meta.size,
                });
            }
        }
        parts.sort_by_key(|part| part.offset);
        Ok(parts)
    }

    /// Removes a resumable upload's chunks.
    pub async fn delete_parts(&self, app_key: &str, file_id: &str) -> Result<(), StoreError> {
        for part in self.parts(app_key, file_id).await? {
            let offset = part.offset;
            let name = ObjectName::Part {
                app_key,
                file_id,
                offset,
            };
            self.delete(name).await?;
        }
        Ok(())
    }

    /// Removes up to `limit` chunks written before `before_ms` (their upload can no longer
    /// finish: its grant has expired); answers how many.
    pub async fn delete_parts_before(
        &self,
        before_ms: u64,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let mut stale = Vec::new();
        let mut listing = self.inner.list(None);
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            let written_ms = u64::try_from(meta.last_modified.timestamp_millis()).unwrap_or(0);
            let in_parts = meta
                .location
                .parts()
                .nth(1)
                .is_some_and(|dir| dir.as_ref().ends_with(PARTS));
            if in_parts && written_ms < before_ms {
                stale.push(meta.location);
                if stale.len() >= limit {
                    break;
                }
            }
        }
        for path in &stale {
            match self.inner.delete(path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(stale.len())
    }

    pub async fn delete(&self, name: ObjectName<'_>) -> Result<(), StoreError> {
        match self.inner.delete(&name.path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Syncs a local object's file and the directory that names it, so an answered upload
/// survives a power loss.
async fn sync(file: PathBuf) -> Result<(), StoreError> {
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        std::fs::File::open(&file)?.sync_all()?;
        match file.parent() {
            Some(dir) => std::fs::File::open(dir)?.sync_all(),
            None => Ok(()),
        }
    })
    .await
    .map_err(|e| StoreError::Io(e.to_string()))?
    .map_err(|e| StoreError::Io(format!("syncing an object: {e}")))
}

/// Hex SHA-256 of bytes in memory (as [`Upload::finish`] answers for streamed ones).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// An object being written: streamed to the store (multipart above a few MiB), hashed
/// on the way.
pub struct Upload {
    writer: BufWriter,
    hash: Sha256,
    written: u64,
    /// A local store's file, synced once finished.
    local_file: Option<PathBuf>,
}

impl Upload {
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        self.hash.update(&chunk);
        self.written += chunk.len() as u64;
        self.writer.put(chunk).await?;
        Ok(())
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Makes the object visible, durably; answers its hex SHA-256.
    pub async fn finish(mut self) -> Result<String, StoreError> {
        use tokio::io::AsyncWriteExt;
        self.writer
            .shutdown()
            .await
            .map_err(|e| StoreError::Io(e.to_string()))?;
        if let Some(file) = self.local_file {
            sync(file).await?;
        }
        Ok(hex::encode(self.hash.finalize()))
    }

    /// Drops what was written.
    pub async fn abort(mut self) {
        // A multipart upload the store failed to abort is collected by the bucket's
        // lifecycle rule (abort incomplete uploads after a day).
        if let Err(e) = self.writer.abort().await {
            tracing::debug!(error = %e, "cannot abort an upload");
        }
    }
}
