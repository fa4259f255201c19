//! vivo push server API: `POST {endpoint}/message/auth` signed with
//! md5(appId + appKey + timestamp + appSecret) for a one-day `authToken`, then
//! `POST {endpoint}/message/send` with it in the `authToken` header; JSON both ways,
//! answered `{result, desc, ...}`.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use serde_json::{json, Value};

use crate::access_token::{Account, Issued, Sent};
use crate::http::{exchange, Answer, AnswerExt, USER_AGENT};
use crate::options::put;
use crate::sign::{md5_hex, sha256_hex};
use crate::{shorten_weighted, Notification, Outcome, PushClient, VivoCredentials};
use meridian_clock::now_ms;

/// vivo counts a Chinese character as two: 20 of them (40 ASCII) in a title, 50 (100) in
/// the content.
pub(crate) const MAX_TITLE_UNITS: usize = 40;
pub(crate) const MAX_CONTENT_UNITS: usize = 100;
/// The longest `clientCustomMap` (keys and values together) this sender passes on.
pub const VIVO_MAX_CUSTOM_CHARS: usize = 1024;
const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

pub(crate) const SUCCESS: i64 = 0;
/// Taken to mean the authToken is no longer valid (vivo's tables call it an
/// authentication failure).
pub(crate) const AUTH_FAILED: i64 = 10000;
/// "regId不合法": the device is no longer reachable.
pub(crate) const INVALID_REG_ID: i64 = 10302;
/// The day's sending volume is used up.
pub(crate) const VOLUME_EXCEEDED: i64 = 10070;

pub(crate) fn units(c: char) -> usize {
    if c.is_ascii() {
        1
    } else {
        2
    }
}

impl PushClient {
    /// Sends `n` through vivo push as a notification to one regId.
    pub async fn send_vivo(&self, creds: &VivoCredentials, n: &Notification) -> Outcome {
        let mut custom = json!({"msgUID": n.id});
        if let Some(push_data) = &n.data {
            custom["pushData"] = json!(push_data);
        }
        let custom_chars: usize = custom
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| k.chars().count() + v.as_str().map_or(0, |v| v.chars().count()))
            .sum();
        if custom_chars > VIVO_MAX_CUSTOM_CHARS {
            return Outcome::rejected(format!(
                "clientCustomMap is {custom_chars} characters, this vivo sender passes at most {VIVO_MAX_CUSTOM_CHARS}"
            ));
        }
        let mut body = json!({
            "appId": creds.app_id,
            "regId": n.device_token,
            // Sound and vibration.
            "notifyType": 4,
            "title": shorten_weighted(&n.title, MAX_TITLE_UNITS, units),
            "content": shorten_weighted(&n.body, MAX_CONTENT_UNITS, units),
            // Open the app.
            "skipType": 1,
            // A system message (instant messaging) unless the app server says it is an
            // operational one.
            "classification": n.options.vivo.classification.unwrap_or(1),
            // vivo drops a repeated requestId: the same notification to the same device
            // keeps its id, so a retried send is not shown twice.
            "requestId": &sha256_hex(&format!("{}/{}", n.id, n.device_token))[..32],
            "clientCustomMap": custom,
        });
        put(&mut body, "category", &n.options.vivo.category);
        let body = Bytes::from(body.to_string());
        let endpoint = creds.endpoint.trim_end_matches('/');
        let (auth_url, send_url) = (
            format!("{endpoint}/message/auth"),
            format!("{endpoint}/message/send"),
        );
        let account = Account {
            provider: "vivo",
            id: creds.app_id.clone(),
            issuer: auth_url.clone(),
        };
        let fetch = || self.vivo_auth(&auth_url, creds);
        let (send_url, body) = (&send_url, &body);
        let send = move |token: String| async move {
            match self.vivo_post(send_url, Some(token), body.clone()).await {
                Ok(answer) => sent(&answer),
                Err(outcome) => Sent::Done(outcome),
            }
        };
        self.with_token(account, &creds.app_secret, fetch, send)
            .await
    }

    async fn vivo_auth(&self, url: &str, creds: &VivoCredentials) -> Result<Issued, Outcome> {
        let timestamp = now_ms();
        let sign = md5_hex(&format!(
            "{}{}{timestamp}{}",
            creds.app_id, creds.app_key, creds.app_secret
        ));
        let body = json!({
            "appId": creds.app_id,
            "appKey": creds.app_key,
            "timestamp": timestamp,
            "sign": sign,
        });
        let answer = self
            .vivo_post(url, None, Bytes::from(body.to_string()))
            .await?;
        let json = answer.json();
        if let (Some(SUCCESS), Some(token)) = (json["result"].as_i64(), json["authToken"].as_str())
        {
            return Ok(Issued::new(token, TOKEN_LIFETIME, TOKEN_LIFETIME));
        }
        Err(match sent(&answer) {
            Sent::Done(Outcome::Delivered) => {
                Outcome::retry(format!("vivo auth: no authToken in {}", answer.summary()))
            }
            // At the auth endpoint, a refusal is of the credentials themselves.
            Sent::Done(outcome) | Sent::TokenRefused(outcome) => outcome,
        })
    }

    async fn vivo_post(
        &self,
        url: &str,
        token: Option<String>,
        body: Bytes,
    ) -> Result<Answer, Outcome> {
        let mut request = Request::post(url)
            .header("content-type", "application/json")
            .header("user-agent", USER_AGENT);
        if let Some(token) = token {
            request = request.header("authToken", token);
        }
        let request = request
            .body(body)
            .map_err(|e| Outcome::rejected(format!("vivo request: {e}")))?;
        exchange(&self.inner.client, request)
            .await
            .map_err(Outcome::retry)
    }
}

/// Maps an answer by its `result`, whatever the HTTP status (except a 5xx or 429
/// without one).
fn sent(answer: &Answer) -> Sent {
    let json = answer.json();
    let Some(result) = json["result"].as_i64() else {
        let reason = format!("vivo {}", answer.summary());
        return Sent::Done(if answer.is_transient() {
            Outcome::Retry {
                reason,
                after: answer.retry_after(),
            }
        } else {
            Outcome::rejected(reason)
        });
    };
    let reason = format!("vivo {result}: {}", desc(&json));
    Sent::Done(match result {
        SUCCESS => Outcome::Delivered,
        AUTH_FAILED => return Sent::TokenRefused(Outcome::rejected(reason)),
        INVALID_REG_ID => Outcome::TokenGone,
        VOLUME_EXCEEDED => Outcome::Retry {
            reason,
            after: answer.retry_after(),
        },
        _ if answer.is_transient() => Outcome::Retry {
            reason,
            after: answer.retry_after(),
        },
        _ => Outcome::rejected(reason),
    })
}

fn desc(json: &Value) -> &str {
    json["desc"].as_str().unwrap_or("")
}
