//! One area's cluster node: a Raft group (openraft) over a durable raft-log and a sled
//! state machine, its internal RPC, the leader-forwarding client and the operator admin API.

pub mod metrics;
pub mod raft;
pub mod state;
