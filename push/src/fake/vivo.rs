//! The fake vivo push: `/message/auth`, `/message/send`, `/message/saveListPayload` and
//! `/message/pushToList` on a TLS port.

use super::*;
use crate::sign::md5_hex;
use crate::vivo::{
    units, AUTH_FAILED, INVALID_REG_ID, MAX_CONTENT_UNITS, MAX_REG_IDS, MAX_TITLE_UNITS, SUCCESS,
    UNKNOWN_USER, VOLUME_EXCEEDED,
};
use meridian_clock::now_ms;

/// vivo documents no code for a bad signature or unknown app: this fake uses one of its
/// parameter-error codes for both.
const INVALID_PARAMETER: i64 = 10050;
/// The request body's appId is not the authToken's (vivo 2.9.2).
const APP_MISMATCH: i64 = 10094;
const MAX_CLOCK_SKEW_MS: u64 = 10 * 60 * 1000;

/// vivo push's auth, single-send and list-push APIs on one TLS port (HTTP/2 or HTTP/1.1).
pub type FakeVivo = VendorFake<VivoState>;

/// The fake's apps and tokens; its answers are [`VendorState::answer`].
pub struct VivoState {
    shared: Shared,
    book: Mutex<VivoBook>,
}

#[derive(Default)]
struct VivoBook {
    /// AppId → (AppKey, AppSecret).
    apps: HashMap<String, (String, String)>,
    /// authTokens in force → AppId.
    auth_tokens: HashMap<String, String>,
    tokens_issued: usize,
    request_ids: HashSet<String>,
    /// List payloads by taskId: the AppId that saved it, and the payload.
    payloads: HashMap<String, (String, Value)>,
    /// The taskId each saved payload's requestId got.
    payload_requests: HashMap<String, String>,
}

fn vivo_answer(result: i64, desc: &str, extra: Value) -> Response<Full<Bytes>> {
    let mut body = json!({"result": result, "desc": desc});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    json_response(StatusCode::OK, body)
}

