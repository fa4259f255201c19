//! One area's cluster node: a Raft group (openraft) over a durable raft-log and a sled
//! state machine, its internal RPC, the leader-forwarding client and the operator admin API.

pub mod admin;
pub mod api;
pub mod audit;
pub mod backup;
pub mod client;
pub mod coalesce;
pub mod config;
pub mod hooks;
pub mod metrics;
pub mod node;
pub mod raft;
pub mod state;
pub mod trace;
pub mod upgrade_gate;
pub mod writer;

pub use client::{ClusterClient, ClusterError, RetryPolicy};
pub use config::NodeConfig;
pub use node::{ClusterNode, StartError};
