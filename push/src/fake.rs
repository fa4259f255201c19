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
//!
//! The TLS fakes present a self-signed certificate for `localhost` and 127.0.0.1: pass
//! [`FakeApns::ca_cert`] / [`FakeFcm::ca_cert`] to [`crate::PushClient::new`]. Starting
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
use crate::{ApnsCredentials, FcmCredentials, APNS_MAX_PAYLOAD_BYTES};
use meridian_clock::now_secs;

/// TEST-ONLY RSA key for fake FCM service accounts: ring verifies RSA but cannot
/// generate RSA keys, so one fixed key (made with `openssl genpkey`) ships with the
/// crate. It protects nothing; never use it for a real service account.
pub const TEST_ONLY_RSA_PEM: &str = include_str!("testdata/TEST_ONLY_fcm_service_account_rsa.pem");

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

// ---------------------------------------------------------------------------- APNs

/// A fake APNs (`api.push.apple.com`).
pub struct FakeApns {
    state: Arc<ApnsState>,
    ca_cert: CertificateDer<'static>,
    server: Server,
}

struct ApnsState {
    recorder: Recorder,
    team_id: String,
    book: Mutex<ApnsBook>,
}

#[derive(Default)]
struct ApnsBook {
    /// Signing keys by key id.
    keys: HashMap<String, ApnsKey>,
    gone: HashSet<String>,
    /// Every provider token that passed verification.
    jwts_seen: HashSet<String>,
    /// Tokens answered with ExpiredProviderToken from now on.
    jwts_expired: HashSet<String>,
}

struct ApnsKey {
    public_key: Vec<u8>,
    bundle_id: String,
}

fn apns_error(status: StatusCode, reason: &str) -> Response<Full<Bytes>> {
    json_response(status, json!({"reason": reason}))
}

impl FakeApns {
    pub async fn start() -> FakeApns {
        let (ca_cert, tls) = tls_identity(&[b"h2"]);
        let state = Arc::new(ApnsState {
            recorder: Recorder::new(),
            team_id: random_string(10, UPPER_ALNUM),
            book: Mutex::new(ApnsBook::default()),
        });
        let handler_state = state.clone();
        let handler: Handler = Arc::new(move |parts, body| handler_state.handle(parts, body));
        let server = serve(Some(tls), true, handler).await;
        FakeApns {
            state,
            ca_cert,
            server,
        }
    }

    /// `https://127.0.0.1:PORT`, to put in [`ApnsCredentials::endpoint`].
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.server.addr)
    }

    /// The self-signed certificate the fake presents.
    pub fn ca_cert(&self) -> CertificateDer<'static> {
        self.ca_cert.clone()
    }

    /// Credentials with a new P-256 key the fake will accept for `bundle_id`.
    pub fn credentials(&self, bundle_id: &str) -> ApnsCredentials {
        let key = rcgen::KeyPair::generate().expect("P-256 key");
        let key_id = random_string(10, UPPER_ALNUM);
        lock(&self.state.book).keys.insert(
            key_id.clone(),
            ApnsKey {
                public_key: key.public_key_raw().to_vec(),
                bundle_id: bundle_id.to_string(),
            },
        );
        ApnsCredentials {
            team_id: self.state.team_id.clone(),
            key_id,
            private_key_pem: key.serialize_pem(),
            bundle_id: bundle_id.to_string(),
            endpoint: self.endpoint(),
        }
    }

    /// From now on `device_token` is answered with 410 Unregistered.
    pub fn mark_gone(&self, device_token: &str) {
        lock(&self.state.book).gone.insert(device_token.to_string());
    }

    /// The next `k` requests are answered with 503 ServiceUnavailable.
    pub fn fail_next(&self, k: usize) {
        self.state.recorder.failures_left.store(k, Ordering::SeqCst);
    }

    /// Every provider token seen so far is answered with 403 ExpiredProviderToken from
    /// now on, as APNs does once a token is an hour old.
    pub fn expire_provider_tokens(&self) {
        let mut book = lock(&self.state.book);
        let seen: Vec<String> = book.jwts_seen.iter().cloned().collect();
        book.jwts_expired.extend(seen);
    }

    /// How many different provider tokens passed verification.
    pub fn distinct_jwts(&self) -> usize {
        lock(&self.state.book).jwts_seen.len()
    }

    /// Every HTTP request that reached the fake, accepted or not.
    pub fn requests(&self) -> usize {
        self.state.recorder.requests.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<ReceivedPush> {
        self.state.recorder.received()
    }

    /// Waits until at least `n` pushes were accepted; returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<ReceivedPush>, String> {
        self.state.recorder.wait_for(n, timeout).await
    }
}

