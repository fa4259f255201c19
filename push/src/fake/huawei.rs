//! The fake Huawei Push Kit: the OAuth2 token endpoint and `messages:send` on one TLS port.

use super::*;
use crate::huawei::{ALL_TOKENS_INVALID, AUTH_ERROR, PARTIAL_SUCCESS, SUCCESS, TOKEN_EXPIRED};
use crate::HUAWEI_MAX_MESSAGE_BYTES;

/// Huawei's OAuth2 server and Push Kit on one TLS port (HTTP/2 or HTTP/1.1):
/// `POST /oauth2/v3/token` and `POST /v1/{appId}/messages:send`.
pub type FakeHuawei = VendorFake<HuaweiState>;

/// The fake's apps and tokens; its answers are [`VendorState::answer`].
pub struct HuaweiState {
    shared: Shared,
    book: Mutex<HuaweiBook>,
}

#[derive(Default)]
struct HuaweiBook {
    /// App id → app secret.
    apps: HashMap<String, String>,
    /// Tokens that expired are answered 80200003 rather than 80200001.
    tokens: AccessTokens,
}

fn push_kit(status: StatusCode, code: &str, msg: &str) -> Response<Full<Bytes>> {
    json_response(
        status,
        json!({"code": code, "msg": msg, "requestId": random_string(24, LOWER_HEX)}),
    )
}

/// Huawei's OAuth server answers errors with numeric codes.
fn oauth_error(sub_error: u32, description: &str) -> Response<Full<Bytes>> {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"error": 1101, "sub_error": sub_error, "error_description": description}),
    )
}

impl VendorFake<HuaweiState> {
    pub async fn start() -> FakeHuawei {
        Self::serve(HuaweiState {
            shared: Shared::default(),
            book: Mutex::new(HuaweiBook::default()),
        })
        .await
    }

