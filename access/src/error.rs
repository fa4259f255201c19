//! The one table from failures to the commercial service's Server API codes and HTTP
//! statuses (`shared/server-api/COMPAT.md`). Handlers return [`ApiError`]; nothing else
//! builds a code.

use http::StatusCode;
use meridian_cluster::state::CommandError;
use meridian_cluster::ClusterError;
use meridian_regions::AreaCode;
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("internal error: {0}")]
    Internal(String),
    #[error("App-Key not found or secret mismatch")]
    AppKey,
    /// Missing, malformed or out-of-range parameter.
    #[error("{0}")]
    Param(String),
    #[error("no POST data")]
    NoBody,
    #[error("signature error: {0}")]
    Signature(String),
    #[error("parameter {0} is too long")]
    TooLong(String),
    #[error("rate limit exceeded for {0}")]
    RateLimited(String),
    #[error("request timed out inside the service")]
    Timeout,
    #[error("{what} exceeds the limit of {limit}")]
    CountOverLimit { what: String, limit: u64 },
    #[error("request body too large (at most {limit} bytes)")]
    BodyTooLarge { limit: usize },
    #[error("dev environment limit of 100 users reached")]
    DevUserLimit,
    #[error("a group holds at most {0} members")]
    GroupMemberCap(u64),
    #[error("unknown path {0}")]
    UnknownPath(String),
    #[error("app {app_key} is homed in area {home}; use that area's Server API ({api_host})")]
    WrongArea {
        app_key: String,
        home: AreaCode,
        api_host: String,
    },
    #[error("area {0} is temporarily unavailable")]
    Unavailable(AreaCode),
}

impl ApiError {
    /// (Server API code, HTTP status).
    pub fn code(&self) -> (u32, StatusCode) {
        match self {
            ApiError::Internal(_) => (1000, StatusCode::INTERNAL_SERVER_ERROR),
            ApiError::AppKey => (1001, StatusCode::UNAUTHORIZED),
            ApiError::Param(_) => (1002, StatusCode::BAD_REQUEST),
            ApiError::NoBody => (1003, StatusCode::BAD_REQUEST),
            ApiError::Signature(_) => (1004, StatusCode::UNAUTHORIZED),
            ApiError::TooLong(_) => (1005, StatusCode::BAD_REQUEST),
            ApiError::RateLimited(_) => (1008, StatusCode::TOO_MANY_REQUESTS),
            ApiError::Timeout => (1050, StatusCode::GATEWAY_TIMEOUT),
            ApiError::CountOverLimit { .. } => (1502, StatusCode::BAD_REQUEST),
            ApiError::BodyTooLarge { .. } => (1508, StatusCode::BAD_REQUEST),
            ApiError::DevUserLimit => (2007, StatusCode::FORBIDDEN),
            ApiError::GroupMemberCap(_) => (405, StatusCode::METHOD_NOT_ALLOWED),
            ApiError::UnknownPath(_) => (404, StatusCode::NOT_FOUND),
            // The commercial service has no code for this; 1001 (app unknown here) with
            // 421 Misdirected Request tells SDKs and people alike where to go.
            ApiError::WrongArea { .. } => (1001, StatusCode::MISDIRECTED_REQUEST),
            ApiError::Unavailable(_) => (1000, StatusCode::SERVICE_UNAVAILABLE),
        }
    }

    pub fn body(&self) -> serde_json::Value {
        let (code, _) = self.code();
        match self {
            ApiError::WrongArea { home, api_host, .. } => json!({
                "code": code,
                "errorMessage": self.to_string(),
                "area": home,
                "apiHost": api_host,
            }),
            _ => json!({ "code": code, "errorMessage": self.to_string() }),
        }
    }

    pub fn param(message: impl Into<String>) -> Self {
        ApiError::Param(message.into())
    }

    pub fn missing(name: &str) -> Self {
        ApiError::Param(format!("{name} is required"))
    }
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::DevUserLimit { .. } => ApiError::DevUserLimit,
            CommandError::MemberCap { limit } => ApiError::GroupMemberCap(limit),
            CommandError::Limit { what, limit } => ApiError::CountOverLimit { what, limit },
            CommandError::Invalid { field, reason } => {
                ApiError::Param(format!("{field}: {reason}"))
            }
            CommandError::NotFound { what } => ApiError::Param(format!("{what} not found")),
            CommandError::Conflict { what } => ApiError::Param(format!("{what} already exists")),
            CommandError::Forbidden { reason } => ApiError::Param(reason),
            error @ (CommandError::NotMember { .. } | CommandError::Muted { .. }) => {
                ApiError::Param(error.to_string())
            }
            CommandError::WrongArea { cluster, requested } => ApiError::Internal(format!(
                "residency guard: cluster {cluster} refused area {requested}"
            )),
            CommandError::Storage(e) => ApiError::Internal(e),
            // No Server API call makes a command newer than the first gated level yet.
            error @ CommandError::Upgrading { .. } => ApiError::Internal(error.to_string()),
        }
    }
}

impl From<ClusterError> for ApiError {
    fn from(error: ClusterError) -> Self {
        match error {
            ClusterError::Refused(refusal) => refusal.into(),
            ClusterError::NoLeader { area, .. } => ApiError::Unavailable(area),
            ClusterError::Ambiguous(_) => ApiError::Timeout,
            ClusterError::Protocol(e) | ClusterError::NotUnderstood(e) => ApiError::Internal(e),
            ClusterError::Rpc(e) => ApiError::Internal(e.to_string()),
        }
    }
}

/// A cluster answer of a kind the request did not ask for: a bug, reported as internal.
pub fn unexpected(other: impl std::fmt::Debug) -> ApiError {
    ApiError::Internal(format!("unexpected answer {other:?}"))
}
