//! The fake FCM: Google's OAuth2 token endpoint and `messages:send` on one TLS port.

use super::*;

/// A fake FCM HTTP v1 service plus Google's OAuth2 token endpoint, on one TLS port
/// (HTTP/2 or HTTP/1.1): `POST /token` and `POST /v1/projects/{id}/messages:send`.
pub struct FakeFcm {
    state: Arc<FcmState>,
    ca_cert: CertificateDer<'static>,
    server: Server,
}

struct FcmState {
    recorder: Recorder,
    token_uri: String,
    /// DER RSAPublicKey of [`TEST_ONLY_RSA_PEM`].
    public_key: Vec<u8>,
    book: Mutex<FcmBook>,
}

#[derive(Default)]
struct FcmBook {
    /// Service accounts: client e-mail → project id.
    accounts: HashMap<String, String>,
    /// Access tokens issued and not revoked → client e-mail.
    access_tokens: HashMap<String, String>,
    tokens_issued: usize,
    gone: HashSet<String>,
}

fn google_error(
    status: StatusCode,
    code: &str,
    message: &str,
    details: Value,
) -> Response<Full<Bytes>> {
    json_response(
        status,
        json!({"error": {"code": status.as_u16(), "message": message, "status": code, "details": details}}),
    )
}

fn oauth_error(error: &str, description: &str) -> Response<Full<Bytes>> {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({"error": error, "error_description": description}),
    )
}

impl FakeFcm {
    pub async fn start() -> FakeFcm {
        let (ca_cert, tls) = tls_identity(&[b"h2", b"http/1.1"]);
        let key = crate::jwt::rsa_key(TEST_ONLY_RSA_PEM).expect("the test RSA key parses");
        // The port is known only after binding, but the handler needs the token URI
        // (the assertions' audience): bind first, then fill it in.
        let state = Arc::new(Mutex::new(None::<Arc<FcmState>>));
        let handler_state = state.clone();
        let handler: Handler = Arc::new(move |parts, body| match lock(&handler_state).clone() {
            Some(state) => state.handle(parts, body),
            None => google_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "starting",
                json!([]),
            ),
        });
        let server = serve(Some(tls), false, handler).await;
        let fcm_state = Arc::new(FcmState {
            recorder: Recorder::new(),
            token_uri: format!("https://{}/token", server.addr),
            public_key: key.public().as_ref().to_vec(),
            book: Mutex::new(FcmBook::default()),
        });
        *lock(&state) = Some(fcm_state.clone());
        FakeFcm {
            state: fcm_state,
            ca_cert,
            server,
        }
    }

    /// `https://127.0.0.1:PORT`, to put in [`FcmCredentials::endpoint`].
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.server.addr)
    }

    pub fn ca_cert(&self) -> CertificateDer<'static> {
        self.ca_cert.clone()
    }

    /// A new service account of `project_id`, signing with [`TEST_ONLY_RSA_PEM`].
    pub fn credentials(&self, project_id: &str) -> FcmCredentials {
        let client_email = format!(
            "push-{}@{project_id}.iam.gserviceaccount.com",
            random_string(8, LOWER_HEX)
        );
        lock(&self.state.book)
            .accounts
            .insert(client_email.clone(), project_id.to_string());
        FcmCredentials {
            project_id: project_id.to_string(),
            client_email,
            private_key_pem: TEST_ONLY_RSA_PEM.to_string(),
            token_uri: self.state.token_uri.clone(),
            endpoint: self.endpoint(),
        }
    }

    /// From now on sends to `device_token` are answered 404 UNREGISTERED.
    pub fn mark_gone(&self, device_token: &str) {
        lock(&self.state.book).gone.insert(device_token.to_string());
    }

    /// The next `k` messages:send requests are answered 503 UNAVAILABLE, Retry-After: 5.
    pub fn fail_next(&self, k: usize) {
        self.state.recorder.failures_left.store(k, Ordering::SeqCst);
    }

    /// Every access token issued so far is answered 401 UNAUTHENTICATED from now on.
    pub fn revoke_access_tokens(&self) {
        lock(&self.state.book).access_tokens.clear();
    }

    /// How many access tokens the token endpoint issued.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.state.book).tokens_issued
    }

    /// Every HTTP request that reached the fake (token endpoint included).
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

