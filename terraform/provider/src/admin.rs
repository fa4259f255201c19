//! The operator admin API as the provider uses it: JSON calls with the operator token
//! (and the area header an edge fronting several areas wants), over `http://` or
//! `https://`, and its `{code, error}` refusals turned into errors Terraform can show.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request};
use meridian_rpc::OutboundClient;
use serde_json::Value;

/// Most calls are one Raft write or read; a slow answer means something is wrong.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The header naming the area an admin call is for: an edge fronting several areas
/// answers 400 without it (`AREA_HEADER` in edge/src/server.rs).
pub const AREA_HEADER: &str = "x-meridian-area";

#[derive(Debug, Clone)]
pub struct AdminClient {
    /// Base URL without a trailing slash, e.g. `http://10.0.0.5:7013`.
    endpoint: String,
    token: String,
    /// Sent as [`AREA_HEADER`] with every call when set.
    area: Option<String>,
    /// Pooled, `http://` and `https://` (the web's roots plus the provider's `ca_file`).
    http: OutboundClient,
}

#[derive(Debug)]
pub enum AdminError {
    /// No answer (connection refused, timeout, bad URL).
    Unreachable(String),
    /// The API answered with an error status.
    Refused {
        /// `METHOD /path`, to say which call failed.
        request: String,
        status: u16,
        code: String,
        message: String,
    },
    /// A 2xx answer that is not the JSON expected.
    Malformed(String),
}

impl AdminError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, AdminError::Refused { status: 404, .. })
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Unreachable(reason) => write!(f, "admin API unreachable: {reason}"),
            AdminError::Refused {
                request,
                status,
                code,
                message,
            } => write!(f, "{request}: {status} {code}: {message}"),
            AdminError::Malformed(reason) => write!(f, "unexpected admin API answer: {reason}"),
        }
    }
}

