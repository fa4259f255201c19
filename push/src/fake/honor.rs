//! The fake Honor push: the OAuth2 token endpoint and `sendMessage` on one TLS port.

use super::*;
use crate::honor::{AUTH_ERROR, SUCCESS, TOKEN_EXPIRED};
use crate::HONOR_MAX_MESSAGE_BYTES;

const TOKEN_PATH: &str = "/auth/realms/developer/protocol/openid-connect/token";

/// Honor's OAuth2 server (Keycloak-style errors) and push API on one TLS port (HTTP/2 or
/// HTTP/1.1).
pub type FakeHonor = VendorFake<HonorState>;

/// The fake's apps and tokens; its answers are [`VendorState::answer`].
pub struct HonorState {
    shared: Shared,
    book: Mutex<HonorBook>,
}

#[derive(Default)]
struct HonorBook {
    /// Client id → (client secret, app id).
    clients: HashMap<String, (String, String)>,
    /// Tokens that expired are answered 80200003 rather than 80200001.
    tokens: AccessTokens,
}

fn honor_answer(
    status: StatusCode,
    code: i64,
    message: &str,
    data: Value,
) -> Response<Full<Bytes>> {
    json_response(
        status,
        json!({"code": code, "message": message, "data": data}),
    )
}

fn oauth_error(error: &str, description: &str) -> Response<Full<Bytes>> {
    json_response(
        StatusCode::UNAUTHORIZED,
        json!({"error": error, "error_description": description}),
    )
}

impl VendorFake<HonorState> {
    pub async fn start() -> FakeHonor {
        Self::serve(HonorState {
            shared: Shared::default(),
            book: Mutex::new(HonorBook::default()),
        })
        .await
    }

    /// A new app and its OAuth client, pointed at this fake.
    pub fn credentials(&self) -> HonorCredentials {
        let app_id = format!("10{}", random_string(7, b"0123456789"));
        let (client_id, client_secret) = (
            random_string(12, b"0123456789"),
            random_string(40, LOWER_HEX),
        );
        lock(&self.state.book)
            .clients
            .insert(client_id.clone(), (client_secret.clone(), app_id.clone()));
        HonorCredentials {
            app_id,
            client_id,
            client_secret,
            token_uri: format!("{}{TOKEN_PATH}", self.endpoint()),
            endpoint: self.endpoint(),
        }
    }

    /// Every access token issued so far is answered 80200003 (expired) from now on.
    pub fn expire_access_tokens(&self) {
        lock(&self.state.book).tokens.expire_all();
    }

    pub fn tokens_issued(&self) -> usize {
        lock(&self.state.book).tokens.issued()
    }
}

impl VendorState for HonorState {
    fn shared(&self) -> &Shared {
        &self.shared
    }

    fn answer(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.handle(parts, body)
    }
}

impl HonorState {
    fn handle(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.shared.recorder.requests.fetch_add(1, Ordering::SeqCst);
        if parts.method != http::Method::POST {
            return json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"message": "POST only"}),
            );
        }
        let path = parts.uri.path();
        if path == TOKEN_PATH {
            return self.token(&parts, &body);
        }
        match path
            .strip_prefix("/api/v1/")
            .and_then(|rest| rest.strip_suffix("/sendMessage"))
        {
            Some(app_id) => self.send(app_id, &parts, &body),
            None => json_response(StatusCode::NOT_FOUND, json!({"message": "no such API"})),
        }
    }

    fn token(&self, parts: &Parts, body: &Bytes) -> Response<Full<Bytes>> {
        if !header(parts, "content-type")
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
        {
            return oauth_error("invalid_request", "form-encoded body expected");
        }
        let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return oauth_error("unsupported_grant_type", "Unsupported grant_type");
        }
        let client_id = form.get("client_id").cloned().unwrap_or_default();
        let mut book = lock(&self.book);
        let app_id = match book.clients.get(&client_id) {
            Some((secret, app_id)) if Some(secret) == form.get("client_secret") => app_id.clone(),
            Some(_) => return oauth_error("unauthorized_client", "Invalid client secret"),
            None => return oauth_error("invalid_client", "Invalid client credentials"),
        };
        let access_token = format!("CF3{}", random_string(40, UPPER_ALNUM));
        book.tokens.issue(access_token.clone(), app_id);
        json_response(
            StatusCode::OK,
            json!({"access_token": access_token, "expires_in": 3600, "token_type": "Bearer"}),
        )
    }

    fn send(&self, app_id: &str, parts: &Parts, body: &Bytes) -> Response<Full<Bytes>> {
        {
            let book = lock(&self.book);
            let token = bearer(parts).unwrap_or_default();
            match book.tokens.check(token, app_id) {
                TokenCheck::Valid => {}
                TokenCheck::Expired => {
                    let status = StatusCode::UNAUTHORIZED;
                    return honor_answer(
                        status,
                        TOKEN_EXPIRED,
                        "access token expired",
                        Value::Null,
                    );
                }
                TokenCheck::Unknown => {
                    let status = StatusCode::UNAUTHORIZED;
                    return honor_answer(status, AUTH_ERROR, "authentication error", Value::Null);
                }
            }
        }
        let bad =
            |message: &str| honor_answer(StatusCode::BAD_REQUEST, 80100003, message, Value::Null);
        let timestamped = header(parts, "timestamp").is_some_and(|t| t.parse::<u64>().is_ok());
        let json_body =
            header(parts, "content-type").is_some_and(|t| t.starts_with("application/json"));
        let request = serde_json::from_slice::<Value>(body).ok();
        let (true, true, Some(mut message)) = (timestamped, json_body, request) else {
            return bad("JSON body and a timestamp header expected");
        };
        let tokens: Vec<String> = message["token"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(object) = message.as_object_mut() {
            object.remove("token");
        }
        if message.to_string().len() > HONOR_MAX_MESSAGE_BYTES {
            return bad("message too large");
        }
        let notification = &message["android"]["notification"];
        let (Some(title), Some(text), Some(device_token)) = (
            notification["title"].as_str(),
            notification["body"].as_str(),
            tokens.first(),
        ) else {
            return bad("android.notification title, body and a token are required");
        };
        if self.shared.devices.is_limited(device_token) {
            let mut response =
                honor_answer(StatusCode::SERVICE_UNAVAILABLE, 503, "busy", Value::Null);
            response
                .headers_mut()
                .insert("retry-after", http::HeaderValue::from_static("5"));
            return response;
        }
        let request_id = random_string(24, LOWER_HEX);
        if self.shared.devices.is_gone(device_token) {
            let data = json!({"sendResult": false, "requestId": request_id,
                              "expireTokens": [device_token]});
            return honor_answer(StatusCode::OK, SUCCESS, "OK", data);
        }
        let data: Value = message["data"]
            .as_str()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        self.shared.recorder.record(ReceivedPush {
            device_token: device_token.clone(),
            title: title.to_string(),
            body: text.to_string(),
            data: data["pushData"].as_str().map(str::to_string),
            id: data["msgUID"].as_str().unwrap_or_default().to_string(),
            user_id: None,
            uri: path_and_query(parts),
            version: parts.version,
            headers: parts.headers.clone(),
            json: message.clone(),
        });
        let data = json!({"sendResult": true, "requestId": request_id});
        honor_answer(StatusCode::OK, SUCCESS, "OK", data)
    }
}
