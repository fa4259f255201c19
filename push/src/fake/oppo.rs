//! The fake OPPO PUSH: `/server/v1/auth` and the notification batch unicast on a TLS
//! port.

use super::*;
use crate::oppo::{
    CALL_LIMITED, INVALID_AUTH_TOKEN, INVALID_REGISTRATION_ID, MAX_CONTENT_CHARS, MAX_MESSAGES,
    MAX_TITLE_CHARS, SUCCESS,
};
use crate::sign::sha256_hex;
use crate::OPPO_MAX_PARAMETERS_CHARS;
use meridian_clock::now_ms;

const INVALID_APP_KEY: i64 = 14;
const INVALID_SIGNATURE: i64 = 16;
const INVALID_TIMESTAMP: i64 = 19;
const MISSING_AUTH_TOKEN: i64 = 29;
const MISSING_ARGUMENTS: i64 = 40;
const INVALID_ARGUMENTS: i64 = 41;
/// OPPO accepts a timestamp up to ten minutes off.
const MAX_CLOCK_SKEW_MS: u64 = 10 * 60 * 1000;

/// OPPO PUSH's auth and unicast APIs on one TLS port (HTTP/2 or HTTP/1.1).
pub type FakeOppo = VendorFake<OppoState>;

/// The fake's apps and tokens; its answers are [`VendorState::answer`].
pub struct OppoState {
    shared: Shared,
    book: Mutex<OppoBook>,
}

#[derive(Default)]
struct OppoBook {
    /// AppKey → MasterSecret.
    apps: HashMap<String, String>,
    /// auth_tokens in force → AppKey.
    auth_tokens: HashMap<String, String>,
    tokens_issued: usize,
}

/// OPPO answers 200 with `{code, message, data}`.
fn oppo_answer(code: i64, message: &str, data: Value) -> Response<Full<Bytes>> {
    json_response(
        StatusCode::OK,
        json!({"code": code, "message": message, "data": data}),
    )
}

fn oppo_error(code: i64, message: &str) -> Response<Full<Bytes>> {
    oppo_answer(code, message, Value::Null)
}

impl VendorFake<OppoState> {
    pub async fn start() -> FakeOppo {
        Self::serve(OppoState {
            shared: Shared::default(),
            book: Mutex::new(OppoBook::default()),
        })
        .await
    }

    /// A new app with a random AppKey and MasterSecret, pointed at this fake.
    pub fn credentials(&self) -> OppoCredentials {
        let app_key = random_string(24, LOWER_HEX);
        let master_secret = random_string(32, LOWER_HEX);
        lock(&self.state.book)
            .apps
            .insert(app_key.clone(), master_secret.clone());
        OppoCredentials {
            app_key,
            master_secret,
            endpoint: self.endpoint(),
        }
    }

    /// Every auth_token issued so far is answered 11 (Invalid AuthToken) from now on.
    pub fn expire_auth_tokens(&self) {
        lock(&self.state.book).auth_tokens.clear();
    }

    pub fn tokens_issued(&self) -> usize {
        lock(&self.state.book).tokens_issued
    }
}

impl VendorState for OppoState {
    fn shared(&self) -> &Shared {
        &self.shared
    }

    fn answer(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.handle(parts, body)
    }
}

impl OppoState {
    fn handle(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.shared.recorder.requests.fetch_add(1, Ordering::SeqCst);
        if parts.method != http::Method::POST {
            return oppo_error(12, "Http Action Not Allowed");
        }
        if !header(&parts, "content-type")
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
        {
            return oppo_error(INVALID_ARGUMENTS, "Invalid Arguments: form expected");
        }
        let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
        match parts.uri.path() {
            "/server/v1/auth" => self.auth(&form),
            "/server/v1/message/notification/unicast_batch" => self.unicast_batch(&parts, &form),
            _ => oppo_error(20, "Invalid Method"),
        }
    }

