//! The fake vivo push: `/message/auth` and `/message/send` on a TLS port.

use super::*;
use crate::sign::md5_hex;
use crate::vivo::{
    units, AUTH_FAILED, INVALID_REG_ID, MAX_CONTENT_UNITS, MAX_TITLE_UNITS, SUCCESS,
    VOLUME_EXCEEDED,
};
use meridian_clock::now_ms;

/// vivo documents no code for a bad signature or unknown app: this fake uses one of its
/// parameter-error codes for both.
const INVALID_PARAMETER: i64 = 10050;
/// The request body's appId is not the authToken's (vivo 2.9.2).
const APP_MISMATCH: i64 = 10094;
const MAX_CLOCK_SKEW_MS: u64 = 10 * 60 * 1000;

/// vivo push's auth and single-send APIs on one TLS port (HTTP/2 or HTTP/1.1).
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
}

fn vivo_answer(result: i64, desc: &str, extra: Value) -> Response<Full<Bytes>> {
    let mut body = json!({"result": result, "desc": desc});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    json_response(StatusCode::OK, body)
}

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

    fn send(&self, parts: &Parts, request: &Value) -> Response<Full<Bytes>> {
        let owner = header(parts, "authToken")
            .and_then(|token| lock(&self.book).auth_tokens.get(token).cloned());
        let Some(owner) = owner else {
            return vivo_error(AUTH_FAILED, "权限认证失败");
        };
        let text = |name: &str| request[name].as_str().unwrap_or_default();
        if text("appId") != owner {
            return vivo_error(APP_MISMATCH, "appId不一致");
        }
        let (reg_id, title, content, request_id) = (
            text("regId"),
            text("title"),
            text("content"),
            text("requestId"),
        );
        let weight = |s: &str| s.chars().map(units).sum::<usize>();
        let required = [reg_id, title, content, request_id];
        if required.iter().any(|s| s.is_empty())
            || request["notifyType"].as_u64().is_none()
            || request["skipType"].as_u64().is_none()
        {
            return vivo_error(INVALID_PARAMETER, "必填参数缺失");
        }
        if weight(title) > MAX_TITLE_UNITS || weight(content) > MAX_CONTENT_UNITS {
            return vivo_error(INVALID_PARAMETER, "title或content超长");
        }
        let custom = &request["clientCustomMap"];
        if !custom.is_null()
            && !custom
                .as_object()
                .is_some_and(|m| m.values().all(Value::is_string))
        {
            return vivo_error(INVALID_PARAMETER, "clientCustomMap不合法");
        }
        if self.shared.devices.is_gone(reg_id) {
            return vivo_error(INVALID_REG_ID, "regId不合法");
        }
        if self.shared.devices.is_limited(reg_id) {
            return vivo_error(VOLUME_EXCEEDED, "发送总量超出限制");
        }
        // A repeated requestId is acknowledged and not shown again.
        if !lock(&self.book).request_ids.insert(request_id.to_string()) {
            return vivo_answer(SUCCESS, "请求成功", json!({"taskId": "0"}));
        }
        self.shared.recorder.record(ReceivedPush {
            device_token: reg_id.to_string(),
            title: title.to_string(),
            body: content.to_string(),
            data: custom["pushData"].as_str().map(str::to_string),
            id: custom["msgUID"].as_str().unwrap_or_default().to_string(),
            user_id: None,
            uri: path_and_query(parts),
            version: parts.version,
            headers: parts.headers.clone(),
            json: request.clone(),
        });
        vivo_answer(
            SUCCESS,
            "请求成功",
            json!({"taskId": random_string(12, b"0123456789")}),
        )
    }
}
