//! The admin HTTP endpoint every Meridian process (nav, edge, cluster node)
//! serves, over HTTP/1.1 and HTTP/2 (cleartext, prior knowledge) on one port:
//!
//! | path       | answer |
//! |------------|--------|
//! | `/metrics` | Prometheus text format of the registry (process metrics refreshed first) |
//! | `/stats`   | JSON from [`AdminHooks::stats`] |
//! | `/healthz` | liveness: always `200 ok` while serving |
//! | `/readyz`  | `200 ready` or `503 not ready` from [`AdminHooks::ready`] |
//! | anything else | [`AdminHooks::route`] with the whole body collected (default: 404 JSON) |
//!
//! The four built-in paths answer `GET` and `HEAD` (other methods: 405).
//! Request bodies for [`AdminHooks::route`] are limited to
//! [`DEFAULT_BODY_LIMIT`] (configurable); larger ones get 413.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use http::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::process::ProcessMetrics;

/// Largest request body collected for [`AdminHooks::route`] by default (4 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// How long in-flight connections may take to finish after shutdown by default.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Content type of `/metrics` (Prometheus text exposition format 0.0.4).
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";
const JSON_CONTENT_TYPE: &str = "application/json";

/// What a process plugs into its admin endpoint.
pub trait AdminHooks: Send + Sync + 'static {
    /// JSON for `GET /stats`.
    fn stats(&self) -> serde_json::Value;

    /// Readiness for `GET /readyz` (`/healthz` is liveness: always 200 `ok`
    /// while serving).
    fn ready(&self) -> bool {
        true
    }

    /// Any other request (e.g. an operator admin API mounted on the same
    /// port), with the whole body already collected. Default: 404 JSON.
    fn route(&self, req: Request<Bytes>) -> BoxFuture<'static, Response<Bytes>> {
        let body = serde_json::json!({
            "error": "not found",
            "method": req.method().as_str(),
            "path": req.uri().path(),
        });
        futures::future::ready(json_response(StatusCode::NOT_FOUND, &body)).boxed()
    }

    /// A request asking to switch protocols (`Upgrade`, e.g. a WebSocket): taken whole,
    /// so the hook can answer `101` and keep the connection; or handed back untouched
    /// to be routed as usual. Default: handed back.
    #[allow(clippy::result_large_err)]
    fn upgrade(
        &self,
        req: Request<Incoming>,
    ) -> Result<BoxFuture<'static, Response<Bytes>>, Request<Incoming>> {
        Err(req)
    }

    /// A request whose body or answer is too large to hold in memory (file uploads and
    /// downloads): taken with its body unread and answered with a streamed body; or
    /// handed back untouched to be routed as usual. Default: handed back.
    #[allow(clippy::result_large_err)]
    fn stream(
        &self,
        req: Request<Incoming>,
    ) -> Result<BoxFuture<'static, Response<StreamBody>>, Request<Incoming>> {
        Err(req)
    }
}

/// A response body produced as it is sent (see [`AdminHooks::stream`]).
pub type StreamBody = UnsyncBoxBody<Bytes, io::Error>;

/// A whole body as a [`StreamBody`].
pub fn whole_body(bytes: Bytes) -> StreamBody {
    Full::new(bytes)
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

/// A JSON response (`content-type: application/json`).
pub fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Bytes> {
    // Serialising a `Value` into memory cannot fail; fall back to `null` anyway.
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    with_content_type(status, JSON_CONTENT_TYPE, Bytes::from(body))
}

fn text_response(status: StatusCode, text: &'static str) -> Response<Bytes> {
    with_content_type(
        status,
        TEXT_CONTENT_TYPE,
        Bytes::from_static(text.as_bytes()),
    )
}

fn with_content_type(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> Response<Bytes> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// How long a client may take to finish its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn error_response(status: StatusCode, message: &str) -> Response<Bytes> {
    json_response(status, &serde_json::json!({ "error": message }))
}

/// The admin endpoint, configured builder-style and started with
/// [`AdminServer::serve`]. [`serve_admin`] is the shortcut with defaults.
pub struct AdminServer {
    registry: Registry,
    hooks: Arc<dyn AdminHooks>,
    body_limit: usize,
    drain_timeout: Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
    divert: Option<Divert>,
}

/// Connections on the same port that are not HTTP: those whose first `prefix` bytes
/// `claims` go to `to` instead (the media server's ICE-TCP, RFC 6544, shares its WHIP
/// port). A connection that sends fewer bytes within the TLS handshake timeout is dropped.
#[derive(Clone)]
pub struct Divert {
    pub prefix: usize,
    pub claims: fn(&[u8]) -> bool,
    pub to: tokio::sync::mpsc::Sender<(tokio::net::TcpStream, SocketAddr)>,
}

impl fmt::Debug for AdminServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminServer")
            .field("body_limit", &self.body_limit)
            .field("drain_timeout", &self.drain_timeout)
            .finish_non_exhaustive()
    }
}

