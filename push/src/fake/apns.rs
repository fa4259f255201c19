//! The fake APNs: TLS, HTTP/2 only, provider JWTs checked against the keys it issued.

use super::*;

/// A fake APNs (`api.push.apple.com`).
pub struct FakeApns {
    state: Arc<ApnsState>,
    ca_cert: CertificateDer<'static>,
    server: Server,
}

struct ApnsState {
    recorder: Recorder,
    team_id: String,
    book: Mutex<ApnsBook>,
}

#[derive(Default)]
struct ApnsBook {
    /// Signing keys by key id.
    keys: HashMap<String, ApnsKey>,
    gone: HashSet<String>,
    /// Every provider token that passed verification.
    jwts_seen: HashSet<String>,
    /// Tokens answered with ExpiredProviderToken from now on.
    jwts_expired: HashSet<String>,
}

struct ApnsKey {
    public_key: Vec<u8>,
    bundle_id: String,
}

fn apns_error(status: StatusCode, reason: &str) -> Response<Full<Bytes>> {
    json_response(status, json!({"reason": reason}))
}

impl FakeApns {
    pub async fn start() -> FakeApns {
        let (ca_cert, tls) = tls_identity(&[b"h2"]);
        let state = Arc::new(ApnsState {
            recorder: Recorder::new(),
            team_id: random_string(10, UPPER_ALNUM),
            book: Mutex::new(ApnsBook::default()),
        });
        let handler_state = state.clone();
        let handler: Handler = Arc::new(move |parts, body| handler_state.handle(parts, body));
        let server = serve(Some(tls), true, handler).await;
        FakeApns {
            state,
            ca_cert,
            server,
        }
    }

    /// `https://127.0.0.1:PORT`, to put in [`ApnsCredentials::endpoint`].
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.server.addr)
    }

    /// The self-signed certificate the fake presents.
    pub fn ca_cert(&self) -> CertificateDer<'static> {
        self.ca_cert.clone()
    }

    /// Credentials with a new P-256 key the fake will accept for `bundle_id`.
    pub fn credentials(&self, bundle_id: &str) -> ApnsCredentials {
        let key = rcgen::KeyPair::generate().expect("P-256 key");
        let key_id = random_string(10, UPPER_ALNUM);
        lock(&self.state.book).keys.insert(
            key_id.clone(),
            ApnsKey {
                public_key: key.public_key_raw().to_vec(),
                bundle_id: bundle_id.to_string(),
            },
        );
        ApnsCredentials {
            team_id: self.state.team_id.clone(),
            key_id,
            private_key_pem: key.serialize_pem(),
            bundle_id: bundle_id.to_string(),
            endpoint: self.endpoint(),
        }
    }

    /// From now on `device_token` is answered with 410 Unregistered.
    pub fn mark_gone(&self, device_token: &str) {
        lock(&self.state.book).gone.insert(device_token.to_string());
    }

    /// The next `k` requests are answered with 503 ServiceUnavailable.
    pub fn fail_next(&self, k: usize) {
        self.state.recorder.failures_left.store(k, Ordering::SeqCst);
    }

    /// Every provider token seen so far is answered with 403 ExpiredProviderToken from
    /// now on, as APNs does once a token is an hour old.
    pub fn expire_provider_tokens(&self) {
        let mut book = lock(&self.state.book);
        let seen: Vec<String> = book.jwts_seen.iter().cloned().collect();
        book.jwts_expired.extend(seen);
    }

    /// How many different provider tokens passed verification.
    pub fn distinct_jwts(&self) -> usize {
        lock(&self.state.book).jwts_seen.len()
    }

    /// Every HTTP request that reached the fake, accepted or not.
    pub fn requests(&self) -> usize {
        self.state.recorder.requests.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<ReceivedPush> {
        self.state.recorder.received()
    }

    /// Waits until at least `n` pushes were accepted; returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Result<Vec<ReceivedPush>, String> {
        self.state.recorder.wait_for(n, timeout).await
    }
}

