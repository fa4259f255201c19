//! OPPO PUSH server API v1: `POST {endpoint}/server/v1/auth` signed with
//! sha256(app_key + timestamp + master_secret) for a 24-hour `auth_token`, then
//! `POST {endpoint}/server/v1/message/notification/unicast_batch` with up to 1,000
//! messages (one per registration id); both form-encoded and answered
//! `{code, message, data}`, the batch's `data` listing each message's result.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use serde_json::{json, Value};

use crate::access_token::{Account, Issued, Sent};
use crate::http::{exchange, Answer, AnswerExt, USER_AGENT};
use crate::options::put;
use crate::sign::sha256_hex;
use crate::{shorten, Notification, OppoCredentials, Outcome, PushClient};
use meridian_clock::now_ms;

/// OPPO's limits on a standard notification, in characters.
pub(crate) const MAX_TITLE_CHARS: usize = 50;
pub(crate) const MAX_CONTENT_CHARS: usize = 200;
/// `action_parameters` (the data the app reads on a tap) may not exceed 4K characters.
pub const OPPO_MAX_PARAMETERS_CHARS: usize = 4096;
const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

pub(crate) const SUCCESS: i64 = 0;
pub(crate) const FLOW_CONTROL: i64 = -2;
pub(crate) const UNAVAILABLE: i64 = -1;
pub(crate) const INVALID_AUTH_TOKEN: i64 = 11;
pub(crate) const CALL_LIMITED: i64 = 13;
/// The unicast's business code for a registration id OPPO does not know.
pub(crate) const INVALID_REGISTRATION_ID: i64 = 10000;
const DAILY_LIMIT: i64 = 33;
const FREQUENCY_LIMIT: i64 = 55;
/// Messages one batch request may carry.
pub(crate) const MAX_MESSAGES: usize = 1_000;

impl PushClient {
    /// Sends `n` through OPPO PUSH as a notification to one registration id. Concurrent
    /// sends of the same notification through the same app share batch requests of up
    /// to 1,000 messages ([`crate::batch`]).
    pub async fn send_oppo(&self, creds: &OppoCredentials, n: &Notification) -> Outcome {
        let mut parameters = json!({"msgUID": n.id});
        if let Some(push_data) = &n.data {
            parameters["pushData"] = json!(push_data);
        }
        let parameters = parameters.to_string();
        let chars = parameters.chars().count();
        if chars > OPPO_MAX_PARAMETERS_CHARS {
            return Outcome::rejected(format!(
                "action_parameters is {chars} characters, OPPO accepts at most {OPPO_MAX_PARAMETERS_CHARS}"
            ));
        }
        let mut notification = json!({
            "title": shorten(&n.title, MAX_TITLE_CHARS),
            "content": shorten(&n.body, MAX_CONTENT_CHARS),
            // 0: open the app.
            "click_action_type": 0,
            "action_parameters": parameters,
        });
        put(&mut notification, "channel_id", &n.options.oppo.channel_id);
        let key = format!(
            "oppo\n{}\n{}\n{notification}",
            creds.app_key, creds.endpoint
        );
        let (client, creds) = (self.clone(), creds.clone());
        let send = move |regids: Vec<String>| {
            let (client, creds, notification) =
                (client.clone(), creds.clone(), notification.clone());
            async move { client.send_oppo_batch(&creds, &notification, regids).await }
        };
        let batches = self.inner.batches.clone();
        batches
            .send(key, n.device_token.clone(), MAX_MESSAGES, send)
            .await
    }

