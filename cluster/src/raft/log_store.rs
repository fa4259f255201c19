//! The Raft log on raft-log: a chunked write-ahead log that fdatasyncs before an append
//! is reported flushed. openraft treats an entry as persisted (and may count it towards a
//! commit quorum) only when the flush callback fires, which happens after the sync.

use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::time::Instant;

use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::OptionalSend;
use prometheus::Histogram;
use raft_log::api::raft_log_writer::RaftLogWriter;
use raft_log::{Callback, RaftLog};

use super::wire::{from_bytes, to_bytes, Wire};
use super::{Entry, EntryPayload, LogId, TypeConfig, Vote};

/// Payloads are kept pre-encoded: the cache then accounts their real size and a read
/// decodes only what it returns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogTypes;

impl raft_log::Types for LogTypes {
    type LogId = Wire<LogId>;
    type LogPayload = Vec<u8>;
    type Vote = Wire<Vote>;
    type Callback = FlushDone;
    type UserData = String;

    fn log_index(log_id: &Self::LogId) -> u64 {
        log_id.0.index
    }

    fn payload_size(payload: &Self::LogPayload) -> u64 {
        payload.len() as u64
    }
}

/// Who waits for a flush: openraft (append) or a caller that blocks until durable.
pub enum FlushDone {
    Raft {
        flushed: IOFlushed<TypeConfig>,
        started: Instant,
        latency: Histogram,
        #[cfg(feature = "fault-injection")]
        slow: Arc<super::slow_fsync::SlowFsync>,
    },
    Wait(tokio::sync::oneshot::Sender<io::Result<()>>),
}

impl Callback for FlushDone {
    fn send(self, res: Result<(), io::Error>) {
        match self {
            FlushDone::Raft {
                flushed,
                started,
                latency,
                #[cfg(feature = "fault-injection")]
                slow,
            } => {
                #[cfg(feature = "fault-injection")]
                slow.wait();
                latency.observe(started.elapsed().as_secs_f64());
                flushed.io_completed(res);
            }
            FlushDone::Wait(tx) => {
                let _ = tx.send(res);
            }
        }
    }
}

/// Tuning of raft-log: the in-memory payload cache (its defaults are 100k items / 1 GiB)
/// and how long its flush worker waits for more writes before an fdatasync.
#[derive(Debug, Clone, Copy)]
pub struct LogTuning {
    pub cache_items: usize,
    pub cache_bytes: usize,
    /// raft-log's default is 1 ms, which adds a millisecond to every commit on the
    /// leader and again on each follower. Writes arrive batched already (the writer
    /// puts concurrent commands in one entry), so Meridian waits for none by default.
    pub flush_batch_wait: std::time::Duration,
    /// A chunk file is removed only once every entry in it is purged, so its size is
    /// what the log keeps beyond the last snapshot (raft-log's default, 1 GiB, kept up
    /// to a gigabyte of purged entries on every node).
    pub chunk_bytes: usize,
}

impl Default for LogTuning {
    fn default() -> Self {
        Self {
            cache_items: 50_000,
            cache_bytes: 64 * 1024 * 1024,
            flush_batch_wait: std::time::Duration::ZERO,
            chunk_bytes: 64 * 1024 * 1024,
        }
    }
}

#[derive(Clone)]
pub struct LogStore {
    log: Arc<Mutex<RaftLog<LogTypes>>>,
    fsync_latency: Histogram,
    #[cfg(feature = "fault-injection")]
    slow: Arc<super::slow_fsync::SlowFsync>,
}

