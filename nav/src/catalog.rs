//! The areas as nav sees them right now: its configuration, overlaid with the area
//! catalog operators keep in each served area's cluster (`/admin/v1/areas`, Terraform's
//! `meridian_area`). The catalog is read again every [`REFRESH_EVERY`], so a new API
//! host, nav host or edge source reaches clients without restarting nav.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use meridian_cluster::state::{Query, QueryOutput};
use meridian_cluster::ClusterClient;
use meridian_regions::{AreaCode, CatalogEntry};
use tokio::sync::watch;

use crate::config::NavArea;
use crate::edges::EdgeBook;

pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

pub struct LiveAreas {
    configured: BTreeMap<AreaCode, NavArea>,
    served: Vec<AreaCode>,
    current: RwLock<BTreeMap<AreaCode, NavArea>>,
}

impl LiveAreas {
    pub fn new(served: &[NavArea], directory: &[NavArea]) -> Self {
        let configured: BTreeMap<_, _> = served
            .iter()
            .chain(directory)
            .map(|a| (a.area, a.clone()))
            .collect();
        Self {
            current: RwLock::new(configured.clone()),
            served: served.iter().map(|a| a.area).collect(),
            configured,
        }
    }

    pub fn get(&self, area: AreaCode) -> Option<NavArea> {
        self.read().get(&area).cloned()
    }

    /// The areas this nav answers for, as they are now.
    pub fn served(&self) -> Vec<NavArea> {
        let current = self.read();
        self.served
            .iter()
            .filter_map(|code| current.get(code).cloned())
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<AreaCode, NavArea>> {
        self.current.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The configuration with `entries` laid over it.
    fn apply(&self, entries: &BTreeMap<AreaCode, CatalogEntry>) {
        let mut areas = self.configured.clone();
        for (code, entry) in entries {
            let area = areas.entry(*code).or_insert_with(|| NavArea {
                area: *code,
                cluster: Vec::new(),
                edges: Vec::new(),
                srv: None,
                edge_tls: false,
                api: Vec::new(),
                nav: Vec::new(),
            });
            overlay(area, entry);
        }
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = areas;
    }
}

/// What the catalog says wins; the configuration's static edges stay.
fn overlay(area: &mut NavArea, entry: &CatalogEntry) {
    area.api = vec![entry.api.primary.clone(), entry.api.backup.clone()];
    area.nav = vec![entry.nav.primary.clone(), entry.nav.backup.clone()];
    let scheme = if entry.edges.tls { "https" } else { "http" };
    for edge in &entry.edges.static_edges {
        let base = match edge.contains("://") {
            true => edge.clone(),
            false => format!("{scheme}://{edge}"),
        };
        if !area.edges.contains(&base) {
            area.edges.push(base);
        }
    }
    if entry.edges.discovery.is_some() {
        area.srv = entry.edges.discovery.clone();
        area.edge_tls = entry.edges.tls;
    }
}

/// Reads the catalog from every served area's cluster each [`REFRESH_EVERY`] until
/// `stop`. An area's own entry comes from its own cluster; another area's from the first
/// served cluster that has one. If a cluster cannot be read, the last catalog stays.
pub async fn refresh(
    clusters: Vec<(AreaCode, Arc<ClusterClient>)>,
    areas: Arc<LiveAreas>,
    edges: Arc<EdgeBook>,
    mut stop: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(REFRESH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let mut merged = BTreeMap::new();
        let mut complete = true;
        for (served, cluster) in &clusters {
            match cluster.read(Query::AreaCatalog).await {
                Ok(QueryOutput::AreaCatalog(entries)) => {
                    for entry in entries {
                        if entry.code == *served {
                            merged.insert(entry.code, entry);
                        } else {
                            merged.entry(entry.code).or_insert(entry);
                        }
                    }
                }
                Ok(other) => {
                    tracing::warn!(area = %served, answer = ?other, "unexpected catalog answer");
                    complete = false;
                }
                Err(error) => {
                    tracing::debug!(area = %served, %error, "area catalog not read");
                    complete = false;
                }
            }
        }
        if complete {
            areas.apply(&merged);
            edges.learn(areas.served().into_iter().flat_map(|a| a.edges));
        }
    }
}

#[cfg(test)]
mod tests {
    use meridian_regions::{EdgeDiscovery, HostPair};

    use super::*;

    fn pair(primary: &str, backup: &str) -> HostPair {
        HostPair {
            primary: primary.into(),
            backup: backup.into(),
        }
    }

    fn configured(area: AreaCode) -> NavArea {
        NavArea {
            area,
            cluster: vec!["127.0.0.1:7100".into()],
            edges: vec!["http://127.0.0.1:8080".into()],
            srv: None,
            edge_tls: false,
            api: vec!["http://127.0.0.1:8080".into()],
            nav: vec!["http://127.0.0.1:8081".into()],
        }
    }

    // covers: NAV-01
    #[test]
    fn the_catalog_overlays_the_configuration_and_a_new_catalog_replaces_the_last() {
        let areas = LiveAreas::new(&[configured(AreaCode::Sg)], &[]);
        let sg = CatalogEntry {
            code: AreaCode::Sg,
            nav: pair("nav-sg.example.com", "nav-sg-b.example.com"),
            api: pair("https://api-sg.example.com", "https://api-sg-b.example.com"),
            edges: EdgeDiscovery {
                discovery: Some("_meridian-edge._tcp.sg.example.com".into()),
                static_edges: vec!["edge-1.example.com:443".into()],
                tls: true,
            },
        };
        let na = CatalogEntry {
            code: AreaCode::Na,
            nav: pair("nav-na.example.com", "nav-na-b.example.com"),
            api: pair("https://api-na.example.com", "https://api-na-b.example.com"),
            edges: EdgeDiscovery {
                discovery: None,
                static_edges: vec!["http://edge-na.example.com:80".into()],
                tls: false,
            },
        };
        areas.apply(&BTreeMap::from([(AreaCode::Sg, sg), (AreaCode::Na, na)]));

        let now = areas.get(AreaCode::Sg).unwrap();
        assert_eq!(
            now.api,
            ["https://api-sg.example.com", "https://api-sg-b.example.com"]
        );
        assert_eq!(now.nav, ["nav-sg.example.com", "nav-sg-b.example.com"]);
        assert_eq!(
            now.edges,
            ["http://127.0.0.1:8080", "https://edge-1.example.com:443"]
        );
        assert_eq!(
            now.srv.as_deref(),
            Some("_meridian-edge._tcp.sg.example.com")
        );
        assert!(now.edge_tls);
        assert_eq!(now.cluster, ["127.0.0.1:7100"]);
        // An area nav does not serve is named, not served.
        let na = areas.get(AreaCode::Na).unwrap();
        assert_eq!(na.nav, ["nav-na.example.com", "nav-na-b.example.com"]);
        assert_eq!(na.edges, ["http://edge-na.example.com:80"]);
        assert_eq!(
            areas.served().iter().map(|a| a.area).collect::<Vec<_>>(),
            [AreaCode::Sg]
        );

        // An entry deleted from the catalog leaves the configuration as it was.
        areas.apply(&BTreeMap::new());
        assert_eq!(areas.get(AreaCode::Sg), Some(configured(AreaCode::Sg)));
        assert_eq!(areas.get(AreaCode::Na), None);
    }
}