impl ApnsState {
    fn handle(&self, parts: Parts, body: Bytes) -> Response<Full<Bytes>> {
        self.recorder.requests.fetch_add(1, Ordering::SeqCst);
        if parts.method != http::Method::POST {
            return apns_error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed");
        }
        let Some(device_token) = parts.uri.path().strip_prefix("/3/device/") else {
            return apns_error(StatusCode::NOT_FOUND, "BadPath");
        };
        if self.recorder.take_failure() {
            return apns_error(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable");
        }
        let Some(jwt) = bearer(&parts) else {
            return apns_error(StatusCode::FORBIDDEN, "MissingProviderToken");
        };
        let bundle_id = match self.verify_jwt(jwt) {
            Ok(bundle_id) => bundle_id,
            Err(reason) => return apns_error(StatusCode::FORBIDDEN, reason),
        };
        if let Err(reason) = check_apns_headers(&parts, &bundle_id) {
            return apns_error(StatusCode::BAD_REQUEST, reason);
        }
        let token_ok =
            !device_token.is_empty() && device_token.bytes().all(|b| b.is_ascii_hexdigit());
        if !token_ok {
            return apns_error(StatusCode::BAD_REQUEST, "BadDeviceToken");
        }
        if body.len() > APNS_MAX_PAYLOAD_BYTES {
            return apns_error(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge");
        }
        let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
            return apns_error(StatusCode::BAD_REQUEST, "PayloadEmpty");
        };
        if lock(&self.book).gone.contains(device_token) {
            return json_response(
                StatusCode::GONE,
                json!({"reason": "Unregistered", "timestamp": now_secs() * 1000}),
            );
        }
        let alert = &payload["aps"]["alert"];
        self.recorder.record(ReceivedPush {
            device_token: device_token.to_string(),
            title: alert["title"].as_str().unwrap_or_default().to_string(),
            body: alert["body"].as_str().unwrap_or_default().to_string(),
            data: payload["pushData"].as_str().map(str::to_string),
            id: header(&parts, "apns-collapse-id")
                .unwrap_or_default()
                .to_string(),
            user_id: None,
            uri: path_and_query(&parts),
            version: parts.version,
            headers: parts.headers.clone(),
            json: payload,
        });
        let apns_id = header(&parts, "apns-id").unwrap_or("00000000-0000-0000-0000-000000000000");
        Response::builder()
            .header("apns-id", apns_id)
            .body(Full::new(Bytes::new()))
            .expect("valid response")
    }

    /// Checks an ES256 provider token; `Ok` is the bundle id its key may push to.
    fn verify_jwt(&self, jwt: &str) -> Result<String, &'static str> {
        const INVALID: &str = "InvalidProviderToken";
        let parsed = parse(jwt).ok_or(INVALID)?;
        if parsed.header["alg"] != "ES256" {
            return Err(INVALID);
        }
        let mut book = lock(&self.book);
        let kid = parsed.header["kid"].as_str().ok_or(INVALID)?;
        let key = book.keys.get(kid).ok_or(INVALID)?;
        if parsed.claims["iss"] != self.team_id.as_str() {
            return Err(INVALID);
        }
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.public_key)
            .verify(parsed.signing_input.as_bytes(), &parsed.signature)
            .map_err(|_| INVALID)?;
        let iat = parsed.claims["iat"].as_u64().ok_or(INVALID)?;
        let now = now_secs();
        if iat > now + 300 {
            return Err(INVALID);
        }
        if now.saturating_sub(iat) > 3600 || book.jwts_expired.contains(jwt) {
            return Err("ExpiredProviderToken");
        }
        let bundle_id = key.bundle_id.clone();
        book.jwts_seen.insert(jwt.to_string());
        Ok(bundle_id)
    }
}

fn check_apns_headers(parts: &Parts, bundle_id: &str) -> Result<(), &'static str> {
    // VoIP pushes go to the app's `.voip` topic.
    let voip = header(parts, "apns-push-type") == Some("voip");
    match header(parts, "apns-topic") {
        None => return Err("MissingTopic"),
        Some(topic) if voip && topic.strip_suffix(".voip") == Some(bundle_id) => {}
        Some(topic) if voip || topic != bundle_id => return Err("TopicDisallowed"),
        Some(_) => {}
    }
    let push_types = [
        "alert",
        "background",
        "location",
        "voip",
        "complication",
        "fileprovider",
        "mdm",
        "liveactivity",
        "pushtotalk",
    ];
    if !header(parts, "apns-push-type").is_some_and(|t| push_types.contains(&t)) {
        return Err("InvalidPushType");
    }
    if header(parts, "apns-priority").is_some_and(|p| !["1", "5", "10"].contains(&p)) {
        return Err("BadPriority");
    }
    if header(parts, "apns-collapse-id").is_some_and(|c| c.len() > 64) {
        return Err("BadCollapseId");
    }
    let uuid_shaped = |id: &str| {
        id.len() == 36
            && id.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            })
    };
    if header(parts, "apns-id").is_some_and(|id| !uuid_shaped(id)) {
        return Err("BadMessageId");
    }
    Ok(())
}
