//! The state machine on sled, and snapshots as files.
//!
//! Data and `last_applied` are written in one atomic sled batch, so after a crash the
//! state is a prefix of the log and openraft re-applies the rest. sled is made durable
//! (flush, then fsync of its files) whenever a snapshot is taken, because openraft purges
//! the log up to a snapshot once it has one. A snapshot is one file written to a temporary
//! name, fsynced and renamed; on start-up a snapshot newer than sled's state is installed.
//! Building one copies the state a chunk at a time while applies go on
//! ([`SnapshotCopy`]), so writes never wait for a copy of the whole state.

use std::fs;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::time::Instant;

use futures::{Stream, TryStreamExt};
use meridian_regions::AreaCode;
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend};
use prometheus::{Histogram, IntCounter, IntGauge};

use super::compaction::{self, Compaction, CompactionPolicy, Sled};
use super::feed_clock::FeedClock;
use super::rewrite_due::RewriteDue;
use super::snapshot_copy::SnapshotCopy;
use super::wire::{from_bytes, to_bytes};
use super::{LogId, Snapshot, SnapshotData, SnapshotMeta, StoredMembership, TypeConfig};
use crate::api::StateDigest;
use crate::config::StorageTuning;
use crate::state::{self, ApplyContext, BatchOutcome, Overlay, StateRead};
use snapshot_files::SnapshotRoom;

/// Version of the sled layout and of snapshot files; checked at start-up. States and
/// snapshots of older versions (down to `state::upgrades::OLDEST_UPGRADABLE`) are
/// upgraded when read (LIFE-05); a newer one is refused.
pub const DATA_FORMAT_VERSION: u32 = 8;
const SNAPSHOT_MAGIC: &[u8; 8] = b"MRDNSNAP";
pub(crate) const META_PREFIX: &[u8] = b"\0meta/";
const LAST_APPLIED: &[u8] = b"\0meta/last_applied";
const MEMBERSHIP: &[u8] = b"\0meta/membership";
const FORMAT: &[u8] = b"\0meta/format";
/// The newest batch stamp applied (this node's own record, like the two above).
const NEWEST_STAMP: &[u8] = b"\0meta/newest_stamp";

#[derive(Clone)]
pub struct StateMachineMetrics {
    pub apply_seconds: Histogram,
    pub snapshots_built: IntCounter,
    pub snapshots_installed: IntCounter,
    pub compactions: IntCounter,
    pub compacted_from_index: IntGauge,
}

#[derive(Clone)]
pub struct StateMachineStore {
    inner: Arc<Inner>,
}

struct Inner {
    area: AreaCode,
    /// Replaced only by a compaction, under the apply lock.
    sled: std::sync::RwLock<Arc<Sled>>,
    sled_cache_bytes: u64,
    compaction_policy: CompactionPolicy,
    snapshot_dir: PathBuf,
    /// Held while applying, while a snapshot or a compaction copies a chunk of the state,
    /// and while a snapshot is installed.
    apply_lock: tokio::sync::Mutex<()>,
    /// The snapshot being copied, which applies keep the old values of keys for.
    copying: std::sync::Mutex<Option<SnapshotCopy>>,
    /// The rewrite of sled under way, which applies write the copied keys to as well.
    compacting: std::sync::Mutex<Option<Compaction>>,
    /// Compactions owed for erased data: the next snapshot is followed by one whatever
    /// sled's size.
    rewrite_due: RewriteDue,
    /// One snapshot built or installed, or one compaction, at a time.
    snapshot_lock: tokio::sync::Mutex<()>,
    metrics: StateMachineMetrics,
    /// The newest feed position applied here; feed readers wait on it.
    feed_head: tokio::sync::watch::Sender<u64>,
    /// When the newest feed positions were applied.
    feed_clock: FeedClock,
    /// The newest callback job applied here; the dispatcher waits on it.
    outbox_head: tokio::sync::watch::Sender<u64>,
    /// The newest batch stamp applied here (0: none yet; kept under [`NEWEST_STAMP`]);
    /// the writer, if this node leads, stamps no batch below it.
    newest_stamp: AtomicU64,
    /// Records in the newest snapshot built or installed here (0 before the first): how
    /// much the next one will cost.
    snapshot_records: AtomicU64,
    /// What the newest snapshot holds, by record family.
    families: std::sync::Mutex<Vec<FamilySize>>,
    /// Free space for snapshot files.
    room: SnapshotRoom,
}