impl AdminServer {
    /// An admin server exposing `registry` on `/metrics` and `hooks` for the rest.
    pub fn new(registry: Registry, hooks: Arc<dyn AdminHooks>) -> Self {
        Self {
            registry,
            hooks,
            body_limit: DEFAULT_BODY_LIMIT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            tls: None,
            divert: None,
        }
    }

    /// Hands connections `divert` claims to it rather than serving them HTTP.
    pub fn divert(mut self, divert: Divert) -> Self {
        self.divert = Some(divert);
        self
    }

    /// Serves TLS with this configuration (a public listener; see `rpc::PublicTlsFiles`).
    pub fn tls(mut self, config: Arc<tokio_rustls::rustls::ServerConfig>) -> Self {
        self.tls = Some(tokio_rustls::TlsAcceptor::from(config));
        self
    }

    /// Largest request body passed to [`AdminHooks::route`]; larger gets 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long in-flight connections may take to finish after shutdown
    /// before they are dropped.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Serves connections from `listener` until `shutdown` completes, then
    /// stops accepting (the listener is dropped), lets in-flight requests
    /// finish (idle keep-alive connections are closed, HTTP/2 gets GOAWAY)
    /// for at most the drain timeout, and returns.
    ///
    /// Registers [`ProcessMetrics`] into the registry unless it already holds
    /// them. Returns an error only if the listener itself becomes unusable.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        match ProcessMetrics::register(&self.registry) {
            Ok(_) | Err(prometheus::Error::AlreadyReg) => {}
            Err(e) => tracing::warn!(error = %e, "cannot register process metrics"),
        }
        let shared = Arc::new(Shared {
            registry: self.registry,
            hooks: self.hooks,
            body_limit: self.body_limit,
        });

        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new());
        builder.http2().timer(TokioTimer::new());
        let builder = Arc::new(builder);

        let (stop_tx, stop_rx) = watch::channel(false);
        let mut conns: JoinSet<()> = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        let local = listener.local_addr().ok();
        tracing::debug!(addr = ?local, "admin endpoint serving");

        let mut result = Ok(());
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(joined) = conns.join_next(), if !conns.is_empty() => log_join(joined),
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        if let Err(e) = stream.set_nodelay(true) {
                            tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
                        }
                        let (shared, builder, stop) =
                            (Arc::clone(&shared), Arc::clone(&builder), stop_rx.clone());
                        let (tls, divert) = (self.tls.clone(), self.divert.clone());
                        conns.spawn(async move {
                            if let Some(divert) = divert {
                                match diverted(&stream, &divert).await {
                                    Some(true) => {
                                        let _ = divert.to.send((stream, peer)).await;
                                        return;
                                    }
                                    Some(false) => {}
                                    None => return,
                                }
                            }
                            serve_accepted(stream, peer, tls, shared, builder, stop).await
                        });
                    }
                    Err(e) => match e.kind() {
                        io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::Interrupted
                        | io::ErrorKind::WouldBlock => {}
                        io::ErrorKind::InvalidInput => {
                            tracing::error!(error = %e, "admin listener unusable");
                            result = Err(e);
                            break;
                        }
                        _ => {
                            // e.g. EMFILE: back off instead of spinning.
                            tracing::warn!(error = %e, "admin accept failed");
                            tokio::select! {
                                biased;
                                () = &mut shutdown => break,
                                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                            }
                        }
                    },
                },
            }
        }

        drop(listener);
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(self.drain_timeout, async {
            while let Some(joined) = conns.join_next().await {
                log_join(joined);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                remaining = conns.len(),
                "admin connections still busy after the drain timeout, dropping them"
            );
            conns.shutdown().await;
        }
        tracing::debug!(addr = ?local, "admin endpoint stopped");
        result
    }
}

/// Serves the admin endpoint on `listener` with default limits until
/// `shutdown` completes (see [`AdminServer::serve`]).
pub async fn serve_admin(
    listener: TcpListener,
    registry: Registry,
    hooks: Arc<dyn AdminHooks>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    AdminServer::new(registry, hooks)
        .serve(listener, shutdown)
        .await
}

/// A server started with [`AdminServer::spawn`], serving until [`Running::shutdown`].
pub struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    addr: SocketAddr,
}

impl AdminServer {
    /// Serves on `listener` in the background; `what` names it in the log if it fails.
    pub fn spawn(self, listener: TcpListener, what: &'static str) -> io::Result<Running> {
        let addr = listener.local_addr()?;
        let (stop, mut stop_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let stopped = async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            };
            if let Err(e) = self.serve(listener, stopped).await {
                tracing::error!(error = %e, "{what} failed");
            }
        });
        Ok(Running { stop, task, addr })
    }
}

