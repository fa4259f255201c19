//! Calling the Server API as an app server does: signed form POSTs (`App-Key`, `Nonce`,
//! `Timestamp`, `Signature` = SHA-1 hex of secret + nonce + timestamp). Used by the chat
//! CLI to get tokens, by the benchmarks and by the chaos harness.

use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// The signing headers for one call, with the caller's clock `clock_offset_secs` off.
pub fn signed_headers(
    app_key: &str,
    app_secret: &str,
    nonce: &str,
    clock_offset_secs: i64,
) -> Vec<(&'static str, String)> {
    let now = meridian_clock::now_secs();
    let timestamp = now.saturating_add_signed(clock_offset_secs).to_string();
    let signature = meridian_proto::signature::signature(app_secret, nonce, &timestamp);
    vec![
        ("App-Key", app_key.to_string()),
        ("Nonce", nonce.to_string()),
        ("Timestamp", timestamp),
        ("Signature", signature),
    ]
}

/// The content type of [`form`] bodies.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// A request of `method` to `path` with the signing headers for `app_key` (a random nonce,
/// the caller's clock `clock_offset_secs` off); the caller adds its body.
pub fn signed_request(
    method: &str,
    path: &str,
    app_key: &str,
    app_secret: &str,
    clock_offset_secs: i64,
) -> hyper::http::request::Builder {
    let nonce = rand::random::<u64>().to_string();
    let mut request = hyper::Request::builder().method(method).uri(path);
    for (name, value) in signed_headers(app_key, app_secret, &nonce, clock_offset_secs) {
        request = request.header(name, value);
    }
    request
}

/// An `application/x-www-form-urlencoded` body of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", crate::url_encode(name), crate::url_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A signed form request on a fresh connection; answers the JSON body of a 200.
pub async fn post_form(
    base: &str,
    app_key: &str,
    app_secret: &str,
    path: &str,
    body: &str,
) -> anyhow::Result<serde_json::Value> {
    let answer = post_form_answer(base, app_key, app_secret, path, body, 0).await?;
    if answer.status != 200 {
        bail!("{path} answered {}: {}", answer.status, answer.body);
    }
    Ok(serde_json::from_str(&answer.body)?)
}

/// What the Server API answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The body as text (invalid UTF-8 replaced) …
    pub body: String,
    /// … and as sent.
    pub body_bytes: Bytes,
}

/// [`post_form`] signed by a clock `clock_offset_secs` off, answering whatever came back.
/// An error means no answer: the call may or may not have taken effect.
pub async fn post_form_answer(
    base: &str,
    app_key: &str,
    app_secret: &str,
    path: &str,
    body: &str,
    clock_offset_secs: i64,
) -> anyhow::Result<Answer> {
    let request = signed_request("POST", path, app_key, app_secret, clock_offset_secs)
        .header(hyper::header::CONTENT_TYPE, FORM);
    exchange(
        base,
        request,
        Bytes::from(body.to_string()),
        Duration::from_secs(10),
    )
    .await
}

/// One HTTP/1.1 request to `base` (`http://host:port`) on a fresh connection; the answer
/// whatever its status. An error means no answer within `timeout`.
pub async fn exchange(
    base: &str,
    request: hyper::http::request::Builder,
    body: Bytes,
    timeout: Duration,
) -> anyhow::Result<Answer> {
    let authority = base.trim_start_matches("http://").trim_end_matches('/');
    let request = request
        .header(hyper::header::HOST, authority)
        .body(Full::new(body))?;
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .with_context(|| format!("cannot reach {base}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let answer = response.into_body().collect().await?.to_bytes();
        anyhow::Ok(Answer {
            status,
            body: String::from_utf8_lossy(&answer).into_owned(),
            body_bytes: answer,
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .with_context(|| format!("{base} did not answer within {timeout:?}"))?
}
