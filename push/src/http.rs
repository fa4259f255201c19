//! The HTTPS plumbing shared by the providers: pooled hyper clients over rustls (ring),
//! one request-and-answer exchange with a deadline, and reading an answer.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Deadline for one whole exchange: connecting, sending and reading the answer.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Provider answers are small JSON documents; anything larger is cut off.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
pub(crate) const USER_AGENT: &str = concat!("meridian-push/", env!("CARGO_PKG_VERSION"));

/// Two clients over the same trust roots: HTTP/2 only (for APNs) and HTTP/2-or-1.1.
pub(crate) fn clients(extra_roots: Vec<CertificateDer<'static>>) -> (HttpClient, HttpClient) {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in extra_roots {
        if let Err(e) = roots.add(cert) {
            tracing::warn!(error = %e, "push: ignoring an extra root certificate");
        }
    }
    let tls =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports rustls' default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();

    let tcp = || {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        tcp.set_nodelay(true);
        tcp
    };
    let h2_connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.clone())
        .https_or_http()
        .enable_http2()
        .wrap_connector(tcp());
    let any_connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(tcp());
    let h2 = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(h2_connector);
    let any = Client::builder(TokioExecutor::new()).build(any_connector);
    (h2, any)
}

/// A provider's answer, read whole.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON, or `Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// `Retry-After` in seconds (the HTTP-date form is not used by these providers).
    pub fn retry_after(&self) -> Option<Duration> {
        let value = self.headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
        value.trim().parse::<u64>().ok().map(Duration::from_secs)
    }

    /// A short text for logs and outcomes: the status and the start of the body.
    pub fn summary(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text: String = text.chars().take(200).collect();
        format!("HTTP {}: {}", self.status.as_u16(), text.trim())
    }
}

/// Sends `request` and reads the answer, all within [`REQUEST_TIMEOUT`]. `Err` is a
/// transport failure (the request may or may not have arrived).
pub(crate) async fn exchange(
    client: &HttpClient,
    request: Request<Full<Bytes>>,
) -> Result<Answer, String> {
    let target = format!("{} {}", request.method(), request.uri());
    let work = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("{target}: {}", error_chain(&e)))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| format!("{target}: reading the answer: {e}"))?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, work).await {
        Ok(result) => result,
        Err(_) => Err(format!("{target}: no answer within {REQUEST_TIMEOUT:?}")),
    }
}

/// hyper-util's errors hide the cause (refused, TLS, ...) in their source chain.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
