//! One task per fronted area follows the area's feed from its leader and hands each
//! event, in order, to the registry.

use std::sync::Arc;
use std::time::Duration;

use meridian_cluster::ClusterClient;
use tokio::sync::watch;

use super::registry::Registry;
use crate::metrics::EdgeMetrics;

const PAGE: usize = 1_000;
const LONG_POLL: Duration = Duration::from_secs(4);
const RETRY: Duration = Duration::from_millis(200);

/// Follows the feed until `stop`; `ready` turns true once the starting position is known
/// (sessions sync only after that, so nothing falls between their sync and the tail).
pub async fn tail(
    client: Arc<ClusterClient>,
    registry: Arc<Registry>,
    metrics: EdgeMetrics,
    ready: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let mut pos = None;
    loop {
        let after = pos.unwrap_or(u64::MAX);
        let wait = if pos.is_some() {
            LONG_POLL
        } else {
            Duration::ZERO
        };
        let page = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            page = client.feed(after, PAGE, wait) => page,
        };
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                tracing::debug!(area = %client.area(), error = %e, "feed read failed; retrying");
                tokio::select! {
                    _ = stop.wait_for(|stop| *stop) => return,
                    () = tokio::time::sleep(RETRY) => continue,
                }
            }
        };
        let Some(current) = pos else {
            pos = Some(page.head);
            let _ = ready.send(true);
            continue;
        };
        if page.missed {
            tracing::warn!(area = %client.area(), after = current, "feed events were pruned before this edge read them; every session resyncs");
            registry.all_behind();
        }
        let mut last = current;
        for (event_pos, event) in page.events {
            metrics.feed_events.inc();
            registry.dispatch(event_pos, event);
            last = event_pos;
        }
        pos = Some(last);
    }
}
