//! The areas as nav sees them right now: its configuration, overlaid with the area
//! catalog operators keep in each served area's cluster (`/admin/v1/areas`, Terraform's
//! `meridian_area`). The catalog is read again every [`REFRESH_EVERY`], so a new API
//! host, nav host or edge source reaches clients without restarting nav.

use std::collections::{BTreeMap, BTreeSet};
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
    /// The catalog last laid over the configuration.
    catalog: RwLock<BTreeMap<AreaCode, CatalogEntry>>,
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
            catalog: RwLock::default(),
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

    /// The configuration with `entries` laid over it. Answers the edges the last catalog
    /// named for a served area that neither this one nor the configuration names.
    fn apply(&self, entries: &BTreeMap<AreaCode, CatalogEntry>) -> Vec<String> {
        let served_bases = |catalog: &BTreeMap<AreaCode, CatalogEntry>| -> BTreeSet<String> {
            self.served
                .iter()
                .filter_map(|code| catalog.get(code))
                .flat_map(static_bases)
                .collect()
        };
        let before = served_bases(&self.last_catalog());
        let after = served_bases(entries);
        let configured: BTreeSet<&String> = self
            .served
            .iter()
            .filter_map(|code| self.configured.get(code))
            .flat_map(|area| &area.edges)
            .collect();
        let left = before
            .difference(&after)
            .filter(|base| !configured.contains(base))
            .cloned()
            .collect();
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
        *self.catalog.write().unwrap_or_else(|p| p.into_inner()) = entries.clone();
        left
    }

    fn last_catalog(&self) -> BTreeMap<AreaCode, CatalogEntry> {
        self.catalog
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// An entry's static edges as the base URLs nav polls.
fn static_bases(entry: &CatalogEntry) -> impl Iterator<Item = String> + '_ {
    let scheme = if entry.edges.tls { "https" } else { "http" };
    entry
        .edges
        .static_edges
        .iter()
        .map(move |edge| match edge.contains("://") {
            true => edge.clone(),
            false => format!("{scheme}://{edge}"),
        })
}

/// What the catalog says wins; the configuration's static edges stay.
fn overlay(area: &mut NavArea, entry: &CatalogEntry) {
    area.api = vec![entry.api.primary.clone(), entry.api.backup.clone()];
    area.nav = vec![entry.nav.primary.clone(), entry.nav.backup.clone()];
    for base in static_bases(entry) {
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
/// served cluster that has one. While a cluster cannot be read, what the others say
/// still changes the catalog, but no entry is dropped (it may be the unread cluster's).
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
        let mut answers = Vec::new();
        for (served, cluster) in &clusters {
            let entries = match cluster.read(Query::AreaCatalog).await {
                Ok(QueryOutput::AreaCatalog(entries)) => Some(entries),
                Ok(other) => {
                    tracing::warn!(area = %served, answer = ?other, "unexpected catalog answer");
                    None
                }
                Err(error) => {
                    tracing::debug!(area = %served, %error, "area catalog not read");
                    None
                }
            };
            answers.push((*served, entries));
        }
        let merged = merge(answers, areas.last_catalog());
        let left = areas.apply(&merged);
        edges.forget(&left);
        edges.learn(areas.served().into_iter().flat_map(|a| a.edges));
    }
}

/// One refresh's catalog from what each served cluster answered (`None`: not read).
fn merge(
    answers: Vec<(AreaCode, Option<Vec<CatalogEntry>>)>,
    last: BTreeMap<AreaCode, CatalogEntry>,
) -> BTreeMap<AreaCode, CatalogEntry> {
    let mut merged = BTreeMap::new();
    let mut complete = true;
    for (served, entries) in answers {
        let Some(entries) = entries else {
            complete = false;
            continue;
        };
        for entry in entries {
            if entry.code == served {
                merged.insert(entry.code, entry);
            } else {
                merged.entry(entry.code).or_insert(entry);
            }
        }
    }
    if !complete {
        for (code, last) in last {
            merged.entry(code).or_insert(last);
        }
    }
    merged
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
        let left = areas.apply(&BTreeMap::from([(AreaCode::Sg, sg), (AreaCode::Na, na)]));
        assert!(left.is_empty());

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

        // An entry deleted from the catalog leaves the configuration as it was, and its
        // edges are to be forgotten (not the configured one).
        assert_eq!(
            areas.apply(&BTreeMap::new()),
            ["https://edge-1.example.com:443"]
        );
        assert_eq!(areas.get(AreaCode::Sg), Some(configured(AreaCode::Sg)));
        assert_eq!(areas.get(AreaCode::Na), None);
    }

    fn entry(code: AreaCode, api: &str) -> CatalogEntry {
        CatalogEntry {
            code,
            nav: pair("nav.example.com", "nav-b.example.com"),
            api: pair(api, api),
            edges: EdgeDiscovery {
                discovery: Some("_e._tcp.example.com".into()),
                static_edges: Vec::new(),
                tls: true,
            },
        }
    }

    // covers: NAV-01
    #[test]
    fn an_areas_own_cluster_has_the_last_word_and_an_unread_one_drops_nothing() {
        let (sg, na) = (AreaCode::Sg, AreaCode::Na);
        // SG's cluster and NA's disagree about NA: NA's own entry wins.
        let answers = vec![
            (
                sg,
                Some(vec![entry(sg, "https://sg"), entry(na, "https://na-old")]),
            ),
            (na, Some(vec![entry(na, "https://na")])),
        ];
        let merged = merge(answers, BTreeMap::new());
        assert_eq!(merged[&na].api.primary, "https://na");
        assert_eq!(merged[&sg].api.primary, "https://sg");
        // NA's cluster cannot be read: SG's change goes through, NA's entry stays.
        let answers = vec![(sg, Some(vec![entry(sg, "https://sg2")])), (na, None)];
        let merged = merge(answers, merged);
        assert_eq!(merged[&sg].api.primary, "https://sg2");
        assert_eq!(merged[&na].api.primary, "https://na");
        // Both read again: an entry no cluster has any more is gone.
        let answers = vec![
            (sg, Some(vec![entry(sg, "https://sg2")])),
            (na, Some(vec![])),
        ];
        assert_eq!(merge(answers, merged).keys().collect::<Vec<_>>(), [&sg]);
    }
}
