//! Calling the Server API as an app server does: signed form POSTs (`App-Key`, `Nonce`,
//! `Timestamp`, `Signature` = SHA-1 hex of secret + nonce + timestamp). Used by the chat
//! CLI to get tokens and by the API benchmark.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use sha1::Digest;

/// The signing headers for one call.
pub fn signed_headers(app_key: &str, app_secret: &str, nonce: &str) -> Vec<(&'static str, String)> {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .to_string();
    let digest = sha1::Sha1::digest(format!("{app_secret}{nonce}{timestamp}").as_bytes());
    let signature: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        ("App-Key", app_key.to_string()),
        ("Nonce", nonce.to_string()),
        ("Timestamp", timestamp),
        ("Signature", signature),
    ]
}

/// A signed form request on a fresh connection; answers the JSON body of a 200.
pub async fn post_form(
    base: &str,
    app_key: &str,
    app_secret: &str,
    path: &str,
    body: &str,
) -> anyhow::Result<serde_json::Value> {
    let authority = base.trim_start_matches("http://").trim_end_matches('/');
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("cannot reach the Server API at {base}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let nonce = rand::random::<u64>().to_string();
    let mut request = hyper::Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(
            hyper::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        );
    for (name, value) in signed_headers(app_key, app_secret, &nonce) {
        request = request.header(name, value);
    }
    let request = request.body(Full::new(Bytes::from(body.to_string())))?;
    let response = tokio::time::timeout(Duration::from_secs(10), sender.send_request(request))
        .await
        .context("the Server API did not answer within 10 s")??;
    let status = response.status();
    let answer = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!(
            "{path} answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    Ok(serde_json::from_slice(&answer)?)
}