impl ApnsState {
    fn handle(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.recorder.requests.fetch_add(1, Ordering::SeqCst);
        if parts.method != http::Method::POST {
            return apns_error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed");
        }
        let Some(device_token) = parts.uri.path().strip_prefix("/3/device/") else {
            return apns_error(StatusCode::NOT_FOUND, "BadPath");
        };
        if self.recorder.take_failure() {
            return apns_error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable");
        }
        let Some(jwt) = bearer(&parts) else {
            return apns_error(StatusCode::FORBIDDEN, "MissingProviderToken");
        };
        let bundle_id = match self.verify_jwt(jwt) {
            Ok(bundle_id) => bundle_id,
            Err(reason) => return apns_error(StatusCode::FORBIDDEN, reason),
        };
        if let Err(reason) = check_apns_headers(&parts, &bundle_id) {
            return apns_error(StatusCode::BAD_REQUEST, reason);
        }
        let token_ok =
            !device_token.is_empty() && device_token.bytes().all(|b| b.is_ascii_hexdigit());
        if !token_ok {
            return apns_error(StatusCode::BAD_REQUEST, "BadDeviceToken");
        }
        if body.len() > APNS_MAX_PAYLOAD_BYTES {
            return apns_error(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge");
        }
        let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
            return apns_error(StatusCode::BAD_REQUEST, "PayloadEmpty");
        };
        if lock(&self.book).gone.contains(device_token) {
            return json_response(
                StatusCode::GONE,
                json!({"reason": "Unregistered", "timestamp": now_secs() * 1000}),
            );
        }
        let alert = &payload["aps"]["alert"];
        self.recorder.record(ReceivedPush {
            device_token: device_token.to_string(),
            title: alert["title"].as_str().unwrap_or_default().to_string(),
            body: alert["body"].as_str().unwrap_or_default().to_string(),
            data: payload["pushData"].as_str().map(str::to_string),
            id: header(&parts, "apns-collapse-id")
                .unwrap_or_default()
                .to_string(),
            user_id: None,
            uri: path_and_query(&parts),
            version: parts.version,
            headers: parts.headers.clone(),
            json: payload,
        });
        let apns_id = header(&parts, "apns-id").unwrap_or("00000000-0000-0000-0000-000000000000");
        Response::builder()
            .header("apns-id", apns_id)
            .body(Full::new(Bytes::new()))
            .expect("valid response")
    }

    /// Checks an ES256 provider token; `Ok` is the bundle id its key may push to.
    fn verify_jwt(&self, jwt: &str) -> Result<String, &'static str> {
        const INVALID: &str = "InvalidProviderToken";
        let parsed = parse(jwt).ok_or(INVALID)?;
        if parsed.header["alg"] != "ES256" {
            return Err(INVALID);
        }
        let mut book = lock(&self.book);
        let kid = parsed.header["kid"].as_str().ok_or(INVALID)?;
        let key = book.keys.get(kid).ok_or(INVALID)?;
        if parsed.claims["iss"] != self.team_id.as_str() {
            return Err(INVALID);
        }
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.public_key)
            .verify(parsed.signing_input.as_bytes(), &parsed.signature)
            .map_err(|_| INVALID)?;
        let iat = parsed.claims["iat"].as_u64().ok_or(INVALID)?;
        let now = now_secs();
        if iat > now + 300 {
            return Err(INVALID);
        }
        if now.saturating_sub(iat) > 3600 || book.jwts_expired.contains(jwt) {
            return Err("ExpiredProviderToken");
        }
        let bundle_id = key.bundle_id.clone();
        book.jwts_seen.insert(jwt.to_string());
        Ok(bundle_id)
    }
}