/// A vivo `result` code and its `desc`.
type Refusal = (i64, &'static str);

fn vivo_error(result: i64, desc: &str) -> Response<Full<Bytes>> {
    vivo_answer(result, desc, Value::Null)
}

impl VendorFake<VivoState> {
    pub async fn start() -> FakeVivo {
        Self::serve(VivoState {
            shared: Shared::default(),
            book: Mutex::new(VivoBook::default()),
        })
        .await
    }

    /// A new app with random AppId, AppKey and AppSecret, pointed at this fake.
    pub fn credentials(&self) -> VivoCredentials {
        let app_id = random_string(6, b"0123456789");
        let (app_key, app_secret) = (random_string(32, LOWER_HEX), random_string(32, LOWER_HEX));
        lock(&self.state.book)
            .apps
            .insert(app_id.clone(), (app_key.clone(), app_secret.clone()));
        VivoCredentials {
            app_id,
            app_key,
            app_secret,
            endpoint: self.endpoint(),
        }
    }

    /// Every authToken issued so far is answered 10000 from now on.
    pub fn expire_auth_tokens(&self) {
        lock(&self.state.book).auth_tokens.clear();
    }

    pub fn tokens_issued(&self) -> usize {
        lock(&self.state.book).tokens_issued
    }
}

impl VendorState for VivoState {
    fn shared(&self) -> &Shared {
        &self.shared
    }

    fn answer(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.handle(parts, body)
    }
}

impl VivoState {
    fn handle(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.shared.recorder.requests.fetch_add(1, Ordering::SeqCst);
        let json_body =
            header(&parts, "content-type").is_some_and(|t| t.starts_with("application/json"));
        let request = serde_json::from_slice::<Value>(&body).ok();
        let (true, Some(request)) = (parts.method == http::Method::POST && json_body, request)
        else {
            return vivo_error(INVALID_PARAMETER, "POST with a JSON body expected");
        };
        match parts.uri.path() {
            "/message/auth" => self.auth(&request),
            "/message/send" => self.send(&parts, &request),
            "/message/saveListPayload" => self.save_list_payload(&parts, &request),
            "/message/pushToList" => self.push_to_list(&parts, &request),
            _ => json_response(StatusCode::NOT_FOUND, json!({"result": 404})),
        }
    }

    fn auth(&self, request: &Value) -> Response<Full<Bytes>> {
        let text = |name: &str| request[name].as_str().unwrap_or_default();
        let (app_id, app_key, sign) = (text("appId"), text("appKey"), text("sign"));
        let Some(timestamp) = request["timestamp"].as_u64() else {
            return vivo_error(INVALID_PARAMETER, "timestamp不合法");
        };
        if timestamp.abs_diff(now_ms()) > MAX_CLOCK_SKEW_MS {
            return vivo_error(INVALID_PARAMETER, "timestamp不合法");
        }
        let mut book = lock(&self.book);
        let signed = book.apps.get(app_id).is_some_and(|(key, secret)| {
            key == app_key && sign == md5_hex(&format!("{app_id}{app_key}{timestamp}{secret}"))
        });
        if !signed {
            return vivo_error(INVALID_PARAMETER, "sign不合法");
        }
        let token = random_string(36, LOWER_HEX);
        book.auth_tokens.insert(token.clone(), app_id.to_string());
        book.tokens_issued += 1;
        vivo_answer(SUCCESS, "请求成功", json!({"authToken": token}))
    }

    /// The AppId an authenticated request acts for, checked against its body's `appId`.
    fn caller(&self, parts: &Parts, request: &Value) -> Result<String, Refusal> {
        let owner = header(parts, "authToken")
            .and_then(|token| lock(&self.book).auth_tokens.get(token).cloned());
        let Some(owner) = owner else {
            return Err((AUTH_FAILED, "权限认证失败"));
        };
        if request["appId"].as_str() != Some(owner.as_str()) {
            return Err((APP_MISMATCH, "appId不一致"));
        }
        Ok(owner)
    }

    /// A notification's fields, as the single send and a list payload both carry them.
    fn check_message(request: &Value) -> Result<(), Refusal> {
        let text = |name: &str| request[name].as_str().unwrap_or_default();
        let (title, content) = (text("title"), text("content"));
        let weight = |s: &str| s.chars().map(units).sum::<usize>();
        if [title, content, text("requestId")]
            .iter()
            .any(|s| s.is_empty())
            || request["notifyType"].as_u64().is_none()
            || request["skipType"].as_u64().is_none()
        {
            return Err((INVALID_PARAMETER, "必填参数缺失"));
        }
        if weight(title) > MAX_TITLE_UNITS || weight(content) > MAX_CONTENT_UNITS {
            return Err((INVALID_PARAMETER, "title或content超长"));
        }
        let custom = &request["clientCustomMap"];
        if !custom.is_null()
            && !custom
                .as_object()
                .is_some_and(|m| m.values().all(Value::is_string))
        {
            return Err((INVALID_PARAMETER, "clientCustomMap不合法"));
        }
        Ok(())
    }

    fn record(&self, parts: &Parts, reg_id: &str, message: &Value) {
        let text = |name: &str| message[name].as_str().unwrap_or_default().to_string();
        let custom = &message["clientCustomMap"];
        self.shared.recorder.record(ReceivedPush {
            device_token: reg_id.to_string(),
            title: text("title"),
            body: text("content"),
            data: custom["pushData"].as_str().map(str::to_string),
            id: custom["msgUID"].as_str().unwrap_or_default().to_string(),
            user_id: None,
            uri: path_and_query(parts),
            version: parts.version,
            headers: parts.headers.clone(),
            json: message.clone(),
        });
    }

    fn send(&self, parts: &Parts, request: &Value) -> Response<Full<Bytes>> {
        if let Err((result, desc)) = self
            .caller(parts, request)
            .and_then(|_| Self::check_message(request))
        {
            return vivo_error(result, desc);
        }
        let reg_id = request["regId"].as_str().unwrap_or_default();
        if reg_id.is_empty() {
            return vivo_error(INVALID_PARAMETER, "必填参数缺失");
        }
        if self.shared.devices.is_gone(reg_id) {
            return vivo_error(INVALID_REG_ID, "regId不合法");
        }
        if self.shared.devices.is_limited(reg_id) {
            return vivo_error(VOLUME_EXCEEDED, "发送总量超出限制");
        }
        // A repeated requestId is acknowledged and not shown again.
        let request_id = request["requestId"].as_str().unwrap_or_default();
        if !lock(&self.book).request_ids.insert(request_id.to_string()) {
            return vivo_answer(SUCCESS, "请求成功", json!({"taskId": "0"}));
        }
        self.record(parts, reg_id, request);
        vivo_answer(
            SUCCESS,
            "请求成功",
            json!({"taskId": random_string(12, b"0123456789")}),
        )
    }

    /// Keeps a list payload under a new taskId (the same one for a repeated requestId).
    fn save_list_payload(&self, parts: &Parts, request: &Value) -> Response<Full<Bytes>> {
        let app_id = match self.caller(parts, request) {
            Ok(app_id) => app_id,
            Err((result, desc)) => return vivo_error(result, desc),
        };
        if let Err((result, desc)) = Self::check_message(request) {
            return vivo_error(result, desc);
        }
        let request_id = request["requestId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut book = lock(&self.book);
        let task_id = match book.payload_requests.get(&request_id) {
            Some(task_id) => task_id.clone(),
            None => {
                let task_id = random_string(12, b"0123456789");
                book.payloads
                    .insert(task_id.clone(), (app_id, request.clone()));
                book.payload_requests.insert(request_id, task_id.clone());
                task_id
            }
        };
        vivo_answer(SUCCESS, "请求成功", json!({"taskId": task_id}))
    }

    /// Shows a saved payload on 2 to 1,000 regIds; the ones it cannot reach are listed.
    fn push_to_list(&self, parts: &Parts, request: &Value) -> Response<Full<Bytes>> {
        let app_id = match self.caller(parts, request) {
            Ok(app_id) => app_id,
            Err((result, desc)) => return vivo_error(result, desc),
        };
        let reg_ids: Option<Vec<&str>> = request["regIds"]
            .as_array()
            .and_then(|ids| ids.iter().map(Value::as_str).collect());
        let (Some(reg_ids), Some(task_id), Some(request_id)) = (
            reg_ids,
            request["taskId"].as_str(),
            request["requestId"].as_str().filter(|id| !id.is_empty()),
        ) else {
            return vivo_error(INVALID_PARAMETER, "必填参数缺失");
        };
        if !(2..=MAX_REG_IDS).contains(&reg_ids.len()) {
            return vivo_error(INVALID_PARAMETER, "regIds个数不合法");
        }
        let payload = match lock(&self.book).payloads.get(task_id) {
            Some((owner, payload)) if *owner == app_id => payload.clone(),
            _ => return vivo_error(INVALID_PARAMETER, "taskId不合法"),
        };
        if reg_ids.iter().any(|id| self.shared.devices.is_limited(id)) {
            return vivo_error(VOLUME_EXCEEDED, "发送总量超出限制");
        }
        // A repeated requestId is acknowledged and not shown again.
        if !lock(&self.book).request_ids.insert(request_id.to_string()) {
            return vivo_answer(SUCCESS, "请求成功", json!({"taskId": task_id}));
        }
        let (gone, live): (Vec<&str>, Vec<&str>) = reg_ids
            .into_iter()
            .partition(|id| self.shared.devices.is_gone(id));
        for reg_id in live {
            self.record(parts, reg_id, &payload);
        }
        let invalid: Vec<Value> = gone
            .iter()
            .map(|id| json!({"status": UNKNOWN_USER, "userid": id}))
            .collect();
        vivo_answer(
            SUCCESS,
            "请求成功",
            json!({"taskId": task_id, "invalidUsers": invalid}),
        )
    }
}
