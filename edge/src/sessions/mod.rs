//! Client sessions: `GET /websocket` upgraded to a WebSocket speaking the JSON protocol of
//! `meridian-proto` (`edge/PROTOCOL.md`). Delivery follows DESIGN §4: each fronted area's
//! feed is tailed in order and fanned out here; a connecting device first syncs from its
//! cursor, so every message reaches it once and in order.

pub(crate) mod auth;
mod commercial;
mod delivery;
pub(crate) mod error;
mod interest;
mod registry;
mod requests;
mod session;
mod socket;
mod tailer;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use http::{header, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use meridian_cluster::state::messages::MAX_CONTENT_BYTES;
use meridian_cluster::state::{Command, EdgeAlive, EdgeStopped, Envelope, Query, QueryOutput};
use meridian_cluster::ClusterClient;
use meridian_regions::AreaCode;
use meridian_telemetry::{json_response, PeerAddr};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::config::SessionSettings;
use crate::metrics::EdgeMetrics;
use crate::moderation::Moderator;
use crate::usage::UsageTally;
pub use auth::ConnectParams;
use meridian_access::directory::AppDirectory;
use registry::Registry;

pub const WEBSOCKET_PATH: &str = "/websocket";
/// A client frame larger than this is refused (content ≤ 128 KiB plus the envelope).
pub const MAX_FRAME_BYTES: usize = MAX_CONTENT_BYTES + 16 * 1024;
/// The chunk a session reads its socket in (larger frames still arrive whole).
const READ_BUFFER_BYTES: usize = 1024;
/// tungstenite keeps its write buffer's largest size: small, so a busy session does not
/// keep much more than one frame.
const WRITE_GATHER_BYTES: usize = 4 * 1024;

/// How often an edge renews its presence lease (which lasts 30 s).
const LEASE_RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// What every session of this edge shares.
pub(crate) struct Shared {
    /// This edge process's identity in presence records (fresh at every start).
    edge_id: u64,
    clients: BTreeMap<AreaCode, Arc<ClusterClient>>,
    /// Each fronted area's media server (`EdgeArea::media`).
    media: BTreeMap<AreaCode, String>,
    directory: Arc<AppDirectory>,
    /// HOOK-02: holds matching messages for the app server's verdict.
    moderator: Moderator,
    registry: Arc<Registry>,
    settings: SessionSettings,
    metrics: EdgeMetrics,
    /// Push clicks counted per app (PUSH-09).
    usage: Arc<UsageTally>,
    /// Turns true once each area's tailer knows where it starts.
    ready: BTreeMap<AreaCode, watch::Receiver<bool>>,
    /// Turns true when the edge drains.
    stop: watch::Receiver<bool>,
    /// Test-only: acknowledge sends before they commit, writing them through these
    /// clients that try once (see [`PLANTED_BUG_ENV`]).
    #[cfg(feature = "planted-bug")]
    ack_before_commit: Option<BTreeMap<AreaCode, Arc<ClusterClient>>>,
    /// Test-only: drop some room notices (see [`PLANTED_BUG_ENV`]).
    #[cfg(feature = "planted-bug")]
    drop_room_notices: bool,
}

/// Environment variable that plants bugs (a comma-separated list) for proving the chaos
/// checker can fail: with `ack-before-commit`, sends are acknowledged at once and written with one
/// try, so a fault during the write loses an acknowledged message; with
/// `drop-room-notice`, sessions skip every room notice at a feed position divisible by
/// [`DROPPED_NOTICE_EVERY`]; with `stale-user-info`, `/user/info.json` answers a user's
/// first read for ever (`server_api/planted.rs`). Only builds with the `planted-bug`
/// feature (the tests') read it.
pub const PLANTED_BUG_ENV: &str = "MERIDIAN_PLANTED_BUG";
/// How rarely the `drop-room-notice` planted bug drops a notice.
#[cfg(feature = "planted-bug")]
const DROPPED_NOTICE_EVERY: u64 = 25;

/// Whether [`PLANTED_BUG_ENV`] plants `bug`.
#[cfg(feature = "planted-bug")]
pub(crate) fn planted(bug: &str) -> bool {
    let planted = std::env::var(PLANTED_BUG_ENV).unwrap_or_default();
    planted.split(',').any(|b| b == bug)
}
/// Whether this build's edges read [`PLANTED_BUG_ENV`].
pub const PLANTED_BUG_AVAILABLE: bool = cfg!(feature = "planted-bug");

impl Shared {
    /// Whether the app lets a page from `origin` open sessions (MSG-10). Requests without
    /// an `Origin` are not from browsers; an unknown app is refused later, by the session.
    async fn origin_allowed(&self, app_key: &str, origin: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        let Ok(app) = self.directory.resolve(app_key).await else {
            return true;
        };
        let Some(client) = self.directory.client(app.area) else {
            return true;
        };
        let query = Query::AppSettings {
            app_key: app_key.to_string(),
        };
        match client.read(query).await {
            Ok(QueryOutput::Settings(settings)) => settings.allows_origin(Some(origin)),
            // Cannot tell now: refuse rather than let an unlisted origin in.
            _ => false,
        }
    }

