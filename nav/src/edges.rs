//! What nav knows about edges: each known edge's public address, polled every second on
//! its `/stats` (the areas it serves, its location, its sessions). An edge that has not
//! answered for [`HEALTHY_FOR`] is left out of answers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_regions::AreaCode;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::Instant;

/// How often every edge is polled.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// An edge is healthy while its last good answer is this recent: a dead edge leaves the
/// answers within this plus one poll (under the 5 s NAV-04 asks for).
pub const HEALTHY_FOR: Duration = Duration::from_millis(2_500);
const POLL_TIMEOUT: Duration = Duration::from_millis(900);

/// An edge as the poller last saw it.
#[derive(Debug, Clone)]
pub struct EdgeState {
    /// `http://host:port` or `https://host:port`: its public listener.
    pub base: String,
    pub location: String,
    pub areas: Vec<AreaCode>,
    pub sessions: u64,
    last_ok: Option<Instant>,
}

impl EdgeState {
    pub fn healthy(&self) -> bool {
        self.last_ok.is_some_and(|at| at.elapsed() < HEALTHY_FOR)
    }

    /// `host:port`, as the commercial answer names servers.
    pub fn host_port(&self) -> &str {
        self.base
            .trim_start_matches("http://")
            .trim_start_matches("https://")
    }

    pub fn tls(&self) -> bool {
        self.base.starts_with("https://")
    }

    pub fn ws_url(&self) -> String {
        let scheme = if self.tls() { "wss" } else { "ws" };
        format!("{scheme}://{}/websocket", self.host_port())
    }
}

/// What an edge's `/stats` says (see `edge/src/server.rs`).
#[derive(Deserialize)]
struct EdgeStats {
    location: String,
    areas: Vec<AreaCode>,
    sessions: u64,
}

/// Every edge nav knows of, by base URL.
#[derive(Default)]
pub struct EdgeBook {
    edges: Mutex<BTreeMap<String, EdgeState>>,
}

impl EdgeBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, EdgeState>> {
        self.edges.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds edges not known yet (discovery may name them again and again).
    pub fn learn(&self, bases: impl IntoIterator<Item = String>) {
        let mut edges = self.lock();
        for base in bases {
            edges.entry(base.clone()).or_insert(EdgeState {
                base,
                location: String::new(),
                areas: Vec::new(),
                sessions: 0,
                last_ok: None,
            });
        }
    }

    /// Drops edges no source names any more (taken out of the area catalog).
    pub fn forget(&self, bases: &[String]) {
        let mut edges = self.lock();
        for base in bases {
            edges.remove(base);
        }
    }

    pub fn known(&self) -> Vec<EdgeState> {
        self.lock().values().cloned().collect()
    }

    /// Healthy edges serving `area`: those at `location` first, then the least loaded.
    pub fn choose(&self, area: AreaCode, location: Option<&str>) -> Vec<EdgeState> {
        let mut chosen: Vec<EdgeState> = self
            .lock()
            .values()
            .filter(|e| e.healthy() && e.areas.contains(&area))
            .cloned()
            .collect();
        chosen.sort_by_key(|e| (Some(e.location.as_str()) != location, e.sessions));
        chosen
    }

    async fn poll_one(&self, base: String) {
        let url = format!("{base}/stats");
        let answer = meridian_rpc::http::request("GET", &url, None, None, POLL_TIMEOUT).await;
        let stats = answer
            .ok()
            .filter(|a| a.status == 200)
            .and_then(|a| serde_json::from_slice::<EdgeStats>(&a.body).ok());
        let Some(stats) = stats else {
            return;
        };
        if let Some(edge) = self.lock().get_mut(&base) {
            edge.location = stats.location;
            edge.areas = stats.areas;
            edge.sessions = stats.sessions;
            edge.last_ok = Some(Instant::now());
        }
    }

    /// Polls every known edge each [`POLL_EVERY`] until `stop`.
    pub async fn poll(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut every = tokio::time::interval(POLL_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let bases: Vec<String> = self.lock().keys().cloned().collect();
            futures::future::join_all(bases.into_iter().map(|b| self.poll_one(b))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(base: &str, location: &str, sessions: u64, healthy: bool) -> EdgeState {
        EdgeState {
            base: base.into(),
            location: location.into(),
            areas: vec![AreaCode::Sg],
            sessions,
            last_ok: healthy.then(Instant::now),
        }
    }

    #[test]
    fn nearby_edges_come_first_then_the_least_loaded_and_dead_ones_never() {
        let book = EdgeBook::default();
        for e in [
            edge("http://a:1", "tokyo", 10, true),
            edge("http://b:1", "singapore", 500, true),
            edge("http://c:1", "singapore", 20, true),
            edge("http://d:1", "singapore", 0, false),
        ] {
            book.lock().insert(e.base.clone(), e);
        }
        let order = |location| -> Vec<String> {
            book.choose(AreaCode::Sg, location)
                .into_iter()
                .map(|e| e.base)
                .collect()
        };
        assert_eq!(
            order(Some("singapore")),
            ["http://c:1", "http://b:1", "http://a:1"]
        );
        assert_eq!(order(None), ["http://a:1", "http://c:1", "http://b:1"]);
        assert!(book.choose(AreaCode::Na, None).is_empty());
    }

    #[test]
    fn addresses_and_schemes() {
        let plain = edge("http://127.0.0.1:7010", "x", 0, true);
        assert_eq!(plain.host_port(), "127.0.0.1:7010");
        assert_eq!(plain.ws_url(), "ws://127.0.0.1:7010/websocket");
        let tls = edge("https://edge.example:443", "x", 0, true);
        assert!(tls.tls());
        assert_eq!(tls.ws_url(), "wss://edge.example:443/websocket");
    }
}