    fn auth(&self, form: &HashMap<String, String>) -> Response<Full<Bytes>> {
        let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
        let (app_key, sign, timestamp) = (field("app_key"), field("sign"), field("timestamp"));
        let mut book = lock(&self.book);
        let Some(master_secret) = book.apps.get(app_key).cloned() else {
            return oppo_error(INVALID_APP_KEY, "Invalid App Key");
        };
        let fresh = timestamp
            .parse::<u64>()
            .is_ok_and(|ms| ms.abs_diff(now_ms()) <= MAX_CLOCK_SKEW_MS);
        if !fresh {
            return oppo_error(INVALID_TIMESTAMP, "Invalid Timestamp");
        }
        if sign != sha256_hex(&format!("{app_key}{timestamp}{master_secret}")) {
            return oppo_error(INVALID_SIGNATURE, "Invalid Signature");
        }
        let auth_token = random_string(36, LOWER_HEX);
        book.auth_tokens
            .insert(auth_token.clone(), app_key.to_string());
        book.tokens_issued += 1;
        oppo_answer(
            SUCCESS,
            "Success",
            json!({"auth_token": auth_token, "create_time": now_ms()}),
        )
    }

    /// Every message is checked before any is sent; a registration id OPPO does not know
    /// fails alone (its result carries `errorCode`), an app over its rate fails them all.
    fn unicast_batch(
        &self,
        parts: &Parts,
        form: &HashMap<String, String>,
    ) -> Response<Full<Bytes>> {
        let Some(token) = form.get("auth_token") else {
            return oppo_error(MISSING_AUTH_TOKEN, "Missing Auth Token");
        };
        if !lock(&self.book).auth_tokens.contains_key(token) {
            return oppo_error(INVALID_AUTH_TOKEN, "Invalid AuthToken");
        }
        let Some(messages) = form
            .get("messages")
            .and_then(|m| serde_json::from_str::<Vec<Value>>(m).ok())
            .filter(|messages| !messages.is_empty())
        else {
            return oppo_error(MISSING_ARGUMENTS, "Missing Required Arguments: messages");
        };
        if messages.len() > MAX_MESSAGES {
            return oppo_error(INVALID_ARGUMENTS, "Invalid Arguments: too many messages");
        }
        let mut checked = Vec::with_capacity(messages.len());
        for message in &messages {
            match check(message) {
                Ok(push) => checked.push((push, message)),
                Err((code, why)) => return oppo_error(code, why),
            }
        }
        if checked
            .iter()
            .any(|(push, _)| self.shared.devices.is_limited(&push.device_token))
        {
            return oppo_error(CALL_LIMITED, "App Call Limited");
        }
        let mut results = Vec::with_capacity(checked.len());
        for (push, message) in checked {
            let regid = push.device_token.clone();
            let mut result =
                json!({"messageId": random_string(24, LOWER_HEX), "registrationId": regid});
            if self.shared.devices.is_gone(&regid) {
                result["errorCode"] = json!(INVALID_REGISTRATION_ID);
                result["errorMessage"] = json!("Invalid RegistrationId");
            } else {
                self.shared.recorder.record(ReceivedPush {
                    uri: path_and_query(parts),
                    version: parts.version,
                    headers: parts.headers.clone(),
                    json: message.clone(),
                    ..push
                });
            }
            results.push(result);
        }
        oppo_answer(SUCCESS, "Success", Value::Array(results))
    }
}

/// One message of a batch as a push, or the code and message OPPO refuses the request
/// with for it.
fn check(message: &Value) -> Result<ReceivedPush, (i64, &'static str)> {
    let regid = message["target_value"].as_str().unwrap_or_default();
    let notification = &message["notification"];
    let title = notification["title"].as_str().unwrap_or_default();
    let content = notification["content"].as_str().unwrap_or_default();
    let parameters = notification["action_parameters"].as_str().unwrap_or("{}");
    if message["target_type"] != 2 || regid.is_empty() || title.is_empty() || content.is_empty() {
        return Err((MISSING_ARGUMENTS, "Missing Required Arguments"));
    }
    if title.chars().count() > MAX_TITLE_CHARS
        || content.chars().count() > MAX_CONTENT_CHARS
        || parameters.chars().count() > OPPO_MAX_PARAMETERS_CHARS
    {
        return Err((INVALID_ARGUMENTS, "Invalid Arguments: too long"));
    }
    let Ok(parameters) = serde_json::from_str::<Value>(parameters) else {
        return Err((INVALID_ARGUMENTS, "Invalid Arguments: action_parameters"));
    };
    Ok(ReceivedPush {
        device_token: regid.to_string(),
        title: title.to_string(),
        body: content.to_string(),
        data: parameters["pushData"].as_str().map(str::to_string),
        id: parameters["msgUID"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        user_id: None,
        uri: String::new(),
        version: http::Version::HTTP_11,
        headers: http::HeaderMap::new(),
        json: Value::Null,
    })
}