    async fn tail_ready(&self, area: AreaCode) {
        if let Some(ready) = self.ready.get(&area) {
            let mut ready = ready.clone();
            let _ = ready.wait_for(|ready| *ready).await;
        }
    }
}

/// Keeps this edge's presence lease alive in one area until `stop`.
async fn renew_lease(client: Arc<ClusterClient>, edge_id: u64, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(LEASE_RENEW_EVERY);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            _ = every.tick() => {}
        }
        let alive = Envelope {
            area: client.area(),
            command: Command::EdgeAlive(EdgeAlive { edge_id }),
        };
        if let Err(e) = client.write_one(alive).await {
            tracing::debug!(error = %e, "presence lease not renewed");
        }
    }
}

/// The sessions of one edge and the tailers that feed them.
pub struct Sessions {
    shared: Arc<Shared>,
}

/// What sessions use of the rest of the edge.
pub(crate) struct EdgeServices {
    pub directory: Arc<AppDirectory>,
    pub moderator: Moderator,
    pub metrics: EdgeMetrics,
    pub usage: Arc<UsageTally>,
}

impl Sessions {
    /// Starts one feed tailer per fronted area; they end when `stop` turns true.
    pub(crate) fn start(
        services: EdgeServices,
        clients: &BTreeMap<AreaCode, Arc<ClusterClient>>,
        media: BTreeMap<AreaCode, String>,
        settings: SessionSettings,
        stop: watch::Receiver<bool>,
    ) -> (Self, Vec<JoinHandle<()>>) {
        let EdgeServices {
            directory,
            moderator,
            metrics,
            usage,
        } = services;
        let registry = Arc::new(Registry::default());
        let edge_id = rand::random::<u64>();
        let mut ready = BTreeMap::new();
        let mut tasks = Vec::new();
        for (&area, client) in clients {
            tasks.push(tokio::spawn(renew_lease(
                client.clone(),
                edge_id,
                stop.clone(),
            )));
            let (ready_tx, ready_rx) = watch::channel(false);
            ready.insert(area, ready_rx);
            tasks.push(tokio::spawn(tailer::tail(
                client.clone(),
                registry.clone(),
                settings.filter_feed,
                metrics.clone(),
                ready_tx,
                stop.clone(),
            )));
        }
        let shared = Arc::new(Shared {
            edge_id,
            clients: clients.clone(),
            media,
            directory,
            moderator,
            registry,
            settings,
            metrics,
            usage,
            ready,
            stop,
            #[cfg(feature = "planted-bug")]
            ack_before_commit: planted("ack-before-commit").then(|| {
                clients
                    .iter()
                    .map(|(&area, client)| (area, Arc::new(client.without_retries())))
                    .collect()
            }),
            #[cfg(feature = "planted-bug")]
            drop_room_notices: planted("drop-room-notice"),
        });
        (Self { shared }, tasks)
    }

