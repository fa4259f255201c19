//! Firebase Cloud Messaging HTTP v1, authorised by an OAuth2 access token obtained with a
//! service account's signed assertion (RFC 7523 JWT bearer grant).

use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use bytes::Bytes;
use http::Request;
use serde_json::{json, Value};

use crate::http::{exchange, Answer, AnswerExt, USER_AGENT};
use crate::jwt::sign_rs256;
use crate::{FcmCredentials, Notification, Outcome, PushClient};
use meridian_clock::now_secs;

pub(crate) const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
pub(crate) const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ASSERTION_LIFETIME_SECS: u64 = 3600;
/// An access token is replaced this long before Google says it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
const MAX_TOKEN_LIFETIME_SECS: u64 = 3600;
const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const BAD_REQUEST_TYPE: &str = "type.googleapis.com/google.rpc.BadRequest";

/// Access tokens are cached per (service account, token endpoint).
pub(crate) type TokenKey = (String, String);
/// One async lock per service account, so concurrent sends fetch one token, not many.
pub(crate) type TokenSlot = Arc<tokio::sync::Mutex<Option<AccessToken>>>;

pub(crate) struct AccessToken {
    token: String,
    expires: Instant,
    key_pem: String,
}

impl PushClient {
    /// Sends `n` through FCM: `POST {endpoint}/v1/projects/{project}/messages:send`.
    pub async fn send_fcm(&self, creds: &FcmCredentials, n: &Notification) -> Outcome {
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            creds.endpoint.trim_end_matches('/'),
            creds.project_id
        );
        let body = Bytes::from(message(n).to_string());
        for attempt in 0..2 {
            let token = match self.fcm_access_token(creds).await {
                Ok(token) => token,
                Err(outcome) => return outcome,
            };
            let request = Request::post(&url)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .header("user-agent", USER_AGENT)
                .body(body.clone());
            let request = match request {
                Ok(request) => request,
                Err(e) => return Outcome::rejected(format!("FCM request: {e}")),
            };
            let answer = match exchange(&self.inner.client, request).await {
                Ok(answer) => answer,
                Err(e) => return Outcome::retry(e),
            };
            if attempt == 0 && answer.status == 401 {
                self.forget_fcm_token(creds, &token).await;
                continue;
            }
            return outcome(&answer);
        }
        Outcome::rejected("FCM: UNAUTHENTICATED even with a fresh access token")
    }

    fn fcm_slot(&self, creds: &FcmCredentials) -> TokenSlot {
        let key = (creds.client_email.clone(), creds.token_uri.clone());
        let mut slots = self
            .inner
            .fcm_tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        slots.entry(key).or_default().clone()
    }

    /// The cached access token, or a new one from the token endpoint. `Err` is the
    /// outcome of the send when no token can be had.
    async fn fcm_access_token(&self, creds: &FcmCredentials) -> Result<String, Outcome> {
        let slot = self.fcm_slot(creds);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref() {
            if token.key_pem == creds.private_key_pem && Instant::now() < token.expires {
                return Ok(token.token.clone());
            }
        }
        let fresh = self.fetch_fcm_token(creds).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    async fn forget_fcm_token(&self, creds: &FcmCredentials, used: &str) {
        let slot = self.fcm_slot(creds);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|token| token.token == used) {
            *cached = None;
        }
    }

    async fn fetch_fcm_token(&self, creds: &FcmCredentials) -> Result<AccessToken, Outcome> {
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
        let request = Request::post(&creds.token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("user-agent", USER_AGENT)
            .body(Bytes::from(form))
            .map_err(|e| Outcome::rejected(format!("FCM token request: {e}")))?;
        let answer = exchange(&self.inner.client, request)
            .await
            .map_err(|e| Outcome::retry(format!("FCM token endpoint: {e}")))?;
        let json = answer.json();
        if answer.status != 200 {
            // OAuth2 errors: {"error": "invalid_grant", "error_description": "..."}.
            let reason = match (json["error"].as_str(), json["error_description"].as_str()) {
                (Some(error), Some(text)) => format!("{error}: {text}"),
                (Some(error), None) => error.to_string(),
                _ => answer.summary(),
            };
            let reason = format!("FCM token endpoint {}: {reason}", answer.status);
            return Err(if answer.is_transient() {
                Outcome::Retry {
                    reason,
                    after: answer.retry_after(),
                }
            } else {
                Outcome::rejected(reason)
            });
        }
        let (Some(token), Some(expires_in)) =
            (json["access_token"].as_str(), json["expires_in"].as_u64())
        else {
            return Err(Outcome::retry(format!(
                "FCM token endpoint: unexpected answer {}",
                answer.summary()
            )));
        };
        // Google's tokens live an hour; a larger claim is capped rather than trusted.
        let lifetime = Duration::from_secs(expires_in.min(MAX_TOKEN_LIFETIME_SECS))
            .saturating_sub(EXPIRY_MARGIN);
        Ok(AccessToken {
            token: token.to_string(),
            expires: Instant::now() + lifetime,
            key_pem: creds.private_key_pem.clone(),
        })
    }
}

/// The HTTP v1 `messages:send` body. `data` values must be strings.
fn message(n: &Notification) -> Value {
    let mut data = json!({"msgUID": n.id});
    if let Some(push_data) = &n.data {
        data["pushData"] = json!(push_data);
    }
    json!({
        "message": {
            "token": n.device_token,
            "notification": {"title": n.title, "body": n.body},
            "data": data,
            "android": {"priority": "high"},
        }
    })
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
