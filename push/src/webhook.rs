//! The generic webhook provider: the notification as JSON, POSTed to a URL the caller has
//! already signed.

use bytes::Bytes;
use http::Request;
use serde_json::json;

use crate::http::{exchange, AnswerExt, USER_AGENT};
use crate::{Notification, Outcome, PushClient};

impl PushClient {
    /// POSTs `{"id","userId","deviceToken","title","body","pushData"}` to `url`.
    pub async fn send_webhook(&self, url: &str, n: &Notification) -> Outcome {
        let body = json!({
            "id": n.id,
            "userId": n.user_id,
            "deviceToken": n.device_token,
            "title": n.title,
            "body": n.body,
            "pushData": n.data,
        });
        let request = Request::post(url)
            .header("content-type", "application/json")
            .header("user-agent", USER_AGENT)
            .body(Bytes::from(body.to_string()));
        let request = match request {
            Ok(request) => request,
            Err(e) => return Outcome::rejected(format!("webhook url {url:?}: {e}")),
        };
        let answer = match exchange(&self.inner.client, request).await {
            Ok(answer) => answer,
            Err(e) => return Outcome::retry(e),
        };
        match answer.status {
            200..=299 => Outcome::Delivered,
            410 => Outcome::TokenGone,
            _ if answer.is_transient() => Outcome::Retry {
                reason: format!("webhook {}", answer.summary()),
                after: answer.retry_after(),
            },
            _ => Outcome::rejected(format!("webhook {}", answer.summary())),
        }
    }
}
