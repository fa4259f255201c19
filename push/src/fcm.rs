//! Firebase Cloud Messaging HTTP v1, authorised by an OAuth2 access token obtained with a
//! service account's signed assertion (RFC 7523 JWT bearer grant).

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use serde_json::{json, Value};

use crate::access_token::{issued, Account, Issued, Sent};
use crate::http::{Answer, AnswerExt};
use crate::jwt::sign_rs256;
use crate::{FcmCredentials, Notification, Outcome, PushClient};
use meridian_clock::now_secs;

pub(crate) const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
pub(crate) const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ASSERTION_LIFETIME_SECS: u64 = 3600;
/// Google's tokens live an hour; a larger claim is capped rather than trusted.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const BAD_REQUEST_TYPE: &str = "type.googleapis.com/google.rpc.BadRequest";

impl PushClient {
    /// Sends `n` through FCM: `POST {endpoint}/v1/projects/{project}/messages:send`.
    pub async fn send_fcm(&self, creds: &FcmCredentials, n: &Notification) -> Outcome {
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            creds.endpoint.trim_end_matches('/'),
            creds.project_id
        );
        let body = Bytes::from(message(n).to_string());
        let account = Account {
            provider: "FCM",
            id: creds.client_email.clone(),
            issuer: creds.token_uri.clone(),
        };
        let fetch = || self.fetch_fcm_token(creds);
        let send = |token| {
            let request = Request::post(&url);
            self.post_with_token("FCM", request, token, body.clone(), sent)
        };
        self.with_token(account, &creds.private_key_pem, fetch, send)
            .await
    }

    async fn fetch_fcm_token(&self, creds: &FcmCredentials) -> Result<Issued, Outcome> {
        let now = now_secs();
        let assertion = sign_rs256(
            &creds.private_key_pem,
            &json!({"alg": "RS256", "typ": "JWT"}),
            &json!({
                "iss": creds.client_email,
                "scope": SCOPE,
                "aud": creds.token_uri,
                "iat": now,
                "exp": now + ASSERTION_LIFETIME_SECS,
            }),
        )
        .map_err(|e| Outcome::rejected(format!("FCM service account key: {e}")))?;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", JWT_BEARER_GRANT)
            .append_pair("assertion", &assertion)
            .finish();
        let answer = self.token_request("FCM", &creds.token_uri, form).await?;
        issued("FCM", &answer, MAX_TOKEN_LIFETIME)
    }
}

/// The HTTP v1 `messages:send` body. `data` values must be strings.
fn message(n: &Notification) -> Value {
    let mut data = json!({"msgUID": n.id});
    if let Some(push_data) = &n.data {
        data["pushData"] = json!(push_data);
    }
    let fcm = &n.options.fcm;
    let mut notification = json!({"title": n.title, "body": n.body});
    if let Some(image) = &fcm.image_url {
        notification["image"] = json!(image);
    }
    let mut message = json!({
        "message": {
            "token": n.device_token,
            "notification": notification,
            "data": data,
            "android": {"priority": "high"},
        }
    });
    if let Some(key) = &fcm.collapse_key {
        message["message"]["android"]["collapse_key"] = json!(key);
    }
    // Android launchers that show counts read notification_count; iOS devices behind
    // FCM read the APNs override.
    let mut android = serde_json::Map::new();
    let mut aps = serde_json::Map::new();
    if let Some(badge) = n.badge {
        android.insert("notification_count".into(), json!(badge));
        aps.insert("badge".into(), json!(badge));
    }
    if let Some(sound) = &n.sound {
        android.insert("sound".into(), json!(sound));
        aps.insert("sound".into(), json!(sound));
    }
    if let Some(channel) = &fcm.channel_id {
        android.insert("channel_id".into(), json!(channel));
    }
    if n.options.content_available {
        aps.insert("content-available".into(), json!(1));
    }
    if !android.is_empty() {
        message["message"]["android"]["notification"] = Value::Object(android);
    }
    if !aps.is_empty() {
        message["message"]["apns"] = json!({"payload": {"aps": aps}});
    }
    message
}

/// A 401 is an access token Google no longer takes.
fn sent(answer: &Answer) -> Sent {
    match answer.status {
        401 => Sent::TokenRefused(outcome(answer)),
        _ => Sent::Done(outcome(answer)),
    }
}

/// Maps an FCM answer; errors are `{"error": {code, message, status, details: [...]}}`.
fn outcome(answer: &Answer) -> Outcome {
    if answer.status == 200 {
        return Outcome::Delivered;
    }
    let json = answer.json();
    let error = &json["error"];
    let details = error["details"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let fcm_error_code = details
        .iter()
        .find(|d| d["@type"] == FCM_ERROR_TYPE)
        .and_then(|d| d["errorCode"].as_str());
    let status = error["status"].as_str().unwrap_or("");
    let message = error["message"].as_str().unwrap_or("");
    let reason = if status.is_empty() && message.is_empty() {
        answer.summary()
    } else {
        format!("FCM {}: {status} {message}", answer.status)
    };
    match answer.status {
        404 if fcm_error_code == Some("UNREGISTERED") => Outcome::TokenGone,
        400 if status == "INVALID_ARGUMENT" && names_the_token(details, message) => {
            Outcome::TokenGone
        }
        429 | 500..=599 => Outcome::Retry {
            reason,
            after: answer.retry_after(),
        },
        _ => Outcome::rejected(reason),
    }
}

/// An INVALID_ARGUMENT about the registration token (rather than the payload) means the
/// token will never work.
fn names_the_token(details: &[Value], message: &str) -> bool {
    let field_is_token = details
        .iter()
        .filter(|d| d["@type"] == BAD_REQUEST_TYPE)
        .filter_map(|d| d["fieldViolations"].as_array())
        .flatten()
        .any(|v| v["field"] == "message.token");
    field_is_token || message.to_ascii_lowercase().contains("registration token")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: Value) -> Answer {
        Answer {
            status,
            headers: http::HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    // covers: PUSH-02
    #[test]
    fn invalid_argument_is_token_gone_only_when_it_names_the_token() {
        let bad_token = answer(
            400,
            json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
                "message": "The registration token is not a valid FCM registration token",
                "details": [{"@type": FCM_ERROR_TYPE, "errorCode": "INVALID_ARGUMENT"}]}}),
        );
        assert_eq!(outcome(&bad_token), Outcome::TokenGone);
        let token_field = answer(
            400,
            json!({"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "Invalid value",
                "details": [{"@type": BAD_REQUEST_TYPE,
                    "fieldViolations": [{"field": "message.token", "description": "bad"}]}]}}),
        );
        assert_eq!(outcome(&token_field), Outcome::TokenGone);
        let bad_payload = answer(
            400,
            json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
                "message": "Invalid value at 'message.data[0].value'",
                "details": [{"@type": BAD_REQUEST_TYPE,
                    "fieldViolations": [{"field": "message.data[0].value"}]}]}}),
        );
        assert!(matches!(outcome(&bad_payload), Outcome::Rejected { .. }));
        assert!(matches!(
            outcome(&answer(404, json!({"error": {"status": "NOT_FOUND"}}))),
            Outcome::Rejected { .. }
        ));
        assert!(matches!(
            outcome(&answer(502, Value::Null)),
            Outcome::Retry { .. }
        ));
    }
}