fn check_apns_headers(parts: &Parts, bundle_id: &str) -> Result<(), &'static str> {
    match header(parts, "apns-topic") {
        None => return Err("MissingTopic"),
        Some(topic) if topic != bundle_id => return Err("TopicDisallowed"),
        Some(_) => {}
    }
    let push_types = [
        "alert",
        "background",
        "location",
        "voip",
        "complication",
        "fileprovider",
        "mdm",
        "liveactivity",
        "pushtotalk",
    ];
    if !header(parts, "apns-push-type").is_some_and(|t| push_types.contains(&t)) {
        return Err("InvalidPushType");
    }
    if header(parts, "apns-priority").is_some_and(|p| !["1", "5", "10"].contains(&p)) {
        return Err("BadPriority");
    }
    if header(parts, "apns-collapse-id").is_some_and(|c| c.len() > 64) {
        return Err("BadCollapseId");
    }
    let uuid_shaped = |id: &str| {
        id.len() == 36
            && id.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            })
    };
    if header(parts, "apns-id").is_some_and(|id| !uuid_shaped(id)) {
        return Err("BadMessageId");
    }
    Ok(())
}

// ---------------------------------------------------------------------------- FCM

/// A fake FCM HTTP v1 service plus Google's OAuth2 token endpoint, on one TLS port
/// (HTTP/2 or HTTP/1.1): `POST /token` and `POST /v1/projects/{id}/messages:send`.
pub struct FakeFcm {
    state: Arc<FcmState>,
    ca_cert: CertificateDer<'static>,
    server: Server,
}

struct FcmState {
    recorder: Recorder,
    token_uri: String,
    /// DER RSAPublicKey of [`TEST_ONLY_RSA_PEM`].
    public_key: Vec<u8>,
    book: Mutex<FcmBook>,
}

#[derive(Default)]
struct FcmBook {
    /// Service accounts: client e-mail → project id.
    accounts: HashMap<String, String>,
    /// Access tokens issued and not revoked → client e-mail.
    access_tokens: HashMap<String, String>,
    tokens_issued: usize,
    gone: HashSet<String>,
}

fn google_error(
    status: StatusCode,
    code: &str,
    message: &str,
    details: Value,
) -> Response<Full<Bytes>> {
    json_response(
        status,
        json!({"error": {"code": status.as_u16(), "message": message, "status": code, "details": details}}),
    )
}

fn oauth_error(error: &str, description: &str) -> Response<Full<Bytes>> {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"error": error, "error_description": description}),
    )
}

