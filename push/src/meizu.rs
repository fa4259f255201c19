//! Meizu (Flyme) push server API: `POST {endpoint}/garcia/api/server/push/varnished/pushByPushId`,
//! form-encoded and signed with md5 of the sorted `key=value` pairs followed by the
//! AppSecret; answered `{code, message, value}` where `value` lists, per error code, the
//! pushIds that failed.

use bytes::Bytes;
use http::Request;
use serde_json::{json, Value};

use crate::http::{exchange, Answer, AnswerExt, USER_AGENT};
use crate::sign::md5_hex;
use crate::{shorten, MeizuCredentials, Notification, Outcome, PushClient};

pub(crate) const PATH: &str = "/garcia/api/server/push/varnished/pushByPushId";
/// Meizu's limits on a notification, in characters.
pub(crate) const MAX_TITLE_CHARS: usize = 32;
pub(crate) const MAX_CONTENT_CHARS: usize = 100;
/// The longest `clickTypeInfo.parameters` this sender passes on (Meizu's click fields
/// take up to 1000 bytes).
pub const MEIZU_MAX_PARAMETERS_BYTES: usize = 1000;

pub(crate) const SUCCESS: &str = "200";
pub(crate) const NOT_SUBSCRIBED: &str = "110002";
pub(crate) const INVALID_PUSH_ID: &str = "110003";
pub(crate) const OVER_RATE: &str = "518";
/// Codes meaning "not now": failures, overload, rate, folding, system error or busy.
const TRANSIENT: [&str; 8] = ["500", "501", "513", OVER_RATE, "519", "520", "1001", "1003"];

/// Meizu's signature: md5 of `k1=v1k2=v2…` in key order, then the AppSecret.
pub(crate) fn sign(params: &[(&str, &str)], app_secret: &str) -> String {
    let mut params = params.to_vec();
    params.sort();
    let text: String = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    md5_hex(&format!("{text}{app_secret}"))
}

impl PushClient {
    /// Sends `n` through Meizu push as a notification bar message to one pushId.
    pub async fn send_meizu(&self, creds: &MeizuCredentials, n: &Notification) -> Outcome {
        let mut parameters = json!({"msgUID": n.id});
        if let Some(push_data) = &n.data {
            parameters["pushData"] = json!(push_data);
        }
        let size = parameters.to_string().len();
        if size > MEIZU_MAX_PARAMETERS_BYTES {
            return Outcome::rejected(format!(
                "parameters are {size} bytes, this Meizu sender passes at most {MEIZU_MAX_PARAMETERS_BYTES}"
            ));
        }
        let message = json!({
            "noticeBarInfo": {
                "title": shorten(&n.title, MAX_TITLE_CHARS),
                "content": shorten(&n.body, MAX_CONTENT_CHARS),
            },
            // 0: open the app.
            "clickTypeInfo": {"clickType": 0, "parameters": parameters},
        })
        .to_string();
        let params = [
            ("appId", creds.app_id.as_str()),
            ("pushIds", n.device_token.as_str()),
            ("messageJson", message.as_str()),
        ];
        let form = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .append_pair("sign", &sign(&params, &creds.app_secret))
            .finish();
        let url = format!("{}{PATH}", creds.endpoint.trim_end_matches('/'));
        let request = Request::post(url)
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=UTF-8",
            )
            .header("user-agent", USER_AGENT)
            .body(Bytes::from(form));
        let request = match request {
            Ok(request) => request,
            Err(e) => return Outcome::rejected(format!("Meizu request: {e}")),
        };
        match exchange(&self.inner.client, request).await {
            Ok(answer) => outcome(&answer, &n.device_token),
            Err(e) => Outcome::retry(e),
        }
    }
}

/// A `code` of 200 may still list our pushId under the code that failed it.
fn outcome(answer: &Answer, push_id: &str) -> Outcome {
    let json = answer.json();
    let Some(code) = json["code"].as_str() else {
        let reason = format!("Meizu {}", answer.summary());
        return if answer.is_transient() {
            Outcome::Retry {
                reason,
                after: answer.retry_after(),
            }
        } else {
            Outcome::rejected(reason)
        };
    };
    let failed = |ids: &Value| {
        ids.as_array()
            .is_some_and(|ids| ids.iter().any(|id| id == push_id))
    };
    let code = match json["value"].as_object() {
        Some(value) if code == SUCCESS => match value.iter().find(|(_, ids)| failed(ids)) {
            Some((failed_code, _)) => failed_code.as_str(),
            None => return Outcome::Delivered,
        },
        _ => code,
    };
    let reason = format!("Meizu {code}: {}", json["message"].as_str().unwrap_or(""));
    match code {
        SUCCESS => Outcome::Delivered,
        NOT_SUBSCRIBED | INVALID_PUSH_ID => Outcome::TokenGone,
        _ if TRANSIENT.contains(&code) || answer.is_transient() => Outcome::Retry {
            reason,
            after: answer.retry_after(),
        },
        _ => Outcome::rejected(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // covers: PUSH-05
    #[test]
    fn the_signature_is_over_the_sorted_pairs_then_the_secret() {
        let params = [("pushIds", "p1"), ("appId", "100"), ("messageJson", "{}")];
        assert_eq!(
            sign(&params, "secret"),
            md5_hex("appId=100messageJson={}pushIds=p1secret")
        );
    }
}