    /// A new app with a random id and secret, pointed at this fake.
    pub fn credentials(&self) -> HuaweiCredentials {
        let app_id = format!("10{}", random_string(7, b"0123456789"));
        let app_secret = random_string(64, LOWER_HEX);
        lock(&self.state.book)
            .apps
            .insert(app_id.clone(), app_secret.clone());
        HuaweiCredentials {
            app_id,
            app_secret,
            token_uri: format!("{}/oauth2/v3/token", self.endpoint()),
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

impl VendorState for HuaweiState {
    fn shared(&self) -> &Shared {
        &self.shared
    }

    fn answer(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.handle(parts, body)
    }
}

impl HuaweiState {
    fn handle(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.shared.recorder.requests.fetch_add(1, Ordering::SeqCst);
        if parts.method != http::Method::POST {
            return push_kit(StatusCode::METHOD_NOT_ALLOWED, "80100001", "POST only");
        }
        let path = parts.uri.path();
        if path == "/oauth2/v3/token" {
            return self.token(&parts, &body);
        }
        match path
            .strip_prefix("/v1/")
            .and_then(|rest| rest.strip_suffix("/messages:send"))
        {
            Some(app_id) => self.send(app_id, &parts, &body),
            None => push_kit(StatusCode::NOT_FOUND, "80100001", "no such API"),
        }
    }

    fn token(&self, parts: &Parts, body: &Bytes) -> Response<Full<Bytes>> {
        if !header(parts, "content-type")
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
        {
            return oauth_error(20001, "form-encoded body expected");
        }
        let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return oauth_error(20001, "unsupported grant_type");
        }
        let (Some(client_id), Some(secret)) = (form.get("client_id"), form.get("client_secret"))
        else {
            return oauth_error(20001, "client_id and client_secret are required");
        };
        let mut book = lock(&self.book);
        match book.apps.get(client_id) {
            None => return oauth_error(20186, "client id invalid"),
            Some(known) if known != secret => return oauth_error(20186, "client secret invalid"),
            Some(_) => {}
        }
        let access_token = format!("DQEBA{}", random_string(40, UPPER_ALNUM));
        book.tokens.issue(access_token.clone(), client_id.clone());
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
                    return push_kit(
                        StatusCode::UNAUTHORIZED,
                        TOKEN_EXPIRED,
                        "Oauth Token expired",
                    )
                }
                TokenCheck::Unknown => {
                    return push_kit(
                        StatusCode::UNAUTHORIZED,
                        AUTH_ERROR,
                        "Oauth authentication error",
                    )
                }
            }
        }
        let illegal = |msg: &str| push_kit(StatusCode::BAD_REQUEST, "80100003", msg);
        if !header(parts, "content-type").is_some_and(|t| t.starts_with("application/json")) {
            return illegal("Illegal payload, JSON body expected");
        }
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return illegal("Illegal payload, message is not JSON");
        };
        let mut message = request["message"].clone();
        let tokens: Vec<String> = match message["token"].as_array() {
            Some(tokens) => tokens
                .iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect(),
            None => Vec::new(),
        };
        if tokens.is_empty() || tokens.len() > 1000 {
            return push_kit(
                StatusCode::BAD_REQUEST,
                "80300010",
                "token count should within 1 and 1000",
            );
        }
        if let Some(object) = message.as_object_mut() {
            object.remove("token");
        }
        if message.to_string().len() > HUAWEI_MAX_MESSAGE_BYTES {
            return push_kit(
                StatusCode::BAD_REQUEST,
                "80300008",
                "Push message size is too long",
            );
        }
        let notification = &message["android"]["notification"];
        let (Some(title), Some(text)) = (
            notification["title"].as_str(),
            notification["body"].as_str(),
        ) else {
            return illegal("Illegal payload, android.notification needs title and body");
        };
        if !message["data"].is_null() && !message["data"].is_string() {
            return illegal("Illegal payload, data must be a string");
        }
        // Tokens Push Kit no longer knows: all of them is 80300007, some a partial success
        // that lists them.
        let (gone, live): (Vec<String>, Vec<String>) = tokens
            .into_iter()
            .partition(|token| self.shared.devices.is_gone(token));
        if live.is_empty() {
            return push_kit(
                StatusCode::BAD_REQUEST,
                ALL_TOKENS_INVALID,
                "All the tokens are invalid",
            );
        }
        if live
            .iter()
            .any(|token| self.shared.devices.is_limited(token))
        {
            // Push Kit's flow control; its body has no documented code.
            let mut response = json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"msg": "flow control, retry later"}),
            );
            response
                .headers_mut()
                .insert("retry-after", http::HeaderValue::from_static("5"));
            return response;
        }
        let data: Value = message["data"]
            .as_str()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        for device_token in &live {
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
                json: request.clone(),
            });
        }
        if gone.is_empty() {
            return push_kit(StatusCode::OK, SUCCESS, "Success");
        }
        let detail = json!({"success": live.len(), "failure": gone.len(), "illegal_tokens": gone});
        push_kit(StatusCode::OK, PARTIAL_SUCCESS, &detail.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_parts(app_id: &str, token: &str) -> Parts {
        let request = http::Request::post(format!("/v1/{app_id}/messages:send"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(())
            .unwrap();
        request.into_parts().0
    }

    // covers: PUSH-05
    #[tokio::test]
    async fn fake_huawei_refuses_a_token_issued_to_another_app() {
        let huawei = FakeHuawei::start().await;
        let (mine, theirs) = (huawei.credentials(), huawei.credentials());
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            mine.app_id, mine.app_secret
        );
        let token_request = http::Request::post("/oauth2/v3/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(())
            .unwrap();
        let issued = huawei
            .state
            .token(&token_request.into_parts().0, &Bytes::from(form));
        let issued = issued.into_body().collect().await.unwrap().to_bytes();
        let token = serde_json::from_slice::<Value>(&issued).unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let body = Bytes::from(
            json!({"message": {"token": ["t"], "android": {"notification": {"title": "a", "body": "b"}}}})
                .to_string(),
        );

        let own = huawei
            .state
            .send(&mine.app_id, &send_parts(&mine.app_id, &token), &body);
        let other = huawei
            .state
            .send(&theirs.app_id, &send_parts(&theirs.app_id, &token), &body);

        assert_eq!(own.status(), StatusCode::OK);
        assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
        let answer = other.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            serde_json::from_slice::<Value>(&answer).unwrap()["code"],
            AUTH_ERROR
        );
    }
}
