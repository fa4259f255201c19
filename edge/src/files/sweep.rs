//! FILE-04: files do not outlive their links, and nothing stored without a record stays.
//!
//! Every edge with an area's store sweeps it now and then:
//! 1. expired files: their objects are deleted, then `ForgetFiles` removes their records
//!    and gives the bytes back to the quota. A crash between the two leaves the record,
//!    and the next sweep deletes (nothing) again and forgets it;
//! 2. orphans: objects older than a day whose file has no record (an upload whose record
//!    was never committed, a deleted app's media) are deleted. Uploads finish within
//!    their grant's hour, so a day-old object without a record never gets one;
//! 3. stale chunks of resumable uploads, older than a day: their upload can no longer
//!    finish.
//!
//! Sweeps of several edges of one area overlap harmlessly: deletes and `ForgetFiles`
//! are idempotent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use meridian_cluster::state::files::{FileAnswer, FileQuestion, ForgetFiles, ForgetOwnedFiles};
use meridian_cluster::state::{Command, Envelope, Query, QueryOutput};
use meridian_cluster::ClusterClient;
use meridian_files::{ObjectName, Store};
use tokio::sync::watch;

use super::FileError;
use crate::metrics::{EdgeMetrics, FileSwept};
use crate::now_ms;

/// An object this old without a record is an orphan.
pub const ORPHAN_AGE_MS: u64 = 24 * 3600 * 1000;
/// Files looked at per batch; a sweep takes at most [`MAX_BATCHES`] of each kind, the
/// next sweep the rest, so one sweep never holds the cluster long.
const BATCH: usize = 256;
const MAX_BATCHES: usize = 40;

/// One area's store, swept every `every` until `stop`.
pub(crate) struct Sweeper {
    pub store: Store,
    pub cluster: Arc<ClusterClient>,
    pub metrics: EdgeMetrics,
    pub area: &'static str,
}

impl Sweeper {
    pub(crate) async fn run(self, every: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            if let Err(e) = self.sweep(now_ms()).await {
                tracing::warn!(area = self.area, error = %e, "file sweep stopped early");
            }
        }
    }

    async fn sweep(&self, now_ms: u64) -> Result<(), FileError> {
        for _ in 0..MAX_BATCHES {
            if self.forget_expired(now_ms).await? < BATCH {
                break;
            }
        }
        let candidates = self
            .store
            .files_before(now_ms.saturating_sub(ORPHAN_AGE_MS), BATCH * MAX_BATCHES)
            .await
            .map_err(|e| FileError::Unavailable(e.to_string()))?;
        let mut by_app = BTreeMap::<String, Vec<String>>::new();
        for (app_key, file_id) in candidates {
            by_app.entry(app_key).or_default().push(file_id);
        }
        for (app_key, file_ids) in by_app {
            for chunk in file_ids.chunks(BATCH) {
                self.delete_orphans(&app_key, chunk).await?;
            }
        }
        let stale = self
            .store
            .delete_parts_before(now_ms.saturating_sub(ORPHAN_AGE_MS), BATCH * MAX_BATCHES)
            .await
            .map_err(|e| FileError::Unavailable(e.to_string()))?;
        self.count("stale_part", stale as u64);
        Ok(())
    }

    /// One batch of expired files: objects first, then records. Answers how many.
    async fn forget_expired(&self, now_ms: u64) -> Result<usize, FileError> {
        let query = Query::ExpiredFiles {
            now_ms,
            limit: BATCH,
        };
        let QueryOutput::ExpiredFiles(expired) = self.cluster.read(query).await? else {
            return Err(FileError::Unavailable("unexpected answer".into()));
        };
        let count = expired.len();
        let mut by_app = BTreeMap::<String, Vec<String>>::new();
        for (app_key, record) in expired {
            self.delete_objects(&app_key, &record.file_id, record.has_preview)
                .await?;
            by_app.entry(app_key).or_default().push(record.file_id);
        }
        for (app_key, file_ids) in by_app {
            let swept = file_ids.len() as u64;
            let forget = ForgetFiles { app_key, file_ids };
            let command = Command::ForgetOwnedFiles(ForgetOwnedFiles(forget));
            let envelope = Envelope {
                area: self.cluster.area(),
                command,
            };
            self.cluster.write_one(envelope).await?;
            self.count("expired", swept);
        }
        Ok(count)
    }

    async fn delete_orphans(&self, app_key: &str, file_ids: &[String]) -> Result<(), FileError> {
        let query = Query::Files {
            app_key: app_key.to_string(),
            question: FileQuestion::Known {
                file_ids: file_ids.to_vec(),
            },
        };
        let QueryOutput::Files(FileAnswer::Known(known)) = self.cluster.read(query).await? else {
            return Err(FileError::Unavailable("unexpected answer".into()));
        };
        let mut swept = 0;
        for file_id in file_ids.iter().filter(|id| !known.contains(id)) {
            self.delete_objects(app_key, file_id, true).await?;
            swept += 1;
        }
        self.count("orphan", swept);
        Ok(())
    }

    /// The original and, when there may be one, the preview.
    async fn delete_objects(
        &self,
        app_key: &str,
        file_id: &str,
        preview_too: bool,
    ) -> Result<(), FileError> {
        let original = ObjectName::Original { app_key, file_id };
        let preview = ObjectName::Preview { app_key, file_id };
        let unavailable = |e: meridian_files::StoreError| FileError::Unavailable(e.to_string());
        self.store.delete(original).await.map_err(unavailable)?;
        if preview_too {
            self.store.delete(preview).await.map_err(unavailable)?;
        }
        Ok(())
    }

    fn count(&self, reason: &'static str, files: u64) {
        if files > 0 {
            let labels = FileSwept {
                area: self.area,
                reason,
            };
            self.metrics.files_swept.with(&labels).inc_by(files);
        }
    }
}
