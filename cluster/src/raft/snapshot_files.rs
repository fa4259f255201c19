//! Where a node keeps its snapshots: the files (the newest two), and room on the disk
//! for the next. A snapshot file is as big as the state (about 100 MB for 1.3 M
//! records) and a failed write of one is fatal to openraft, so a node does not start a
//! snapshot that would eat into the disk reserve (`storage.min_free_bytes`, which the
//! Raft log keeps free), and one whose disk fills while it writes (space taken by
//! something else) waits for space and writes again.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{SnapshotMeta, StateMachineStore};

/// Snapshot files kept besides the newest, for a follower still downloading one.
const OLD_SNAPSHOTS_KEPT: usize = 1;
/// How often a snapshot waiting for space looks again.
const LOOK_AGAIN: Duration = Duration::from_millis(250);

/// Free space on the disk of a node's data, against its reserve.
pub(super) struct SnapshotRoom {
    dir: PathBuf,
    reserve: u64,
}

impl SnapshotRoom {
    pub(super) fn new(dir: &Path, reserve: u64) -> Self {
        Self {
            dir: dir.to_path_buf(),
            reserve,
        }
    }

    /// Whether `bytes` more fit and leave the reserve free (an unreadable figure: yes).
    pub(super) fn fits(&self, bytes: u64) -> bool {
        fs2::available_space(&self.dir)
            .map_or(true, |free| free >= self.reserve.saturating_add(bytes))
    }

    /// Returns once `bytes` fit, looking again every [`LOOK_AGAIN`] (at least once: the
    /// write that just failed found less room than this figure may say).
    async fn wait_for(&self, bytes: u64) {
        tracing::warn!(
            bytes,
            reserve = self.reserve,
            "the disk filled while a snapshot was written: it is written again when there is room"
        );
        loop {
            tokio::time::sleep(LOOK_AGAIN).await;
            if self.fits(bytes) {
                return;
            }
        }
    }
}

impl StateMachineStore {
    /// Whether a snapshot as big as the newest fits on the disk now.
    pub(super) fn room_for_snapshot(&self) -> bool {
        let newest = self.newest_snapshot_path().ok().flatten();
        let bytes = newest
            .and_then(|path| fs::metadata(path).ok())
            .map_or(0, |m| m.len());
        self.inner.room.fits(bytes)
    }

