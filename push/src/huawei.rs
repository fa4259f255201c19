//! Huawei Push Kit (HMS Core) server API v1: an OAuth2 client-credentials token for the
//! app, then `POST {endpoint}/v1/{appId}/messages:send` answered `{code, msg, requestId}`.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use serde_json::{json, Value};

use crate::access_token::{Account, Sent};
use crate::http::{Answer, AnswerExt};
use crate::options::put;
use crate::{HuaweiCredentials, Notification, Outcome, PushClient};

/// Push Kit's limit on a message, not counting its tokens (answer code 80300008).
pub const HUAWEI_MAX_MESSAGE_BYTES: usize = 4096;
/// Huawei's app-level access tokens live an hour.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

pub(crate) const SUCCESS: &str = "80000000";
pub(crate) const AUTH_ERROR: &str = "80200001";
pub(crate) const TOKEN_EXPIRED: &str = "80200003";
pub(crate) const ALL_TOKENS_INVALID: &str = "80300007";
pub(crate) const INTERNAL_ERROR: &str = "81000001";

/// Tokens one Push Kit request may carry.
pub(crate) const MAX_TOKENS: usize = 1_000;
/// Some tokens were invalid: `msg` is a JSON text listing them as `illegal_tokens`.
pub(crate) const PARTIAL_SUCCESS: &str = "80100000";

impl PushClient {
    /// Sends `n` through Huawei Push Kit as a notification message. Concurrent sends of
    /// the same message through the same app share requests of up to 1,000 tokens
    /// ([`crate::batch`]).
    pub async fn send_huawei(&self, creds: &HuaweiCredentials, n: &Notification) -> Outcome {
        let message = message(n);
        let size = message.to_string().len();
        if size > HUAWEI_MAX_MESSAGE_BYTES {
            return Outcome::rejected(format!(
                "message is {size} bytes, Huawei accepts at most {HUAWEI_MAX_MESSAGE_BYTES}"
            ));
        }
        let key = format!("huawei\n{}\n{}\n{message}", creds.app_id, creds.endpoint);
        let (client, creds) = (self.clone(), creds.clone());
        let send = move |tokens: Vec<String>| {
            let (client, creds, message) = (client.clone(), creds.clone(), message.clone());
            async move { client.send_huawei_tokens(&creds, message, tokens).await }
        };
        let batches = self.inner.batches.clone();
        batches
            .send(key, n.device_token.clone(), MAX_TOKENS, send)
            .await
    }

    /// One Push Kit request of `message` to `tokens`: an outcome per token.
    async fn send_huawei_tokens(
        &self,
        creds: &HuaweiCredentials,
        mut message: Value,
        tokens: Vec<String>,
    ) -> Vec<Outcome> {
        message["token"] = json!(tokens);
        let body = Bytes::from(json!({"validate_only": false, "message": message}).to_string());
        let url = format!(
            "{}/v1/{}/messages:send",
            creds.endpoint.trim_end_matches('/'),
            creds.app_id
        );
        let account = Account {
            provider: "Huawei",
            id: creds.app_id.clone(),
            issuer: creds.token_uri.clone(),
        };
        let fetch = || {
            self.client_credentials(
                "Huawei",
                &creds.token_uri,
                &creds.app_id,
                &creds.app_secret,
                MAX_TOKEN_LIFETIME,
            )
        };
        // A partial success names the tokens Push Kit no longer knows.
        let illegal = std::sync::Mutex::new(Vec::new());
        let send = |token| {
            let request = Request::post(&url);
            let judge = |answer: &Answer| {
                let (sent, gone) = outcome(answer);
                *illegal.lock().unwrap_or_else(|e| e.into_inner()) = gone;
                sent
            };
            self.post_with_token("Huawei", request, token, body.clone(), judge)
        };
        let outcome = self
            .with_token(account, &creds.app_secret, fetch, send)
            .await;
        let illegal = illegal.into_inner().unwrap_or_else(|e| e.into_inner());
        tokens
            .iter()
            .map(|token| match illegal.contains(token) {
                true => Outcome::TokenGone,
                false => outcome.clone(),
            })
            .collect()
    }
}

