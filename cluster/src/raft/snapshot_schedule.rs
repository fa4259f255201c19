//! When each node builds its snapshot. Every replica applies the same entries at about the
//! same moment, so with openraft's one threshold (`LogsSinceLast`) all of them built their
//! snapshots at once, and a snapshot costs a core and the disk for seconds: under
//! sustained load three replicas copying 2.4 M records together starved the heartbeats
//! until the leader's lease ran out and the area refused writes (issue 16). Each node
//! takes its own phase of the period instead, so at most one in three snapshots at a time
//! (while their periods agree: each node's follows its own last snapshot's size, so near
//! a step of the period two may still meet once).
//!
//! A snapshot copies the whole state, so a fixed period costs more per write as the state
//! grows (2.4 M records took 12 s to copy on a loaded 2-core machine). The period grows
//! with the state instead: one base period per [`RECORDS_PER_PERIOD`] records in the last
//! snapshot, which keeps the snapshot work per write bounded, at the price of a log that
//! grows with the state between snapshots.

use std::future::Future;

use openraft::async_runtime::WatchReceiver;

use super::state_machine::StateMachineStore;
use super::Raft;

/// State records that lengthen the snapshot period by one base period.
pub const RECORDS_PER_PERIOD: u64 = 500_000;

/// Entries between two snapshots of one node whose last snapshot held `records`.
pub fn period(every: u64, records: u64) -> u64 {
    every.saturating_mul((records / RECORDS_PER_PERIOD).max(1))
}

/// The applied index at which a node whose last snapshot is at `last` builds the next: the
/// first index of its phase (a third of `every` per node id, modulo 3) at least half a
/// period after `last`. Successive snapshots of one node stay `every` apart.
pub fn next_due(last: u64, every: u64, node_id: u64) -> u64 {
    let every = every.max(1);
    let offset = (node_id % 3) * (every / 3);
    let earliest = last.saturating_add(every / 2 + 1);
    earliest
        .saturating_sub(offset)
        .div_ceil(every)
        .saturating_mul(every)
        .saturating_add(offset)
}

/// Asks openraft for a snapshot whenever this node's next one is due, until `stop`.
pub async fn run(
    raft: Raft,
    state: StateMachineStore,
    every: u64,
    node_id: u64,
    stop: impl Future<Output = ()>,
) {
    let mut metrics = raft.metrics();
    // The applied index a snapshot was asked at, until one at least that new exists (or
    // a period later, if building it failed).
    let mut asked: Option<u64> = None;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            changed = metrics.changed() => if changed.is_err() { return },
        }
        let (applied, last) = {
            let m = metrics.borrow_watched();
            (
                m.last_applied.as_ref().map_or(0, |id| id.index),
                m.snapshot.as_ref().map_or(0, |id| id.index),
            )
        };
        if let Some(at) = asked {
            // Asked and not built yet; asked again a base period later if building failed.
            if last < at && applied < at + every {
                continue;
            }
            asked = None;
        }
        let spacing = period(every, state.snapshot_records());
        if applied >= next_due(last, spacing, node_id) {
            if let Err(e) = raft.trigger().snapshot().await {
                tracing::warn!(error = %e, "cannot ask for a snapshot");
                return;
            }
            asked = Some(applied);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_snapshot_a_period_apart_each_in_its_own_third_of_it() {
        let every = 50_000;
        let mut all = Vec::new();
        for node in 1..=3 {
            let mut due = Vec::new();
            let mut last = 0;
            for _ in 0..4 {
                last = next_due(last, every, node);
                due.push(last);
            }
            assert!(due.windows(2).all(|w| w[1] - w[0] == every), "{due:?}");
            assert!(due[0] > every / 2 && due[0] <= every * 3 / 2, "{due:?}");
            all.extend(due);
        }
        all.sort_unstable();
        assert!(
            all.windows(2).all(|w| w[1] - w[0] >= every / 3 - 1),
            "{all:?}"
        );
        // Late (a snapshot built after its due point) keeps the phase.
        assert_eq!(next_due(60_000, every, 3), 100_000);
        // A small period in tests still works.
        assert_eq!(next_due(0, 1, 1), 1);
    }

    #[test]
    fn the_period_grows_with_the_state() {
        assert_eq!(period(50_000, 0), 50_000);
        assert_eq!(period(50_000, RECORDS_PER_PERIOD - 1), 50_000);
        assert_eq!(period(50_000, 2_400_000), 200_000);
    }
}
