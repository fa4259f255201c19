//! When each transport next wants `Input::Timeout`, ordered by time, so a wake-up finds the
//! due transports and the next deadline without looking at all of them: each packet read
//! used to cost two passes over every transport (bench sfu could not tell the difference
//! at 500 subscribers; the cost no longer grows with the room).

use std::collections::BTreeSet;
use std::time::Instant;

#[derive(Default)]
pub(super) struct Timers {
    by_time: BTreeSet<(Instant, u64)>,
}

impl Timers {
    /// Transport `id`'s timeout moved from `old` to `new` (or was first set: `old` is then
    /// not in the set, which is fine).
    pub(super) fn set(&mut self, id: u64, old: Instant, new: Instant) {
        if old != new {
            self.by_time.remove(&(old, id));
        }
        self.by_time.insert((new, id));
    }

    pub(super) fn remove(&mut self, id: u64, at: Instant) {
        self.by_time.remove(&(at, id));
    }

    /// Takes out a transport whose timeout is at or before `now`, earliest first; it is put
    /// back by [`Timers::set`] once polled.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<u64> {
        let &(at, id) = self.by_time.first()?;
        if at > now {
            return None;
        }
        self.by_time.pop_first();
        Some(id)
    }

    pub(super) fn next(&self) -> Option<Instant> {
        self.by_time.first().map(|&(at, _)| at)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn due_transports_come_out_earliest_first_and_moved_ones_only_once() {
        let start = tokio::time::Instant::now().into_std();
        let at = |ms| start + Duration::from_millis(ms);
        let mut timers = Timers::default();
        timers.set(1, start, at(30));
        timers.set(2, start, at(10));
        timers.set(3, start, at(20));
        // Transport 3 polled again: it wants its timeout later now.
        timers.set(3, at(20), at(50));
        assert_eq!(timers.next(), Some(at(10)));
        assert_eq!(timers.pop_due(at(5)), None);
        assert_eq!(timers.pop_due(at(40)), Some(2));
        assert_eq!(timers.pop_due(at(40)), Some(1));
        assert_eq!(timers.pop_due(at(40)), None);
        // A popped transport is put back when polled, even at the same instant.
        timers.set(2, at(10), at(10));
        assert_eq!(timers.pop_due(at(40)), Some(2));
        timers.remove(3, at(50));
        assert_eq!(timers.next(), None);
    }
}
