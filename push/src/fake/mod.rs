//! Local fakes of the push providers, for tests (cargo feature `fake`). Each binds
//! 127.0.0.1:0, speaks the provider's real protocol, checks what a real provider checks
//! (signatures, tokens, headers, sizes) and records what it accepted.
//!
//! - [`FakeApns`]: TLS, HTTP/2 only (ALPN "h2"); verifies every provider JWT (ES256
//!   signature with the key it issued, `kid`, `iss`, age) and the APNs headers.
//! - [`FakeFcm`]: TLS, HTTP/2 or HTTP/1.1; serves the OAuth2 token endpoint (verifies the
//!   RS256 assertion, `grant_type`, `aud`, `scope`) and `messages:send` (verifies the
//!   bearer token it issued and the project).
//! - [`FakeWebhook`]: plain HTTP; records JSON bodies with the request URI.
//! - [`FakeHuawei`]: TLS; Huawei's OAuth2 client-credentials endpoint (verifies app id and
//!   secret) and Push Kit's `messages:send` (verifies the bearer token it issued for that
//!   app, the message shape and its 4096-byte limit).
//! - [`FakeXiaomi`]: TLS; MiPush's `/v3/message/regid` (verifies `Authorization:
//!   key=<AppSecret>`, the package name, required fields and lengths; several regids
//!   answer the unknown ones as `bad_regids`).
//! - [`FakeOppo`]: TLS; OPPO PUSH's `/server/v1/auth` (verifies the sha256 sign and the
//!   timestamp) and the notification batch unicast (verifies the auth_token it issued,
//!   each message's fields and lengths; answers each message's result).
//! - [`FakeVivo`]: TLS; vivo's `/message/auth` (verifies the md5 sign and the timestamp)
//!   and `/message/send` (verifies the authToken header it issued against the body's
//!   appId, required fields, lengths counted as vivo counts them, and drops a repeated
//!   requestId); `/message/saveListPayload` keeps a payload under a taskId that
//!   `/message/pushToList` shows on 2 to 1,000 regIds, listing unknown ones in
//!   `invalidUsers`.
//! - [`FakeMeizu`]: TLS; Meizu's `pushByPushId` (verifies the md5 signature over the
//!   sorted parameters, the app, required fields and lengths; lists failed pushIds under
//!   their code as Meizu does).
//! - [`FakeHonor`]: TLS; Honor's OAuth2 client-credentials endpoint (Keycloak-style
//!   errors) and `sendMessage` (verifies the bearer token it issued for that app, the
//!   `timestamp` header and the message; names a gone token in `expireTokens`).
//!
//! The TLS fakes present a self-signed certificate for `localhost` and 127.0.0.1: pass
//! the fake's `ca_cert()` to [`crate::PushClient::new`]. Starting
//! a fake panics when it cannot bind a loopback port (they are test helpers). A fake
//! stops serving when dropped.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256};
use rustls::pki_types::CertificateDer;
use rustls::ServerConfig;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::fcm::{JWT_BEARER_GRANT, SCOPE};
use crate::jwt::parse;
use crate::{
    ApnsCredentials, FcmCredentials, HonorCredentials, HuaweiCredentials, MeizuCredentials,
    OppoCredentials, VivoCredentials, XiaomiCredentials, APNS_MAX_PAYLOAD_BYTES,
};
use meridian_clock::now_secs;

mod apns;
mod fcm;
mod honor;
mod huawei;
mod meizu;
mod oppo;
mod vendor;
mod vivo;
mod webhook;
mod xiaomi;

pub use apns::FakeApns;
pub use fcm::FakeFcm;
pub use honor::{FakeHonor, HonorState};
pub use huawei::{FakeHuawei, HuaweiState};
pub use meizu::{FakeMeizu, MeizuState};
pub use oppo::{FakeOppo, OppoState};
use vendor::{AccessTokens, TokenCheck};
pub use vendor::{Shared, VendorFake, VendorState};
pub use vivo::{FakeVivo, VivoState};
pub use webhook::FakeWebhook;
pub use xiaomi::{FakeXiaomi, XiaomiState};

/// TEST-ONLY RSA key for fake FCM service accounts: ring verifies RSA but cannot
/// generate RSA keys, so one fixed key (made with `openssl genpkey`) ships with the
/// crate. It protects nothing; never use it for a real service account.
pub const TEST_ONLY_RSA_PEM: &str =
    include_str!("../testdata/TEST_ONLY_fcm_service_account_rsa.pem");

