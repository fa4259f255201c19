//! Backups of a whole area and restoring one into a new area (LIFE-06).
//!
//! A backup is the leader's snapshot file, taken at or after every write acknowledged
//! before it was asked for (`POST /admin/v1/cluster/backup`, served by `node::backup`),
//! kept in a directory as [`SNAPSHOT_FILE`] with a [`Manifest`] (area, position, size,
//! SHA-256) beside it.
//!
//! [`restore`] makes the first node of a new area hold it, before that node ever runs:
//! the records go into its state machine and its snapshot file, the membership becomes
//! the new area's configured peers, and its Raft log starts right after the backup's
//! position (purged up to it, with the vote at the backup's term, so the next election
//! and every new entry come after it). The other nodes start empty: the restored node
//! wins their votes (its log is newer) and sends them the snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write};
use std::path::Path;

use meridian_regions::AreaCode;
use openraft::storage::RaftLogStorage;
use openraft::{BasicNode, Membership};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::config::NodeConfig;
use crate::metrics::ClusterMetrics;
use crate::raft::log_store::{LogStore, LogTuning};
use crate::raft::state_machine::{parse_snapshot, StateMachineStore, DATA_FORMAT_VERSION};
use crate::raft::{SnapshotMeta, StoredMembership, Vote};

/// The snapshot file in a backup directory.
pub const SNAPSHOT_FILE: &str = "state.snap";
/// The manifest beside it.
pub const MANIFEST_FILE: &str = "backup.json";

/// What a backup holds, written beside it and checked before a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub area: AreaCode,
    /// The data format of the snapshot file (a node reads only its own).
    pub format_version: u32,
    /// The last Raft entry the backup holds.
    pub log_index: u64,
    pub log_term: u64,
    pub records: u64,
    pub bytes: u64,
    /// SHA-256 (hex) of the snapshot file.
    pub sha256: String,
    pub taken_at_ms: u64,
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks a snapshot file and describes it.
pub fn describe(area: AreaCode, snapshot: &[u8], taken_at_ms: u64) -> io::Result<Manifest> {
    let (meta, records) = parse_snapshot(snapshot)?;
    let last = meta
        .last_log_id
        .ok_or_else(|| invalid("the snapshot holds no applied entry"))?;
    Ok(Manifest {
        area,
        format_version: DATA_FORMAT_VERSION,
        log_index: last.index,
        log_term: last.leader_id.term,
        records: records.len() as u64,
        bytes: snapshot.len() as u64,
        sha256: sha256_hex(snapshot),
        taken_at_ms,
    })
}

/// Writes a backup into `dir` (created; it must not hold a backup already), durably.
pub fn write_dir(dir: &Path, area: AreaCode, snapshot: &[u8]) -> io::Result<Manifest> {
    let manifest = describe(area, snapshot, meridian_clock::now_ms())?;
    fs::create_dir_all(dir)?;
    if dir.join(MANIFEST_FILE).exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already holds a backup", dir.display()),
        ));
    }
    // The manifest goes last: a directory with one holds a complete backup.
    write_durably(&dir.join(SNAPSHOT_FILE), snapshot)?;
    let json = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
    write_durably(&dir.join(MANIFEST_FILE), &json)?;
    fs::File::open(dir)?.sync_all()?;
    Ok(manifest)
}

fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Reads the backup in `dir` and checks it against its manifest.
pub fn read_dir(dir: &Path) -> io::Result<(Manifest, Vec<u8>)> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest: Manifest = serde_json::from_slice(&fs::read(&manifest_path)?)
        .map_err(|e| invalid(format!("{}: {e}", manifest_path.display())))?;
    let snapshot = fs::read(dir.join(SNAPSHOT_FILE))?;
    // An older format is upgraded as the snapshot is read (LIFE-05).
    if manifest.format_version > DATA_FORMAT_VERSION {
        return Err(invalid(format!(
            "the backup has data format {}, newer than this build's {DATA_FORMAT_VERSION}",
            manifest.format_version
        )));
    }
    if snapshot.len() as u64 != manifest.bytes || sha256_hex(&snapshot) != manifest.sha256 {
        return Err(invalid(format!(
            "{}: does not match its manifest (damaged or replaced)",
            dir.join(SNAPSHOT_FILE).display()
        )));
    }
    Ok((manifest, snapshot))
}

/// Makes the node `config` describes, which has never run, start with the backup in
/// `dir` (see the module documentation). It must be the first of the area's peers.
pub async fn restore(config: &NodeConfig, dir: &Path) -> io::Result<Manifest> {
    config.validate().map_err(|e| invalid(e.to_string()))?;
    let (manifest, snapshot) = read_dir(dir)?;
    if manifest.area != config.area {
        return Err(invalid(format!(
            "the backup is of area {}, the node is in {}",
            manifest.area, config.area
        )));
    }
    let first = config.peers.iter().map(|p| p.id).min();
    if first.is_some_and(|first| first != config.node_id) {
        return Err(invalid(format!(
            "restore onto node {}, the first of the area's peers: the others start empty",
            first.unwrap_or_default()
        )));
    }
    let (meta, records) = parse_snapshot(&snapshot)?;
    let last = meta
        .last_log_id
        .ok_or_else(|| invalid("the snapshot holds no applied entry"))?;
    let log_dir = config.log_dir();
    if log_dir.exists() && fs::read_dir(&log_dir)?.next().is_some() {
        return Err(invalid(format!(
            "{} is not empty: restore into a new node",
            log_dir.display()
        )));
    }

    let nodes: BTreeMap<u64, BasicNode> = if config.peers.is_empty() {
        BTreeMap::from([(config.node_id, BasicNode::new(config.advertised_rpc()))])
    } else {
        config
            .peers
            .iter()
            .map(|peer| (peer.id, BasicNode::new(&peer.addr)))
            .collect()
    };
    let voters: BTreeSet<u64> = nodes.keys().copied().collect();
    let membership = Membership::new(vec![voters], nodes).map_err(|e| invalid(e.to_string()))?;
    let meta = SnapshotMeta {
        last_log_id: Some(last),
        last_membership: StoredMembership::new(Some(last), membership),
    };

    // Nothing of this node runs yet: its metrics go nowhere.
    let metrics = ClusterMetrics::register(&prometheus::Registry::new())
        .map_err(|e| io::Error::other(e.to_string()))?;
    let state = StateMachineStore::open(
        &config.data_dir.join("state"),
        config.area,
        &config.storage,
        metrics.state_machine,
    )?;
    state.restore(&meta, records)?;
    let mut log = LogStore::open(&log_dir, LogTuning::default(), metrics.append_fsync_seconds)?;
    log.purge(last).await?;
    log.save_vote(&Vote::new(last.leader_id.term, config.node_id))
        .await?;
    Ok(manifest)
}