impl FakeFcm {
    pub async fn start() -> FakeFcm {
        let (ca_cert, tls) = tls_identity(&[b"h2", b"http/1.1"]);
        let key = crate::jwt::rsa_key(TEST_ONLY_RSA_PEM).expect("the test RSA key parses");
        // The port is known only after binding, but the handler needs the token URI
        // (the assertions' audience): bind first, then fill it in.
        let state = Arc::new(Mutex::new(None::<Arc<FcmState>>));
        let handler_state = state.clone();
        let handler: Handler = Arc::new(move |parts, body| match lock(&handler_state).clone() {
            Some(state) => state.handle(parts, body),
            None => google_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "starting",
                json!([]),
            ),
        });
        let server = serve(Some(tls), false, handler).await;
        let fcm_state = Arc::new(FcmState {
            recorder: Recorder::new(),
            token_uri: format!("https://{}/token", server.addr),
            public_key: key.public().as_ref().to_vec(),
            book: Mutex::new(FcmBook::default()),
        });
        *lock(&state) = Some(fcm_state.clone());
        FakeFcm {
            state: fcm_state,
            ca_cert,
            server,
        }
    }

    /// `https://127.0.0.1:PORT`, to put in [`FcmCredentials::endpoint`].
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.server.addr)
    }

    pub fn ca_cert(&self) -> CertificateDer<'static> {
        self.ca_cert.clone()
    }

    /// A new service account of `project_id`, signing with [`TEST_ONLY_RSA_PEM`].
    pub fn credentials(&self, project_id: &str) -> FcmCredentials {
        let client_email = format!(
            "push-{}@{project_id}.iam.gserviceaccount.com",
            random_string(8, LOWER_HEX)
        );
        lock(&self.state.book)
            .accounts
            .insert(client_email.clone(), project_id.to_string());
        FcmCredentials {
            project_id: project_id.to_string(),
            client_email,
            private_key_pem: TEST_ONLY_RSA_PEM.to_string(),
            token_uri: self.state.token_uri.clone(),
            endpoint: self.endpoint(),
        }
    }

    /// From now on sends to `device_token` are answered 404 UNREGISTERED.
    pub fn mark_gone(&self, device_token: &str) {
        lock(&self.state.book).gone.insert(device_token.to_string());
    }

    /// The next `k` messages:send requests are answered 503 UNAVAILABLE, Retry-After: 5.
    pub fn fail_next(&self, k: usize) {
        self.state.recorder.failures_left.store(k, Ordering::SeqCst);
    }

    /// Every access token issued so far is answered 401 UNAUTHENTICATED from now on.
    pub fn revoke_access_tokens(&self) {
        lock(&self.state.book).access_tokens.clear();
    }

    /// How many access tokens the token endpoint issued.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.state.book).tokens_issued
    }

    /// Every HTTP request that reached the fake (token endpoint included).
    pub fn requests(&self) -> usize {
        self.state.recorder.requests.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<ReceivedPush> {
        self.state.recorder.received()
    }

    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<ReceivedPush>, String> {
        self.state.recorder.wait_for(n, timeout).await
    }
}

