use std::sync::atomic::{AtomicBool, Ordering};

use futures::stream;
use http::HeaderMap;
use http_body_util::combinators::BoxBody;
use http_body_util::StreamBody;
use hyper::body::Frame;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use prometheus::IntCounter;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use super::*;
use tokio::net::TcpStream;

/// Bound on every wait, so a bug fails the test instead of hanging it.
const LIMIT: Duration = Duration::from_secs(10);

type TestBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

struct EchoHooks {
    ready: AtomicBool,
}

impl AdminHooks for EchoHooks {
    fn stats(&self) -> serde_json::Value {
        serde_json::json!({ "sessions": 7, "area": "SG" })
    }

    fn ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    fn route(&self, req: Request<Bytes>) -> BoxFuture<'static, Response<Bytes>> {
        let value = serde_json::json!({
            "method": req.method().as_str(),
            "path": req.uri().path(),
            "query": req.uri().query(),
            "header": req.headers().get("x-test").and_then(|v| v.to_str().ok()),
            "body_len": req.body().len(),
            "body": String::from_utf8_lossy(req.body()),
        });
        futures::future::ready(json_response(StatusCode::CREATED, &value)).boxed()
    }
}

fn echo(ready: bool) -> Arc<EchoHooks> {
    Arc::new(EchoHooks {
        ready: AtomicBool::new(ready),
    })
}

/// Only `stats`: exercises the default `route`.
struct StatsOnly;

impl AdminHooks for StatsOnly {
    fn stats(&self) -> serde_json::Value {
        serde_json::json!({})
    }
}

/// `route` signals `entered`, then waits for `release`.
struct GatedHooks {
    entered: Arc<Notify>,
    release: Arc<Notify>,
}

impl AdminHooks for GatedHooks {
    fn stats(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    fn route(&self, _req: Request<Bytes>) -> BoxFuture<'static, Response<Bytes>> {
        let entered = Arc::clone(&self.entered);
        let release = Arc::clone(&self.release);
        async move {
            entered.notify_one();
            release.notified().await;
            text_response(StatusCode::OK, "done")
        }
        .boxed()
    }
}

struct PanickingHooks;

impl AdminHooks for PanickingHooks {
    fn stats(&self) -> serde_json::Value {
        panic!("stats exploded")
    }
}

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    async fn stopped(mut self) {
        self.stop();
        let joined = tokio::time::timeout(LIMIT, self.task)
            .await
            .expect("serve_admin did not end after shutdown");
        joined.expect("serve task").expect("serve_admin result");
    }
}

async fn start(server: AdminServer) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        task,
    }
}

async fn start_with(hooks: Arc<dyn AdminHooks>) -> Running {
    start(AdminServer::new(Registry::new(), hooks)).await
}

fn http1_client() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new()).build_http()
}

fn http2_client() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

fn full(body: impl Into<Bytes>) -> TestBody {
    Full::new(body.into())
        .map_err(|never| match never {})
        .boxed()
}

