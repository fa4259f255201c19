//! Whether a history of reads and writes of one register is linearizable: some order of
//! the operations, each placed between its call and its answer, in which every read
//! returns the latest write before it.
//!
//! The search is Wing and Gong's, with Lowe's memoisation as Porcupine implements it:
//! walk the calls in time order, tentatively linearize the first call whose answer the
//! register's state allows, and backtrack at the first answer of an operation not yet
//! linearized; a (linearized set, state) pair seen before is not explored again, which
//! keeps histories of thousands of operations quick. A write whose outcome stayed open
//! (no answer) has its answer at the end of time: it may take effect anywhere after its
//! call, or (placed after every other operation) not at all.

use std::collections::HashSet;
use std::hash::Hash;

/// One operation on a register, its times in any monotonic unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation<V> {
    pub call: u64,
    /// `None`: no answer came (a write whose outcome is open).
    pub answer: Option<u64>,
    pub kind: Access<V>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access<V> {
    Write(V),
    /// A read, with the value it returned.
    Read(V),
}

/// Whether `history` of a register holding `initial` at first is linearizable.
pub fn is_linearizable<V: Clone + Eq + Hash>(initial: &V, history: &[Operation<V>]) -> bool {
    Search::new(history).run(initial.clone(), history)
}

/// A call or an answer in the time-ordered list the search walks.
#[derive(Debug, Clone, Copy)]
struct Event {
    op: usize,
    is_call: bool,
    /// For a call, its answer's index in the list.
    answer: usize,
}

/// The events as a doubly linked list over indexes, so an operation's two events can be
/// taken out and put back in constant time (in reverse order of taking out).
struct Search {
    events: Vec<Event>,
    next: Vec<usize>,
    prev: Vec<usize>,
}

/// Index of the list's head, before every event.
const HEAD: usize = 0;
/// The end of the list.
const END: usize = usize::MAX;

impl Search {
    fn new<V>(history: &[Operation<V>]) -> Self {
        // (time, answers after calls at the same instant: the two overlap, which only
        // allows more orders), operation, is call.
        let mut timed: Vec<(u64, bool, usize)> = Vec::with_capacity(history.len() * 2);
        for (op, operation) in history.iter().enumerate() {
            timed.push((operation.call, false, op));
            timed.push((operation.answer.unwrap_or(u64::MAX), true, op));
        }
        timed.sort_unstable();
        let mut events = vec![Event {
            op: usize::MAX,
            is_call: false,
            answer: END,
        }];
        let mut answer_index = vec![END; history.len()];
        for (index, &(_, is_answer, op)) in timed.iter().enumerate() {
            if is_answer {
                answer_index[op] = index + 1;
            }
        }
        events.extend(timed.iter().map(|&(_, is_answer, op)| Event {
            op,
            is_call: !is_answer,
            answer: answer_index[op],
        }));
        let count = events.len();
        let next = (0..count)
            .map(|i| if i + 1 < count { i + 1 } else { END })
            .collect();
        let prev = (0..count).map(|i| i.wrapping_sub(1)).collect();
        Self { events, next, prev }
    }

    fn unlink(&mut self, index: usize) {
        let (prev, next) = (self.prev[index], self.next[index]);
        self.next[prev] = next;
        if next != END {
            self.prev[next] = prev;
        }
    }

    fn relink(&mut self, index: usize) {
        let (prev, next) = (self.prev[index], self.next[index]);
        self.next[prev] = index;
        if next != END {
            self.prev[next] = index;
        }
    }