impl FcmState {
    fn handle(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.recorder.requests.fetch_add(1, Ordering::SeqCst);
        if parts.method != http::Method::POST {
            return google_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "INVALID_ARGUMENT",
                "POST only",
                json!([]),
            );
        }
        let path = parts.uri.path();
        if path == "/token" {
            return self.token(&parts, &body);
        }
        match path
            .strip_prefix("/v1/projects/")
            .and_then(|rest| rest.strip_suffix("/messages:send"))
        {
            Some(project) => self.send(project, &parts, &body),
            None => google_error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "no such method",
                json!([]),
            ),
        }
    }

    /// The OAuth2 JWT-bearer grant (RFC 7523) as Google's token endpoint serves it.
    fn token(&self, parts: &Parts, body: &Bytes) -> Response<Full<Bytes>> {
        if header(parts, "content-type") != Some("application/x-www-form-urlencoded") {
            return oauth_error("invalid_request", "form-encoded body expected");
        }
        let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        if form.get("grant_type").map(String::as_str) != Some(JWT_BEARER_GRANT) {
            return oauth_error("unsupported_grant_type", "Invalid grant_type");
        }
        let Some(assertion) = form.get("assertion") else {
            return oauth_error("invalid_request", "Missing required parameter: assertion");
        };
        let client_email = match self.verify_assertion(assertion) {
            Ok(email) => email,
            Err(why) => return oauth_error("invalid_grant", why),
        };
        let access_token = format!("ya29.fake-{}", random_string(32, LOWER_HEX));
        let mut book = lock(&self.book);
        book.access_tokens
            .insert(access_token.clone(), client_email);
        book.tokens_issued += 1;
        json_response(
            StatusCode::OK,
            json!({"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"}),
        )
    }

    /// Checks a service account's RS256 assertion; `Ok` is its client e-mail.
    fn verify_assertion(&self, assertion: &str) -> Result<String, &'static str> {
        let parsed = parse(assertion).ok_or("Invalid JWT")?;
        if parsed.header["alg"] != "RS256" {
            return Err("Invalid JWT: alg must be RS256");
        }
        let claims = &parsed.claims;
        let iss = claims["iss"].as_str().ok_or("Invalid JWT: no iss")?;
        if !lock(&self.book).accounts.contains_key(iss) {
            return Err("Invalid JWT: unknown service account");
        }
        if claims["aud"] != self.token_uri.as_str() {
            return Err("Invalid JWT: aud is not the token URI");
        }
        let scopes = claims["scope"].as_str().unwrap_or_default();
        if !scopes.split(' ').any(|s| s == SCOPE) {
            return Err("Invalid JWT: scope lacks firebase.messaging");
        }
        let (iat, exp) = (claims["iat"].as_u64(), claims["exp"].as_u64());
        let (Some(iat), Some(exp)) = (iat, exp) else {
            return Err("Invalid JWT: iat and exp required");
        };
        let now = now_secs();
        if iat > now + 300 || exp <= now || exp.saturating_sub(iat) > 3600 {
            return Err("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe");
        }
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.public_key)
            .verify(parsed.signing_input.as_bytes(), &parsed.signature)
            .map_err(|_| "Invalid JWT Signature.")?;
        Ok(iss.to_string())
    }

    fn send(&self, project: &str, parts: &Parts, body: &Bytes) -> Response<Full<Bytes>> {
        if self.recorder.take_failure() {
            let mut response = google_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "The service is currently unavailable.",
                json!([]),
            );
            response
                .headers_mut()
                .insert("retry-after", http::HeaderValue::from_static("5"));
            return response;
        }
        let account_project = {
            let book = lock(&self.book);
            bearer(parts)
                .and_then(|token| book.access_tokens.get(token))
                .and_then(|email| book.accounts.get(email))
                .cloned()
        };
        let Some(account_project) = account_project else {
            return google_error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials.",
                json!([]),
            );
        };
        if account_project != project {
            return google_error(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                "Permission denied.",
                json!([]),
            );
        }
        let invalid = |field: &str, message: &str| {
            google_error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                message,
                json!([{"@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [{"field": field, "description": message}]}]),
            )
        };
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return invalid("message", "Invalid JSON payload received.");
        };
        let message = &request["message"];
        let device_token = message["token"].as_str().unwrap_or_default();
        if device_token.is_empty() {
            return invalid(
                "message.token",
                "The registration token is not a valid FCM registration token",
            );
        }
        let data = &message["data"];
        let data_ok = data.is_null()
            || data
                .as_object()
                .is_some_and(|d| d.values().all(Value::is_string));
        if !data_ok {
            return invalid(
                "message.data",
                "Invalid value at 'message.data': values must be strings",
            );
        }
        if lock(&self.book).gone.contains(device_token) {
            return google_error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "Requested entity was not found.",
                json!([{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                        "errorCode": "UNREGISTERED"}]),
            );
        }
        let notification = &message["notification"];
        let id = data["msgUID"].as_str().unwrap_or_default().to_string();
        self.recorder.record(ReceivedPush {
            device_token: device_token.to_string(),
            title: notification["title"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            body: notification["body"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            data: data["pushData"].as_str().map(str::to_string),
            id: id.clone(),
            user_id: None,
            uri: path_and_query(parts),
            version: parts.version,
            headers: parts.headers.clone(),
            json: request.clone(),
        });
        json_response(
            StatusCode::OK,
            json!({"name": format!("projects/{project}/messages/{}", random_string(16, LOWER_HEX))}),
        )
    }
}