async fn send(
    client: &Client<HttpConnector, TestBody>,
    method: Method,
    url: &str,
    body: TestBody,
) -> (StatusCode, HeaderMap, Bytes) {
    let req = Request::builder()
        .method(method)
        .uri(url)
        .header("x-test", "hello")
        .body(body)
        .expect("request");
    let resp = tokio::time::timeout(LIMIT, client.request(req))
        .await
        .expect("response in time")
        .expect("response");
    let (parts, body) = resp.into_parts();
    let body = tokio::time::timeout(LIMIT, body.collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    (parts.status, parts.headers, body)
}

async fn get(
    client: &Client<HttpConnector, TestBody>,
    url: &str,
) -> (StatusCode, HeaderMap, Bytes) {
    send(client, Method::GET, url, full(Bytes::new())).await
}

fn sample_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
async fn metrics_has_registered_and_process_metrics() {
    let registry = Registry::new();
    let counter = IntCounter::new("meridian_test_events_total", "Test events.").expect("counter");
    registry
        .register(Box::new(counter.clone()))
        .expect("register counter");
    counter.inc_by(3);
    let server = start(AdminServer::new(registry, echo(true))).await;

    for client in [http1_client(), http2_client()] {
        let (status, headers, body) = get(&client, &server.url("/metrics")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
            Some(METRICS_CONTENT_TYPE)
        );
        let text = std::str::from_utf8(&body).expect("utf-8");
        assert_eq!(sample_value(text, "meridian_test_events_total"), Some(3.0));
        assert!(text.contains("# TYPE meridian_process_resident_memory_bytes gauge"));
        assert!(text.contains("# TYPE meridian_process_open_fds gauge"));
        assert!(text.contains("# TYPE meridian_process_start_time_seconds gauge"));
        if cfg!(target_os = "linux") {
            let rss = sample_value(text, "meridian_process_resident_memory_bytes");
            assert!(rss.is_some_and(|v| v > 0.0), "rss {rss:?} in\n{text}");
            let fds = sample_value(text, "meridian_process_open_fds");
            assert!(fds.is_some_and(|v| v > 0.0), "fds {fds:?}");
        }
    }
    server.stopped().await;
}

#[tokio::test]
async fn metrics_tolerates_process_metrics_already_registered() {
    let registry = Registry::new();
    ProcessMetrics::register(&registry).expect("register");
    let server = start(AdminServer::new(registry, echo(true))).await;
    let (status, _, body) = get(&http1_client(), &server.url("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8_lossy(&body);
    assert_eq!(
        text.matches("# TYPE meridian_process_open_fds gauge")
            .count(),
        1
    );
    server.stopped().await;
}

#[tokio::test]
async fn health_ready_and_stats() {
    let hooks = echo(false);
    let server = start_with(hooks.clone()).await;
    let client = http1_client();

    let (status, headers, body) = get(&client, &server.url("/healthz")).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok"[..]));
    assert_eq!(
        headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some(TEXT_CONTENT_TYPE)
    );

    let (status, _, body) = get(&client, &server.url("/readyz")).await;
    assert_eq!(
        (status, &body[..]),
        (StatusCode::SERVICE_UNAVAILABLE, &b"not ready"[..])
    );
    hooks.ready.store(true, Ordering::SeqCst);
    let (status, _, body) = get(&client, &server.url("/readyz")).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"ready"[..]));

    let (status, headers, body) = get(&client, &server.url("/stats")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some(JSON_CONTENT_TYPE)
    );
    let stats: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(stats, serde_json::json!({ "sessions": 7, "area": "SG" }));

    let (status, headers, _) =
        send(&client, Method::POST, &server.url("/healthz"), full("x")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        headers.get(ALLOW).and_then(|v| v.to_str().ok()),
        Some("GET, HEAD")
    );

    let (status, _, body) = send(&client, Method::HEAD, &server.url("/healthz"), full("")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());

    server.stopped().await;
}

#[tokio::test]
async fn route_receives_method_path_headers_and_body() {
    let server = start_with(echo(true)).await;
    for client in [http1_client(), http2_client()] {
        let (status, _, body) = send(
            &client,
            Method::PUT,
            &server.url("/admin/v1/apps/demo?force=1"),
            full("{\"name\":\"demo\"}"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let echoed: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            echoed,
            serde_json::json!({
                "method": "PUT",
                "path": "/admin/v1/apps/demo",
                "query": "force=1",
                "header": "hello",
                "body_len": 15,
                "body": "{\"name\":\"demo\"}",
            })
        );
    }
    server.stopped().await;
}

#[tokio::test]
async fn default_route_is_404_json() {
    let server = start_with(Arc::new(StatsOnly)).await;
    let (status, headers, body) = get(&http1_client(), &server.url("/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some(JSON_CONTENT_TYPE)
    );
    let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(value["error"], "not found");
    assert_eq!(value["path"], "/nope");
    server.stopped().await;
}

#[tokio::test]
async fn body_at_limit_is_accepted() {
    let server = start(AdminServer::new(Registry::new(), echo(true)).body_limit(4096)).await;
    let (status, _, body) = send(
        &http1_client(),
        Method::POST,
        &server.url("/upload"),
        full(vec![b'a'; 4096]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let echoed: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(echoed["body_len"], 4096);
    server.stopped().await;
}

/// Declared `Content-Length` above the default 4 MiB: refused without reading
/// the body (raw socket, so no body bytes are even sent).
#[tokio::test]
async fn oversize_content_length_is_413() {
    let server = start_with(echo(true)).await;
    let mut sock = TcpStream::connect(server.addr).await.expect("connect");
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
        DEFAULT_BODY_LIMIT + 1
    );
    sock.write_all(head.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(LIMIT, sock.read(&mut chunk))
            .await
            .expect("read in time")
            .expect("read");
        assert!(n > 0, "connection closed before a response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    server.stopped().await;
}

/// Streamed body without a declared length (HTTP/2 DATA frames): the limit
/// applies to the bytes actually received.
#[tokio::test]
async fn oversize_streamed_body_is_413() {
    let server = start(AdminServer::new(Registry::new(), echo(true)).body_limit(4096)).await;
    let chunks = (0..8).map(|_| {
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Frame::data(Bytes::from(vec![
            b'x';
            1024
        ])))
    });
    let body = BodyExt::boxed(StreamBody::new(stream::iter(chunks)));
    let (status, _, body) = send(&http2_client(), Method::POST, &server.url("/upload"), body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(value["limit"], 4096);
    server.stopped().await;
}

#[tokio::test]
async fn panicking_hook_is_500_and_server_keeps_serving() {
    let server = start_with(Arc::new(PanickingHooks)).await;
    let client = http1_client();
    let (status, _, _) = get(&client, &server.url("/stats")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, _, _) = get(&client, &server.url("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    server.stopped().await;
}

#[tokio::test]
async fn shutdown_ends_serve_admin_and_closes_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_admin(
        listener,
        Registry::new(),
        echo(true),
        async move {
            let _ = stopped.await;
        },
    ));
    // An idle keep-alive connection stays in the client's pool.
    let client = http1_client();
    let (status, _, _) = get(&client, &format!("http://{addr}/healthz")).await;
    assert_eq!(status, StatusCode::OK);

    stop.send(()).expect("server still running");
    tokio::time::timeout(LIMIT, task)
        .await
        .expect("serve_admin ended")
        .expect("task")
        .expect("serve result");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "listener still open"
    );
}

async fn in_flight_request_finishes(client: Client<HttpConnector, TestBody>) {
    let entered = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let hooks = Arc::new(GatedHooks {
        entered: Arc::clone(&entered),
        release: Arc::clone(&release),
    });
    let mut server = start_with(hooks).await;
    let url = server.url("/slow");
    let request = tokio::spawn(async move { send(&client, Method::POST, &url, full("x")).await });

    tokio::time::timeout(LIMIT, entered.notified())
        .await
        .expect("route entered");
    server.stop();
    assert!(
        !server.task.is_finished(),
        "serve ended with a request in flight"
    );
    release.notify_one();

    let (status, _, body) = tokio::time::timeout(LIMIT, request)
        .await
        .expect("request finished")
        .expect("request task");
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"done"[..]));
    server.stopped().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_http1_request_finish() {
    in_flight_request_finishes(http1_client()).await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_http2_request_finish() {
    in_flight_request_finishes(http2_client()).await;
}

#[tokio::test]
async fn drain_timeout_drops_stuck_connections() {
    let entered = Arc::new(Notify::new());
    let hooks = Arc::new(GatedHooks {
        entered: Arc::clone(&entered),
        release: Arc::new(Notify::new()),
    });
    let server =
        start(AdminServer::new(Registry::new(), hooks).drain_timeout(Duration::from_millis(50)))
            .await;
    let client = http1_client();
    let url = server.url("/stuck");
    let request = tokio::spawn(async move {
        let req = Request::post(url).body(full("x")).expect("request");
        client.request(req).await
    });
    tokio::time::timeout(LIMIT, entered.notified())
        .await
        .expect("route entered");
    server.stopped().await;
    let result = tokio::time::timeout(LIMIT, request)
        .await
        .expect("request ended")
        .expect("request task");
    assert!(result.is_err(), "stuck request should fail, got {result:?}");
}

#[test]
fn json_response_sets_status_and_content_type() {
    let resp = json_response(StatusCode::ACCEPTED, &serde_json::json!({"a": [1, 2]}));
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(
        resp.headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some(JSON_CONTENT_TYPE)
    );
    assert_eq!(&resp.body()[..], br#"{"a":[1,2]}"#);
}
