use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use http::StatusCode;
use meridian_cluster::admin::AdminApi;
use meridian_cluster::ClusterClient;
use meridian_files::Store;
use meridian_regions::AreaCode;
use meridian_rpc::{OutboundClient, TlsSettings};
use meridian_telemetry::{json_response, AdminHooks, AdminServer, StreamBody};
use prometheus::Registry;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{ConfigError, EdgeConfig};
use crate::files::{Files, Sweeper};
use crate::metrics::{AdminAnswer, EdgeMetrics};
use crate::moderation::Moderator;
use crate::server_api::{ServerApi, MAX_BODY_BYTES};
use crate::sessions::{EdgeServices, Sessions};
use crate::usage::UsageTally;
use meridian_access::directory::{AppDirectory, ForeignArea};

/// How long a shutting-down edge waits for its sessions to take the reconnect hint.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Header naming the area an admin call is for, when an edge fronts several.
pub const AREA_HEADER: &str = "x-meridian-area";

#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Listen(#[from] meridian_telemetry::ListenError),
    #[error("{0}")]
    Setup(String),
}

pub struct Edge {
    stop: watch::Sender<bool>,
    fronted: Arc<Fronted>,
    tasks: Vec<JoinHandle<()>>,
    public_addr: SocketAddr,
    admin_addr: SocketAddr,
}

struct Fronted {
    areas: BTreeMap<AreaCode, AdminApi>,
    server_api: Arc<ServerApi>,
    files: Arc<Files>,
    sessions: Sessions,
    metrics: EdgeMetrics,
    location: String,
}

impl Fronted {
    /// The area an admin call targets: the header, or the only area served. A refusal
    /// is (status, code, message).
    fn area_of(
        &self,
        request: &http::Request<Bytes>,
    ) -> Result<AreaCode, (StatusCode, &'static str, String)> {
        let header = request
            .headers()
            .get(AREA_HEADER)
            .and_then(|v| v.to_str().ok());
        let area = match header {
            Some(code) => code
                .parse::<AreaCode>()
                .map_err(|e| (StatusCode::BAD_REQUEST, "invalid", e.to_string()))?,
            None => match self.areas.keys().next() {
                Some(&only) if self.areas.len() == 1 => only,
                _ => {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        "invalid",
                        format!("this edge fronts several areas: set the {AREA_HEADER} header"),
                    ))
                }
            },
        };
        if !self.areas.contains_key(&area) {
            return Err((
                StatusCode::MISDIRECTED_REQUEST,
                "wrong_area",
                format!("this edge does not serve area {area}"),
            ));
        }
        Ok(area)
    }
}

struct PublicHooks(Arc<Fronted>);

impl AdminHooks for PublicHooks {
    fn stats(&self) -> serde_json::Value {
        stats(&self.0)
    }

    fn upgrade(
        &self,
        request: http::Request<hyper::body::Incoming>,
    ) -> Result<BoxFuture<'static, http::Response<Bytes>>, http::Request<hyper::body::Incoming>>
    {
        self.0.sessions.upgrade(request)
    }

    fn stream(
        &self,
        request: http::Request<hyper::body::Incoming>,
    ) -> Result<BoxFuture<'static, http::Response<StreamBody>>, http::Request<hyper::body::Incoming>>
    {
        if Files::owns(request.uri().path()) {
            Ok(self.0.files.clone().handle(request))
        } else {
            Err(request)
        }
    }

    fn route(&self, request: http::Request<Bytes>) -> BoxFuture<'static, http::Response<Bytes>> {
        let fronted = self.0.clone();
        async move {
            if request.uri().path() == PROBE_PATH {
                return probe_answer();
            }
            if ServerApi::owns(request.uri().path()) {
                return fronted.server_api.handle(request).await;
            }
            let area = match fronted.area_of(&request) {
                Ok(area) => area,
                Err((status, code, message)) => {
                    return json_response(status, &json!({ "code": code, "error": message }))
                }
            };
            let response = match fronted.areas.get(&area) {
                Some(admin) => admin.handle(request).await,
                None => json_response(
                    StatusCode::MISDIRECTED_REQUEST,
                    &json!({"code": "wrong_area"}),
                ),
            };
            fronted
                .metrics
                .admin_requests
                .with(&AdminAnswer {
                    area: area.as_str(),
                    code: response.status().as_u16(),
                })
                .inc();
            response
        }
        .boxed()
    }
}

/// The commercial 2.x Web SDKs probe every edge nav names with `GET /ping` from the page
/// (a cross-origin request), and open `/websocket` only on those answering 200.
const PROBE_PATH: &str = "/ping";

fn probe_answer() -> http::Response<Bytes> {
    let mut answer = json_response(StatusCode::OK, &json!({ "code": 200 }));
    // It says nothing but "up", to any page.
    answer.headers_mut().insert(
        http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        http::HeaderValue::from_static("*"),
    );
    answer
}

struct AdminPortHooks(Arc<Fronted>);

impl AdminHooks for AdminPortHooks {
    fn stats(&self) -> serde_json::Value {
        stats(&self.0)
    }
}

fn stats(fronted: &Fronted) -> serde_json::Value {
    json!({
        "component": "edge",
        "location": fronted.location,
        "areas": fronted.areas.keys().map(|a| a.as_str()).collect::<Vec<_>>(),
        "sessions": fronted.sessions.len(),
    })
}