impl LogStore {
    pub fn open(dir: &Path, tuning: LogTuning, fsync_latency: Histogram) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut config = raft_log::Config::new(dir.display());
        config.log_cache_max_items = Some(tuning.cache_items);
        config.log_cache_capacity = Some(tuning.cache_bytes);
        config.wal.flush_batch_wait = Some(tuning.flush_batch_wait);
        config.wal.chunk_max_size = Some(tuning.chunk_bytes);
        let log = RaftLog::open(Arc::new(config))?;
        Ok(Self {
            log: Arc::new(Mutex::new(log)),
            fsync_latency,
            #[cfg(feature = "fault-injection")]
            slow: Arc::new(super::slow_fsync::SlowFsync::new(dir)),
        })
    }

    fn lock(&self) -> io::Result<MutexGuard<'_, RaftLog<LogTypes>>> {
        self.log
            .lock()
            .map_err(|_| io::Error::other("raft log lock poisoned"))
    }

    /// Syncs everything written so far and waits until it is on disk.
    async fn sync(&self) -> io::Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.lock()?.flush(true, Some(FlushDone::Wait(tx)))?;
        rx.await
            .map_err(|_| io::Error::other("raft log flush worker stopped"))?
    }

    /// Bytes the log occupies on disk.
    pub fn on_disk_bytes(&self) -> u64 {
        self.lock().map(|log| log.on_disk_size()).unwrap_or(0)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB>(&mut self, range: RB) -> Result<Vec<Entry>, io::Error>
    where
        RB: RangeBounds<u64> + Clone + Debug + OptionalSend,
    {
        let start = match range.start_bound() {
            std::ops::Bound::Included(&i) => i,
            std::ops::Bound::Excluded(&i) => i + 1,
            std::ops::Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            std::ops::Bound::Included(&i) => i + 1,
            std::ops::Bound::Excluded(&i) => i,
            std::ops::Bound::Unbounded => u64::MAX,
        };
        let log = self.lock()?;
        log.read(start, end)
            .map(|item| {
                let (log_id, payload) = item?;
                let payload: EntryPayload = from_bytes(&payload)?;
                Ok(Entry::new(log_id.0, payload))
            })
            .collect()
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        Ok(self.lock()?.log_state().vote().map(|v| v.0))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let log = self.lock()?;
        let state = log.log_state();
        let purged = state.purged().map(|id| id.0);
        let last = state.last().map(|id| id.0).or(purged);
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        self.lock()?.save_vote(Wire(*vote))?;
        self.sync().await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), io::Error> {
        // Durable with the next synced write; a lost commit mark only means re-applying
        // entries the new leader commits again.
        if let Some(committed) = committed {
            self.lock()?.commit(Wire(committed))?;
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(self.lock()?.log_state().committed().map(|id| id.0))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let records = entries
            .into_iter()
            .map(|entry| Ok((Wire(entry.log_id), to_bytes(&entry.payload)?)))
            .collect::<io::Result<Vec<_>>>()?;
        let mut log = self.lock()?;
        log.append(records)?;
        log.flush(
            true,
            Some(FlushDone::Raft {
                flushed: callback,
                started: Instant::now(),
                latency: self.fsync_latency.clone(),
                #[cfg(feature = "fault-injection")]
                slow: self.slow.clone(),
            }),
        )
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let from = last_log_id.map(|id| id.index + 1).unwrap_or(0);
        {
            let mut log = self.lock()?;
            // Nothing after `last_log_id`: raft-log refuses to truncate past its end.
            match log.log_state().last() {
                Some(last) if last.0.index >= from => {}
                _ => return Ok(()),
            }
            log.truncate(from)?;
        }
        self.sync().await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        self.lock()?.purge(Wire(log_id))?;
        self.sync().await
    }
}

#[cfg(test)]
mod tests {
    use openraft::testing::blank_ent;
    use prometheus::HistogramOpts;

    use super::*;

    fn open(dir: &Path) -> LogStore {
        let latency = Histogram::with_opts(HistogramOpts::new("fsync", "fsync")).unwrap();
        LogStore::open(dir, LogTuning::default(), latency).expect("the log opens")
    }

    async fn append(store: &LogStore, index: u64) {
        let entry = blank_ent::<TypeConfig>(1, 1, index);
        let record = (Wire(entry.log_id), to_bytes(&entry.payload).unwrap());
        store.lock().unwrap().append([record]).unwrap();
        store.sync().await.unwrap();
    }

    /// The log's files by name, and their contents.
    fn files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "wal"))
            .map(|path| {
                let bytes = std::fs::read(&path).unwrap();
                (path, bytes)
            })
            .collect();
        files.sort();
        files
    }

    /// Puts the log's files back as they were (an open may have added a chunk).
    fn restore(dir: &Path, files: &[(std::path::PathBuf, Vec<u8>)]) {
        for (path, _) in self::files(dir) {
            std::fs::remove_file(path).unwrap();
        }
        for (path, bytes) in files {
            std::fs::write(path, bytes).unwrap();
        }
    }

    /// A full disk or a crash can leave the last record cut short, wherever the write
    /// stopped. It was never reported flushed, so Raft never counted it: the log opens
    /// without it (before, a cut inside its log id made the log refuse to open).
    #[tokio::test]
    async fn a_record_torn_at_the_end_of_the_log_is_dropped_when_the_log_opens() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        append(&store, 1).await;
        append(&store, 2).await;
        let before = files(dir.path());
        append(&store, 3).await;
        drop(store);
        let after = files(dir.path());
        let (chunk, full) = after.last().expect("a chunk").clone();
        let (_, two) = before
            .iter()
            .find(|(path, _)| *path == chunk)
            .expect("same chunk");
        assert!(full.len() > two.len() && full.starts_with(two));
        for cut in two.len() + 1..full.len() {
            restore(dir.path(), &after);
            std::fs::write(&chunk, &full[..cut]).unwrap();
            let mut store = open(dir.path());
            let state = store.get_log_state().await.unwrap();
            assert_eq!(
                state.last_log_id.map(|id| id.index),
                Some(2),
                "cut at {cut}"
            );
        }
        restore(dir.path(), &after);
        let mut store = open(dir.path());
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_log_id.map(|id| id.index), Some(3));
    }
}