impl AdminClient {
    /// A client for the admin API at `endpoint`. `area` is sent as [`AREA_HEADER`];
    /// `ca_file` holds PEM CA certificates trusted besides the web's public roots (an
    /// edge's certificate from a private CA). `Err` says what is wrong with `ca_file`.
    pub fn new(
        endpoint: &str,
        token: &str,
        area: Option<&str>,
        ca_file: Option<&Path>,
    ) -> Result<Self, String> {
        let ca_files: Vec<PathBuf> = ca_file.into_iter().map(Path::to_path_buf).collect();
        let http = OutboundClient::with_ca_files(&ca_files).map_err(|e| e.to_string())?;
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token: token.to_string(),
            area: area.map(str::to_string),
            http,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, AdminError> {
        self.call("GET", path, None, CALL_TIMEOUT).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, AdminError> {
        self.call("POST", path, Some(body), CALL_TIMEOUT).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, AdminError> {
        self.call("PUT", path, Some(body), CALL_TIMEOUT).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, AdminError> {
        self.call("DELETE", path, None, CALL_TIMEOUT).await
    }

    /// The request of one call: the operator token, the area header when the provider
    /// names an area, and a JSON body.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Request<Bytes>, AdminError> {
        let url = format!("{}{path}", self.endpoint);
        let bad = |reason: &dyn fmt::Display| AdminError::Unreachable(format!("{url}: {reason}"));
        let method = Method::from_bytes(method.as_bytes()).map_err(|e| bad(&e))?;
        let mut builder = Request::builder()
            .method(method)
            .uri(&url)
            .header(AUTHORIZATION, format!("Bearer {}", self.token));
        if let Some(area) = &self.area {
            builder = builder.header(AREA_HEADER, area);
        }
        let body = match body {
            Some(body) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        builder.body(body).map_err(|e| bad(&e))
    }

    /// One call; `path` starts with `/admin/v1/`.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value, AdminError> {
        let request = self.request(method, path, body)?;
        let answer = self.http.send(request, timeout).await.map_err(|reason| {
            let mut reason = format!("{}{path}: {reason}", self.endpoint);
            // rustls: "invalid peer certificate: UnknownIssuer", no trusted root signed it.
            if reason.contains("UnknownIssuer") {
                reason.push_str(
                    " (an endpoint whose certificate a private CA signed needs that CA: \
                     set ca_file or MERIDIAN_CA_FILE to its PEM file)",
                );
            }
            AdminError::Unreachable(reason)
        })?;
        let text = || String::from_utf8_lossy(&answer.body).into_owned();
        let json: Option<Value> = serde_json::from_slice(&answer.body).ok();
        if (200..300).contains(&answer.status) {
            return json
                .ok_or_else(|| AdminError::Malformed(format!("{method} {path}: {}", text())));
        }
        let field = |name: &str| {
            json.as_ref()
                .and_then(|j| j[name].as_str())
                .map(str::to_string)
        };
        Err(AdminError::Refused {
            request: format!("{method} {path}"),
            status: answer.status,
            code: field("code").unwrap_or_default(),
            message: field("error").unwrap_or_else(text),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// What the server received: the request line, the headers (names lower-cased) and
    /// the body.
    #[derive(Debug)]
    struct Received {
        request_line: String,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Received {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    /// A one-request HTTP/1.1 server on loopback answering `status` with `body`: its base
    /// URL, and the request it received once it has answered.
    async fn one_answer(
        status: &'static str,
        body: &'static str,
    ) -> (String, tokio::task::JoinHandle<Received>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut bytes = Vec::new();
            let mut buf = [0u8; 4096];
            let received = loop {
                let n = stream.read(&mut buf).await.unwrap();
                assert!(n > 0, "the client closed the connection mid-request");
                bytes.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let Some(end) = text.find("\r\n\r\n") else {
                    continue;
                };
                let mut lines = text[..end].split("\r\n");
                let request_line = lines.next().unwrap().to_string();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|line| line.split_once(':'))
                    .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_string()))
                    .collect();
                let length = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .map_or(0, |(_, v)| v.parse::<usize>().unwrap());
                if text.len() >= end + 4 + length {
                    break Received {
                        request_line,
                        headers,
                        body: text[end + 4..].to_string(),
                    };
                }
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
            received
        });
        (url, server)
    }

    #[tokio::test]
    async fn every_call_carries_the_token_and_the_configured_area() {
        let (url, server) = one_answer("200 OK", r#"{"app":{"name":"chat"}}"#).await;
        let client = AdminClient::new(&url, "operator-token", Some("SG-B"), None).unwrap();

        let answer = client
            .post("/admin/v1/apps", &json!({"name": "chat"}))
            .await
            .unwrap();

        assert_eq!(answer, json!({"app": {"name": "chat"}}));
        let received = server.await.unwrap();
        assert_eq!(received.request_line, "POST /admin/v1/apps HTTP/1.1");
        assert_eq!(received.header(AREA_HEADER), Some("SG-B"), "{received:?}");
        assert_eq!(
            received.header("authorization"),
            Some("Bearer operator-token")
        );
        assert_eq!(received.header("content-type"), Some("application/json"));
        assert_eq!(received.body, r#"{"name":"chat"}"#);
    }

    #[tokio::test]
    async fn without_an_area_no_area_header_is_sent() {
        let (url, server) = one_answer("200 OK", r#"{"apps":[]}"#).await;
        let client = AdminClient::new(&url, "operator-token", None, None).unwrap();

        client.get("/admin/v1/apps").await.unwrap();

        let received = server.await.unwrap();
        assert_eq!(received.request_line, "GET /admin/v1/apps HTTP/1.1");
        assert_eq!(received.header(AREA_HEADER), None, "{received:?}");
        assert_eq!(received.header("content-type"), None);
    }

    #[tokio::test]
    async fn a_refusal_keeps_its_status_code_and_message() {
        let (url, _server) = one_answer(
            "400 Bad Request",
            r#"{"code":"invalid","error":"this edge fronts several areas"}"#,
        )
        .await;
        let client = AdminClient::new(&url, "operator-token", None, None).unwrap();

        let error = client.delete("/admin/v1/areas/NA").await.unwrap_err();

        match error {
            AdminError::Refused {
                request,
                status,
                code,
                message,
            } => assert_eq!(
                (request.as_str(), status, code.as_str(), message.as_str()),
                (
                    "DELETE /admin/v1/areas/NA",
                    400,
                    "invalid",
                    "this edge fronts several areas"
                )
            ),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_2xx_answer_that_is_not_json_is_malformed() {
        let (url, _server) = one_answer("200 OK", "not json").await;
        let client = AdminClient::new(&url, "operator-token", None, None).unwrap();

        let error = client.get("/admin/v1/cluster").await.unwrap_err();

        assert!(
            matches!(&error, AdminError::Malformed(reason) if reason.contains("not json")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn nobody_listening_is_unreachable() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let client = AdminClient::new(&url, "operator-token", None, None).unwrap();

        let error = client.get("/admin/v1/cluster").await.unwrap_err();

        assert!(
            matches!(&error, AdminError::Unreachable(reason)
                if reason.contains(&url) && reason.to_lowercase().contains("refused")),
            "{error:?}"
        );
    }

    #[test]
    fn a_ca_file_that_is_not_there_is_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("ca.pem");

        let error = AdminClient::new("https://127.0.0.1:1", "t", None, Some(&missing)).unwrap_err();

        assert!(error.contains(&missing.display().to_string()), "{error}");
    }
}
