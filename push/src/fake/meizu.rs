//! The fake Meizu push: `pushByPushId` (notification bar messages) on a TLS port.

use super::*;
use crate::meizu::{
    sign, INVALID_PUSH_ID, MAX_CONTENT_CHARS, MAX_TITLE_CHARS, OVER_RATE, PATH, SUCCESS,
};

const INVALID_APP_ID: &str = "110000";
const MISSING_PARAMETER: &str = "110004";
const BAD_PARAMETER: &str = "1005";
const SIGN_FAILED: &str = "1006";

/// Meizu's varnished `pushByPushId` on one TLS port (HTTP/2 or HTTP/1.1).
pub type FakeMeizu = VendorFake<MeizuState>;

/// The fake's apps and tokens; its answers are [`VendorState::answer`].
pub struct MeizuState {
    shared: Shared,
    /// AppId → AppSecret.
    apps: Mutex<HashMap<String, String>>,
}

/// Meizu answers 200 with `{code, message, value, redirect}`; `code` is a string.
fn meizu_answer(code: &str, message: &str, value: Value) -> Response<Full<Bytes>> {
    json_response(
        StatusCode::OK,
        json!({"code": code, "message": message, "value": value, "redirect": ""}),
    )
}

impl VendorFake<MeizuState> {
    pub async fn start() -> FakeMeizu {
        Self::serve(MeizuState {
            shared: Shared::default(),
            apps: Mutex::new(HashMap::new()),
        })
        .await
    }

    /// A new app with a random AppId and AppSecret, pointed at this fake.
    pub fn credentials(&self) -> MeizuCredentials {
        let app_id = random_string(6, b"0123456789");
        let app_secret = random_string(32, LOWER_HEX);
        lock(&self.state.apps).insert(app_id.clone(), app_secret.clone());
        MeizuCredentials {
            app_id,
            app_secret,
            endpoint: self.endpoint(),
        }
    }
}

impl VendorState for MeizuState {
    fn shared(&self) -> &Shared {
        &self.shared
    }

    fn answer(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.handle(parts, body)
    }
}

impl MeizuState {
    fn handle(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.shared.recorder.requests.fetch_add(1, Ordering::SeqCst);
        let form_body = header(&parts, "content-type")
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
        if parts.method != http::Method::POST || !form_body || parts.uri.path() != PATH {
            return meizu_answer(BAD_PARAMETER, "POST a form to pushByPushId", Value::Null);
        }
        let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        };
        let Some(secret) = lock(&self.apps).get(field("appId")).cloned() else {
            return meizu_answer(INVALID_APP_ID, "appId不合法", Value::Null);
        };
        let signed: Vec<(&str, &str)> = form
            .iter()
            .filter(|(k, _)| k != "sign")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if field("sign") != sign(&signed, &secret) {
            return meizu_answer(SIGN_FAILED, "签名认证失败", Value::Null);
        }
        let message = serde_json::from_str::<Value>(field("messageJson")).unwrap_or_default();
        let bar = &message["noticeBarInfo"];
        let (title, content) = (
            bar["title"].as_str().unwrap_or_default(),
            bar["content"].as_str().unwrap_or_default(),
        );
        let push_ids: Vec<&str> = field("pushIds")
            .split(',')
            .filter(|p| !p.is_empty())
            .collect();
        if push_ids.is_empty() || title.is_empty() || content.is_empty() {
            return meizu_answer(MISSING_PARAMETER, "参数不能为空", Value::Null);
        }
        if title.chars().count() > MAX_TITLE_CHARS || content.chars().count() > MAX_CONTENT_CHARS {
            return meizu_answer(BAD_PARAMETER, "参数错误", Value::Null);
        }
        let parameters = &message["clickTypeInfo"]["parameters"];
        // Each pushId either fails under a code or is accepted.
        let mut failed: HashMap<&str, Vec<&str>> = HashMap::new();
        for push_id in push_ids {
            if self.shared.devices.is_gone(push_id) {
                failed.entry(INVALID_PUSH_ID).or_default().push(push_id);
            } else if self.shared.devices.is_limited(push_id) {
                failed.entry(OVER_RATE).or_default().push(push_id);
            } else {
                self.shared.recorder.record(ReceivedPush {
                    device_token: push_id.to_string(),
                    title: title.to_string(),
                    body: content.to_string(),
                    data: parameters["pushData"].as_str().map(str::to_string),
                    id: parameters["msgUID"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    user_id: None,
                    uri: path_and_query(&parts),
                    version: parts.version,
                    headers: parts.headers.clone(),
                    json: message.clone(),
                });
            }
        }
        meizu_answer(SUCCESS, "", json!(failed))
    }
}
