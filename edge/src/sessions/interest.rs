//! The keys this edge's sessions are routed by (users, apps, groups, chatrooms), kept for
//! the leader, which then passes the edge only the feed events that concern it (DESIGN §4,
//! "Tailing").
//!
//! Every change of the set gets the next version. The tailer sends the leader the changes
//! since the version of its last page, and each page says which version filtered it. A
//! session relies on a key only once a page filtered by the key's version has come:
//! - a new session, and one entering a chatroom, wait for that before their sync or join;
//! - a session whose group a feed event adds (it joined) is marked to resync at once and
//!   again at every older page, since those left the group's messages out.

use std::collections::HashMap;

use meridian_cluster::api::InterestChange;
use meridian_cluster::state::interest::InterestKey;
use tokio::sync::watch;

/// Changes kept for the leader at most; past this the tailer sends the whole set.
const MAX_LOG: usize = 100_000;

pub struct InterestBook {
    /// Key → (sessions routed by it, the version that added it).
    held: HashMap<InterestKey, (u32, u64)>,
    version: u64,
    /// Changes after the newest version a page was filtered by, in order.
    log: Vec<(u64, InterestKey, bool)>,
    /// Sessions a page older than the version would leave short: (session, version).
    waiting: Vec<(u64, u64)>,
    /// The version of the page being dispatched (`None`: not filtered).
    page: Option<u64>,
    /// While the leader does not filter (an older build), every session may rely on
    /// every key at once.
    unfiltered: bool,
    /// The newest version a page was filtered by.
    confirmed: watch::Sender<u64>,
    /// The newest version that added a key: the tailer sends it without waiting for its
    /// poll to end.
    added: watch::Sender<u64>,
}

impl Default for InterestBook {
    fn default() -> Self {
        Self {
            held: HashMap::new(),
            version: 0,
            log: Vec::new(),
            waiting: Vec::new(),
            page: None,
            unfiltered: false,
            confirmed: watch::channel(0).0,
            added: watch::channel(0).0,
        }
    }
}

impl InterestBook {
    /// One more session routed by `key`; answers the version since which the key is held.
    pub fn add(&mut self, key: InterestKey) -> u64 {
        if let Some((sessions, since)) = self.held.get_mut(&key) {
            *sessions += 1;
            return *since;
        }
        self.version += 1;
        self.held.insert(key, (1, self.version));
        self.log.push((self.version, key, true));
        self.added.send_replace(self.version);
        self.version
    }

    /// One session fewer routed by `key`. The leader hears of it with the next poll.
    pub fn remove(&mut self, key: InterestKey) {
        let Some((sessions, _)) = self.held.get_mut(&key) else {
            return;
        };
        *sessions -= 1;
        if *sessions == 0 {
            self.held.remove(&key);
            self.version += 1;
            self.log.push((self.version, key, false));
        }
    }

    /// Whether `session`, routed by a key held since `since` while the page being
    /// dispatched is older, must resync now; it is also marked at each older page to come.
    pub fn left_short(&mut self, session: u64, since: u64) -> bool {
        match self.page {
            Some(page) if page < since => {
                self.waiting.push((session, since));
                true
            }
            _ => false,
        }
    }

    /// A page filtered by `version` (`None`: not filtered) is about to be dispatched:
    /// answers the sessions it leaves short (they resync before any of its events).
    pub fn begin_page(&mut self, version: Option<u64>) -> Vec<u64> {
        self.page = version;
        let Some(version) = version else {
            self.waiting.clear();
            self.confirm(self.version);
            return Vec::new();
        };
        self.confirm(version);
        self.waiting.retain(|(_, since)| *since > version);
        self.waiting.iter().map(|(session, _)| *session).collect()
    }

    fn confirm(&mut self, version: u64) {
        self.log.retain(|(v, _, _)| *v > version);
        self.confirmed.send_if_modified(|confirmed| {
            let newer = version > *confirmed;
            *confirmed = (*confirmed).max(version);
            newer
        });
    }

    /// What to send the leader, which holds `leader_holds` (`None`: nothing of ours).
    pub fn update(&mut self, leader_holds: Option<u64>) -> (u64, InterestChange) {
        self.unfiltered = false;
        let change = match leader_holds {
            Some(base) if self.log.len() <= MAX_LOG => InterestChange::Since {
                base,
                changes: self.log.clone(),
            },
            _ => InterestChange::Full(self.held.keys().copied().collect()),
        };
        (self.version, change)
    }

    /// The leader cannot filter (an older build): pages come whole until it can.
    pub fn set_unfiltered(&mut self) {
        self.unfiltered = true;
        self.confirm(self.version);
    }

    /// What a session waits on before relying on the keys held now (the newest addition
    /// must be filtered by; a removal need not): `None` when it may at once.
    pub fn settled(&self) -> Option<(u64, watch::Receiver<u64>)> {
        let newest_addition = *self.added.borrow();
        if self.unfiltered || *self.confirmed.borrow() >= newest_addition {
            return None;
        }
        Some((newest_addition, self.confirmed.subscribe()))
    }

    pub fn additions(&self) -> watch::Receiver<u64> {
        self.added.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_counts_its_sessions_and_the_leader_gets_only_what_it_lacks() {
        let mut book = InterestBook::default();
        assert_eq!(book.add(10), 1);
        assert_eq!(book.add(10), 1, "held since its first session");
        assert_eq!(book.add(20), 2);
        book.remove(10);
        let (version, change) = book.update(None);
        assert_eq!(version, 2);
        let InterestChange::Full(mut keys) = change else {
            panic!("a leader holding nothing gets everything");
        };
        keys.sort();
        assert_eq!(keys, vec![10, 20], "one session is still routed by 10");
        assert!(book.begin_page(Some(2)).is_empty());
        book.remove(10);
        book.add(30);
        assert_eq!(
            book.update(Some(2)),
            (
                4,
                InterestChange::Since {
                    base: 2,
                    changes: vec![(3, 10, false), (4, 30, true)]
                }
            )
        );
    }

    #[test]
    fn a_session_waits_for_a_page_filtered_by_its_keys() {
        let mut book = InterestBook::default();
        book.add(10);
        let (version, confirmed) = book.settled().expect("nothing confirmed yet");
        book.begin_page(Some(0));
        assert!(
            !confirmed.has_changed().unwrap(),
            "an older page settles nothing"
        );
        book.begin_page(Some(version));
        assert!(confirmed.has_changed().unwrap());
        assert!(book.settled().is_none());
        let since = book.add(30);
        book.begin_page(Some(since));
        book.remove(30);
        assert!(
            book.settled().is_none(),
            "a removal the leader has not heard of yet keeps nobody waiting"
        );
        book.add(20);
        book.set_unfiltered();
        assert!(book.settled().is_none(), "whole pages leave nobody short");
    }

    #[test]
    fn a_group_joined_during_an_older_page_resyncs_its_session_until_a_page_has_it() {
        let mut book = InterestBook::default();
        book.begin_page(Some(0));
        let since = book.add(10);
        assert!(
            book.left_short(7, since),
            "the page being dispatched lacks the key"
        );
        assert_eq!(book.begin_page(Some(0)), vec![7], "and so does the next");
        assert!(book.begin_page(Some(since)).is_empty());
        assert!(
            !book.left_short(8, since),
            "a page with the key leaves nobody short"
        );
        assert!(book.begin_page(None).is_empty());
    }
}
