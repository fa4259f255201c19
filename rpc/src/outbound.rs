//! Calls out of Meridian to third parties: app servers' callbacks and push providers.
//!
//! One pooled client speaks HTTP/1.1 or HTTP/2 (by ALPN over TLS) to `http://` and
//! `https://` URLs; a request built with `http::Version::HTTP_2` and sent with
//! [`OutboundClient::send`] goes over HTTP/2 or not at all (APNs requires it). It trusts the public web roots (webpki-roots, so no system store is
//! needed) plus any extra CA an operator names, for app servers behind a private CA and
//! for tests' local fakes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::tls::TlsError;

/// Answers larger than this are cut off (callbacks and push answers are small).
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// An answer: status, headers and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

#[derive(Clone)]
pub struct OutboundClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for OutboundClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutboundClient")
    }
}

impl OutboundClient {
    /// A client trusting the web's roots and `extra_roots`.
    pub fn new(extra_roots: &[CertificateDer<'static>]) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in extra_roots {
            roots
                .add(cert.clone())
                .map_err(|e| TlsError::Config(e.to_string()))?;
        }
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| TlsError::Config(e.to_string()))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        // Small HTTP/2 frames would otherwise wait for the peer's delayed ACK.
        tcp.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Ok(Self { client })
    }

    /// A client trusting the web's roots and the CA certificates in these PEM files.
    pub fn with_ca_files(files: &[std::path::PathBuf]) -> Result<Self, TlsError> {
        let mut extra = Vec::new();
        for file in files {
            extra.extend(crate::tls::read_certs(file)?);
        }
        Self::new(&extra)
    }

    /// Sends one request and reads the whole answer, all within `timeout`.
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Answer, String> {
        let mut request = Request::builder()
            .method(method)
            .uri(url)
            .body(body)
            .map_err(|e| format!("bad request: {e}"))?;
        for (name, value) in headers {
            let name = HeaderName::try_from(*name).map_err(|e| e.to_string())?;
            let value = HeaderValue::try_from(*value).map_err(|e| e.to_string())?;
            request.headers_mut().insert(name, value);
        }
        self.send(request, timeout).await
    }

    /// Sends a request the caller built and reads the whole answer, all within `timeout`.
    /// The request's version is honoured: `HTTP_2` is sent over HTTP/2 (ALPN "h2") or
    /// fails, never downgraded to HTTP/1.1. `Err` is a transport failure or timeout.
    pub async fn send(&self, request: Request<Bytes>, timeout: Duration) -> Result<Answer, String> {
        let exchange = async {
            let answer = self
                .client
                .request(request.map(Full::new))
                .await
                .map_err(|e| error_chain(&e))?;
            let (parts, body) = answer.into_parts();
            let body = Limited::new(body, MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading the answer: {e}"))?
                .to_bytes();
            Ok(Answer {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    }

    /// `POST` with a body of `content_type`.
    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Answer, String> {
        let mut all = vec![("content-type", content_type)];
        all.extend_from_slice(headers);
        self.request(Method::POST, url, &all, body, timeout).await
    }
}

/// The legacy client's errors hide their cause (refused, TLS, ...) in their source chain.
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

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::{Response, Version};
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use hyper_util::server::conn::auto;

    use super::*;

    const WAIT: Duration = Duration::from_secs(10);
    const H2_ONLY: &[&[u8]] = &[b"h2"];
    const H2_OR_H1: &[&[u8]] = &[b"h2", b"http/1.1"];
    const H1_ONLY: &[&[u8]] = &[b"http/1.1"];

    /// A TLS server on 127.0.0.1 offering `alpn` (speaking only what it offers) that
    /// answers every request with the HTTP version it arrived over.
    async fn version_echo(alpn: &'static [&'static [u8]]) -> (String, CertificateDer<'static>) {
        let (cert, config) = crate::tls::self_signed_server(alpn).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(|request: http::Request<Incoming>| async move {
                        let version = format!("{:?}", request.version());
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(version))))
                    });
                    let mut builder = auto::Builder::new(TokioExecutor::new());
                    if alpn == H2_ONLY {
                        builder = builder.http2_only();
                    } else if alpn == H1_ONLY {
                        builder = builder.http1_only();
                    }
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (format!("https://localhost:{port}/"), cert)
    }

    fn get(url: &str, version: Version) -> Request<Bytes> {
        Request::get(url)
            .version(version)
            .body(Bytes::new())
            .unwrap()
    }

    #[tokio::test]
    async fn alpn_picks_http2_when_offered_and_http1_otherwise() {
        for (alpn, expected) in [
            (H2_ONLY, "HTTP/2.0"),
            (H2_OR_H1, "HTTP/2.0"),
            (H1_ONLY, "HTTP/1.1"),
        ] {
            let (url, cert) = version_echo(alpn).await;
            let client = OutboundClient::new(&[cert]).unwrap();
            let answer = client
                .request(Method::GET, &url, &[], Bytes::new(), WAIT)
                .await
                .unwrap();
            assert_eq!(
                (answer.status, &answer.body[..]),
                (200, expected.as_bytes())
            );
        }
    }

    #[tokio::test]
    async fn an_http2_request_is_never_downgraded_to_http1() {
        let (h2_url, h2_cert) = version_echo(H2_ONLY).await;
        let (h1_url, h1_cert) = version_echo(H1_ONLY).await;
        let client = OutboundClient::new(&[h2_cert, h1_cert]).unwrap();

        let answer = client
            .send(get(&h2_url, Version::HTTP_2), WAIT)
            .await
            .unwrap();
        assert_eq!(&answer.body[..], b"HTTP/2.0");

        let refused = client.send(get(&h1_url, Version::HTTP_2), WAIT).await;
        assert!(refused.is_err(), "{refused:?}");
        // The same server is fine for a request that allows HTTP/1.1.
        let answer = client
            .send(get(&h1_url, Version::HTTP_11), WAIT)
            .await
            .unwrap();
        assert_eq!(&answer.body[..], b"HTTP/1.1");
    }

    #[tokio::test]
    async fn a_refused_connection_names_its_cause() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let client = OutboundClient::new(&[]).unwrap();

        let error = client
            .request(Method::GET, &url, &[], Bytes::new(), WAIT)
            .await
            .unwrap_err();

        assert!(error.to_lowercase().contains("refused"), "{error}");
    }
}
