//! A cluster node's configuration (`meridian cluster run --config node.toml`).

use std::path::PathBuf;

use meridian_regions::{AreaCode, SeedPeer};
use meridian_rpc::TlsFiles;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub area: AreaCode,
    pub node_id: u64,
    pub data_dir: PathBuf,
    /// Where Raft peers and edges reach this node (internal RPC).
    pub rpc_listen: String,
    /// The RPC address other nodes should use, when it differs from `rpc_listen`.
    #[serde(default)]
    pub rpc_advertise: Option<String>,
    /// `/metrics`, `/stats`, `/healthz`, `/readyz` and the operator admin API.
    pub admin_listen: String,
    /// Bearer token the operator admin API requires.
    pub operator_token: String,
    /// Initial voters. The node with the lowest id initializes a fresh cluster; a node
    /// whose list is empty waits to be added with `meridian cluster join`.
    #[serde(default)]
    pub peers: Vec<SeedPeer>,
    /// Dial these peers (by node id) at another address than the one in the membership:
    /// a sidecar proxy or a NAT in between (the chaos harness puts a proxy on every link).
    #[serde(default)]
    pub peer_routes: Vec<SeedPeer>,
    #[serde(default)]
    pub tls: Option<TlsFiles>,
    /// CA certificates (PEM files) trusted for callbacks to app servers besides the web's
    /// public roots: app servers behind a private CA.
    #[serde(default)]
    pub outbound_ca_files: Vec<PathBuf>,
    #[serde(default)]
    pub raft: RaftTuning,
    #[serde(default)]
    pub storage: StorageTuning,
    /// How long a day of retention (`retentionDays`, the offline window) lasts: a real day
    /// unless a soak test compresses it to watch retention work. Only the leader's
    /// retention sweep reads it; every node of an area should have the same.
    #[serde(default = "real_day_ms")]
    pub retention_day_ms: u64,
    /// How long a callee has to answer a call before the server ends it as "no answer"
    /// (RTC-03). Only the leader's sweep reads it; every node of an area should have the
    /// same.
    #[serde(default = "call_answer_timeout_ms")]
    pub call_answer_timeout_ms: u64,
    /// How long a party of an answered call may be without any session before the
    /// server hangs up for it with reason "network" (RTC-03); as the edges'
    /// `rtc_reconnect_ms`. Only the leader's sweep reads it.
    #[serde(default = "call_reconnect_ms")]
    pub call_reconnect_ms: u64,
    /// The command level this node reports, when lower than its build's: rehearses a
    /// rolling upgrade (LIFE-05) with a node standing in for the older build. Left out:
    /// the build's own.
    #[serde(default)]
    pub command_level: Option<u32>,
}

fn real_day_ms() -> u64 {
    crate::state::DAY_MS
}

fn call_answer_timeout_ms() -> u64 {
    crate::state::ANSWER_TIMEOUT_MS
}

fn call_reconnect_ms() -> u64 {
    crate::state::rtc::RECONNECT_TIMEOUT_MS
}

/// How long sending and installing one snapshot may take.
const SNAPSHOT_RPC_TIMEOUT_MS: u64 = 120_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftTuning {
    pub heartbeat_ms: u64,
    /// A follower that has not heard from its leader for `election_timeout_max_ms` (the
    /// lease openraft gives a leader) plus a draw from min..max starts an election: with
    /// 250–400 ms, a lost leader is replaced in 0.65–0.8 s, and a leader cut off from its
    /// quorum refuses writes after 0.4 s (`raft/quorum.rs`).
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// A node builds a snapshot every this many entries, times one per 500,000 records of
    /// its last snapshot (the work per write stays bounded as the state grows), each node
    /// in its own third of the period so replicas do not snapshot together.
    pub snapshot_every_entries: u64,
    /// Entries kept in the log behind a snapshot, so slightly lagging followers catch up
    /// from the log instead of a snapshot.
    pub logs_kept_after_snapshot: u64,
}

