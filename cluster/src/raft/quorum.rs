//! CheckQuorum: a leader that no majority has acknowledged for the longest election
//! timeout is cut off and most likely replaced. The node then answers `NotLeader` (no
//! hint) at once to writes, linearizable reads and feed polls, so callers go and find the
//! new leader, and fails the writes it proposed and could not commit as of unknown
//! outcome, so their sessions retry at the new leader instead of waiting for the
//! partition to heal (issue 16). openraft alone refuses new proposals after the same time
//! (its lease), but lets proposals and linearizable reads wait for a quorum that never
//! answers and keeps serving a feed that no longer grows.
//!
//! A leader not yet acknowledged since its election, and a leader that is a quorum alone,
//! are not cut off. The acknowledgement time is when the acknowledged heartbeat or append
//! was sent, so a healthy leader is refreshed about every heartbeat.

use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::{Instant as _, ServerState};

use super::Raft;

/// How often a waiter looks whether its leader is still acknowledged.
pub(crate) const RECHECK: Duration = Duration::from_millis(100);

#[derive(Clone)]
pub struct QuorumCheck {
    raft: Raft,
    /// The longest election timeout: past it, the followers have elected someone else.
    timeout: Duration,
}

impl QuorumCheck {
    pub fn new(raft: Raft, election_timeout_max: Duration) -> Self {
        Self {
            raft,
            timeout: election_timeout_max,
        }
    }

    /// Whether this node leads without a quorum's acknowledgement for the timeout.
    pub fn cut_off(&self) -> bool {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow_watched();
        if metrics.state != ServerState::Leader
            || metrics.membership_config.membership().voter_ids().count() <= 1
        {
            return false;
        }
        metrics
            .last_quorum_acked
            .as_ref()
            .is_some_and(|acked| acked.elapsed() > self.timeout)
    }

    /// Resolves once this node is cut off. A proposal still waiting then may or may not
    /// commit: the new leader may have it, or not.
    pub async fn lost(&self) {
        while !self.cut_off() {
            tokio::time::sleep(RECHECK).await;
        }
    }
}
