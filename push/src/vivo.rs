//! vivo push server API: `POST {endpoint}/message/auth` signed with
//! md5(appId + appKey + timestamp + appSecret) for a one-day `authToken`, then, with it in
//! the `authToken` header, `POST {endpoint}/message/send` for one regId, or
//! `/message/saveListPayload` and `/message/pushToList` for up to 1,000; JSON both ways,
//! answered `{result, desc, ...}`.

use std::collections::HashMap;
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
/// The day's volume of list payloads is used up.
pub(crate) const LIST_VOLUME_EXCEEDED: i64 = 10252;
/// regIds one list push may carry (a list has at least two).
pub(crate) const MAX_REG_IDS: usize = 1_000;
/// A list push's `invalidUsers` status for a regId vivo does not know; vivo's other
/// statuses (uninstalled or notifications off, long offline, not a test device) may
/// change, so they fail the one push without dropping the device.
pub(crate) const UNKNOWN_USER: i64 = 1;

pub(crate) fn units(c: char) -> usize {
    if c.is_ascii() {
        1
    } else {
        2
    }
}

impl PushClient {
    /// Sends `n` through vivo push as a notification to one regId. Concurrent sends of the
    /// same notification through the same app share list pushes of up to 1,000 regIds
    /// ([`crate::batch`]); a lone regId goes through the single-send API.
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
        let mut message = json!({
            "appId": creds.app_id,
            // Sound and vibration.
            "notifyType": 4,
            "title": shorten_weighted(&n.title, MAX_TITLE_UNITS, units),
            "content": shorten_weighted(&n.body, MAX_CONTENT_UNITS, units),
            // Open the app.
            "skipType": 1,
            // A system message (instant messaging) unless the app server says it is an
            // operational one.
            "classification": n.options.vivo.classification.unwrap_or(1),
            "clientCustomMap": custom,
        });
        put(&mut message, "category", &n.options.vivo.category);
        let key = format!("vivo\n{}\n{}\n{message}", creds.app_id, creds.endpoint);
        let (client, creds, id) = (self.clone(), creds.clone(), n.id.clone());
        let send = move |reg_ids: Vec<String>| {
            let (client, creds, id, message) =
                (client.clone(), creds.clone(), id.clone(), message.clone());
            async move { client.send_vivo_batch(&creds, &id, &message, reg_ids).await }
        };
        let batches = self.inner.batches.clone();
        batches
            .send(key, n.device_token.clone(), MAX_REG_IDS, send)
            .await
    }

    /// `message` (notification `id`) to `reg_ids`: one single send for one regId, else its
    /// payload saved (`/message/saveListPayload`, answering a `taskId`) and pushed to the
    /// list (`/message/pushToList`, listing the regIds it could not reach). An outcome per
    /// regId.
    async fn send_vivo_batch(
        &self,
        creds: &VivoCredentials,
        id: &str,
        message: &Value,
        reg_ids: Vec<String>,
    ) -> Vec<Outcome> {
        let endpoint = creds.endpoint.trim_end_matches('/');
        let url = |path: &str| format!("{endpoint}/message/{path}");
        let auth_url = url("auth");
        let account = Account {
            provider: "vivo",
            id: creds.app_id.clone(),
            issuer: auth_url.clone(),
        };
        let fetch = || self.vivo_auth(&auth_url, creds);
        // vivo drops a repeated requestId: the same notification to the same regIds keeps
        // its ids, so a retried send is not shown twice.
        let request_id = |salt: &str| {
            sha256_hex(&format!("{id}/{salt}/{}", reg_ids.join(",")))[..32].to_string()
        };
        if let [reg_id] = reg_ids.as_slice() {
            let mut body = message.clone();
            body["regId"] = json!(reg_id);
            body["requestId"] = json!(request_id("send"));
            let (send_url, body) = (&url("send"), &Bytes::from(body.to_string()));
            let send = move |token: String| async move {
                match self.vivo_post(send_url, Some(token), body.clone()).await {
                    Ok(answer) => sent(&answer),
                    Err(outcome) => Sent::Done(outcome),
                }
            };
            return vec![
                self.with_token(account, &creds.app_secret, fetch, send)
                    .await,
            ];
        }
        let mut payload = message.clone();
        payload["requestId"] = json!(request_id("payload"));
        let payload = Bytes::from(payload.to_string());
        let (save_url, list_url) = (&url("saveListPayload"), &url("pushToList"));
        let (app_id, reg_ids_ref) = (&creds.app_id, &reg_ids);
        let list_request_id = &request_id("list");
        // What the list push says of regIds it could not reach.
        let invalid = std::sync::Mutex::new(HashMap::new());
        let (payload, invalid_ref) = (&payload, &invalid);
        let send = move |token: String| async move {
            let saved = match self
                .vivo_post(save_url, Some(token.clone()), payload.clone())
                .await
            {
                Ok(answer) => answer,
                Err(outcome) => return Sent::Done(outcome),
            };
            let task_id = match (sent(&saved), saved.json()["taskId"].as_str()) {
                (Sent::Done(Outcome::Delivered), Some(task_id)) => task_id.to_string(),
                (Sent::Done(Outcome::Delivered), None) => {
                    let reason = format!("vivo saveListPayload: no taskId in {}", saved.summary());
                    return Sent::Done(Outcome::retry(reason));
                }
                (refused, _) => return refused,
            };
            let list = json!({
                "appId": app_id,
                "regIds": reg_ids_ref,
                "taskId": task_id,
                "requestId": list_request_id,
            });
            match self
                .vivo_post(list_url, Some(token), Bytes::from(list.to_string()))
                .await
            {
                Ok(answer) => {
                    *invalid_ref.lock().unwrap_or_else(|e| e.into_inner()) = invalid_users(&answer);
                    sent(&answer)
                }
                Err(outcome) => Sent::Done(outcome),
            }
        };
        let outcome = self
            .with_token(account, &creds.app_secret, fetch, send)
            .await;
        let invalid = invalid.into_inner().unwrap_or_else(|e| e.into_inner());
        reg_ids
            .iter()
            .map(|reg_id| {
                invalid
                    .get(reg_id)
                    .cloned()
                    .unwrap_or_else(|| outcome.clone())
            })
            .collect()
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
        VOLUME_EXCEEDED | LIST_VOLUME_EXCEEDED => Outcome::Retry {
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

/// The regIds of a successful list push that it could not reach, by regId.
fn invalid_users(answer: &Answer) -> HashMap<String, Outcome> {
    let json = answer.json();
    let Some(users) = json["invalidUsers"]
        .as_array()
        .filter(|_| json["result"].as_i64() == Some(SUCCESS))
    else {
        return HashMap::new();
    };
    users
        .iter()
        .filter_map(|user| {
            let reg_id = user["userid"].as_str()?;
            let outcome = match user["status"].as_i64()? {
                UNKNOWN_USER => Outcome::TokenGone,
                status => Outcome::rejected(format!("vivo invalid user, status {status}")),
            };
            Some((reg_id.to_string(), outcome))
        })
        .collect()
}

fn desc(json: &Value) -> &str {
    json["desc"].as_str().unwrap_or("")
}