    pub fn len(&self) -> usize {
        self.shared.registry.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Resolves once every session has ended (after a drain was signalled), then takes
    /// this edge's presence records away at once.
    pub async fn drained(&self) {
        self.shared.registry.drained().await;
        for (&area, client) in &self.shared.clients {
            let stopped = Envelope {
                area,
                command: Command::EdgeStopped(EdgeStopped {
                    edge_id: self.shared.edge_id,
                }),
            };
            if let Err(e) = client.write_one(stopped).await {
                tracing::debug!(%area, error = %e, "edge stop not recorded; its lease will expire");
            }
        }
    }

    /// Takes a WebSocket upgrade of `/websocket`; anything else is handed back.
    #[allow(clippy::result_large_err)]
    pub fn upgrade(
        &self,
        mut request: Request<Incoming>,
    ) -> Result<BoxFuture<'static, Response<Bytes>>, Request<Incoming>> {
        if request.uri().path() != WEBSOCKET_PATH {
            return Err(request);
        }
        let header_is = |name: header::HeaderName, value: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| {
                    v.split(',')
                        .any(|part| part.trim().eq_ignore_ascii_case(value))
                })
        };
        let valid = header_is(header::UPGRADE, "websocket")
            && header_is(header::SEC_WEBSOCKET_VERSION, "13");
        let key = request.headers().get(header::SEC_WEBSOCKET_KEY).cloned();
        let (true, Some(key)) = (valid, key) else {
            let refusal = json_response(
                StatusCode::BAD_REQUEST,
                &json!({"code": meridian_proto::codes::BAD_REQUEST,
                        "error": "a WebSocket upgrade (version 13) is required"}),
            );
            return Ok(futures::future::ready(refusal).boxed());
        };
        let mut params = ConnectParams::parse(request.uri().query().unwrap_or_default());
        if let Some(PeerAddr(peer)) = request.extensions().get::<PeerAddr>() {
            params.client_ip = peer.to_string();
        }
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let upgrade = hyper::upgrade::on(&mut request);
        let shared = self.shared.clone();
        let accept = derive_accept_key(key.as_bytes());
        Ok(async move {
            // MSG-10: a page from an origin the app does not list never gets a session.
            if !shared
                .origin_allowed(&params.app_key, origin.as_deref())
                .await
            {
                return json_response(
                    StatusCode::FORBIDDEN,
                    &json!({"code": 403, "error": "this origin may not open sessions for the app"}),
                );
            }
            tokio::spawn(async move {
                let upgraded = match upgrade.await {
                    Ok(upgraded) => upgraded,
                    Err(e) => {
                        tracing::debug!(error = %e, "websocket upgrade failed");
                        return;
                    }
                };
                // Small buffers: an idle session must cost a few KiB (tungstenite's
                // defaults are 128 KiB each way). Frames gather until a flush (the
                // session flushes each answer, and each batch of queued deliveries) or
                // until WRITE_GATHER_BYTES wait.
                let config = WebSocketConfig::default()
                    .read_buffer_size(READ_BUFFER_BYTES)
                    .write_buffer_size(WRITE_GATHER_BYTES)
                    .max_write_buffer_size(MAX_FRAME_BYTES * 2)
                    .max_message_size(Some(MAX_FRAME_BYTES))
                    .max_frame_size(Some(MAX_FRAME_BYTES));
                let io = TokioIo::new(upgraded);
                let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
                session::run(ws, params, shared).await;
            });
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header(header::UPGRADE, "websocket")
                .header(header::CONNECTION, "Upgrade")
                .header(header::SEC_WEBSOCKET_ACCEPT, accept)
                .body(Bytes::new())
                .unwrap_or_else(|_| Response::new(Bytes::new()))
        }
        .boxed())
    }
}
