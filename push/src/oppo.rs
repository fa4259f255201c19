//! OPPO PUSH server API v1: `POST {endpoint}/server/v1/auth` signed with
//! sha256(app_key + timestamp + master_secret) for a 24-hour `auth_token`, then
//! `POST {endpoint}/server/v1/message/notification/unicast`; both form-encoded and
//! answered `{code, message, data}`.

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

impl PushClient {
    /// Sends `n` through OPPO PUSH as a notification to one registration id.
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
        let mut message = json!({
            // 2: a registration id.
            "target_type": 2,
            "target_value": n.device_token,
            "notification": {
                "title": shorten(&n.title, MAX_TITLE_CHARS),
                "content": shorten(&n.body, MAX_CONTENT_CHARS),
                // 0: open the app.
                "click_action_type": 0,
                "action_parameters": parameters,
            },
        });
        put(
            &mut message["notification"],
            "channel_id",
            &n.options.oppo.channel_id,
        );
        let message = message.to_string();
        let endpoint = creds.endpoint.trim_end_matches('/');
        let (auth_url, send_url) = (
            format!("{endpoint}/server/v1/auth"),
            format!("{endpoint}/server/v1/message/notification/unicast"),
        );
        let account = Account {
            provider: "OPPO",
            id: creds.app_key.clone(),
            issuer: auth_url.clone(),
        };
        let fetch = || self.oppo_auth(&auth_url, creds);
        let (send_url, message) = (&send_url, &message);
        let send = move |token: String| async move {
            let form = form_urlencoded::Serializer::new(String::new())
                .append_pair("auth_token", &token)
                .append_pair("message", message)
                .finish();
            match self.oppo_post(send_url, form).await {
                Ok(answer) => sent(&answer),
                Err(outcome) => Sent::Done(outcome),
            }
        };
        self.with_token(account, &creds.master_secret, fetch, send)
            .await
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
