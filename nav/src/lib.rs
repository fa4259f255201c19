//! Navigation: the first service a client calls. Given an App Key and a token it answers
//! which edges to use for the app's home area (healthy ones, nearest the client first,
//! then the least loaded), the heartbeat interval and the area's Server API hosts; for an
//! app homed in another area it names that area and its nav hosts.

pub mod answer;
pub mod catalog;
pub mod config;
pub mod cors;
pub mod discovery;
pub mod edges;
pub mod metrics;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Request, Response, StatusCode};
use meridian_access::directory::{AppDirectory, ForeignArea};
use meridian_cluster::ClusterClient;
use meridian_regions::{AreaCode, Catalog};
use meridian_telemetry::{json_response, AdminHooks, AdminServer};
use prometheus::{IntGauge, Registry};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{DnsConfig, LocationPrefix, LocationRules, NavArea, NavConfig, NavRole};

use answer::Navigator;
use catalog::LiveAreas;
use edges::EdgeBook;
use metrics::{EdgeState, NavMetrics};

#[derive(Debug, thiserror::Error)]
pub enum NavError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Bind(#[from] meridian_telemetry::ListenError),
    #[error("{0}")]
    Setup(String),
}

pub struct Nav {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    addr: SocketAddr,
    edges: Arc<EdgeBook>,
    served: Vec<AreaCode>,
}

struct Hooks {
    role: NavRole,
    catalog: Catalog,
    navigator: Arc<Navigator>,
}

impl AdminHooks for Hooks {
    fn stats(&self) -> serde_json::Value {
        let known = self.navigator.edges.known();
        json!({
            "component": "nav",
            "role": self.role,
            "areas": self.navigator.served,
            "catalog": self.catalog.codes().map(|c| c.as_str()).collect::<Vec<_>>(),
            "edges": known.len(),
            "healthyEdges": known.iter().filter(|e| e.healthy()).count(),
        })
    }

    fn route(&self, request: Request<Bytes>) -> BoxFuture<'static, Response<Bytes>> {
        let navigator = self.navigator.clone();
        Box::pin(async move {
            match navigator.handle(request).await {
                Some(response) => response,
                None => json_response(
                    StatusCode::NOT_FOUND,
                    &json!({ "code": 404, "error": "no such path (POST /v2/navi.json, GET /v1/nav)" }),
                ),
            }
        })
    }
}

fn setup<E: std::fmt::Display>(e: E) -> NavError {
    NavError::Setup(e.to_string())
}

impl Nav {
    pub async fn start(config: NavConfig, catalog: Catalog) -> Result<Self, NavError> {
        config.validate().map_err(NavError::Config)?;
        let listener = meridian_telemetry::listen("listen", &config.listen).await?;
        let addr = listener.local_addr().map_err(setup)?;
        let registry = Registry::new();
        let catalog_areas =
            IntGauge::new("meridian_nav_catalog_areas", "Areas in this nav's catalog")
                .map_err(setup)?;
        catalog_areas.set(catalog.codes().count() as i64);
        registry.register(Box::new(catalog_areas)).map_err(setup)?;
        let metrics = NavMetrics::register(&registry).map_err(setup)?;

        let client =
            |nodes: &[String], area| Arc::new(ClusterClient::new(area, nodes.to_vec(), None));
        let served: BTreeMap<_, _> = config
            .areas
            .iter()
            .map(|a| (a.area, client(&a.cluster, a.area)))
            .collect();
        let foreign: BTreeMap<_, _> = config
            .directory
            .iter()
            .map(|a| {
                let foreign = ForeignArea {
                    client: client(&a.cluster, a.area),
                    api: a.api.first().cloned().unwrap_or_default(),
                };
                (a.area, foreign)
            })
            .collect();
        let clusters: Vec<_> = served.iter().map(|(a, c)| (*a, c.clone())).collect();
        let areas = Arc::new(LiveAreas::new(&config.areas, &config.directory));
        let edges = Arc::new(EdgeBook::default());
        edges.learn(config.areas.iter().flat_map(|a| a.edges.iter().cloned()));
        let navigator = Arc::new(Navigator {
            directory: AppDirectory::new(served, foreign),
            edges: edges.clone(),
            areas: areas.clone(),
            served: config.areas.iter().map(|a| a.area).collect(),
            location: config.location.clone(),
            heartbeat_ms: config.heartbeat_ms,
            metrics: metrics.clone(),
        });
        let server = AdminServer::new(
            registry,
            Arc::new(Hooks {
                role: config.role,
                catalog,
                navigator,
            }),
        );
        let (stop, stop_rx) = watch::channel(false);
        let served = config.areas.iter().map(|a| a.area).collect();
        let mut tasks = vec![tokio::spawn(edges.clone().poll(stop_rx.clone()))];
        // A bad DNS setting fails the start when the configuration names SRV records;
        // otherwise it waits until the catalog names one.
        if config.areas.iter().any(|a| a.srv.is_some()) {
            discovery::resolver(&config.dns.servers).map_err(NavError::Config)?;
        }
        tasks.push(tokio::spawn(catalog::refresh(
            clusters,
            areas.clone(),
            edges.clone(),
            stop_rx.clone(),
        )));
        tasks.push(tokio::spawn(discovery::discover(
            config.dns.servers.clone(),
            areas,
            edges.clone(),
            stop_rx.clone(),
        )));
        tasks.push(tokio::spawn(count_edges(
            edges.clone(),
            metrics,
            stop_rx.clone(),
        )));
        let mut stopped = stop_rx;
        tasks.push(tokio::spawn(async move {
            let stopped = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(e) = server.serve(listener, stopped).await {
                tracing::error!(error = %e, "nav listener failed");
            }
        }));
        Ok(Self {
            stop,
            tasks,
            addr,
            edges,
            served,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether a healthy edge of every area it serves is known: before its first poll
    /// finds one, navigation answers 503.
    pub fn has_edges(&self) -> bool {
        self.served
            .iter()
            .all(|area| !self.edges.choose(*area, None).is_empty())
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Keeps `meridian_nav_edges` current.
async fn count_edges(edges: Arc<EdgeBook>, metrics: NavMetrics, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(edges::POLL_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let known = edges.known();
        let healthy = known.iter().filter(|e| e.healthy()).count();
        let edges = &metrics.edges;
        edges
            .with(&EdgeState { state: "known" })
            .set(known.len() as i64);
        edges
            .with(&EdgeState { state: "healthy" })
            .set(healthy as i64);
    }
}