    /// One batch request of `notification` to `regids`: an outcome per registration id.
    async fn send_oppo_batch(
        &self,
        creds: &OppoCredentials,
        notification: &Value,
        regids: Vec<String>,
    ) -> Vec<Outcome> {
        let messages: Vec<Value> = regids
            .iter()
            // 2: a registration id.
            .map(|regid| json!({"target_type": 2, "target_value": regid, "notification": notification}))
            .collect();
        let messages = Value::Array(messages).to_string();
        let endpoint = creds.endpoint.trim_end_matches('/');
        let (auth_url, send_url) = (
            format!("{endpoint}/server/v1/auth"),
            format!("{endpoint}/server/v1/message/notification/unicast_batch"),
        );
        let account = Account {
            provider: "OPPO",
            id: creds.app_key.clone(),
            issuer: auth_url.clone(),
        };
        let fetch = || self.oppo_auth(&auth_url, creds);
        // What the batch's `data` says of single messages that failed.
        let failed = std::sync::Mutex::new(HashMap::new());
        let (send_url, messages, failed_ref) = (&send_url, &messages, &failed);
        let send = move |token: String| async move {
            let form = form_urlencoded::Serializer::new(String::new())
                .append_pair("auth_token", &token)
                .append_pair("messages", messages)
                .finish();
            match self.oppo_post(send_url, form).await {
                Ok(answer) => {
                    *failed_ref.lock().unwrap_or_else(|e| e.into_inner()) = failures(&answer);
                    sent(&answer)
                }
                Err(outcome) => Sent::Done(outcome),
            }
        };
        let outcome = self
            .with_token(account, &creds.master_secret, fetch, send)
            .await;
        let failed = failed.into_inner().unwrap_or_else(|e| e.into_inner());
        regids
            .iter()
            .map(|regid| {
                failed
                    .get(regid)
                    .cloned()
                    .unwrap_or_else(|| outcome.clone())
            })
            .collect()
    }

    async fn oppo_auth(&self, url: &str, creds: &OppoCredentials) -> Result<Issued, Outcome> {
        let timestamp = now_ms().to_string();
        let sign = sha256_hex(&format!(
            "{}{timestamp}{}",
            creds.app_key, creds.master_secret
        ));
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("app_key", &creds.app_key)
            .append_pair("sign", &sign)
            .append_pair("timestamp", &timestamp)
            .finish();
        let answer = self.oppo_post(url, form).await?;
        let json = answer.json();
        if let (Some(SUCCESS), Some(token)) = (code(&json), json["data"]["auth_token"].as_str()) {
            return Ok(Issued::new(token, TOKEN_LIFETIME, TOKEN_LIFETIME));
        }
        Err(match sent(&answer) {
            Sent::Done(Outcome::Delivered) => {
                Outcome::retry(format!("OPPO auth: no auth_token in {}", answer.summary()))
            }
            Sent::Done(outcome) | Sent::TokenRefused(outcome) => outcome,
        })
    }

    async fn oppo_post(&self, url: &str, form: String) -> Result<Answer, Outcome> {
        let request = Request::post(url)
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=UTF-8",
            )
            .header("user-agent", USER_AGENT)
            .body(Bytes::from(form))
            .map_err(|e| Outcome::rejected(format!("OPPO request: {e}")))?;
        exchange(&self.inner.client, request)
            .await
            .map_err(Outcome::retry)
    }
}

/// The messages of a successful batch that failed on their own, by registration id.
fn failures(answer: &Answer) -> HashMap<String, Outcome> {
    let json = answer.json();
    let Some(results) = json["data"]
        .as_array()
        .filter(|_| code(&json) == Some(SUCCESS))
    else {
        return HashMap::new();
    };
    results
        .iter()
        .filter_map(|result| {
            let regid = result["registrationId"].as_str()?;
            let error = result["errorCode"].as_i64()?;
            let outcome = match error {
                INVALID_REGISTRATION_ID => Outcome::TokenGone,
                _ => Outcome::rejected(format!(
                    "OPPO {error}: {}",
                    result["errorMessage"].as_str().unwrap_or("")
                )),
            };
            Some((regid.to_string(), outcome))
        })
        .collect()
}

fn code(json: &Value) -> Option<i64> {
    json["code"].as_i64()
}

/// Maps an answer by its `code`, whatever the HTTP status (except a 5xx or 429 without one).
fn sent(answer: &Answer) -> Sent {
    let json = answer.json();
    let Some(code) = code(&json) else {
        return Sent::Done(if answer.is_transient() {
            Outcome::Retry {
                reason: format!("OPPO {}", answer.summary()),
                after: answer.retry_after(),
            }
        } else {
            Outcome::rejected(format!("OPPO {}", answer.summary()))
        });
    };
    let reason = format!("OPPO {code}: {}", json["message"].as_str().unwrap_or(""));
    Sent::Done(match code {
        SUCCESS => Outcome::Delivered,
        INVALID_AUTH_TOKEN => return Sent::TokenRefused(Outcome::rejected(reason)),
        INVALID_REGISTRATION_ID => Outcome::TokenGone,
        FLOW_CONTROL | UNAVAILABLE | CALL_LIMITED | DAILY_LIMIT | FREQUENCY_LIMIT => {
            Outcome::Retry {
                reason,
                after: answer.retry_after(),
            }
        }
        _ => Outcome::rejected(reason),
    })
}
