//! What the Server API black-box tests share: a signing client speaking raw HTTP.
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

pub mod calls;
pub mod rtc;

use std::path::Path;
use std::time::Duration;

use meridian_client::{ConnectOptions, Connection, MessageBody};
use meridian_proto::{ClientFrame, ServerFrame};
use meridian_rpc::http::HttpAnswer;
use meridian_testkit::{raw_http, signed_headers, DevDeployment};
use serde_json::Value;

pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_meridian"))
}

/// Installs the npm packages of `dir` (`npm ci`) when they are missing or older than its
/// lock file. `scripts/test` installs Node.js and npm.
pub fn npm_install(dir: &Path) {
    let modified = |p: std::path::PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let stale = match (
        modified(dir.join("node_modules/.package-lock.json")),
        modified(dir.join("package-lock.json")),
    ) {
        (Some(installed), Some(lock)) => installed < lock,
        _ => true,
    };
    if !stale {
        return;
    }
    let output = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run npm (scripts/test installs it): {e}"));
    assert!(
        output.status.success(),
        "npm ci in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

pub use meridian_clock::now_secs;

pub struct Api {
    pub base: String,
    pub key: String,
    pub secret: String,
}

impl Api {
    pub fn new(dev: &DevDeployment, area: &str, env: &str) -> Self {
        let (key, secret) = dev.app(area, env);
        Self {
            base: dev.api(area),
            key,
            secret,
        }
    }

    pub fn headers(&self) -> Vec<(String, String)> {
        // Unix seconds, as every published SDK sends them.
        signed_headers(
            &self.key,
            &self.secret,
            &rand_nonce(),
            &now_secs().to_string(),
        )
    }

    /// A form POST; `body` goes out byte for byte (unencoded values included).
    pub async fn form(&self, path: &str, body: &str) -> (HttpAnswer, Value) {
        let mut headers = self.headers();
        headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        self.send(path, headers, body.as_bytes()).await
    }

    pub async fn json(&self, path: &str, body: &Value) -> (HttpAnswer, Value) {
        let mut headers = self.headers();
        headers.push(("Content-Type".into(), "application/json".into()));
        self.send(path, headers, body.to_string().as_bytes()).await
    }

    pub async fn send(
        &self,
        path: &str,
        headers: Vec<(String, String)>,
        body: &[u8],
    ) -> (HttpAnswer, Value) {
        let answer = raw_http(&format!("{}{}", self.base, path), "POST", &headers, body).await;
        let value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        (answer, value)
    }

    /// Asserts an HTTP 200 answer with code 200 and returns it.
    pub async fn ok(&self, path: &str, body: &str) -> Value {
        let (answer, value) = self.form(path, body).await;
        assert_eq!(
            (answer.status, &value["code"]),
            (200, &Value::from(200)),
            "{path}: {}",
            answer.text()
        );
        value
    }
}

pub fn rand_nonce() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{}{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn assert_error(answer: &HttpAnswer, value: &Value, status: u16, code: u64) {
    assert_eq!(answer.status, status, "{}", answer.text());
    assert_eq!(value["code"], code, "{}", answer.text());
    assert!(
        value["errorMessage"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        answer.text()
    );
}

pub async fn put_settings(dev: &DevDeployment, app_key: &str, settings: serde_json::Value) -> u16 {
    admin_call(
        dev,
        "PUT",
        &format!("/admin/v1/apps/{app_key}/settings"),
        settings,
    )
    .await
}

/// An operator admin API call through the area's edge; answers the HTTP status.
pub async fn admin_call(
    dev: &DevDeployment,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> u16 {
    admin_json(dev, method, path, body).await.0
}

/// An operator admin API call through the area's edge; answers the HTTP status and body.
pub async fn admin_json(
    dev: &DevDeployment,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, Value) {
    let admin = dev.endpoints["areas"]["SG"]["edges"][0]["admin"]
        .as_str()
        .unwrap()
        .to_string();
    let token = dev.endpoints["operatorToken"].as_str().unwrap();
    let answer = meridian_testkit::raw_http(
        &format!("{admin}{path}"),
        method,
        &[
            ("Authorization".into(), format!("Bearer {token}")),
            ("Content-Type".into(), "application/json".into()),
        ],
        body.to_string().as_bytes(),
    )
    .await;
    let value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    (answer.status, value)
}

/// How long a client test waits for one frame.
pub const FRAME_WAIT: Duration = Duration::from_secs(10);

impl Api {
    /// A token for `user` (created if new) from `/user/getToken.json`.
    pub async fn token(&self, user: &str) -> String {
        let answer = self
            .ok("/user/getToken.json", &format!("userId={user}&name={user}"))
            .await;
        answer["token"].as_str().expect("token").to_string()
    }
}

/// Opens a client session for `user` at `ws` and reads its `connected` frame.
pub async fn connect(
    ws: &str,
    api: &Api,
    user: &str,
    device: &str,
    platform: &str,
    cursor: Option<u64>,
) -> Connection {
    let options = ConnectOptions {
        url: ws.to_string(),
        app_key: api.key.clone(),
        token: api.token(user).await,
        device_id: device.into(),
        platform: platform.into(),
        cursor,
        tls: None,
    };
    let mut connection = Connection::connect(&options).await.expect("connect");
    match connection.next_within(FRAME_WAIT).await.expect("connected") {
        ServerFrame::Connected { user_id, .. } => assert_eq!(user_id, user),
        other => panic!("expected connected, got {other:?}"),
    }
    connection
}

/// Reads frames until `synced`, answering the messages synced before it.
pub async fn synced(connection: &mut Connection) -> Vec<MessageBody> {
    let mut messages = Vec::new();
    loop {
        match connection.next_within(FRAME_WAIT).await.expect("sync") {
            ServerFrame::Message(body) => messages.push(body),
            ServerFrame::Synced { .. } => return messages,
            other => panic!("unexpected during sync: {other:?}"),
        }
    }
}

/// Registers a push device for `user` from a client session, then closes the session and
/// waits until the user is offline (so messages to it are pushed).
pub async fn register_push(
    ws: &str,
    api: &Api,
    user: &str,
    (provider, token, app_id): (&str, &str, &str),
) {
    let mut phone = connect(ws, api, user, &format!("{user}-phone"), "iOS", None).await;
    synced(&mut phone).await;
    phone
        .send(&meridian_proto::ClientFrame::RegisterPush {
            req_id: 1,
            provider: provider.into(),
            token: token.into(),
            app_id: app_id.into(),
        })
        .await
        .unwrap();
    match phone.next_within(FRAME_WAIT).await.expect("registered") {
        ServerFrame::Done { req_id: 1 } => {}
        other => panic!("{user}: registering push: {other:?}"),
    }
    phone.close().await;
    wait_offline(api, user).await;
}

/// Waits until `/user/checkOnline.json` says `user` has no live session.
pub async fn wait_offline(api: &Api, user: &str) {
    meridian_testkit::eventually(Duration::from_secs(15), "the user offline", || async {
        let answer = api
            .ok("/user/checkOnline.json", &format!("userId={user}"))
            .await;
        (answer["status"] == "0").then_some(())
    })
    .await;
}

/// A client's text message frame to a conversation.
pub fn text(client_id: &str, conversation_type: u8, target: &str, content: &str) -> ClientFrame {
    ClientFrame::Send {
        client_id: client_id.into(),
        conversation_type,
        target_id: target.into(),
        channel_id: String::new(),
        object_name: "RC:TxtMsg".into(),
        content: content.into(),
        push_content: None,
        push_data: None,
        to_user_ids: Vec::new(),
    }
}

/// A certificate as PEM, for `--outbound-ca` (the push fakes' CAs).
pub fn pem(cert: &rustls::pki_types::CertificateDer<'_>) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}