impl Running {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests under way finish (within the drain timeout) and
    /// waits for that.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

fn log_join(joined: Result<(), tokio::task::JoinError>) {
    if let Err(e) = joined {
        if e.is_panic() {
            tracing::error!(error = %e, "admin connection task panicked");
        }
    }
}

/// The client's socket address, in every request's extensions (for hooks that route by
/// where a client is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

struct Shared {
    registry: Registry,
    hooks: Arc<dyn AdminHooks>,
    body_limit: usize,
}

/// Whether `divert` claims the connection: `None` when it sent too little in time.
async fn diverted(stream: &tokio::net::TcpStream, divert: &Divert) -> Option<bool> {
    let mut prefix = vec![0u8; divert.prefix];
    let peeked = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, async {
        loop {
            let n = stream.peek(&mut prefix).await.ok()?;
            if n == 0 {
                return None;
            }
            if n >= prefix.len() {
                return Some((divert.claims)(&prefix));
            }
            // Not all there yet: wait for more rather than spin on the same bytes.
            stream.readable().await.ok()?;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    peeked.await.ok().flatten()
}

/// Serves HTTP on an accepted connection, after a TLS handshake when `tls` is set.
async fn serve_accepted(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    stop: watch::Receiver<bool>,
) {
    let Some(acceptor) = tls else {
        return serve_connection(stream, peer, shared, builder, stop).await;
    };
    // A client that never finishes its handshake is dropped.
    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    match handshake.await {
        Ok(Ok(tls)) => serve_connection(tls, peer, shared, builder, stop).await,
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "tls handshake failed"),
        Err(_) => tracing::debug!(%peer, "tls handshake timed out"),
    }
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    mut stop: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |mut req: Request<Incoming>| {
        let shared = Arc::clone(&shared);
        req.extensions_mut().insert(PeerAddr(peer));
        async move { Ok::<_, Infallible>(handle(shared, req).await) }
    });
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stop.wait_for(|stopped| *stopped).map(drop) => {
            // Also reached if the sender is gone: shut down either way.
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "admin connection ended with an error");
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<StreamBody> {
    let req = match shared.hooks.stream(req) {
        Ok(streamed) => {
            return match AssertUnwindSafe(streamed).catch_unwind().await {
                Ok(resp) => resp,
                Err(_) => {
                    tracing::error!("streamed request handler panicked");
                    error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
                        .map(whole_body)
                }
            }
        }
        Err(req) => req,
    };
    let resp = match AssertUnwindSafe(dispatch(&shared, req))
        .catch_unwind()
        .await
    {
        Ok(resp) => resp,
        Err(_) => {
            tracing::error!("admin request handler panicked");
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    };
    resp.map(whole_body)
}

async fn dispatch(shared: &Shared, req: Request<Incoming>) -> Response<Bytes> {
    let builtin = matches!(
        req.uri().path(),
        "/metrics" | "/stats" | "/healthz" | "/readyz"
    );
    if !builtin {
        let req = if req.headers().contains_key(hyper::header::UPGRADE) {
            match shared.hooks.upgrade(req) {
                Ok(upgraded) => return upgraded.await,
                Err(req) => req,
            }
        } else {
            req
        };
        return route(shared, req).await;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut resp = error_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    match req.uri().path() {
        "/metrics" => metrics(&shared.registry),
        "/stats" => json_response(StatusCode::OK, &shared.hooks.stats()),
        "/readyz" if shared.hooks.ready() => text_response(StatusCode::OK, "ready"),
        "/readyz" => text_response(StatusCode::SERVICE_UNAVAILABLE, "not ready"),
        _ => text_response(StatusCode::OK, "ok"),
    }
}

fn metrics(registry: &Registry) -> Response<Bytes> {
    // ProcessMetrics is a collector: gathering refreshes it.
    let families = registry.gather();
    let mut buf = Vec::new();
    match TextEncoder::new().encode(&families, &mut buf) {
        Ok(()) => with_content_type(StatusCode::OK, METRICS_CONTENT_TYPE, Bytes::from(buf)),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode metrics");
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics")
        }
    }
}

async fn route(shared: &Shared, req: Request<Incoming>) -> Response<Bytes> {
    let (parts, body) = req.into_parts();
    let limit = shared.body_limit;
    let too_large = || {
        json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &serde_json::json!({ "error": "request body too large", "limit": limit }),
        )
    };
    // A declared length above the limit is refused before reading anything.
    if usize::try_from(body.size_hint().lower()).map_or(true, |n| n > limit) {
        return too_large();
    }
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return too_large(),
        Err(e) => {
            tracing::debug!(error = %e, "cannot read admin request body");
            return error_response(StatusCode::BAD_REQUEST, "cannot read request body");
        }
    };
    shared.hooks.route(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests;
