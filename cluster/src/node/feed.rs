//! The feed the edges tail (DESIGN §4, "Tailing"): served by the leader only, as a long
//! poll, and filtered by an edge's interest (the keys its sessions are routed by) when the
//! edge sends one, so what the leader reads and sends per delivered message does not grow
//! with the number of edges.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::api::{ApiReply, FilteredFeed, InterestChange, InterestUpdate, LeaderHint};
use crate::raft::quorum;
use crate::state::interest::InterestKey;
use crate::state::{self, feed};

use super::rpc::fenced;
use super::NodeCore;

/// A feed long poll waits at most this long (below the callers' RPC timeout).
const MAX_FEED_WAIT_MS: u64 = 5_000;
/// Positions one filtered read looks at, at most: a read for an edge that few events
/// concern stays short.
const MAX_SCAN: usize = 10_000;
/// An interest not polled with for this long is forgotten (its edge sends all of it again).
const IDLE_INTEREST: Duration = Duration::from_secs(120);
/// Interests kept at most: one per edge tailer of the area.
const MAX_INTERESTS: usize = 1_024;

/// Serves the feed only while this node leads, so edges follow the freshest copy; a
/// deposed leader's feed is still a prefix of the committed one, never a different one.
pub(super) async fn serve(core: &NodeCore, after: u64, limit: usize, wait_ms: u64) -> ApiReply {
    if let Some(reply) = not_leading(core) {
        return reply;
    }
    if let Err(reply) = wait_for_news(core, after, deadline(wait_ms), None).await {
        return reply;
    }
    let page = state::query(
        &core.state_machine.state(),
        &state::Query::Feed { after, limit },
    );
    if let Ok(state::QueryOutput::Feed(page)) = &page {
        count_served(core, page);
    }
    ApiReply::Read(page)
}

/// [`serve`] for one edge's interest: positions no event of which concerns the edge are
/// passed over while the poll waits, so the edge hears only of what it delivers.
pub(super) async fn serve_for(
    core: &NodeCore,
    mut after: u64,
    limit: usize,
    wait_ms: u64,
    update: InterestUpdate,
) -> ApiReply {
    if let Some(reply) = not_leading(core) {
        return reply;
    }
    let Some((interest, advanced)) = core.feed_interests.apply(update) else {
        return ApiReply::InterestUnknown;
    };
    let mut changed = interest.changed.subscribe();
    changed.mark_unchanged();
    let deadline = deadline(wait_ms);
    // A new interest is answered at once: the edge's new sessions wait for a page
    // filtered by it.
    let mut answer_now = advanced;
    loop {
        let woke = if std::mem::take(&mut answer_now) {
            Woke::Now
        } else {
            match wait_for_news(core, after, deadline, Some(&mut changed)).await {
                Ok(woke) => woke,
                Err(reply) => return reply,
            }
        };
        let read = {
            let held = interest.held.read().unwrap_or_else(PoisonError::into_inner);
            let wanted = |key| held.keys.contains(&key);
            feed::page_for(&core.state_machine.state(), after, limit, MAX_SCAN, &wanted).map(
                |(page, through)| FilteredFeed {
                    page,
                    through,
                    version: held.version,
                },
            )
        };
        let answer = match read {
            Ok(answer) => answer,
            Err(e) => return ApiReply::FilteredFeed(Err(e)),
        };
        if !answer.page.events.is_empty() || answer.page.missed || woke != Woke::News {
            count_served(core, &answer.page);
            return ApiReply::FilteredFeed(Ok(answer));
        }
        after = answer.through;
    }
}

/// Counts the events a page answers an edge with, and how long each waited since its
/// apply here.
fn count_served(core: &NodeCore, page: &feed::FeedPage) {
    let metrics = &core.metrics;
    metrics.feed_events_served.inc_by(page.events.len() as u64);
    let positions = page.events.iter().map(|(pos, _)| *pos);
    core.state_machine
        .feed_clock()
        .applied_at(positions, |applied| {
            metrics
                .feed_wait_seconds
                .observe(applied.elapsed().as_secs_f64())
        });
}

fn deadline(wait_ms: u64) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_millis(wait_ms.min(MAX_FEED_WAIT_MS))
}

/// A hint to the leader when this node does not lead.
fn not_leading(core: &NodeCore) -> Option<ApiReply> {
    let metrics = core.raft.metrics();
    let metrics = metrics.borrow_watched();
    if metrics.current_leader == Some(core.config.node_id) {
        return None;
    }
    let leader = metrics.current_leader.and_then(|id| {
        metrics
            .membership_config
            .membership()
            .get_node(&id)
            .map(|node| LeaderHint {
                id,
                addr: node.addr.clone(),
            })
    });
    Some(ApiReply::NotLeader { leader })
}

#[derive(Debug, PartialEq, Eq)]
enum Woke {
    /// Not waited: the interest changed.
    Now,
    /// The feed grew past `after`.
    News,
    Deadline,
    /// The edge sent a newer interest: it no longer waits for this answer.
    Superseded,
}

