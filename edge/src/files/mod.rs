//! The file service's HTTP face (FILE-01): upload grants, uploads and downloads of an
//! area's media, served by every edge of the area from the area's object store.
//!
//! * `POST /files/v1/grants`: a user (`Authorization: Bearer <token>`) or the app server
//!   (the Server API's signed headers) says what it will upload; within the app's limits
//!   and quota it gets a signed upload URL, valid an hour.
//! * `PUT /files/v1/uploads/{grant}`: the bytes. They are stored, then the file is
//!   recorded in the cluster (which enforces the quota once more); only then is the upload
//!   answered, with the signed download link the message content carries. Large files go
//!   up in chunks (`Content-Range`), each stored before it is acknowledged, and
//!   `GET /files/v1/uploads/{grant}` says where to resume.
//! * `GET`/`HEAD /files/v1/{appKey}/{fileId}[/preview]?e=&s=[&ct=&c1=&c2=]`: a signed,
//!   expiring link; single byte ranges, the stored content type, `Content-Disposition`
//!   for files. In the app's private mode the reader must also show who it is, and be
//!   the uploader, the app server or in the conversation the link names.
//!
//! Answers are JSON errors `{"code": "...", "error": "..."}` with the HTTP status; every
//! answer allows any origin, so web pages upload and show media directly.

mod download;
mod grant;
mod links;
mod resumable;
mod sweep;
mod upload;

pub(crate) use links::{Link, Variant};
pub(crate) use sweep::Sweeper;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, AUTHORIZATION, CONTENT_TYPE,
};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use meridian_access::directory::AppDirectory;
use meridian_access::error::ApiError;
use meridian_access::token;
use meridian_cluster::state::files::{FileAnswer, FileQuestion};
use meridian_cluster::state::{CommandError, Query, QueryOutput};
use meridian_cluster::{ClusterClient, ClusterError};
use meridian_files::Store;
use meridian_regions::AreaCode;
use meridian_telemetry::{whole_body, StreamBody};
use serde_json::json;

use crate::metrics::EdgeMetrics;
use crate::server_api::ServerApi;
use crate::sessions::auth::user_of_token;
use crate::sessions::error::SessionError;

pub(crate) const PREFIX: &str = "/files/v1/";

/// Who makes a request: a user of the app (its bearer token), or the app server (the
/// Server API's signed headers).
struct Caller {
    app_key: String,
    secret: String,
    area: AreaCode,
    /// `None` for the app server.
    user: Option<String>,
}

/// One area's store and cluster.
struct AreaFiles {
    store: Store,
    cluster: Arc<ClusterClient>,
}

pub(crate) struct Files {
    areas: BTreeMap<AreaCode, AreaFiles>,
    directory: Arc<AppDirectory>,
    server_api: Arc<ServerApi>,
    metrics: EdgeMetrics,
    /// `https` when the public listener has TLS.
    scheme: &'static str,
}

/// Why a file request is refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{what} is at most {limit} bytes")]
    TooLarge { what: String, limit: u64 },
    #[error("the app's file storage quota of {limit} bytes is used up")]
    Quota { limit: u64 },
    #[error("the link is not valid (any more)")]
    LinkInvalid,
    #[error("{0}")]
    NotMember(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("range not satisfiable")]
    Range { size: u64 },
    #[error("the next chunk of this upload starts at byte {received}")]
    Offset { received: u64 },
    #[error("{0}")]
    Unavailable(String),
}

impl FileError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            FileError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            FileError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            FileError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            FileError::Quota { .. } => (StatusCode::FORBIDDEN, "quota"),
            FileError::LinkInvalid => (StatusCode::FORBIDDEN, "link_invalid"),
            FileError::NotMember(_) => (StatusCode::FORBIDDEN, "not_member"),
            FileError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            FileError::Range { .. } => (StatusCode::RANGE_NOT_SATISFIABLE, "range"),
            FileError::Offset { .. } => (StatusCode::CONFLICT, "offset"),
            FileError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        }
    }

    /// The `result` label of an upload refused with this error.
    fn upload_result(&self) -> &'static str {
        match self {
            FileError::Unauthorized(_) | FileError::LinkInvalid | FileError::NotMember(_) => {
                "denied"
            }
            FileError::Invalid(_)
            | FileError::NotFound(_)
            | FileError::Range { .. }
            | FileError::Offset { .. } => "invalid",
            FileError::TooLarge { .. } => "too_large",
            FileError::Quota { .. } => "quota",
            FileError::Unavailable(_) => "unavailable",
        }
    }

    fn response(&self) -> Response<StreamBody> {
        let (status, code) = self.status_and_code();
        let mut body = json!({ "code": code, "error": self.to_string() });
        match self {
            FileError::TooLarge { limit, .. } | FileError::Quota { limit } => {
                body["limit"] = json!(limit)
            }
            FileError::Range { size } => body["size"] = json!(size),
            FileError::Offset { received } => body["received"] = json!(received),
            _ => {}
        }
        let mut response = json_answer(status, &body);
        if let FileError::Range { size } = self {
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response
                    .headers_mut()
                    .insert(http::header::CONTENT_RANGE, value);
            }
        }
        response
    }
}