/// The records of one family (a key's text up to its first `/`: `msg`, `conv`, `feed`,
/// …) and their bytes (keys and values), as of the newest snapshot: where an area's
/// state, and its disk, goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FamilySize {
    pub family: String,
    pub records: u64,
    pub bytes: u64,
}

/// Tallies records by family, largest first.
fn family_sizes(records: &[(Vec<u8>, Vec<u8>)]) -> Vec<FamilySize> {
    let mut tally = std::collections::BTreeMap::<&[u8], (u64, u64)>::new();
    for (key, value) in records {
        let family = key.split(|b| *b == b'/').next().unwrap_or_default();
        let entry = tally.entry(family).or_default();
        entry.0 += 1;
        entry.1 += (key.len() + value.len()) as u64;
    }
    let mut sizes: Vec<FamilySize> = tally
        .into_iter()
        .map(|(family, (records, bytes))| FamilySize {
            family: String::from_utf8_lossy(family).into_owned(),
            records,
            bytes,
        })
        .collect();
    sizes.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.family.cmp(&b.family)));
    sizes
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

impl StateMachineStore {
    /// Opens (or creates) the state under `dir`: `dir/sled` (`dir/sled-N` after
    /// compactions) and `dir/snapshots`.
    pub fn open(
        dir: &Path,
        area: AreaCode,
        storage: &StorageTuning,
        metrics: StateMachineMetrics,
    ) -> io::Result<Self> {
        let snapshot_dir = dir.join("snapshots");
        fs::create_dir_all(&snapshot_dir)?;
        let sled_dir = compaction::current_dir(dir)?;
        compaction::remove_others(&sled_dir)?;
        let sled = Sled::open(sled_dir, storage.sled_cache_bytes)?;
        let tree = &sled.tree;
        match tree.get_raw(FORMAT)? {
            None => {
                tree.insert(FORMAT, to_bytes(&DATA_FORMAT_VERSION)?)
                    .map_err(io::Error::other)?;
            }
            Some(bytes) => {
                let found: u32 = from_bytes(&bytes)?;
                readable_version(found)
                    .map_err(|e| invalid(format!("{}: {e}", sled.dir.display())))?;
                if found < DATA_FORMAT_VERSION {
                    tracing::info!(
                        from = found,
                        to = DATA_FORMAT_VERSION,
                        "upgrading the state's data format"
                    );
                    upgrade_tree(tree, found)?;
                    sled.make_durable()?;
                }
            }
        }
        let store = Self {
            inner: Arc::new(Inner {
                area,
                sled: std::sync::RwLock::new(Arc::new(sled)),
                sled_cache_bytes: storage.sled_cache_bytes,
                compaction_policy: CompactionPolicy {
                    ratio: storage.sled_compact_ratio,
                    min_bytes: storage.sled_compact_min_bytes,
                },
                snapshot_dir,
                apply_lock: tokio::sync::Mutex::new(()),
                copying: std::sync::Mutex::new(None),
                compacting: std::sync::Mutex::new(None),
                rewrite_due: RewriteDue::open(dir)?,
                snapshot_lock: tokio::sync::Mutex::new(()),
                metrics,
                feed_head: tokio::sync::watch::channel(0).0,
                feed_clock: FeedClock::default(),
                outbox_head: tokio::sync::watch::channel(0).0,
                newest_stamp: Default::default(),
                snapshot_records: Default::default(),
                families: Default::default(),
                room: SnapshotRoom::new(dir, storage.min_free_bytes),
            }),
        };
        store.recover_from_snapshot()?;
        store.publish_heads()?;
        store.restart_feed_clock();
        let newest_stamp = StateRead::get::<u64>(&store.state(), NEWEST_STAMP)?;
        store
            .inner
            .newest_stamp
            .store(newest_stamp.unwrap_or(0), Ordering::Relaxed);
        Ok(store)
    }