impl FcmState {
    fn handle(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.recorder.requests.fetch_add(1, Ordering::SeqCst);
        if parts.method != http::Method::POST {
            return google_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "INVALID_ARGUMENT",
                "POST only",
                json!([]),
            );
        }
        let path = parts.uri.path();
        if path == "/token" {
            return self.token(&parts, &body);
        }
        match path
            .strip_prefix("/v1/projects/")
            .and_then(|rest| rest.strip_suffix("/messages:send"))
        {
            Some(project) => self.send(project, &parts, &body),
            None => google_error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "no such method",
                json!([]),
            ),
        }
    }

    /// The OAuth2 JWT-bearer grant (RFC 7523) as Google's token endpoint serves it.
    fn token(&self, parts: &Parts, body: &Bytes) -> Response<Full<Bytes>> {
        if header(parts, "content-type") != Some("application/x-www-form-urlencoded") {
            return oauth_error("invalid_request", "form-encoded body expected");
        }
        let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        if form.get("grant_type").map(String::as_str) != Some(JWT_BEARER_GRANT) {
            return oauth_error("unsupported_grant_type", "Invalid grant_type");
        }
        let Some(assertion) = form.get("assertion") else {
            return oauth_error("invalid_request", "Missing required parameter: assertion");
        };
        let client_email = match self.verify_assertion(assertion) {
            Ok(email) => email,
            Err(why) => return oauth_error("invalid_grant", why),
        };
        let access_token = format!("ya29.fake-{}", random_string(32, LOWER_HEX));
        let mut book = lock(&self.book);
        book.access_tokens
            .insert(access_token.clone(), client_email);
        book.tokens_issued += 1;
        json_response(
            StatusCode::OK,
            json!({"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"}),
        )
    }

    /// Checks a service account's RS256 assertion; `Ok` is its client e-mail.
    fn verify_assertion(&self, assertion: &str) -> Result<String, &'static str> {
        let parsed = parse(assertion).ok_or("Invalid JWT")?;
        if parsed.header["alg"] != "RS256" {
            return Err("Invalid JWT: alg must be RS256");
        }
        let claims = &parsed.claims;
        let iss = claims["iss"].as_str().ok_or("Invalid JWT: no iss")?;
        if !lock(&self.book).accounts.contains_key(iss) {
            return Err("Invalid JWT: unknown service account");
        }
        if claims["aud"] != self.token_uri.as_str() {
            return Err("Invalid JWT: aud is not the token URI");
        }
        let scopes = claims["scope"].as_str().unwrap_or_default();
        if !scopes.split(' ').any(|s| s == SCOPE) {
            return Err("Invalid JWT: scope lacks firebase.messaging");
        }
        let (iat, exp) = (claims["iat"].as_u64(), claims["exp"].as_u64());
        let (Some(iat), Some(exp)) = (iat, exp) else {
            return Err("Invalid JWT: iat and exp required");
        };
        let now = now_secs();
        if iat > now + 300 || exp <= now || exp.saturating_sub(iat) > 3600 {
            return Err("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe");
        }
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.public_key)
            .verify(parsed.signing_input.as_bytes(), &parsed.signature)
            .map_err(|_| "Invalid JWT Signature.")?;
        Ok(iss.to_string())
    }

    fn send(&self, project: &str, parts: &Parts, body: &Bytes) -> Response<Full<Bytes>> {
        if self.recorder.take_failure() {
            let mut response = google_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "The service is currently unavailable.",
                json!([]),
            );
            response
                .headers_mut()
                .insert("retry-after", http::HeaderValue::from_static("5"));
            return response;
        }
        let account_project = {
            let book = lock(&self.book);
            bearer(parts)
                .and_then(|token| book.access_tokens.get(token))
                .and_then(|email| book.accounts.get(email))
                .cloned()
        };
        let Some(account_project) = account_project else {
            return google_error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials.",
                json!([]),
            );
        };
        if account_project != project {
            return google_error(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                "Permission denied.",
                json!([]),
            );
        }
        let invalid = |field: &str, message: &str| {
            google_error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                message,
                json!([{"@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [{"field": field, "description": message}]}]),
            )
        };
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return invalid("message", "Invalid JSON payload received.");
        };
        let message = &request["message"];
        let device_token = message["token"].as_str().unwrap_or_default();
        if device_token.is_empty() {
            return invalid(
                "message.token",
                "The registration token is not a valid FCM registration token",
            );
        }
        let data = &message["data"];
        let data_ok = data.is_null()
            || data
                .as_object()
                .is_some_and(|d| d.values().all(Value::is_string));
        if !data_ok {
            return invalid(
                "message.data",
                "Invalid value at 'message.data': values must be strings",
            );
        }
        if lock(&self.book).gone.contains(device_token) {
            return google_error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "Requested entity was not found.",
                json!([{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                        "errorCode": "UNREGISTERED"}]),
            );
        }
        let notification = &message["notification"];
        let id = data["msgUID"].as_str().unwrap_or_default().to_string();
        self.recorder.record(ReceivedPush {
            device_token: device_token.to_string(),
            title: notification["title"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            body: notification["body"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            data: data["pushData"].as_str().map(str::to_string),
            id: id.clone(),
            user_id: None,
            uri: path_and_query(parts),
            version: parts.version,
            headers: parts.headers.clone(),
            json: request.clone(),
        });
        json_response(
            StatusCode::OK,
            json!({"name": format!("projects/{project}/messages/{}", random_string(16, LOWER_HEX))}),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    fn assertion(creds: &FcmCredentials, aud: &str) -> String {
        let now = now_secs();
        crate::jwt::sign_rs256(
            &creds.private_key_pem,
            &json!({"alg": "RS256", "typ": "JWT"}),
            &json!({"iss": creds.client_email, "scope": SCOPE, "aud": aud,
                    "iat": now, "exp": now + 3600}),
        )
        .unwrap()
    }

    // covers: PUSH-02
    #[tokio::test]
    async fn fake_fcm_checks_the_assertion_signature_and_audience() {
        let fcm = FakeFcm::start().await;
        let creds = fcm.credentials("chat-app");
        let good = assertion(&creds, &creds.token_uri);
        assert_eq!(
            fcm.state.verify_assertion(&good),
            Ok(creds.client_email.clone())
        );

        let (signed, signature) = good.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
        bytes[0] ^= 1;
        let tampered = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(
            fcm.state.verify_assertion(&tampered),
            Err("Invalid JWT Signature.")
        );

        let elsewhere = assertion(&creds, "https://oauth2.googleapis.com/token");
        assert!(fcm.state.verify_assertion(&elsewhere).is_err());
    }
}