impl From<ApiError> for FileError {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::AppKey | ApiError::Signature(_) => FileError::Unauthorized(error.to_string()),
            ApiError::Param(_) | ApiError::TooLong(_) => FileError::Invalid(error.to_string()),
            other => FileError::Unavailable(other.to_string()),
        }
    }
}

impl From<ClusterError> for FileError {
    fn from(error: ClusterError) -> Self {
        match error {
            ClusterError::Refused(CommandError::NotFound { what }) => FileError::NotFound(what),
            ClusterError::Refused(CommandError::Limit { limit, .. }) => FileError::Quota { limit },
            ClusterError::Refused(CommandError::Invalid { field, reason }) => {
                FileError::Invalid(format!("{field}: {reason}"))
            }
            other => FileError::Unavailable(other.to_string()),
        }
    }
}

fn json_answer(status: StatusCode, body: &serde_json::Value) -> Response<StreamBody> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(whole_body(Bytes::from(bytes)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Lets web pages of any origin use the answer: links and grants are the credentials,
/// never cookies.
fn allow_any_origin(response: &mut Response<StreamBody>) {
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "Content-Range, Content-Length, Accept-Ranges, Content-Disposition, ETag",
        ),
    );
}

fn preflight() -> Response<StreamBody> {
    let mut response = Response::new(whole_body(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD, POST, PUT, OPTIONS"),
    );
    headers.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "Authorization, Content-Type, Content-Range, Range, App-Key, Nonce, Timestamp, Signature",
        ),
    );
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    response
}

impl Files {
    pub(crate) fn new(
        stores: BTreeMap<AreaCode, (Store, Arc<ClusterClient>)>,
        directory: Arc<AppDirectory>,
        server_api: Arc<ServerApi>,
        metrics: EdgeMetrics,
        tls: bool,
    ) -> Self {
        let areas = stores
            .into_iter()
            .map(|(area, (store, cluster))| (area, AreaFiles { store, cluster }))
            .collect();
        Files {
            areas,
            directory,
            server_api,
            metrics,
            scheme: if tls { "https" } else { "http" },
        }
    }

    pub(crate) fn owns(path: &str) -> bool {
        path.starts_with(PREFIX)
    }

    pub(crate) fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> BoxFuture<'static, Response<StreamBody>> {
        async move {
            let path = request
                .uri()
                .path()
                .strip_prefix(PREFIX)
                .unwrap_or_default();
            let mut response = match (request.method(), path) {
                (&Method::OPTIONS, _) => preflight(),
                (&Method::POST, "grants") => self.grant(request).await,
                (&Method::PUT, rest) if rest.starts_with("uploads/") => self.upload(request).await,
                (&Method::GET, rest) if rest.starts_with("uploads/") => {
                    self.upload_progress(request).await
                }
                (&Method::GET | &Method::HEAD, _) => self.download(request).await,
                _ => FileError::NotFound(format!("{} {}", request.method(), request.uri().path()))
                    .response(),
            };
            allow_any_origin(&mut response);
            response
        }
        .boxed()
    }

    /// `scheme://host` as the client reached this edge (for the links it is given).
    fn base_url<B>(&self, request: &Request<B>) -> String {
        let host = request
            .headers()
            .get(http::header::HOST)
            .and_then(|host| host.to_str().ok())
            .unwrap_or("localhost");
        format!("{}://{host}", self.scheme)
    }

    /// The area's store and cluster, when this edge serves the app's area with files.
    fn area(&self, area: AreaCode) -> Result<&AreaFiles, FileError> {
        self.areas.get(&area).ok_or_else(|| {
            FileError::Unavailable(format!("this edge keeps no files for area {area}"))
        })
    }

    /// The caller a request's credentials name, if it carries any.
    async fn caller(&self, headers: &http::HeaderMap) -> Result<Option<Caller>, FileError> {
        let bearer = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if let Some(user_token) = bearer {
            let (claims, _, _) = token::peek(user_token)
                .map_err(|e| FileError::Unauthorized(format!("token: {e}")))?;
            let user = user_of_token(&self.directory, &claims.app_key, user_token)
                .await
                .map_err(|e| match e {
                    SessionError::Unavailable(why) => FileError::Unavailable(why),
                    other => FileError::Unauthorized(other.to_string()),
                })?;
            return Ok(Some(Caller {
                secret: user.app.secret().to_string(),
                app_key: claims.app_key,
                area: user.app.area,
                user: Some(user.user_id),
            }));
        }
        if !headers.contains_key("App-Key") {
            return Ok(None);
        }
        let app = self.server_api.authenticate(headers).await?;
        Ok(Some(Caller {
            app_key: app.app_key().to_string(),
            secret: app.secret().to_string(),
            area: app.area,
            user: None,
        }))
    }

    async fn ask(
        &self,
        cluster: &ClusterClient,
        app_key: &str,
        question: FileQuestion,
    ) -> Result<FileAnswer, FileError> {
        let query = Query::Files {
            app_key: app_key.to_string(),
            question,
        };
        match cluster.read(query).await? {
            QueryOutput::Files(answer) => Ok(answer),
            other => Err(FileError::Unavailable(format!(
                "unexpected answer {other:?}"
            ))),
        }
    }
}
