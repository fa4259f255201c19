//! One task per fronted area follows the area's feed from its leader and hands each
//! event, in order, to the registry. It sends the leader the edge's interest (the keys
//! its sessions are routed by, `interest.rs`), so the leader passes over the events that
//! concern none of them.

use std::sync::Arc;
use std::time::Duration;

use meridian_cluster::api::InterestUpdate;
use meridian_cluster::state::FeedPage;
use meridian_cluster::{ClusterClient, ClusterError};
use tokio::sync::watch;
use tokio::time::Instant;

use super::registry::Registry;
use crate::metrics::EdgeMetrics;

const PAGE: usize = 1_000;
const LONG_POLL: Duration = Duration::from_secs(4);
const RETRY: Duration = Duration::from_millis(200);
/// A poll in flight this long is given up for one carrying the keys added since, so new
/// sessions wait little for the leader to filter by their keys, and a burst of them
/// shares one change.
const RESEND_AFTER: Duration = Duration::from_millis(20);
/// After a leader of an older build could not filter, the tailer asks again this often.
const RETRY_FILTERED: Duration = Duration::from_secs(60);

/// What one poll brought.
enum Answer {
    /// Filtered by the interest version, through this position.
    Filtered(FeedPage, u64, u64),
    /// The leader wants the whole interest.
    InterestUnknown,
    Whole(FeedPage),
}

/// Follows the feed until `stop`; `ready` turns true once the starting position is known
/// (sessions sync only after that, so nothing falls between their sync and the tail).
pub async fn tail(
    client: Arc<ClusterClient>,
    registry: Arc<Registry>,
    filter: bool,
    metrics: EdgeMetrics,
    ready: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let subscriber: u64 = rand::random();
    let mut pos = None;
    let mut leader_holds = None;
    let mut whole_until: Option<Instant> = None;
    let mut additions = registry.interest_additions(client.area());
    if !filter {
        registry.feed_unfiltered(client.area());
    }
    loop {
        let after = pos.unwrap_or(u64::MAX);
        let wait = if pos.is_some() {
            LONG_POLL
        } else {
            Duration::ZERO
        };
        let filtered = filter && whole_until.is_none_or(|until| Instant::now() >= until);
        additions.mark_unchanged();
        let sent = Instant::now();
        let poll = async {
            if !filtered {
                return client.feed(after, PAGE, wait).await.map(Answer::Whole);
            }
            let (version, change) = registry.interest_update(client.area(), leader_holds);
            let interest = InterestUpdate {
                subscriber,
                version,
                change,
            };
            Ok(match client.feed_for(after, PAGE, wait, interest).await? {
                Some(feed) => Answer::Filtered(feed.page, feed.version, feed.through),
                None => Answer::InterestUnknown,
            })
        };
        let newer_interest = async {
            let _ = additions.changed().await;
            tokio::time::sleep_until(sent + RESEND_AFTER).await;
        };
        let answer = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            answer = poll => answer,
            () = newer_interest, if filtered => continue,
        };
        let (page, version, through) = match answer {
            Ok(Answer::Filtered(page, version, through)) => {
                leader_holds = Some(version);
                (page, Some(version), through)
            }
            Ok(Answer::InterestUnknown) => {
                leader_holds = None;
                continue;
            }
            Ok(Answer::Whole(page)) => (page, None, after),
            Err(ClusterError::NotUnderstood(reason)) if filtered => {
                tracing::warn!(area = %client.area(), %reason, "the leader cannot filter the feed (an older build); reading all of it");
                registry.feed_unfiltered(client.area());
                leader_holds = None;
                whole_until = Some(Instant::now() + RETRY_FILTERED);
                continue;
            }
            Err(e) => {
                tracing::debug!(area = %client.area(), error = %e, "feed read failed; retrying");
                tokio::select! {
                    _ = stop.wait_for(|stop| *stop) => return,
                    () = tokio::time::sleep(RETRY) => continue,
                }
            }
        };
        let arrived = Instant::now();
        registry.begin_page(client.area(), version);
        let Some(current) = pos else {
            pos = Some(page.head);
            let _ = ready.send(true);
            continue;
        };
        if page.missed {
            tracing::warn!(area = %client.area(), after = current, "feed events were pruned before this edge read them; every session resyncs");
            registry.all_behind();
        }
        let mut last = current.max(through);
        for (event_pos, event) in page.events {
            metrics.feed_events.inc();
            registry.dispatch(event_pos, event, arrived);
            last = last.max(event_pos);
        }
        pos = Some(last);
    }
}
