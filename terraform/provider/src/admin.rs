//! The operator admin API as the provider uses it: JSON calls with the operator token,
//! and its `{code, error}` refusals turned into errors Terraform can show.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// Most calls are one Raft write or read; a slow answer means something is wrong.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct AdminClient {
    /// Base URL without a trailing slash, e.g. `http://10.0.0.5:7013`.
    endpoint: String,
    token: String,
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
    pub fn new(endpoint: &str, token: &str) -> Self {
        Self {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token: token.to_string(),
        }
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

    /// One call; `path` starts with `/admin/v1/`.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value, AdminError> {
        let url = format!("{}{path}", self.endpoint);
        let body = body.map(|b| b.to_string());
        let answer = meridian_rpc::http::request(
            method,
            &url,
            Some(&self.token),
            body.as_deref().map(str::as_bytes),
            timeout,
        )
        .await
        .map_err(|e| AdminError::Unreachable(e.to_string()))?;
        let json: Option<Value> = serde_json::from_slice(&answer.body).ok();
        if (200..300).contains(&answer.status) {
            return json.ok_or_else(|| {
                AdminError::Malformed(format!("{method} {path}: {}", answer.text()))
            });
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
            message: field("error").unwrap_or_else(|| answer.text()),
        })
    }
}