    /// The newest batch stamp applied here (0: none yet).
    pub fn newest_stamp(&self) -> u64 {
        self.inner.newest_stamp.load(Ordering::Relaxed)
    }

    /// Records in the newest snapshot built, installed or recovered at start (0 before
    /// any).
    pub fn snapshot_records(&self) -> u64 {
        self.inner.snapshot_records.load(Ordering::Relaxed)
    }

    /// The newest snapshot's records by family (empty before the first).
    pub fn family_sizes(&self) -> Vec<FamilySize> {
        self.inner
            .families
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn note_snapshot(&self, records: &[(Vec<u8>, Vec<u8>)]) {
        self.inner
            .snapshot_records
            .store(records.len() as u64, Ordering::Relaxed);
        *self
            .inner
            .families
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = family_sizes(records);
    }

    /// Follows the newest applied feed position.
    pub fn feed_head(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.feed_head.subscribe()
    }

    /// When the newest feed positions were applied here.
    pub fn feed_clock(&self) -> &FeedClock {
        &self.inner.feed_clock
    }

    fn restart_feed_clock(&self) {
        self.inner
            .feed_clock
            .restart_at(*self.inner.feed_head.borrow());
    }

    /// Follows the newest applied callback job.
    pub fn outbox_head(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.outbox_head.subscribe()
    }

    fn publish_heads(&self) -> io::Result<()> {
        let tree = &self.state();
        let heads = [
            (&self.inner.feed_head, state::feed::head(tree)),
            (&self.inner.outbox_head, state::outbox::last_id(tree)),
        ];
        for (sender, head) in heads {
            let head = head.map_err(|e| io::Error::other(e.to_string()))?;
            sender.send_if_modified(|current| {
                let changed = *current != head;
                *current = head;
                changed
            });
        }
        Ok(())
    }

    /// The committed state, for reads (the tree in use: a compaction replaces it).
    pub fn state(&self) -> sled::Tree {
        self.sled().tree.clone()
    }

    fn sled(&self) -> Arc<Sled> {
        self.inner
            .sled
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Hashes the replicated state as of the last applied entry (nothing is applied
    /// meanwhile), for comparing replicas. The scan runs off the async runtime: on a
    /// large state it takes seconds, and Raft's heartbeats must not wait for it.
    pub async fn digest(&self) -> io::Result<StateDigest> {
        let _applying = self.inner.apply_lock.lock().await;
        let tree = self.state();
        let (records, sha256) =
            tokio::task::spawn_blocking(move || super::digest::records_digest(&tree))
                .await
                .map_err(io::Error::other)??;
        Ok(StateDigest {
            applied_index: self.last_applied()?.map(|id| id.index()),
            records,
            sha256,
        })
    }

    pub fn area(&self) -> AreaCode {
        self.inner.area
    }

    pub fn sled_bytes_on_disk(&self) -> u64 {
        self.sled().db.size_on_disk().unwrap_or(0)
    }

    pub fn last_applied(&self) -> io::Result<Option<LogId>> {
        Ok(StateRead::get::<Option<LogId>>(&self.state(), LAST_APPLIED)?.flatten())
    }

    fn membership(&self) -> io::Result<StoredMembership> {
        Ok(StateRead::get(&self.state(), MEMBERSHIP)?.unwrap_or_default())
    }

    /// A snapshot written after sled's state (sled lost unflushed writes in a crash, or
    /// an install was interrupted) is installed again.
    fn recover_from_snapshot(&self) -> io::Result<()> {
        let Some(path) = self.newest_snapshot_path()? else {
            return Ok(());
        };
        let bytes = fs::read(&path)?;
        let (meta, records) =
            parse_snapshot(&bytes).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
        // The next snapshot's period depends on it (`raft::snapshot_schedule`).
        self.note_snapshot(&records);
        if meta.last_log_id > self.last_applied()? {
            tracing::info!(snapshot = %path.display(), "state is older than the newest snapshot: installing it");
            self.load_into_sled(&meta, records)?;
        }
        Ok(())
    }

    /// Replaces the whole state with a snapshot's, atomically, and makes it durable.
    fn load_into_sled(
        &self,
        meta: &SnapshotMeta,
        records: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> io::Result<()> {
        let tree = &self.state();
        let mut batch = sled::Batch::default();
        for key in tree.iter().keys() {
            let key = key.map_err(io::Error::other)?;
            if !key.starts_with(META_PREFIX) {
                batch.remove(key);
            }
        }
        for (key, value) in records {
            if key.starts_with(META_PREFIX) {
                return Err(invalid("snapshot holds a reserved key"));
            }
            batch.insert(key, value);
        }
        batch.insert(LAST_APPLIED, to_bytes(&meta.last_log_id)?);
        batch.insert(MEMBERSHIP, to_bytes(&meta.last_membership)?);
        tree.apply_batch(batch).map_err(io::Error::other)?;
        self.make_durable()
    }

    fn make_durable(&self) -> io::Result<()> {
        self.sled().make_durable()
    }

    /// Makes a fresh node's state a backup's (`meta` names the restored area's own
    /// membership): the records in sled and the snapshot file, both durable.
    pub(crate) fn restore(&self, meta: &SnapshotMeta, records: Records) -> io::Result<()> {
        if self.last_applied()?.is_some() || self.newest_snapshot_path()?.is_some() {
            return Err(invalid("the state is not empty: restore into a new node"));
        }
        let bytes = encode_snapshot(meta, &records)?;
        self.persist_snapshot_file(meta, &bytes)?;
        self.load_into_sled(meta, records)
    }
}

/// Whether this build reads data of format `version` (as is, or by upgrading it).
fn readable_version(version: u32) -> io::Result<()> {
    if version > DATA_FORMAT_VERSION {
        return Err(invalid(format!(
            "data format version {version} is newer than this build's ({DATA_FORMAT_VERSION}): run a newer meridian"
        )));
    }
    if version < state::upgrades::OLDEST_UPGRADABLE {
        return Err(invalid(format!(
            "data format version {version} is older than this build upgrades ({}): export the apps with an older build and import them",
            state::upgrades::OLDEST_UPGRADABLE
        )));
    }
    Ok(())
}

/// Runs the upgrade steps from format `from` on `tree`, each atomically with the
/// version it reaches, so a crash midway resumes at the step it was in.
fn upgrade_tree(tree: &sled::Tree, from: u32) -> io::Result<()> {
    for version in from..DATA_FORMAT_VERSION {
        let mut overlay = Overlay::new(tree);
        state::upgrades::step(version, &mut overlay).map_err(io::Error::other)?;
        overlay.put(FORMAT.to_vec(), &(version + 1))?;
        tree.apply_batch(overlay.into_batch())
            .map_err(io::Error::other)?;
    }
    Ok(())
}

/// A snapshot's records of format `version`, upgraded to this build's in a scratch tree.
fn upgrade_records(records: Records, version: u32) -> io::Result<Records> {
    let scratch = sled::Config::new()
        .temporary(true)
        .open()
        .and_then(|db| db.open_tree("state"))
        .map_err(io::Error::other)?;
    let mut batch = sled::Batch::default();
    for (key, value) in records {
        batch.insert(key, value);
    }
    scratch.apply_batch(batch).map_err(io::Error::other)?;
    upgrade_tree(&scratch, version)?;
    scratch
        .iter()
        .filter_map(|entry| match entry {
            Ok((key, _)) if key.starts_with(META_PREFIX) => None,
            Ok((key, value)) => Some(Ok((key.to_vec(), value.to_vec()))),
            Err(e) => Some(Err(io::Error::other(e))),
        })
        .collect()
}

fn encode_snapshot(meta: &SnapshotMeta, records: &[(Vec<u8>, Vec<u8>)]) -> io::Result<Vec<u8>> {
    let meta_bytes = to_bytes(meta)?;
    let size: usize = records.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
    let mut out = Vec::with_capacity(16 + meta_bytes.len() + size);
    out.extend_from_slice(SNAPSHOT_MAGIC);
    out.extend_from_slice(&DATA_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(meta_bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&meta_bytes);
    for (key, value) in records {
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value);
    }
    Ok(out)
}

pub type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// A snapshot file's metadata and records, checked for its magic and format version;
/// the records of an older format come upgraded to this build's.
pub fn parse_snapshot(bytes: &[u8]) -> io::Result<(SnapshotMeta, Records)> {
    let mut cursor = Cursor::new(bytes);
    let mut magic = [0u8; 8];
    cursor.read_exact(&mut magic)?;
    if &magic != SNAPSHOT_MAGIC {
        return Err(invalid("not a Meridian snapshot"));
    }
    let version = read_u32(&mut cursor)?;
    readable_version(version).map_err(|e| invalid(format!("snapshot: {e}")))?;
    let meta: SnapshotMeta = from_bytes(&read_chunk(&mut cursor)?)?;
    let mut records = Vec::new();
    while (cursor.position() as usize) < bytes.len() {
        let key = read_chunk(&mut cursor)?;
        let value = read_chunk(&mut cursor)?;
        records.push((key, value));
    }
    if version < DATA_FORMAT_VERSION {
        records = upgrade_records(records, version)?;
    }
    Ok((meta, records))
}

fn read_u32(cursor: &mut Cursor<&[u8]>) -> io::Result<u32> {
    let mut buf = [0u8; 4];
    cursor.read_exact(&mut buf)?;
    Ok(u32::from_le_bytes(buf))
}

fn read_chunk(cursor: &mut Cursor<&[u8]>) -> io::Result<Vec<u8>> {
    let len = read_u32(cursor)? as usize;
    let remaining = cursor.get_ref().len() - cursor.position() as usize;
    if len > remaining {
        return Err(invalid("snapshot truncated"));
    }
    let mut buf = vec![0u8; len];
    cursor.read_exact(&mut buf)?;
    Ok(buf)
}

fn is_state_record(key: &[u8]) -> bool {
    !key.starts_with(META_PREFIX)
}

impl StateMachineStore {
    fn copying(&self) -> std::sync::MutexGuard<'_, Option<SnapshotCopy>> {
        self.inner.copying.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state records at the instant the copy started, a chunk per hold of the apply
    /// lock.
    async fn copy_state(&self) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        loop {
            let _applying = self.inner.apply_lock.lock().await;
            let mut copying = self.copying();
            let copy = copying
                .as_mut()
                .ok_or_else(|| io::Error::other("snapshot copy was dropped"))?;
            if copy.copy_chunk(&self.state(), is_state_record)? {
                let copy = copying.take().expect("checked above");
                return Ok(copy.finish(is_state_record));
            }
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<Snapshot, io::Error> {
        let _one_at_a_time = self.inner.snapshot_lock.lock().await;
        let meta = {
            let _applying = self.inner.apply_lock.lock().await;
            let meta = SnapshotMeta {
                last_log_id: self.last_applied()?,
                last_membership: self.membership()?,
            };
            *self.copying() = Some(SnapshotCopy::default());
            meta
        };
        let started = Instant::now();
        let records = self.copy_state().await;
        let records = match records {
            Ok(records) => records,
            Err(e) => {
                *self.copying() = None;
                return Err(e);
            }
        };
        let store = self.clone();
        let file_meta = meta.clone();
        let copied = started.elapsed();
        let encoded = tokio::task::spawn_blocking(move || {
            store.note_snapshot(&records);
            let bytes = encode_snapshot(&file_meta, &records)?;
            // The log is purged up to this snapshot once we return: sled must be durable.
            store.make_durable()?;
            Ok::<_, io::Error>((bytes, records.len(), started.elapsed()))
        })
        .await
        .map_err(io::Error::other)??;
        let (bytes, records, durable) = encoded;
        let bytes = self.persist_snapshot(&meta, bytes).await?;
        tracing::info!(
            records,
            bytes = bytes.len(),
            ?copied,
            ?durable,
            written = ?started.elapsed(),
            "snapshot built"
        );
        self.inner.metrics.snapshots_built.inc();
        self.compact_if_due();
        Ok(Snapshot {
            meta,
            snapshot: Cursor::new(bytes),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        Ok((self.last_applied()?, self.membership()?))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + OptionalSend,
    {
        let _applying = self.inner.apply_lock.lock().await;
        let started = Instant::now();
        let sled = self.sled();
        let mut overlay = Overlay::new(&sled.tree);
        let mut last_applied = None;
        let mut membership = None;
        let mut replies = Vec::new();
        let mut stamped = 0;
        while let Some((entry, responder)) = entries.try_next().await? {
            let outcome = match &entry.payload {
                EntryPayload::Blank => BatchOutcome::default(),
                EntryPayload::Normal(encoded) => {
                    let batch = encoded.decode()?;
                    stamped = stamped.max(batch.issued_at_ms);
                    let ctx = ApplyContext {
                        area: self.inner.area,
                        now_ms: batch.issued_at_ms,
                    };
                    BatchOutcome(
                        batch
                            .commands
                            .iter()
                            .map(|envelope| state::apply(ctx, &mut overlay, envelope))
                            .collect(),
                    )
                }
                EntryPayload::Membership(m) => {
                    membership = Some(StoredMembership::new(Some(entry.log_id), m.clone()));
                    BatchOutcome::default()
                }
            };
            last_applied = Some(entry.log_id);
            if let Some(responder) = responder {
                replies.push((responder, outcome));
            }
        }
        if let Some(log_id) = &last_applied {
            overlay.put(LAST_APPLIED.to_vec(), &Some(*log_id))?;
        }
        if let Some(membership) = &membership {
            overlay.put(MEMBERSHIP.to_vec(), membership)?;
        }
        if stamped
            > self
                .inner
                .newest_stamp
                .fetch_max(stamped, Ordering::Relaxed)
        {
            overlay.put(NEWEST_STAMP.to_vec(), &stamped)?;
        }
        self.note_erasures(&overlay)?;
        if let Some(copy) = self.copying().as_mut() {
            copy.before_write(&sled.tree, overlay.staged_keys())?;
        }
        {
            let mut compacting = self.compacting();
            if let Some(compaction) = compacting.as_ref() {
                // A rewrite that cannot keep up (a full disk) is given up, never the apply.
                if let Err(e) = compaction.mirror(overlay.staged()) {
                    tracing::warn!(error = %e, "giving up the compaction");
                    *compacting = None;
                }
            }
        }
        sled.tree
            .apply_batch(overlay.into_batch())
            .map_err(io::Error::other)?;
        self.publish_heads()?;
        self.inner
            .feed_clock
            .applied(*self.inner.feed_head.borrow());
        self.inner
            .metrics
            .apply_seconds
            .observe(started.elapsed().as_secs_f64());
        for (responder, outcome) in replies {
            responder.send(outcome);
        }
        Ok(())
    }

    /// No snapshot while the disk has no room for one: openraft answers the request
    /// with none, and the schedule asks again later.
    async fn try_create_snapshot_builder(&mut self, force: bool) -> Option<Self> {
        if !force && !self.room_for_snapshot() {
            tracing::warn!("no room on the disk for a snapshot: not building one now");
            return None;
        }
        Some(self.clone())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotData,
    ) -> Result<(), io::Error> {
        let _one_at_a_time = self.inner.snapshot_lock.lock().await;
        let _applying = self.inner.apply_lock.lock().await;
        let bytes = snapshot.into_inner();
        let (file_meta, records) = parse_snapshot(&bytes)?;
        if &file_meta != meta {
            return Err(invalid("snapshot file does not match its metadata"));
        }
        self.note_snapshot(&records);
        let store = self.clone();
        let meta = meta.clone();
        tokio::task::spawn_blocking(move || {
            store.persist_snapshot_file(&meta, &bytes)?;
            store.load_into_sled(&meta, records)
        })
        .await
        .map_err(io::Error::other)??;
        self.publish_heads()?;
        self.restart_feed_clock();
        self.inner.metrics.snapshots_installed.inc();
        self.compact_if_due();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, io::Error> {
        let Some(path) = self.newest_snapshot_path()? else {
            return Ok(None);
        };
        let bytes = fs::read(&path)?;
        let (meta, _) =
            parse_snapshot(&bytes).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Cursor::new(bytes),
        }))
    }
}

#[cfg(test)]
#[path = "upgrade_tests.rs"]
mod upgrade_tests;

#[path = "state_machine_compaction.rs"]
mod compacting;

#[path = "snapshot_files.rs"]
mod snapshot_files;

#[cfg(test)]
#[path = "compaction_tests.rs"]
mod compaction_tests;