impl Edge {
    pub async fn start(config: EdgeConfig) -> Result<Self, EdgeError> {
        config.validate()?;
        let public = meridian_telemetry::listen("listen", &config.listen).await?;
        let admin = meridian_telemetry::listen("admin_listen", &config.admin_listen).await?;
        let setup = |e: &dyn std::fmt::Display| EdgeError::Setup(e.to_string());
        let public_addr = public.local_addr().map_err(|e| setup(&e))?;
        let admin_addr = admin.local_addr().map_err(|e| setup(&e))?;
        let tls = match &config.tls {
            Some(files) => Some(TlsSettings::load(files).map_err(|e| setup(&e))?),
            None => None,
        };
        let registry = Registry::new();
        let metrics =
            EdgeMetrics::register(&registry, config.areas.len()).map_err(|e| setup(&e))?;
        let clients: BTreeMap<AreaCode, Arc<ClusterClient>> = config
            .areas
            .iter()
            .map(|entry| {
                let routes = entry
                    .routes
                    .iter()
                    .map(|route| (route.id, route.addr.clone()))
                    .collect();
                let client =
                    ClusterClient::routed(entry.area, entry.cluster.clone(), tls.clone(), routes);
                (entry.area, Arc::new(client))
            })
            .collect();
        let areas = clients
            .iter()
            .map(|(&area, client)| {
                (
                    area,
                    AdminApi::new(config.operator_token.clone(), client.clone()),
                )
            })
            .collect();
        let foreign = config
            .directory
            .iter()
            .map(|entry| {
                let client = ClusterClient::new(entry.area, entry.cluster.clone(), tls.clone());
                let foreign = ForeignArea {
                    client: Arc::new(client),
                    api: entry.api.clone(),
                };
                (entry.area, foreign)
            })
            .collect();
        let directory = Arc::new(AppDirectory::new(clients.clone(), foreign));
        let usage = Arc::new(UsageTally::new(clients.clone()));
        let server_api = Arc::new(ServerApi::new(
            directory.clone(),
            metrics.clone(),
            usage.clone(),
            config.rate_limits,
            config.public_tls.is_some(),
        ));
        let mut stores = BTreeMap::new();
        for entry in &config.areas {
            if let (Some(files), Some(client)) = (&entry.files, clients.get(&entry.area)) {
                let store = Store::open(files)
                    .map_err(|e| setup(&format!("area {} files: {e}", entry.area)))?;
                stores.insert(entry.area, (store, client.clone()));
            }
        }
        let (stop, stop_rx) = watch::channel(false);
        let sweep_every = Duration::from_millis(config.file_sweep_ms);
        let sweepers: Vec<_> = stores
            .iter()
            .map(|(area, (store, cluster))| {
                let sweeper = Sweeper {
                    store: store.clone(),
                    cluster: cluster.clone(),
                    metrics: metrics.clone(),
                    area: area.as_str(),
                };
                tokio::spawn(sweeper.run(sweep_every, stop_rx.clone()))
            })
            .collect();
        let files = Arc::new(Files::new(
            stores,
            directory.clone(),
            server_api.clone(),
            metrics.clone(),
            config.public_tls.is_some(),
        ));
        let outbound =
            OutboundClient::with_ca_files(&config.outbound_ca_files).map_err(|e| setup(&e))?;
        let moderator = Moderator::new(outbound, metrics.moderation_seconds.clone());
        let services = EdgeServices {
            directory,
            moderator,
            metrics: metrics.clone(),
            usage: usage.clone(),
        };
        let (sessions, mut tasks) = Sessions::start(
            services,
            &clients,
            config
                .areas
                .iter()
                .filter_map(|entry| Some((entry.area, entry.media.clone()?)))
                .collect(),
            config.sessions.clone(),
            stop_rx.clone(),
        );
        let fronted = Arc::new(Fronted {
            areas,
            server_api,
            files,
            sessions,
            metrics,
            location: config.location.clone(),
        });

        let wait = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        // Server API bodies over its own limit get its 1508 answer; this bound only
        // protects the process.
        let mut public_server =
            AdminServer::new(Registry::new(), Arc::new(PublicHooks(fronted.clone())))
                .body_limit(8 * MAX_BODY_BYTES);
        if let Some(files) = &config.public_tls {
            public_server = public_server.tls(files.server_config().map_err(|e| setup(&e))?);
        }
        let admin_server = AdminServer::new(registry, Arc::new(AdminPortHooks(fronted.clone())));
        tasks.extend(sweepers);
        let usage_every = Duration::from_millis(config.usage_flush_ms);
        tasks.push(tokio::spawn(usage.run(usage_every, stop_rx.clone())));
        tasks.extend([
            tokio::spawn({
                let stop = wait(stop_rx.clone());
                async move {
                    if let Err(e) = public_server.serve(public, stop).await {
                        tracing::error!(error = %e, "edge public listener failed");
                    }
                }
            }),
            tokio::spawn({
                let stop = wait(stop_rx);
                async move {
                    if let Err(e) = admin_server.serve(admin, stop).await {
                        tracing::error!(error = %e, "edge admin listener failed");
                    }
                }
            }),
        ]);
        Ok(Self {
            stop,
            fronted,
            tasks,
            public_addr,
            admin_addr,
        })
    }

    pub fn public_addr(&self) -> SocketAddr {
        self.public_addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Stops accepting, tells every client to reconnect elsewhere (`reconnect`) and waits
    /// a bounded time for their sessions to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(DRAIN_TIMEOUT, self.fronted.sessions.drained())
            .await
            .is_err()
        {
            tracing::warn!(
                sessions = self.fronted.sessions.len(),
                "sessions still open after the drain timeout"
            );
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
