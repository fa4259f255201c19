//! A stand-in for an app's server: it records every callback Meridian posts to it and
//! answers as the test says (up, down with 503, or a programmed answer per path).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::watch;

/// One request as the app server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// The query string's pairs, decoded.
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: String,
    /// The status it was answered with.
    pub status: u16,
}

impl Received {
    /// The form body's pairs, decoded.
    pub fn form(&self) -> HashMap<String, String> {
        decode_pairs(&self.body)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

fn decode_pairs(text: &str) -> HashMap<String, String> {
    form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

#[derive(Default)]
struct Behaviour {
    /// Answer 503 to everything.
    down: bool,
    /// A fixed answer (status, JSON body) per path.
    answers: HashMap<String, (u16, String)>,
    /// How long to wait before answering, per path.
    delays: HashMap<String, Duration>,
}

pub struct AppServer {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    count: watch::Sender<usize>,
    behaviour: Arc<Mutex<Behaviour>>,
    stop: watch::Sender<bool>,
}

impl AppServer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind app server");
        let addr = listener.local_addr().expect("local addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let (count, _) = watch::channel(0);
        let behaviour = Arc::new(Mutex::new(Behaviour::default()));
        let (stop, stop_rx) = watch::channel(false);
        let server = Self {
            addr,
            received: received.clone(),
            count: count.clone(),
            behaviour: behaviour.clone(),
            stop,
        };
        tokio::spawn(serve(listener, received, count, behaviour, stop_rx));
        server
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answer 503 to everything (`true`) or take callbacks again.
    pub fn set_down(&self, down: bool) {
        self.behaviour.lock().unwrap().down = down;
    }

    /// Answers requests to `path` with this status and JSON body.
    pub fn answer(&self, path: &str, status: u16, body: serde_json::Value) {
        self.behaviour
            .lock()
            .unwrap()
            .answers
            .insert(path.to_string(), (status, body.to_string()));
    }

    /// Waits this long before answering requests to `path`.
    pub fn delay(&self, path: &str, delay: Duration) {
        self.behaviour
            .lock()
            .unwrap()
            .delays
            .insert(path.to_string(), delay);
    }

    /// Everything received so far (answered or not), in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Requests to `path` received so far.
    pub fn received_at(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Waits until `done` holds for what was received, or panics after `timeout`.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let mut count = self.count.subscribe();
        let waited = tokio::time::timeout(timeout, async {
            loop {
                let received = self.received();
                if done(&received) {
                    return received;
                }
                if count.changed().await.is_err() {
                    return received;
                }
            }
        })
        .await;
        match waited {
            Ok(received) => received,
            Err(_) => panic!(
                "app server: {what} not within {timeout:?}; received {} requests",
                self.received().len()
            ),
        }
    }
}

impl Drop for AppServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    received: Arc<Mutex<Vec<Received>>>,
    count: watch::Sender<usize>,
    behaviour: Arc<Mutex<Behaviour>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = stop.changed() => return,
        };
        let (received, count, behaviour) = (received.clone(), count.clone(), behaviour.clone());
        let service = service_fn(move |request: Request<Incoming>| {
            let (received, count, behaviour) = (received.clone(), count.clone(), behaviour.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let mut record = Received {
                    path: parts.uri.path().to_string(),
                    query: decode_pairs(parts.uri.query().unwrap_or_default()),
                    headers: parts
                        .headers
                        .iter()
                        .map(|(k, v)| {
                            (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())
                        })
                        .collect(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                    status: 0,
                };
                let (down, answer, delay) = {
                    let b = behaviour.lock().unwrap();
                    (
                        b.down,
                        b.answers.get(&record.path).cloned(),
                        b.delays.get(&record.path).copied(),
                    )
                };
                if let Some(delay) = delay {
                    tokio::time::sleep(delay).await;
                }
                let (status, body) = match (down, answer) {
                    (true, _) => (503, r#"{"error":"down"}"#.to_string()),
                    (false, Some(answer)) => answer,
                    (false, None) => (200, "{}".to_string()),
                };
                record.status = status;
                received.lock().unwrap().push(record);
                count.send_modify(|n| *n += 1);
                let response = Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .expect("response");
                Ok::<_, Infallible>(response)
            }
        });
        tokio::spawn(async move {
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
