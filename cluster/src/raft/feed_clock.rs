//! When the newest feed positions were applied on this node, so the leader can say how
//! long an event waited between its apply and the poll answer that carried it to an edge
//! (`meridian_cluster_feed_wait_seconds`, one hop of the delivery path).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use tokio::time::Instant;

/// Apply rounds remembered: at 1,000 rounds a second, the last second or so, far more
/// than a poll waits to be answered.
const ROUNDS: usize = 1_024;

#[derive(Default)]
pub struct FeedClock(Mutex<Rounds>);

#[derive(Default)]
struct Rounds {
    /// (the feed's head after a round that grew it, when that round was applied), oldest
    /// first.
    applied: VecDeque<(u64, Instant)>,
    /// The head before the oldest remembered round: positions up to it are not timed.
    floor: u64,
}

impl FeedClock {
    /// Forgets every round: the state was opened or replaced (a snapshot installed) with
    /// the feed's head at `head`, and nothing up to it is timed.
    pub fn restart_at(&self, head: u64) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Rounds {
            applied: VecDeque::new(),
            floor: head,
        };
    }

    /// Notes that an apply round has just brought the feed's head to `head`.
    pub fn applied(&self, head: u64) {
        let mut rounds = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let newest = rounds.applied.back().map_or(rounds.floor, |r| r.0);
        if head <= newest {
            return;
        }
        if rounds.applied.len() == ROUNDS {
            if let Some((head, _)) = rounds.applied.pop_front() {
                rounds.floor = head;
            }
        }
        rounds.applied.push_back((head, Instant::now()));
    }

    /// When each of `positions` was applied here, for those among the remembered rounds
    /// (one lock for a whole page of them).
    pub fn applied_at(
        &self,
        positions: impl IntoIterator<Item = u64>,
        mut each: impl FnMut(Instant),
    ) {
        let rounds = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for pos in positions {
            if let Some(at) = rounds.applied_at(pos) {
                each(at);
            }
        }
    }
}

impl Rounds {
    fn applied_at(&self, pos: u64) -> Option<Instant> {
        if pos <= self.floor {
            return None;
        }
        let round = self.applied.partition_point(|r| r.0 < pos);
        self.applied.get(round).map(|r| r.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl FeedClock {
        fn one(&self, pos: u64) -> Option<Instant> {
            let mut found = None;
            self.applied_at([pos], |at| found = Some(at));
            found
        }
    }

    #[test]
    fn a_position_takes_the_instant_of_the_round_that_applied_it() {
        let clock = FeedClock::default();
        clock.restart_at(0);
        clock.applied(3);
        let second = Instant::now();
        clock.applied(5);
        assert!(clock.one(0).is_none(), "before the first round");
        let first = clock.one(1).unwrap();
        assert_eq!(clock.one(3), Some(first));
        assert!(clock.one(4).unwrap() >= second);
        assert!(clock.one(6).is_none(), "not applied yet");
        // A round that did not grow the feed changes nothing.
        clock.applied(5);
        assert_eq!(clock.one(2), Some(first));
    }

    #[test]
    fn only_the_newest_rounds_are_remembered_and_a_snapshot_starts_afresh() {
        let clock = FeedClock::default();
        for head in 1..=(ROUNDS as u64 + 10) {
            clock.applied(head);
        }
        assert!(clock.one(10).is_none(), "forgotten");
        assert!(clock.one(11).is_some());
        // An installed snapshot: nothing up to it is timed.
        clock.restart_at(7);
        assert!(clock.one(11).is_none());
        clock.applied(9);
        assert!(clock.one(7).is_none());
        assert!(clock.one(8).is_some());
    }
}