/// Waits until the feed grows past `after`, the deadline, or (when given) a change of the
/// interest. Timing out is a normal answer (an empty page); a leader cut off from its
/// quorum while the poll waits sends the edge on at once instead of at the deadline.
async fn wait_for_news(
    core: &NodeCore,
    after: u64,
    deadline: tokio::time::Instant,
    mut superseded: Option<&mut watch::Receiver<u64>>,
) -> Result<Woke, ApiReply> {
    let mut head = core.state_machine.feed_head();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Ok(Woke::Deadline);
        }
        let interest_changed = async {
            match superseded.as_deref_mut() {
                Some(changed) => {
                    let _ = changed.changed().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            news = head.wait_for(|head| *head > after) => {
                if news.is_ok() {
                    return Ok(Woke::News);
                }
            }
            () = interest_changed => return Ok(Woke::Superseded),
            () = tokio::time::sleep(left.min(quorum::RECHECK)) => {}
        }
        if core.quorum.cut_off() {
            return Err(fenced(core));
        }
    }
}

/// The interests of the edges tailing this leader.
#[derive(Default)]
pub(crate) struct FeedInterests(Mutex<HashMap<u64, Arc<Interest>>>);

/// One edge's interest as its tailer last sent it.
pub(crate) struct Interest {
    held: RwLock<Held>,
    /// The held version; wakes a poll waiting with an older one (its edge has moved on).
    changed: watch::Sender<u64>,
    last_poll: Mutex<Instant>,
}

struct Held {
    version: u64,
    keys: HashSet<InterestKey>,
}

impl FeedInterests {
    /// Takes `update` in; `None` when it builds on a version this leader does not hold.
    /// Changes carry their versions, so a poll that arrives late or twice changes nothing.
    /// Also answers whether the held interest changed.
    fn apply(&self, update: InterestUpdate) -> Option<(Arc<Interest>, bool)> {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        all.retain(|_, interest| now.duration_since(interest.last_polled()) < IDLE_INTEREST);
        let mut advanced = false;
        let interest = match update.change {
            InterestChange::Full(keys) => {
                if !all.contains_key(&update.subscriber) && all.len() >= MAX_INTERESTS {
                    let oldest = all
                        .iter()
                        .min_by_key(|(_, interest)| interest.last_polled())
                        .map(|(id, _)| *id);
                    all.remove(&oldest?);
                }
                let interest = all.entry(update.subscriber).or_insert_with(|| {
                    Arc::new(Interest {
                        held: RwLock::new(Held {
                            version: 0,
                            keys: HashSet::new(),
                        }),
                        changed: watch::channel(0).0,
                        last_poll: Mutex::new(now),
                    })
                });
                let mut held = interest
                    .held
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                if held.version <= update.version {
                    advanced = true;
                    *held = Held {
                        version: update.version,
                        keys: keys.into_iter().collect(),
                    };
                    interest.changed.send_replace(update.version);
                }
                drop(held);
                interest.clone()
            }
            InterestChange::Since { base, changes } => {
                let interest = all.get(&update.subscriber)?.clone();
                let mut held = interest
                    .held
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                if held.version < base {
                    return None;
                }
                for (version, key, added) in changes {
                    if version <= held.version {
                        continue;
                    }
                    if added {
                        held.keys.insert(key);
                    } else {
                        held.keys.remove(&key);
                    }
                }
                if held.version < update.version {
                    advanced = true;
                    held.version = update.version;
                    interest.changed.send_replace(update.version);
                }
                drop(held);
                interest
            }
        };
        *interest
            .last_poll
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = now;
        Some((interest, advanced))
    }
}

impl Interest {
    fn last_polled(&self) -> Instant {
        *self
            .last_poll
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(version: u64, change: InterestChange) -> InterestUpdate {
        InterestUpdate {
            subscriber: 7,
            version,
            change,
        }
    }

    fn keys(interests: &FeedInterests) -> (u64, Vec<InterestKey>) {
        let all = interests.0.lock().unwrap();
        let held = all[&7].held.read().unwrap();
        let mut keys: Vec<_> = held.keys.iter().copied().collect();
        keys.sort();
        (held.version, keys)
    }

    #[test]
    fn changes_apply_once_in_order_and_need_a_held_base() {
        let interests = FeedInterests::default();
        let since = |base, changes| InterestChange::Since { base, changes };
        assert!(
            interests.apply(update(1, since(0, vec![]))).is_none(),
            "nothing held yet"
        );
        interests
            .apply(update(2, InterestChange::Full(vec![10, 20])))
            .unwrap();
        let changes = vec![(3, 30, true), (4, 10, false)];
        interests
            .apply(update(4, since(2, changes.clone())))
            .unwrap();
        assert_eq!(keys(&interests), (4, vec![20, 30]));
        // The same poll arriving again, and one from before it, change nothing.
        interests.apply(update(4, since(2, changes))).unwrap();
        interests
            .apply(update(3, since(2, vec![(3, 30, true)])))
            .unwrap();
        interests
            .apply(update(2, InterestChange::Full(vec![10, 20])))
            .unwrap();
        assert_eq!(keys(&interests), (4, vec![20, 30]));
        // Built on a version the leader never held: it wants all of it.
        assert!(interests.apply(update(9, since(6, vec![]))).is_none());
    }
}