    fn run<V: Clone + Eq + Hash>(mut self, mut state: V, history: &[Operation<V>]) -> bool {
        let words = history.len().div_ceil(64);
        let mut linearized = vec![0u64; words];
        let mut seen: HashSet<(Vec<u64>, V)> = HashSet::new();
        // The calls linearized so far, with the state before each.
        let mut stack: Vec<(usize, V)> = Vec::new();
        let mut at = self.next[HEAD];
        while self.next[HEAD] != END {
            let event = self.events[at];
            if event.is_call {
                let after = match &history[event.op].kind {
                    Access::Write(value) => Some(value.clone()),
                    Access::Read(value) => (*value == state).then(|| state.clone()),
                };
                if let Some(after) = after {
                    let mut with = linearized.clone();
                    with[event.op / 64] |= 1 << (event.op % 64);
                    if seen.insert((with.clone(), after.clone())) {
                        stack.push((at, std::mem::replace(&mut state, after)));
                        linearized = with;
                        self.unlink(at);
                        self.unlink(event.answer);
                        at = self.next[HEAD];
                        continue;
                    }
                }
                at = self.next[at];
            } else {
                // An operation answered before it could be placed: undo the last choice.
                let Some((call, before)) = stack.pop() else {
                    return false;
                };
                let op = self.events[call].op;
                state = before;
                linearized[op / 64] &= !(1 << (op % 64));
                self.relink(self.events[call].answer);
                self.relink(call);
                at = self.next[call];
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(call: u64, answer: u64, value: u32) -> Operation<u32> {
        Operation {
            call,
            answer: Some(answer),
            kind: Access::Write(value),
        }
    }

    fn read(call: u64, answer: u64, value: u32) -> Operation<u32> {
        Operation {
            call,
            answer: Some(answer),
            kind: Access::Read(value),
        }
    }

    #[test]
    fn sequential_histories_are_linearizable_exactly_when_reads_see_the_last_write() {
        assert!(is_linearizable(&0, &[]));
        assert!(is_linearizable(&0, &[read(0, 1, 0)]));
        assert!(is_linearizable(&0, &[write(0, 1, 5), read(2, 3, 5)]));
        assert!(
            !is_linearizable(&0, &[write(0, 1, 5), read(2, 3, 0)]),
            "stale read"
        );
        assert!(
            !is_linearizable(&0, &[read(0, 1, 7)]),
            "a value never written"
        );
    }

    #[test]
    fn overlapping_operations_may_take_either_order_but_real_time_binds() {
        // The read overlaps the write: it may see the old value or the new one.
        assert!(is_linearizable(&0, &[write(0, 10, 1), read(5, 6, 0)]));
        assert!(is_linearizable(&0, &[write(0, 10, 1), read(5, 6, 1)]));
        // Two reads inside one write: once one saw the new value, a later one may not see
        // the old (Herlihy and Wing's classic non-linearizable history).
        assert!(!is_linearizable(
            &0,
            &[write(0, 10, 1), read(1, 2, 1), read(3, 4, 0)]
        ));
        assert!(is_linearizable(
            &0,
            &[write(0, 10, 1), read(1, 2, 0), read(3, 4, 1)]
        ));
        // Concurrent writes: reads after both fix which went last, and must agree.
        let writes = [write(0, 10, 1), write(0, 10, 2)];
        let agree = [read(11, 12, 2), read(13, 14, 2)];
        let disagree = [read(11, 12, 2), read(13, 14, 1)];
        assert!(is_linearizable(&0, &[&writes[..], &agree].concat()));
        assert!(!is_linearizable(&0, &[&writes[..], &disagree].concat()));
    }

    #[test]
    fn an_open_write_may_have_happened_or_not_but_only_after_its_call() {
        let open = Operation {
            call: 10,
            answer: None,
            kind: Access::Write(9),
        };
        assert!(is_linearizable(&0, &[open.clone(), read(20, 21, 0)]));
        assert!(is_linearizable(&0, &[open.clone(), read(20, 21, 9)]));
        assert!(is_linearizable(
            &0,
            &[
                open.clone(),
                read(20, 21, 9),
                write(30, 31, 4),
                read(40, 41, 4)
            ]
        ));
        assert!(
            !is_linearizable(&0, &[open.clone(), read(0, 5, 9)]),
            "before its call"
        );
        assert!(
            !is_linearizable(&0, &[open, read(20, 21, 9), read(30, 31, 0)]),
            "once seen, it happened"
        );
    }

    #[test]
    fn long_concurrent_histories_are_decided_quickly() {
        // Four clients, 2,000 operations each overlapping its neighbours'.
        let mut history = Vec::new();
        let mut last = 0;
        for i in 0..2_000u64 {
            let start = i * 10;
            history.push(write(start, start + 25, i as u32 + 1));
            history.push(read(start + 1, start + 30, last));
            last = i as u32 + 1;
        }
        assert!(is_linearizable(&0, &history));
        history.push(read(100_000, 100_001, 3));
        assert!(!is_linearizable(&0, &history));
    }
}