impl Default for RaftTuning {
    fn default() -> Self {
        Self {
            heartbeat_ms: 100,
            election_timeout_min_ms: 250,
            election_timeout_max_ms: 400,
            snapshot_every_entries: 50_000,
            logs_kept_after_snapshot: 1000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageTuning {
    /// sled's page cache.
    pub sled_cache_bytes: u64,
    /// raft-log's in-memory payload cache.
    pub log_cache_entries: usize,
    pub log_cache_bytes: usize,
    /// How long raft-log gathers more writes before an fdatasync (microseconds).
    pub log_flush_wait_us: u64,
    /// The size at which the Raft log starts a new chunk file; purged entries stay on
    /// disk until their whole chunk is purged, and the open chunk's entries stay in
    /// memory (raft-log's cache evicts only entries of chunks already persisted).
    pub log_chunk_bytes: usize,
    /// The disk reserve: below this much free space in the data directory the node
    /// takes no more Raft entries (`node/disk.rs`); 0 turns the reserve off.
    pub min_free_bytes: u64,
    /// After a snapshot, sled is rewritten into a fresh directory once its files exceed
    /// this many times the live records' bytes (`raft/compaction.rs`; its own cleaning
    /// holds them at 8–10 times); 0: only after erasures.
    pub sled_compact_ratio: f64,
    /// …and exceed this many bytes.
    pub sled_compact_min_bytes: u64,
    /// How long the area's feed keeps an event (it keeps the newest 50,000 at most
    /// anyway): an erased user's events leave a quiet area within it, and an edge further
    /// behind resyncs its sessions. Only the leader's sweep reads it.
    pub feed_max_age_ms: u64,
}

impl Default for StorageTuning {
    fn default() -> Self {
        Self {
            sled_cache_bytes: 64 * 1024 * 1024,
            log_cache_entries: 50_000,
            log_cache_bytes: 64 * 1024 * 1024,
            log_flush_wait_us: 0,
            log_chunk_bytes: 16 * 1024 * 1024,
            min_free_bytes: 128 * 1024 * 1024,
            sled_compact_ratio: 10.0,
            sled_compact_min_bytes: 64 * 1024 * 1024,
            feed_max_age_ms: 3_600_000,
        }
    }
}

/// A configuration value that cannot work, named by its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key {key}: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

fn bad(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_string(),
        reason: reason.into(),
    }
}

impl NodeConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.node_id == 0 {
            return Err(bad("node_id", "must be at least 1"));
        }
        if self.operator_token.len() < 16 {
            return Err(bad("operator_token", "must be at least 16 characters"));
        }
        for (key, addr) in [
            ("rpc_listen", &self.rpc_listen),
            ("admin_listen", &self.admin_listen),
        ] {
            if addr.parse::<std::net::SocketAddr>().is_err() {
                return Err(bad(key, format!("{addr:?} is not an ip:port address")));
            }
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, peer) in self.peers.iter().enumerate() {
            if !ids.insert(peer.id) {
                return Err(bad(
                    &format!("peers[{i}].id"),
                    format!("duplicate id {}", peer.id),
                ));
            }
            if peer.addr.trim().is_empty() {
                return Err(bad(&format!("peers[{i}].addr"), "must not be empty"));
            }
        }
        if !self.peers.is_empty() && !ids.contains(&self.node_id) {
            return Err(bad(
                "peers",
                format!(
                    "missing peer: the list must include this node (node_id {})",
                    self.node_id
                ),
            ));
        }
        let raft = &self.raft;
        if raft.heartbeat_ms == 0 {
            return Err(bad("raft.heartbeat_ms", "must be at least 1"));
        }
        if raft.election_timeout_min_ms <= raft.heartbeat_ms {
            return Err(bad(
                "raft.election_timeout_min_ms",
                "must exceed raft.heartbeat_ms",
            ));
        }
        if raft.election_timeout_max_ms <= raft.election_timeout_min_ms {
            return Err(bad(
                "raft.election_timeout_max_ms",
                "must exceed raft.election_timeout_min_ms",
            ));
        }
        if raft.snapshot_every_entries == 0 {
            return Err(bad("raft.snapshot_every_entries", "must be at least 1"));
        }
        if !(1_000..=crate::state::DAY_MS).contains(&self.retention_day_ms) {
            return Err(bad(
                "retention_day_ms",
                "must be between 1000 and 86400000 (a real day)",
            ));
        }
        if !(100..=3_600_000).contains(&self.call_answer_timeout_ms) {
            return Err(bad(
                "call_answer_timeout_ms",
                "must be between 100 and 3600000 (an hour)",
            ));
        }
        if !(100..=3_600_000).contains(&self.call_reconnect_ms) {
            return Err(bad(
                "call_reconnect_ms",
                "must be between 100 and 3600000 (an hour)",
            ));
        }
        if self.storage.log_flush_wait_us > 100_000 {
            return Err(bad(
                "storage.log_flush_wait_us",
                "must be at most 100000 (100 ms)",
            ));
        }
        if !(64 * 1024..=1024 * 1024 * 1024).contains(&self.storage.log_chunk_bytes) {
            return Err(bad(
                "storage.log_chunk_bytes",
                "must be between 65536 (64 KiB) and 1073741824 (1 GiB)",
            ));
        }
        if self.storage.sled_cache_bytes < 1024 * 1024 {
            return Err(bad("storage.sled_cache_bytes", "must be at least 1 MiB"));
        }
        let ratio = self.storage.sled_compact_ratio;
        if !(ratio == 0.0 || (1.5..=1000.0).contains(&ratio)) {
            return Err(bad(
                "storage.sled_compact_ratio",
                "must be 0 (never) or from 1.5 to 1000",
            ));
        }
        if !(1_000..=crate::state::DAY_MS).contains(&self.storage.feed_max_age_ms) {
            return Err(bad(
                "storage.feed_max_age_ms",
                "must be between 1000 and 86400000 (a day)",
            ));
        }
        Ok(())
    }

