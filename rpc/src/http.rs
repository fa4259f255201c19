//! A small HTTP/1.1 client for JSON admin endpoints (CLI tools, tests, health probes).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("bad url {0:?}: only http://host:port/path is supported")]
    Url(String),
    #[error("{url}: {reason}")]
    Io { url: String, reason: String },
    #[error("{url}: no answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
}

/// An answer: status code and body.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Bytes,
}

impl HttpAnswer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a fresh connection. `bearer` adds an Authorization header.
pub async fn request(
    method: &str,
    url: &str,
    bearer: Option<&str>,
    json_body: Option<&[u8]>,
    timeout: Duration,
) -> Result<HttpAnswer, HttpError> {
    let body = json_body.map(|body| ("application/json", body));
    request_with_body(method, url, bearer, body, timeout).await
}

/// As [`request`], with a body of any content type: `(content type, bytes)`.
pub async fn request_with_body(
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: Option<(&str, &[u8])>,
    timeout: Duration,
) -> Result<HttpAnswer, HttpError> {
    match tokio::time::timeout(timeout, exchange(method, url, bearer, body)).await {
        Ok(result) => result,
        Err(_) => Err(HttpError::Timeout {
            url: url.to_string(),
            timeout,
        }),
    }
}

async fn exchange(
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: Option<(&str, &[u8])>,
) -> Result<HttpAnswer, HttpError> {
    let uri: hyper::Uri = url.parse().map_err(|_| HttpError::Url(url.to_string()))?;
    if uri.scheme_str() != Some("http") {
        return Err(HttpError::Url(url.to_string()));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| HttpError::Url(url.to_string()))?
        .to_string();
    let io_err = |e: &dyn std::fmt::Display| HttpError::Io {
        url: url.to_string(),
        reason: e.to_string(),
    };
    let stream = TcpStream::connect(&authority)
        .await
        .map_err(|e| io_err(&e))?;
    crate::tune_socket(&stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| io_err(&e))?;
    tokio::spawn(connection);
    let mut builder = Request::builder()
        .method(method)
        .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
        .header(hyper::header::HOST, authority);
    if let Some(token) = bearer {
        builder = builder.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some((content_type, _)) = body {
        builder = builder.header(hyper::header::CONTENT_TYPE, content_type);
    }
    let body = Full::new(Bytes::copy_from_slice(
        body.map(|(_, b)| b).unwrap_or_default(),
    ));
    let request = builder.body(body).map_err(|e| io_err(&e))?;
    let response = sender.send_request(request).await.map_err(|e| io_err(&e))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| io_err(&e))?
        .to_bytes();
    Ok(HttpAnswer { status, body })
}
