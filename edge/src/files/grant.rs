//! `POST /files/v1/grants`: who uploads, what, and whether the app's limits allow it.

use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use meridian_cluster::state::files::{FileAnswer, FileQuestion};
use meridian_proto::files::{Grant, GrantRequest, UploadFor};
use meridian_proto::{Conversation, ConversationType};
use meridian_telemetry::StreamBody;
use rand::RngCore;

use super::links::GrantClaims;
use super::{json_answer, FileError, Files};
use crate::now_ms;

/// How long an upload URL stays valid.
const GRANT_VALID_MS: u64 = 3_600_000;
/// A grant request is a small JSON object.
const MAX_GRANT_BODY: usize = 4096;
const MAX_NAME_CHARS: usize = 255;

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
        let uploader = self.caller(request.headers()).await?.ok_or_else(|| {
            FileError::Unauthorized("a user's bearer token or the Server API's signature".into())
        })?;
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
        let scope = wanted
            .conversation
            .as_ref()
            .map(|target| scope(target, uploader.user.as_deref()))
            .transpose()?;
        let area = self.area(uploader.area)?;
        let question = FileQuestion::Upload {
            uploader: uploader.user.clone(),
            conversation: scope.clone(),
        };
        let FileAnswer::Upload {
            limits,
            usage,
            access,
            member,
        } = self.ask(&area.cluster, &uploader.app_key, question).await?
        else {
            return Err(FileError::Unavailable(
                "unexpected answer to an upload".into(),
            ));
        };
        if access.private && scope.is_none() && uploader.user.is_some() {
            return Err(FileError::Invalid(
                "the app's files are private: name the conversation the upload is for".into(),
            ));
        }
        if !member {
            return Err(FileError::NotMember(
                "the uploader is not in the conversation".into(),
            ));
        }
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
            owner: uploader.user.unwrap_or_default(),
            scope,
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
}

/// A file id: 128 random bits in hex (safe in keys, paths and URLs).
fn hex_id(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Most characters of an id in a conversation an upload names.
const MAX_ID_CHARS: usize = 64;

/// The conversation an upload is for, as stored: a user uploads from its own side; the
/// app server names the sender of a private or system conversation.
fn scope(target: &UploadFor, user: Option<&str>) -> Result<Conversation, FileError> {
    let invalid = |why: &str| FileError::Invalid(format!("conversation: {why}"));
    let kind = ConversationType::from_code(target.conversation_type)
        .ok_or_else(|| invalid("type must be 1, 3, 4, 6 or 10"))?;
    let sender = user.unwrap_or(&target.sender_id);
    let two_sided = matches!(kind, ConversationType::Private | ConversationType::System);
    let ids = [Some(&target.target_id[..]), two_sided.then_some(sender)];
    if ids
        .into_iter()
        .flatten()
        .any(|id| id.is_empty() || id.chars().count() > MAX_ID_CHARS)
    {
        return Err(invalid(&format!(
            "targetId (and the app server's senderId of a private or system conversation) must be 1 to {MAX_ID_CHARS} characters"
        )));
    }
    Ok(match (kind, user) {
        (ConversationType::Private, _) => Conversation::private(sender, &target.target_id, ""),
        // A user is on the receiving side of a system conversation.
        (ConversationType::System, Some(user)) => Conversation::system(&target.target_id, user),
        (ConversationType::System, None) => Conversation::system(sender, &target.target_id),
        _ => Conversation::group_like(kind, &target.target_id, ""),
    })
}
