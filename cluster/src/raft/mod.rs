//! The Raft adapter: every openraft type the rest of the crate sees is named here.

pub(crate) mod compaction;
mod digest;
pub mod feed_clock;
pub mod log_store;
pub mod network;
pub(crate) mod quorum;
mod rewrite_due;
pub mod slow_fsync;
mod snapshot_copy;
pub(crate) mod snapshot_schedule;

pub mod state_machine;
pub(crate) mod wire;

pub use digest::{record_differences, RecordDifference};

use std::io::Cursor;

use crate::state::{BatchOutcome, EncodedBatch};

openraft::declare_raft_types!(
    /// The Raft types of one area's cluster.
    pub TypeConfig:
        D = EncodedBatch,
        R = BatchOutcome,
        NodeId = u64,
        Node = openraft::BasicNode,
);

/// A snapshot travels and is installed as the bytes of its file.
pub type SnapshotData = Cursor<Vec<u8>>;

pub type Raft = openraft::Raft<TypeConfig, state_machine::StateMachineStore>;
pub type LogId = openraft::alias::LogIdOf<TypeConfig>;
pub type Vote = openraft::alias::VoteOf<TypeConfig>;
pub type Entry = openraft::alias::EntryOf<TypeConfig>;
pub type EntryPayload = openraft::alias::EntryPayloadOf<TypeConfig>;
pub type SnapshotMeta = openraft::alias::SnapshotMetaOf<TypeConfig>;
pub type StoredMembership = openraft::alias::StoredMembershipOf<TypeConfig>;
pub type Snapshot = openraft::alias::SnapshotOf<TypeConfig, SnapshotData>;

#[cfg(test)]
mod storage_suite;