    /// Writes the snapshot file of `meta`, waiting for space and writing again whenever
    /// the disk is full; answers the bytes for the snapshot openraft is handed.
    pub(super) async fn persist_snapshot(
        &self,
        meta: &SnapshotMeta,
        mut bytes: Vec<u8>,
    ) -> io::Result<Vec<u8>> {
        loop {
            let store = self.clone();
            let file_meta = meta.clone();
            let (returned, written) = tokio::task::spawn_blocking(move || {
                let written = store.persist_snapshot_file(&file_meta, &bytes);
                (bytes, written)
            })
            .await
            .map_err(io::Error::other)?;
            bytes = returned;
            match written {
                Ok(()) => return Ok(bytes),
                Err(e) if e.kind() == io::ErrorKind::StorageFull => {
                    self.inner.room.wait_for(bytes.len() as u64).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The newest snapshot file's bytes (for a backup), if there is one.
    pub(crate) fn newest_snapshot_bytes(&self) -> io::Result<Option<Vec<u8>>> {
        // A snapshot persisted meanwhile may remove the file listed (one old one is
        // kept, so that takes two): list again then.
        for _ in 0..3 {
            let Some(path) = self.newest_snapshot_path()? else {
                return Ok(None);
            };
            match fs::read(&path) {
                Ok(bytes) => return Ok(Some(bytes)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other(
            "snapshots were replaced faster than one could be read",
        ))
    }

    pub(super) fn newest_snapshot_path(&self) -> io::Result<Option<PathBuf>> {
        Ok(self.snapshot_files()?.pop())
    }

    /// Complete snapshot files, oldest first (names sort by position).
    pub(super) fn snapshot_files(&self) -> io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = fs::read_dir(&self.inner.snapshot_dir)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "snap"))
            .collect();
        files.sort();
        Ok(files)
    }

    pub(super) fn snapshot_path(&self, meta: &SnapshotMeta) -> PathBuf {
        // Zero-padded position first so that name order is position order.
        let position = meta
            .last_log_id
            .as_ref()
            .map(|id| id.index + 1)
            .unwrap_or(0);
        let term = meta
            .last_log_id
            .as_ref()
            .map(|id| id.leader_id.term)
            .unwrap_or(0);
        self.inner
            .snapshot_dir
            .join(format!("{position:020}-{term:020}.snap"))
    }

    /// Writes a snapshot file durably (temp file, fsync, rename, fsync of the directory)
    /// and drops older ones.
    pub(super) fn persist_snapshot_file(
        &self,
        meta: &SnapshotMeta,
        bytes: &[u8],
    ) -> io::Result<()> {
        let path = self.snapshot_path(meta);
        let tmp = path.with_extension("tmp");
        let write = || -> io::Result<()> {
            let mut file = BufWriter::new(File::create(&tmp)?);
            file.write_all(bytes)?;
            file.into_inner().map_err(|e| e.into_error())?.sync_all()
        };
        if let Err(e) = write() {
            // A partial file would hold on to the space a retry needs.
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        fs::rename(&tmp, &path)?;
        File::open(&self.inner.snapshot_dir)?.sync_all()?;
        let files = self.snapshot_files()?;
        let keep_from = files.len().saturating_sub(OLD_SNAPSHOTS_KEPT + 1);
        for old in &files[..keep_from] {
            fs::remove_file(old)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use meridian_regions::AreaCode;
    use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
    use prometheus::Registry;

    use super::*;
    use crate::config::StorageTuning;
    use crate::metrics::ClusterMetrics;

    fn open(dir: &Path, reserve: u64) -> StateMachineStore {
        let metrics = ClusterMetrics::register(&Registry::new()).expect("metrics");
        let storage = StorageTuning {
            sled_cache_bytes: 16 * 1024 * 1024,
            min_free_bytes: reserve,
            ..Default::default()
        };
        StateMachineStore::open(dir, AreaCode::Sg, &storage, metrics.state_machine).expect("open")
    }

    #[test]
    fn room_is_free_space_past_the_reserve() {
        let dir = tempfile::tempdir().expect("a directory");
        let free = fs2::available_space(dir.path()).expect("free space");
        assert!(SnapshotRoom::new(dir.path(), 0).fits(free / 2));
        assert!(!SnapshotRoom::new(dir.path(), 0).fits(free.saturating_mul(2)));
        let room = SnapshotRoom::new(dir.path(), free / 2);
        assert!(room.fits(0));
        assert!(!room.fits(free));
    }

    /// A small tmpfs (root only, as the chaos runs' small disks; `scripts/test` runs as
    /// root), unmounted when dropped.
    struct SmallDisk(PathBuf);

    impl SmallDisk {
        fn mount(path: &Path, megabytes: u64) -> Self {
            let mounted = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
                .arg(path)
                .status()
                .expect("running mount");
            assert!(mounted.success(), "mounting a tmpfs needs root");
            Self(path.to_path_buf())
        }

        /// Writes a file until the disk is full.
        fn fill(&self) -> PathBuf {
            let path = self.0.join("filler");
            let mut file = File::create(&path).expect("a filler");
            let chunk = vec![0u8; 1 << 20];
            while file.write_all(&chunk).is_ok() {}
            path
        }
    }

    impl Drop for SmallDisk {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }

    #[tokio::test]
    async fn a_snapshot_whose_disk_fills_waits_for_room_and_is_written() {
        let dir = tempfile::tempdir().expect("a directory");
        let disk = SmallDisk::mount(dir.path(), 16);
        let mut store = open(dir.path(), 0);
        store.make_durable().expect("durable");
        // Another writer takes every byte; the snapshot is asked for all the same.
        let filler = disk.fill();
        let mut builder = store
            .try_create_snapshot_builder(true)
            .await
            .expect("forced");
        let mut build = tokio::spawn(async move { builder.build_snapshot().await });
        let waited = tokio::time::timeout(LOOK_AGAIN * 3, &mut build).await;
        assert!(waited.is_err(), "it waits: {waited:?}");
        assert!(store.snapshot_files().expect("listed").is_empty());
        // Space returns: the snapshot is written.
        fs::remove_file(filler).expect("space back");
        build.await.expect("joined").expect("a snapshot");
        assert_eq!(store.snapshot_files().expect("listed").len(), 1);
    }

    #[tokio::test]
    async fn no_snapshot_is_built_without_room_unless_forced() {
        let dir = tempfile::tempdir().expect("a directory");
        let free = fs2::available_space(dir.path()).expect("free space");
        let mut cramped = open(dir.path(), free.saturating_mul(2));
        assert!(cramped.try_create_snapshot_builder(false).await.is_none());
        assert!(cramped.try_create_snapshot_builder(true).await.is_some());
        drop(cramped);
        let mut roomy = open(dir.path(), 1);
        let mut builder = roomy
            .try_create_snapshot_builder(false)
            .await
            .expect("room for a snapshot");
        builder.build_snapshot().await.expect("a snapshot");
        assert_eq!(roomy.snapshot_files().expect("listed").len(), 1);
    }
}