/// The `message` without its `token`: what Push Kit's size limit counts. `data` is the
/// JSON string the app reads when the notification is tapped.
fn message(n: &Notification) -> Value {
    let mut data = json!({"msgUID": n.id});
    if let Some(push_data) = &n.data {
        data["pushData"] = json!(push_data);
    }
    let mut message = json!({
        "data": data.to_string(),
        "android": {
            "urgency": "HIGH",
            "notification": {
                "title": n.title,
                "body": n.body,
                // Open the app.
                "click_action": {"type": 3},
            },
        },
    });
    let huawei = &n.options.huawei;
    let android = &mut message["android"];
    put(android, "category", &huawei.category);
    let notification = &mut android["notification"];
    put(notification, "channel_id", &huawei.channel_id);
    put(notification, "importance", &huawei.importance);
    put(notification, "image", &huawei.image);
    message
}

/// Maps an answer: the result is the body's `code` (a string), whatever the status; a
/// partial success also answers the tokens that are no longer valid.
fn outcome(answer: &Answer) -> (Sent, Vec<String>) {
    let json = answer.json();
    let code = match &json["code"] {
        Value::String(code) => code.clone(),
        Value::Number(code) => code.to_string(),
        _ => String::new(),
    };
    let reason = match json["msg"].as_str() {
        Some(msg) if !code.is_empty() => format!("Huawei {code}: {msg}"),
        _ => format!("Huawei {}", answer.summary()),
    };
    let sent = match code.as_str() {
        SUCCESS => Sent::Done(Outcome::Delivered),
        PARTIAL_SUCCESS => {
            let detail: Value = json["msg"]
                .as_str()
                .and_then(|msg| serde_json::from_str(msg).ok())
                .unwrap_or_default();
            let gone = detail["illegal_tokens"]
                .as_array()
                .map(|tokens| {
                    tokens
                        .iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            return (Sent::Done(Outcome::Delivered), gone);
        }
        ALL_TOKENS_INVALID => Sent::Done(Outcome::TokenGone),
        AUTH_ERROR | TOKEN_EXPIRED => Sent::TokenRefused(Outcome::rejected(reason)),
        _ if answer.status == 401 => Sent::TokenRefused(Outcome::rejected(reason)),
        // 503 is Push Kit's flow control.
        _ if code == INTERNAL_ERROR || answer.is_transient() => Sent::Done(Outcome::Retry {
            reason,
            after: answer.retry_after(),
        }),
        _ => Sent::Done(Outcome::rejected(reason)),
    };
    (sent, Vec::new())
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

    fn done((sent, _): (Sent, Vec<String>)) -> Outcome {
        match sent {
            Sent::Done(outcome) => outcome,
            Sent::TokenRefused(outcome) => panic!("token refused: {outcome:?}"),
        }
    }

    // covers: PUSH-05
    #[test]
    fn answer_codes_map_to_outcomes() {
        let ok = answer(
            200,
            json!({"code": SUCCESS, "msg": "Success", "requestId": "1"}),
        );
        assert_eq!(done(outcome(&ok)), Outcome::Delivered);
        let gone = answer(
            400,
            json!({"code": ALL_TOKENS_INVALID, "msg": "All the tokens are invalid"}),
        );
        assert_eq!(done(outcome(&gone)), Outcome::TokenGone);
        let expired = answer(
            401,
            json!({"code": TOKEN_EXPIRED, "msg": "Oauth Token expired"}),
        );
        assert!(matches!(outcome(&expired).0, Sent::TokenRefused(_)));
        let big = answer(
            400,
            json!({"code": "80300008", "msg": "Push message size is too long"}),
        );
        assert_eq!(
            done(outcome(&big)),
            Outcome::rejected("Huawei 80300008: Push message size is too long")
        );
        assert!(matches!(
            done(outcome(&answer(503, Value::Null))),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            done(outcome(&answer(
                500,
                json!({"code": INTERNAL_ERROR, "msg": "Inner Error"})
            ))),
            Outcome::Retry { .. }
        ));
    }
}
