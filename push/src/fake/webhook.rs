//! The fake webhook receiver: plain HTTP, any path, JSON bodies recorded.

use super::*;

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
