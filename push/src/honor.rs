//! Honor push server API: an OAuth2 client-credentials token for the app's client, then
//! `POST {endpoint}/api/v1/{appId}/sendMessage` with a `timestamp` header, answered
//! `{code, message, data: {sendResult, requestId, failTokens, expireTokens}}`.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use serde_json::{json, Value};

use crate::access_token::{Account, Sent};
use crate::http::{Answer, AnswerExt};
use crate::options::put;
use crate::{HonorCredentials, Notification, Outcome, PushClient};
use meridian_clock::now_ms;

/// The longest message body this sender passes on, as Huawei's Push Kit it derives from.
pub const HONOR_MAX_MESSAGE_BYTES: usize = 4096;
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

pub(crate) const SUCCESS: i64 = 200;
/// Authentication failures as in Huawei's Push Kit; a 401 is taken the same way.
pub(crate) const AUTH_ERROR: i64 = 80200001;
pub(crate) const TOKEN_EXPIRED: i64 = 80200003;

impl PushClient {
    /// Sends `n` through Honor push as a notification message.
    pub async fn send_honor(&self, creds: &HonorCredentials, n: &Notification) -> Outcome {
        let mut data = json!({"msgUID": n.id});
        if let Some(push_data) = &n.data {
            data["pushData"] = json!(push_data);
        }
        let mut message = json!({
            "data": data.to_string(),
            "android": {
                "notification": {
                    "title": n.title,
                    "body": n.body,
                    // Open the app.
                    "clickAction": {"type": 3},
                },
            },
        });
        let notification = &mut message["android"]["notification"];
        put(notification, "importance", &n.options.honor.importance);
        put(notification, "image", &n.options.honor.image);
        let size = message.to_string().len();
        if size > HONOR_MAX_MESSAGE_BYTES {
            return Outcome::rejected(format!(
                "message is {size} bytes, this Honor sender passes at most {HONOR_MAX_MESSAGE_BYTES}"
            ));
        }
        message["token"] = json!([n.device_token]);
        let body = Bytes::from(message.to_string());
        let url = format!(
            "{}/api/v1/{}/sendMessage",
            creds.endpoint.trim_end_matches('/'),
            creds.app_id
        );
        let account = Account {
            provider: "Honor",
            id: creds.client_id.clone(),
            issuer: creds.token_uri.clone(),
        };
        let fetch = || {
            self.client_credentials(
                "Honor",
                &creds.token_uri,
                &creds.client_id,
                &creds.client_secret,
                MAX_TOKEN_LIFETIME,
            )
        };
        let send = |token| {
            let request = Request::post(&url).header("timestamp", now_ms().to_string());
            let judge = |answer: &Answer| sent(answer, &n.device_token);
            self.post_with_token("Honor", request, token, body.clone(), judge)
        };
        self.with_token(account, &creds.client_secret, fetch, send)
            .await
    }
}

/// A 200 `code` still names tokens that failed: an expired one is gone for good.
fn sent(answer: &Answer, device_token: &str) -> Sent {
    let json = answer.json();
    let code = json["code"].as_i64();
    let reason = match (code, json["message"].as_str()) {
        (Some(code), Some(message)) => format!("Honor {code}: {message}"),
        _ => format!("Honor {}", answer.summary()),
    };
    let names = |list: &Value| {
        list.as_array()
            .is_some_and(|tokens| tokens.iter().any(|t| t == device_token))
    };
    let data = &json["data"];
    match code {
        Some(SUCCESS) if names(&data["expireTokens"]) => Sent::Done(Outcome::TokenGone),
        Some(SUCCESS) if names(&data["failTokens"]) => Sent::Done(Outcome::rejected(format!(
            "Honor: the token failed ({})",
            answer.summary()
        ))),
        Some(SUCCESS) => Sent::Done(Outcome::Delivered),
        Some(AUTH_ERROR | TOKEN_EXPIRED) => Sent::TokenRefused(Outcome::rejected(reason)),
        _ if answer.status == 401 => Sent::TokenRefused(Outcome::rejected(reason)),
        _ if answer.is_transient() => Sent::Done(Outcome::Retry {
            reason,
            after: answer.retry_after(),
        }),
        _ => Sent::Done(Outcome::rejected(reason)),
    }
}
