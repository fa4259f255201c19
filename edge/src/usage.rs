//! What an edge counts for its apps' usage figures (CON-01, PUSH-09): Server API calls
//! by path and result, and push notifications the SDK reports tapped. Counts gather per
//! app and hour in memory and go to the app's area as one `RecordUsage` per app every
//! flush (and when the edge stops).
//!
//! A flush that certainly did not commit (no leader, no answer before the write was
//! sent) is kept for the next one; one whose outcome is unknown is dropped rather than
//! risk counting twice. These are figures for charts, not for billing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_clock::now_ms;
use meridian_cluster::client::{ClusterClient, ClusterError};
use meridian_cluster::state::usage::{hour_start, Category, RecordUsage, ReportedCount};
use meridian_cluster::state::{Command, Envelope};
use meridian_regions::AreaCode;
use tokio::sync::watch;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Counted {
    area: AreaCode,
    app_key: String,
    hour_start_ms: u64,
    category: Category,
    name: String,
}

pub struct UsageTally {
    counts: Mutex<HashMap<Counted, u64>>,
    clients: BTreeMap<AreaCode, Arc<ClusterClient>>,
}

impl UsageTally {
    pub fn new(clients: BTreeMap<AreaCode, Arc<ClusterClient>>) -> Self {
        Self {
            counts: Mutex::default(),
            clients,
        }
    }

    fn count(&self, area: AreaCode, app_key: &str, category: Category, name: String) {
        let counted = Counted {
            area,
            app_key: app_key.to_string(),
            hour_start_ms: hour_start(now_ms()),
            category,
            name,
        };
        *self.lock().entry(counted).or_default() += 1;
    }

    /// A Server API call the app signed, answered with success or an error.
    pub fn api_call(&self, area: AreaCode, app_key: &str, path: &str, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.count(area, app_key, Category::Api, format!("{path} {result}"));
    }

    /// A notification from `provider` that the user tapped (the SDK's `pushClicked`).
    pub fn push_clicked(&self, area: AreaCode, app_key: &str, provider: &str) {
        self.count(area, app_key, Category::Push, format!("{provider}.clicked"));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Counted, u64>> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends what was counted since the last flush, one report per app.
    pub async fn flush(&self) {
        let taken = std::mem::take(&mut *self.lock());
        let mut reports: BTreeMap<(AreaCode, String), Vec<(Counted, u64)>> = BTreeMap::new();
        for (counted, count) in taken {
            let app = (counted.area, counted.app_key.clone());
            reports.entry(app).or_default().push((counted, count));
        }
        for ((area, app_key), counts) in reports {
            let Some(client) = self.clients.get(&area) else {
                continue;
            };
            for chunk in counts.chunks(meridian_cluster::state::usage::MAX_REPORTED) {
                let command = Command::RecordUsage(RecordUsage {
                    app_key: app_key.clone(),
                    counts: chunk
                        .iter()
                        .map(|(counted, count)| ReportedCount {
                            hour_start_ms: counted.hour_start_ms,
                            category: counted.category,
                            name: counted.name.clone(),
                            count: *count,
                        })
                        .collect(),
                });
                match client.write_one(Envelope { area, command }).await {
                    Ok(_) => {}
                    Err(ClusterError::NoLeader { .. } | ClusterError::Rpc(_)) => {
                        let mut counts = self.lock();
                        for (counted, count) in chunk {
                            *counts.entry(counted.clone()).or_default() += count;
                        }
                    }
                    // Refused (the app is gone, an hour too old) or unknown: dropped.
                    Err(e) => tracing::debug!(error = %e, app_key, "usage counts dropped"),
                }
            }
        }
    }

    /// Flushes every `every` until `stop`, then once more.
    pub async fn run(self: Arc<Self>, every: Duration, mut stop: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !*stop.borrow() {
            tokio::select! {
                _ = ticks.tick() => self.flush().await,
                changed = stop.changed() => if changed.is_err() { break },
            }
        }
        self.flush().await;
    }
}