    /// The command level this node reports to the leader (LIFE-05).
    pub fn claimed_command_level(&self) -> u32 {
        self.command_level
            .unwrap_or(crate::state::COMMAND_LEVEL)
            .min(crate::state::COMMAND_LEVEL)
    }

    /// Where the node keeps its Raft log.
    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("raft-log")
    }

    pub fn advertised_rpc(&self) -> &str {
        self.rpc_advertise.as_deref().unwrap_or(&self.rpc_listen)
    }

    pub(crate) fn openraft_config(&self) -> Result<openraft::Config, ConfigError> {
        let config = openraft::Config {
            cluster_name: format!("meridian-{}", self.area),
            heartbeat_interval: self.raft.heartbeat_ms,
            election_timeout_min: self.raft.election_timeout_min_ms,
            election_timeout_max: self.raft.election_timeout_max_ms,
            // A snapshot travels whole in one RPC (openraft's default gives it 200 ms):
            // hundreds of megabytes must fit.
            install_snapshot_timeout: SNAPSHOT_RPC_TIMEOUT_MS,
            // Each node asks for its own in its phase (`raft::snapshot_schedule`).
            snapshot_policy: openraft::SnapshotPolicy::Never,
            max_in_snapshot_log_to_keep: self.raft.logs_kept_after_snapshot,
            // A follower cut off from the others, back, would otherwise depose the
            // leader with the terms it raised alone: one more outage per partition.
            enable_pre_vote: Some(true),
            ..Default::default()
        };
        config.validate().map_err(|e| bad("raft", e.to_string()))
    }
}

/// One node of a cluster laid out on loopback: its id and OS-chosen RPC and admin ports
/// (test harnesses, benchmarks and the chaos harness).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopbackNode {
    pub id: u64,
    pub rpc_port: u16,
    pub admin_port: u16,
}

/// Nodes 1..=`nodes` on free loopback ports, and the seed peers naming them.
pub fn loopback_cluster(nodes: u64) -> std::io::Result<(Vec<LoopbackNode>, Vec<SeedPeer>)> {
    let plan: Vec<LoopbackNode> = (1..=nodes)
        .map(|id| {
            Ok(LoopbackNode {
                id,
                rpc_port: meridian_telemetry::free_loopback_port()?,
                admin_port: meridian_telemetry::free_loopback_port()?,
            })
        })
        .collect::<std::io::Result<_>>()?;
    let peers = plan
        .iter()
        .map(|node| SeedPeer {
            id: node.id,
            addr: format!("127.0.0.1:{}", node.rpc_port),
        })
        .collect();
    Ok((plan, peers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_storage(storage: serde_json::Value) -> Result<(), ConfigError> {
        let config: NodeConfig = serde_json::from_value(serde_json::json!({
            "area": "SG",
            "node_id": 1,
            "data_dir": "/var/lib/meridian",
            "rpc_listen": "127.0.0.1:7100",
            "admin_listen": "127.0.0.1:7200",
            "operator_token": "0123456789abcdef0123",
            "storage": storage,
        }))
        .expect("a node configuration");
        config.validate()
    }

    fn refused_key(storage: serde_json::Value) -> String {
        with_storage(storage).expect_err("refused").key
    }

    #[test]
    fn log_chunks_take_64_kib_to_1_gib() {
        for bytes in [64 * 1024, 1024 * 1024 * 1024] {
            assert_eq!(
                with_storage(serde_json::json!({"log_chunk_bytes": bytes})),
                Ok(())
            );
        }
        for bytes in [64 * 1024 - 1, 1024 * 1024 * 1024 + 1] {
            assert_eq!(
                refused_key(serde_json::json!({"log_chunk_bytes": bytes})),
                "storage.log_chunk_bytes"
            );
        }
    }

    #[test]
    fn the_compaction_ratio_is_0_or_from_1_5_to_1000() {
        for ratio in [0.0, 1.5, 1000.0] {
            assert_eq!(
                with_storage(serde_json::json!({"sled_compact_ratio": ratio})),
                Ok(())
            );
        }
        for ratio in [-1.0, 1.49, 1000.5] {
            assert_eq!(
                refused_key(serde_json::json!({"sled_compact_ratio": ratio})),
                "storage.sled_compact_ratio"
            );
        }
    }

    #[test]
    fn the_feed_keeps_events_from_a_second_to_a_day() {
        for ms in [1_000, 86_400_000] {
            assert_eq!(
                with_storage(serde_json::json!({"feed_max_age_ms": ms})),
                Ok(())
            );
        }
        for ms in [999, 86_400_001] {
            assert_eq!(
                refused_key(serde_json::json!({"feed_max_age_ms": ms})),
                "storage.feed_max_age_ms"
            );
        }
    }
}
