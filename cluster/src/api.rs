//! The cluster's internal API: the paths and wire types of every RPC a node answers.
//! Shared by cluster nodes (Raft traffic) and by edges and tools (the read/write API).

use std::collections::BTreeMap;
use std::time::Duration;

use meridian_regions::AreaCode;
use serde::{Deserialize, Serialize};

use crate::raft::{SnapshotMeta, Vote};
use crate::state::interest::InterestKey;
use crate::state::{CommandError, Envelope, FeedPage, Output, Query, QueryOutput};

pub const RAFT_APPEND_PATH: &str = "/raft/append";
pub const RAFT_VOTE_PATH: &str = "/raft/vote";
pub const RAFT_PRE_VOTE_PATH: &str = "/raft/pre-vote";
pub const RAFT_SNAPSHOT_PATH: &str = "/raft/snapshot";
pub const RAFT_TRANSFER_LEADER_PATH: &str = "/raft/transfer-leader";
/// A Raft append or snapshot refused by a node low on disk: the leader takes the node
/// as unreachable and retries it after openraft's backoff, not at once.
pub const RAFT_DISK_LOW: &str = "the disk is below its reserve";
pub const API_PATH: &str = "/api";
/// How a node's `Unavailable` answer to a request it cannot decode begins: an older build
/// asked for something it does not know.
pub const BAD_REQUEST: &str = "bad request";

/// A whole snapshot sent to a lagging follower.
#[derive(Debug, Serialize, Deserialize)]
pub struct SnapshotTransfer {
    pub vote: Vote,
    pub meta: SnapshotMeta,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadConsistency {
    /// Served by the leader after confirming its leadership (`ensure_linearizable`).
    Linearizable,
    /// Served by the node asked, from whatever it has applied: may be stale.
    Local,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ApiRequest {
    /// Commands committed together; each gets its own result.
    Write(Vec<Envelope>),
    Read {
        query: Query,
        consistency: ReadConsistency,
    },
    /// The area's feed after `after`, from the leader; waits up to `wait_ms` for an event
    /// when there is none yet (a long poll).
    Feed {
        after: u64,
        limit: usize,
        wait_ms: u64,
    },
    /// Adds a node as a learner, waits for it to catch up, then makes it a voter.
    AddNode { id: u64, addr: String },
    /// Removes a node from the membership (voter or learner).
    RemoveNode { id: u64 },
    /// This node's view of the cluster; never forwarded.
    Status,
    /// A digest of this node's replicated state; never forwarded. Replicas that applied
    /// the same index must answer the same digest.
    StateDigest,
    /// The leader's snapshot file, at or after everything committed when it was asked
    /// (LIFE-06): a backup of the area.
    Backup,
    /// Like `Feed`, but only the events that concern the edge's `interest` (the keys its
    /// sessions are routed by); the leader keeps waiting while none does. Answered with
    /// `FilteredFeed`, or `InterestUnknown` when the leader does not hold the interest
    /// the change builds on (a new leader, or one that forgot an idle edge).
    FeedFor {
        after: u64,
        limit: usize,
        wait_ms: u64,
        interest: InterestUpdate,
    },
}

/// An edge's interest as of `version`: all of it, or the changes since a version the
/// leader holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterestUpdate {
    /// One per edge tailer (random), so edges never share an interest.
    pub subscriber: u64,
    pub version: u64,
    pub change: InterestChange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InterestChange {
    Full(Vec<InterestKey>),
    /// Changes after `base`, in order: (the version each made, the key, added or removed).
    Since {
        base: u64,
        changes: Vec<(u64, InterestKey, bool)>,
    },
}

/// A feed page for one edge's interest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilteredFeed {
    pub page: FeedPage,
    /// The last position the leader looked at: the edge goes on after it.
    pub through: u64,
    /// The interest version the page was filtered by.
    pub version: u64,
}

impl ApiRequest {
    /// A name for logs.
    pub fn op(&self) -> &'static str {
        match self {
            ApiRequest::Write(_) => "write",
            ApiRequest::Read { .. } => "read",
            ApiRequest::Feed { .. } => "feed",
            ApiRequest::AddNode { .. } => "add_node",
            ApiRequest::RemoveNode { .. } => "remove_node",
            ApiRequest::Status => "status",
            ApiRequest::StateDigest => "state_digest",
            ApiRequest::Backup => "backup",
            ApiRequest::FeedFor { .. } => "feed_for",
        }
    }

    /// How long its answer may take: a backup builds a snapshot of the whole state and
    /// sends it in one answer.
    pub fn call_timeout(&self, usual: Duration) -> Duration {
        match self {
            ApiRequest::Backup => BACKUP_CALL_TIMEOUT.max(usual),
            _ => usual,
        }
    }
}

/// The longest a backup may take to build and send (as long as a snapshot transfer).
pub const BACKUP_CALL_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderHint {
    pub id: u64,
    pub addr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ApiReply {
    Written(Vec<Result<Output, CommandError>>),
    Read(Result<QueryOutput, CommandError>),
    Status(NodeStatus),
    StateDigest(StateDigest),
    /// Only the leader does this; ask the hinted one (or retry later when none is known).
    NotLeader {
        leader: Option<LeaderHint>,
    },
    /// The request could not be carried out now (e.g. membership change in progress).
    Unavailable(String),
    /// A snapshot file (see [`ApiRequest::Backup`]).
    Backup(bytes::Bytes),
    /// The write was proposed but may or may not commit (see `WriteError::Ambiguous`):
    /// it must not be retried blindly.
    Ambiguous(String),
    FilteredFeed(Result<FilteredFeed, CommandError>),
    /// See [`ApiRequest::FeedFor`]: send the whole interest.
    InterestUnknown,
}

/// The replicated state of one node at one applied index, hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateDigest {
    pub applied_index: Option<u64>,
    pub records: u64,
    /// SHA-256 (hex) over every record in key order, each as its key and value lengths
    /// and bytes; node-local bookkeeping (applied index, membership) is left out.
    pub sha256: String,
}

/// One node's view of its Raft group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub area: AreaCode,
    pub node_id: u64,
    pub role: String,
    pub term: u64,
    pub leader: Option<u64>,
    pub last_log_index: Option<u64>,
    pub committed_index: Option<u64>,
    pub applied_index: Option<u64>,
    pub snapshot_index: Option<u64>,
    pub purged_index: Option<u64>,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    /// Every member's RPC address.
    pub nodes: BTreeMap<u64, String>,
    /// The command level of the node's build (LIFE-05; absent from older builds').
    #[serde(default = "legacy_command_level")]
    pub command_level: u32,
    /// On a leader, the last log index each member is known to hold (empty elsewhere, and
    /// from older builds): a follower left behind shows here.
    #[serde(default)]
    pub matched: BTreeMap<u64, Option<u64>>,
}

fn legacy_command_level() -> u32 {
    crate::state::LEGACY_COMMAND_LEVEL
}
