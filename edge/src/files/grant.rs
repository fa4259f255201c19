//! `POST /files/v1/grants`: who uploads, what, and whether the app's limits allow it.

use http::header::AUTHORIZATION;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use meridian_access::token;
use meridian_cluster::state::files::{FileAnswer, FileQuestion};
use meridian_proto::files::{Grant, GrantRequest};
use meridian_telemetry::StreamBody;
use rand::RngCore;

use super::links::GrantClaims;
use super::{json_answer, FileError, Files};
use crate::now_ms;
use crate::sessions::auth::user_of_token;
use crate::sessions::error::SessionError;

/// How long an upload URL stays valid.
const GRANT_VALID_MS: u64 = 3_600_000;
/// A grant request is a small JSON object.
const MAX_GRANT_BODY: usize = 4096;
const MAX_NAME_CHARS: usize = 255;

/// Who asks for the grant: a user of the app, or the app server.
struct Uploader {
    app_key: String,
    secret: String,
    area: meridian_regions::AreaCode,
    owner: String,
}

impl Files {
    pub(super) async fn grant(&self, request: Request<Incoming>) -> Response<StreamBody> {
        match self.try_grant(request).await {
            Ok(grant) => json_answer(
                StatusCode::OK,
                &serde_json::to_value(grant).unwrap_or_default(),
            ),
            Err(error) => error.response(),
        }
    }

    async fn try_grant(&self, request: Request<Incoming>) -> Result<Grant, FileError> {
        let uploader = self.uploader(request.headers()).await?;
        let base_url = self.base_url(&request);
        let body = Limited::new(request.into_body(), MAX_GRANT_BODY)
            .collect()
            .await
            .map_err(|e| FileError::Invalid(format!("cannot read the grant request: {e}")))?
            .to_bytes();
        let wanted: GrantRequest = serde_json::from_slice(&body)
            .map_err(|e| FileError::Invalid(format!("grant request: {e}")))?;
        if wanted.name.chars().count() > MAX_NAME_CHARS || wanted.name.contains(['/', '\\']) {
            return Err(FileError::Invalid(format!(
                "name must be a file name of at most {MAX_NAME_CHARS} characters"
            )));
        }
        if wanted.size == 0 {
            return Err(FileError::Invalid("size must be at least 1".into()));
        }
        let area = self.area(uploader.area)?;
        let FileAnswer::Budget(limits, usage) = self
            .ask(&area.cluster, &uploader.app_key, FileQuestion::Budget)
            .await?
        else {
            return Err(FileError::Unavailable(
                "unexpected answer to a budget".into(),
            ));
        };
        let limit = limits.max_bytes.of(wanted.kind);
        if wanted.size > limit {
            return Err(FileError::TooLarge {
                what: format!("a {} upload", wanted.kind.as_str()),
                limit,
            });
        }
        if usage.bytes.saturating_add(wanted.size) > limits.quota_bytes {
            return Err(FileError::Quota {
                limit: limits.quota_bytes,
            });
        }
        let lifetime_secs = limits.link_lifetime_secs();
        if let Some(keep) = wanted.keep_seconds {
            if !(1..=lifetime_secs).contains(&keep) {
                return Err(FileError::Invalid(format!(
                    "keepSeconds must be 1 to {lifetime_secs} (the app's link lifetime)"
                )));
            }
        }
        let mut id = [0u8; 16];
        rand::rng().fill_bytes(&mut id);
        let claims = GrantClaims {
            app_key: uploader.app_key,
            file_id: hex_id(&id),
            kind: wanted.kind,
            size: wanted.size,
            name: wanted.name,
            content_type: wanted.content_type,
            owner: uploader.owner,
            keep_seconds: wanted.keep_seconds,
            expires_ms: now_ms() + GRANT_VALID_MS,
        };
        Ok(Grant {
            upload_url: format!(
                "{base_url}{}uploads/{}",
                super::PREFIX,
                claims.seal(&uploader.secret)
            ),
            file_id: claims.file_id,
            expires_at_ms: claims.expires_ms,
        })
    }

    /// A user's bearer token, else the Server API's signed headers.
    async fn uploader(&self, headers: &http::HeaderMap) -> Result<Uploader, FileError> {
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
            return Ok(Uploader {
                secret: user.app.secret().to_string(),
                app_key: claims.app_key,
                area: user.app.area,
                owner: user.user_id,
            });
        }
        let app = self.server_api.authenticate(headers).await?;
        Ok(Uploader {
            app_key: app.app_key().to_string(),
            secret: app.secret().to_string(),
            area: app.area,
            owner: String::new(),
        })
    }
}

/// A file id: 128 random bits in hex (safe in keys, paths and URLs).
fn hex_id(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
