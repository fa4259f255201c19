//! The disk reserve. An entry that fails to persist stops openraft for good (a storage
//! error is fatal), so a node whose data directory runs out of space stops taking
//! entries before it gets there: below `storage.min_free_bytes` free, as a follower it
//! refuses appends and snapshots sent to it (the leader keeps retrying them; the
//! snapshots it builds itself wait for room, `raft/snapshot_files.rs`), and as a leader it
//! refuses writes and hands leadership to the voter holding the most of the log. Once
//! free space is back above half as much again as the reserve, it takes entries and
//! catches up. Reads, votes and the feed go on meanwhile: they write nothing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::ServerState;
use tokio::time::Instant;

use super::NodeCore;

/// How often free space is looked at: a reserve of 128 MiB lasts seconds even at the
/// log's full write rate.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

pub(crate) struct DiskReserve {
    dir: PathBuf,
    /// 0: no reserve.
    min_free: u64,
    low: AtomicBool,
}

impl DiskReserve {
    pub(crate) fn new(dir: PathBuf, min_free: u64) -> Self {
        Self {
            dir,
            min_free,
            low: AtomicBool::new(false),
        }
    }

    /// Whether free space is below the reserve: the node takes no entries.
    pub(crate) fn low(&self) -> bool {
        self.low.load(Ordering::Relaxed)
    }

    /// Looks at free space and answers it; an unreadable figure keeps the last state.
    fn sample(&self) -> Option<u64> {
        let free = fs2::available_space(&self.dir).ok()?;
        if self.min_free > 0 {
            let limit = if self.low() {
                self.min_free + self.min_free / 2
            } else {
                self.min_free
            };
            self.low.store(free < limit, Ordering::Relaxed);
        }
        Some(free)
    }
}

/// Samples free space, keeps the gauges and, while low, hands leadership over.
pub(super) async fn watch(core: Arc<NodeCore>, stop: impl std::future::Future<Output = ()>) {
    let mut every = tokio::time::interval(SAMPLE_EVERY);
    let mut last_handover: Option<Instant> = None;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = &mut stop => return,
        }
        let was_low = core.disk.low();
        if let Some(free) = core.disk.sample() {
            core.metrics.disk_free_bytes.set(free as i64);
        }
        let low = core.disk.low();
        core.metrics.disk_low.set(i64::from(low));
        if low && !was_low {
            tracing::error!(
                dir = %core.disk.dir.display(),
                reserve = core.disk.min_free,
                "free disk space is below the reserve: this node takes no Raft entries until space returns"
            );
        } else if was_low && !low {
            tracing::warn!("free disk space is back above the reserve: taking Raft entries again");
        }
        // One handover per election timeout: openraft needs that long to elect the node.
        let waited = Duration::from_millis(core.config.raft.election_timeout_max_ms);
        if low && last_handover.is_none_or(|at| at.elapsed() >= waited) && hand_over(&core).await {
            last_handover = Some(Instant::now());
        }
    }
}

/// Asks openraft to make the voter holding the most of the log leader, if this node
/// leads; answers whether it asked.
async fn hand_over(core: &NodeCore) -> bool {
    let metrics = core.raft.metrics().borrow_watched().clone();
    if metrics.state != ServerState::Leader {
        return false;
    }
    let membership = metrics.membership_config.membership();
    let voters: Vec<u64> = membership.voter_ids().collect();
    let best = metrics.replication.iter().flat_map(|replication| {
        replication
            .iter()
            .filter(|(id, _)| **id != core.config.node_id && voters.contains(id))
            .map(|(id, matched)| (matched.as_ref().map(|m| m.index), *id))
    });
    let Some((_, to)) = best.max() else {
        return false;
    };
    tracing::warn!(to, "handing leadership over: the disk is below its reserve");
    core.raft.trigger().transfer_leader(to).await.is_ok()
}