// ---------------------------------------------------------------------------- webhook

/// A fake webhook receiver: plain HTTP (1.1 or h2c), any path.
pub struct FakeWebhook {
    state: Arc<WebhookState>,
    server: Server,
}

struct WebhookState {
    recorder: Recorder,
    gone: Mutex<HashSet<String>>,
}

impl FakeWebhook {
    pub async fn start() -> FakeWebhook {
        let state = Arc::new(WebhookState {
            recorder: Recorder::new(),
            gone: Mutex::new(HashSet::new()),
        });
        let handler_state = state.clone();
        let handler: Handler = Arc::new(move |parts, body| handler_state.handle(parts, body));
        let server = serve(None, false, handler).await;
        FakeWebhook { state, server }
    }

    /// `http://127.0.0.1:PORT`; any path and query are accepted and recorded.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// From now on pushes for `device_token` are answered 410 Gone.
    pub fn mark_gone(&self, device_token: &str) {
        lock(&self.state.gone).insert(device_token.to_string());
    }

    /// The next `k` requests are answered 503.
    pub fn fail_next(&self, k: usize) {
        self.state.recorder.failures_left.store(k, Ordering::SeqCst);
    }

    pub fn requests(&self) -> usize {
        self.state.recorder.requests.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<ReceivedPush> {
        self.state.recorder.received()
    }

    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<ReceivedPush>, String> {
        self.state.recorder.wait_for(n, timeout).await
    }
}

impl WebhookState {
    fn handle(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.recorder.requests.fetch_add(1, Ordering::SeqCst);
        if parts.method != http::Method::POST {
            return json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"error": "POST only"}),
            );
        }
        if self.recorder.take_failure() {
            return json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "unavailable"}),
            );
        }
        if header(&parts, "content-type") != Some("application/json") {
            return json_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({"error": "JSON expected"}),
            );
        }
        let Ok(push) = serde_json::from_slice::<Value>(&body) else {
            return json_response(StatusCode::BAD_REQUEST, json!({"error": "invalid JSON"}));
        };
        let text = |field: &str| push[field].as_str().unwrap_or_default().to_string();
        let device_token = text("deviceToken");
        if lock(&self.gone).contains(&device_token) {
            return json_response(StatusCode::GONE, json!({"error": "device token gone"}));
        }
        self.recorder.record(ReceivedPush {
            title: text("title"),
            body: text("body"),
            data: push["pushData"].as_str().map(str::to_string),
            id: text("id"),
            user_id: push["userId"].as_str().map(str::to_string),
            device_token,
            uri: path_and_query(&parts),
            version: parts.version,
            headers: parts.headers.clone(),
            json: push.clone(),
        });
        json_response(StatusCode::OK, json!({}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    fn assertion(creds: &FcmCredentials, aud: &str) -> String {
        let now = now_secs();
        crate::jwt::sign_rs256(
            &creds.private_key_pem,
            &json!({"alg": "RS256", "typ": "JWT"}),
            &json!({"iss": creds.client_email, "scope": SCOPE, "aud": aud,
                    "iat": now, "exp": now + 3600}),
        )
        .unwrap()
    }

    // covers: PUSH-02
    #[tokio::test]
    async fn fake_fcm_checks_the_assertion_signature_and_audience() {
        let fcm = FakeFcm::start().await;
        let creds = fcm.credentials("chat-app");
        let good = assertion(&creds, &creds.token_uri);
        assert_eq!(
            fcm.state.verify_assertion(&good),
            Ok(creds.client_email.clone())
        );

        let (signed, signature) = good.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
        bytes[0] ^= 1;
        let tampered = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(
            fcm.state.verify_assertion(&tampered),
            Err("Invalid JWT Signature.")
        );

        let elsewhere = assertion(&creds, "https://oauth2.googleapis.com/token");
        assert!(fcm.state.verify_assertion(&elsewhere).is_err());
    }
}