/// Request bodies larger than this are refused before a handler sees them.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// One notification as a fake accepted it.
#[derive(Debug, Clone)]
pub struct ReceivedPush {
    pub device_token: String,
    pub title: String,
    pub body: String,
    /// `pushData`.
    pub data: Option<String>,
    /// APNs `apns-collapse-id`, FCM data `msgUID`, webhook `id`.
    pub id: String,
    /// Webhook `userId` (the other providers do not carry it).
    pub user_id: Option<String>,
    /// Path and query as requested.
    pub uri: String,
    pub version: Version,
    pub headers: HeaderMap,
    /// The JSON body as received.
    pub json: Value,
}

/// What a fake recorded, and a way to wait for it without sleeping.
struct Recorder {
    pushes: Mutex<Vec<ReceivedPush>>,
    count: watch::Sender<usize>,
    requests: AtomicUsize,
    failures_left: AtomicUsize,
}

impl Recorder {
    fn new() -> Self {
        Self {
            pushes: Mutex::new(Vec::new()),
            count: watch::Sender::new(0),
            requests: AtomicUsize::new(0),
            failures_left: AtomicUsize::new(0),
        }
    }

    fn record(&self, push: ReceivedPush) {
        let mut pushes = lock(&self.pushes);
        pushes.push(push);
        self.count.send_replace(pushes.len());
    }

    fn received(&self) -> Vec<ReceivedPush> {
        lock(&self.pushes).clone()
    }

    /// True (and one fewer left) while injected failures remain.
    fn take_failure(&self) -> bool {
        self.failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    async fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<ReceivedPush>, String> {
        let mut count = self.count.subscribe();
        let arrived = tokio::time::timeout(timeout, count.wait_for(|c| *c >= n))
            .await
            .is_ok_and(|changed| changed.is_ok());
        if arrived {
            Ok(self.received())
        } else {
            Err(format!(
                "{} of {n} pushes arrived within {timeout:?}",
                self.received().len()
            ))
        }
    }
}

/// What a vendor fake was told to answer for particular device tokens.
#[derive(Default)]
struct DeviceRules {
    gone: Mutex<HashSet<String>>,
    limited: Mutex<HashSet<String>>,
}

impl DeviceRules {
    fn mark_gone(&self, device_token: &str) {
        lock(&self.gone).insert(device_token.to_string());
    }

    fn rate_limit(&self, device_token: &str) {
        lock(&self.limited).insert(device_token.to_string());
    }

    fn is_gone(&self, device_token: &str) -> bool {
        lock(&self.gone).contains(device_token)
    }

    fn is_limited(&self, device_token: &str) -> bool {
        lock(&self.limited).contains(device_token)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut bytes = vec![0u8; len];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("system randomness");
    bytes
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOWER_HEX: &[u8] = b"0123456789abcdef";

fn json_response(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("static response parts are valid")
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// HTTP/2 requests carry an absolute URI, HTTP/1.1 ones only the path: record the path.
fn path_and_query(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default()
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = header(parts, "authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

type Handler = Arc<dyn Fn(Parts, Bytes) -> Response<Full<Bytes>> + Send + Sync>;

/// A listening fake; dropping it stops the accept loop and every open connection.
struct Server {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A self-signed certificate for localhost/127.0.0.1 and a server config offering `alpn`.
fn tls_identity(alpn: &[&[u8]]) -> (CertificateDer<'static>, Arc<ServerConfig>) {
    meridian_rpc::tls::self_signed_server(alpn).expect("self-signed server identity")
}

async fn serve(tls: Option<Arc<ServerConfig>>, http2_only: bool, handler: Handler) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("fake push server: bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("bound address");
    let task = tokio::spawn(async move {
        // Owned by the accept loop, so aborting it closes every connection too.
        let mut connections = JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            while connections.try_join_next().is_some() {}
            let (tls, handler) = (tls.clone(), handler.clone());
            connections.spawn(async move {
                match tls {
                    Some(config) => {
                        let acceptor = tokio_rustls::TlsAcceptor::from(config);
                        if let Ok(stream) = acceptor.accept(stream).await {
                            serve_connection(stream, http2_only, handler).await;
                        }
                    }
                    None => serve_connection(stream, http2_only, handler).await,
                }
            });
        }
    });
    Server { addr, task }
}

async fn serve_connection<IO>(io: IO, http2_only: bool, handler: Handler)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let handler = handler.clone();
        async move {
            let (parts, body) = request.into_parts();
            let response = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
                Ok(body) => handler(parts, body.to_bytes()),
                Err(_) => json_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    json!({"error": "body unreadable or too large"}),
                ),
            };
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    if http2_only {
        builder = builder.http2_only();
    }
    let _ = builder.serve_connection(TokioIo::new(io), service).await;
}
