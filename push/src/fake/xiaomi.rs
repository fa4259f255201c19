//! The fake Xiaomi MiPush: `/v3/message/regid` on a TLS port.

use super::*;
use crate::xiaomi::{
    MAX_DESCRIPTION_CHARS, MAX_REGIDS, MAX_TITLE_CHARS, SEND_FAILED, TOO_FREQUENT,
};
use crate::XIAOMI_MAX_PAYLOAD_BYTES;

const AUTH_FAILED: i64 = 21301;
const MISSING_PARAMETER: i64 = 10016;
const INVALID_PARAMETER: i64 = 10017;
const BAD_PACKAGE: i64 = 22022;

/// MiPush's send-to-regid API on one TLS port (HTTP/2 or HTTP/1.1).
pub type FakeXiaomi = VendorFake<XiaomiState>;

/// The fake's apps and tokens; its answers are [`VendorState::answer`].
pub struct XiaomiState {
    shared: Shared,
    /// App secret → package name.
    apps: Mutex<HashMap<String, String>>,
}

/// MiPush answers 200 with `result` "ok" or "error" and a numeric `code`.
fn mipush_error(code: i64, reason: &str) -> Response<Full<Bytes>> {
    json_response(
        StatusCode::OK,
        json!({"result": "error", "code": code, "reason": reason,
               "trace_id": random_string(20, UPPER_ALNUM)}),
    )
}

impl VendorFake<XiaomiState> {
    pub async fn start() -> FakeXiaomi {
        Self::serve(XiaomiState {
            shared: Shared::default(),
            apps: Mutex::new(HashMap::new()),
        })
        .await
    }

    /// A new app of `package_name` with a random AppSecret, pointed at this fake.
    pub fn credentials(&self, package_name: &str) -> XiaomiCredentials {
        let app_secret = random_string(24, UPPER_ALNUM);
        lock(&self.state.apps).insert(app_secret.clone(), package_name.to_string());
        XiaomiCredentials {
            app_secret,
            package_name: package_name.to_string(),
            endpoint: self.endpoint(),
        }
    }
}

impl VendorState for XiaomiState {
    fn shared(&self) -> &Shared {
        &self.shared
    }

    fn answer(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.handle(parts, body)
    }
}

impl XiaomiState {
    fn handle(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.shared.recorder.requests.fetch_add(1, Ordering::SeqCst);
        if parts.method != http::Method::POST || parts.uri.path() != "/v3/message/regid" {
            return json_response(StatusCode::NOT_FOUND, json!({"result": "error"}));
        }
        // The scheme word must be lowercase "key".
        let secret = header(&parts, "authorization").and_then(|v| v.strip_prefix("key="));
        let package = secret.and_then(|secret| lock(&self.apps).get(secret).cloned());
        let Some(package) = package else {
            return mipush_error(AUTH_FAILED, "Authentication failed");
        };
        if !header(&parts, "content-type")
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
        {
            return mipush_error(INVALID_PARAMETER, "form-encoded body expected");
        }
        let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
        let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
        if field("restricted_package_name") != package {
            return mipush_error(BAD_PACKAGE, "Invalid package name");
        }
        let regids: Vec<&str> = field("registration_id")
            .split(',')
            .filter(|regid| !regid.is_empty())
            .collect();
        let notification = field("pass_through") != "1";
        let (title, description) = (field("title"), field("description"));
        if regids.is_empty()
            || (notification && (title.trim().is_empty() || description.trim().is_empty()))
        {
            return mipush_error(MISSING_PARAMETER, "Missing required parameter");
        }
        if regids.len() > MAX_REGIDS
            || title.chars().count() > MAX_TITLE_CHARS
            || description.chars().count() > MAX_DESCRIPTION_CHARS
            || field("payload").len() > XIAOMI_MAX_PAYLOAD_BYTES
        {
            return mipush_error(INVALID_PARAMETER, "Invalid parameter value: too long");
        }
        if regids
            .iter()
            .any(|regid| self.shared.devices.is_limited(regid))
        {
            return mipush_error(TOO_FREQUENT, "app api call too frequently");
        }
        let (bad, live): (Vec<&str>, Vec<&str>) = regids
            .iter()
            .partition(|regid| self.shared.devices.is_gone(regid));
        if live.is_empty() {
            return mipush_error(SEND_FAILED, "No valid targets!");
        }
        let payload: Value = serde_json::from_str(field("payload")).unwrap_or_default();
        for regid in &live {
            self.shared.recorder.record(ReceivedPush {
                device_token: regid.to_string(),
                title: title.to_string(),
                body: description.to_string(),
                data: payload["pushData"].as_str().map(str::to_string),
                id: payload["msgUID"].as_str().unwrap_or_default().to_string(),
                user_id: None,
                uri: path_and_query(&parts),
                version: parts.version,
                headers: parts.headers.clone(),
                json: json!(form),
            });
        }
        let mut data = json!({"id": format!("scm{}", random_string(20, LOWER_HEX))});
        if !bad.is_empty() {
            data["bad_regids"] = json!(bad.join(","));
        }
        json_response(
            StatusCode::OK,
            json!({"result": "ok", "code": 0, "description": "成功", "data": data,
                   "info": format!("Received push messages for {} REGID", live.len()),
                   "trace_id": random_string(20, UPPER_ALNUM)}),
        )
    }
}
