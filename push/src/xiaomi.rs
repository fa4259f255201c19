//! Xiaomi MiPush server API v3: `POST {endpoint}/v3/message/regid`, form-encoded,
//! authorised by `Authorization: key=<AppSecret>`, answered `{result, code, reason, ...}`.
//! `registration_id` takes up to 1,000 regids, comma separated; a success names the ones
//! MiPush no longer knows in `data.bad_regids` (comma separated too), and 20301 ("no
//! valid targets") says none was valid.

use bytes::Bytes;
use http::Request;
use serde_json::json;

use crate::http::{exchange, Answer, AnswerExt, USER_AGENT};
use crate::{shorten, Notification, Outcome, PushClient, XiaomiCredentials};

/// The longest `payload` (the data the app reads on a tap) this sender passes on.
pub const XIAOMI_MAX_PAYLOAD_BYTES: usize = 4096;
/// MiPush wants a title shorter than 50 characters and a description shorter than 128.
pub(crate) const MAX_TITLE_CHARS: usize = 49;
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 127;

pub(crate) const SEND_FAILED: i64 = 20301;
/// Regids one request may carry.
pub(crate) const MAX_REGIDS: usize = 1_000;
pub(crate) const TOO_FREQUENT: i64 = 10027;
/// Codes that mean "the service could not do it now": internal, system error, system
/// busy, remote service error, calls too frequent, daily quota used up, internal call.
const TRANSIENT: [i64; 7] = [1, 10001, 10002, 10003, TOO_FREQUENT, 10034, 26003];

impl PushClient {
    /// Sends `n` through MiPush as a notification (`pass_through=0`) to one regid.
    /// Concurrent sends of the same notification through the same app share requests of
    /// up to 1,000 regids ([`crate::batch`]).
    pub async fn send_xiaomi(&self, creds: &XiaomiCredentials, n: &Notification) -> Outcome {
        let mut payload = json!({"msgUID": n.id});
        if let Some(push_data) = &n.data {
            payload["pushData"] = json!(push_data);
        }
        let payload = payload.to_string();
        if payload.len() > XIAOMI_MAX_PAYLOAD_BYTES {
            return Outcome::rejected(format!(
                "payload is {} bytes, this Xiaomi sender passes at most {XIAOMI_MAX_PAYLOAD_BYTES}",
                payload.len()
            ));
        }
        // Built in a block: the serializer is not Send, and the future must be.
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("restricted_package_name", &creds.package_name)
                .append_pair("title", &shorten(&n.title, MAX_TITLE_CHARS))
                .append_pair("description", &shorten(&n.body, MAX_DESCRIPTION_CHARS))
                .append_pair("payload", &payload)
                .append_pair("pass_through", "0")
                // Sound, vibration and light as the phone is set.
                .append_pair("notify_type", "-1");
            let xiaomi = &n.options.xiaomi;
            if let Some(channel) = &xiaomi.channel_id {
                form.append_pair("extra.channel_id", channel);
            }
            if let Some(icon) = &xiaomi.large_icon_uri {
                form.append_pair("extra.notification_large_icon_uri", icon);
            }
            form.finish()
        };
        let key = format!(
            "xiaomi\n{}\n{}\n{}\n{form}",
            creds.package_name,
            creds.endpoint,
            crate::sign::sha256_hex(&creds.app_secret)
        );
        let (client, creds) = (self.clone(), creds.clone());
        let send = move |regids: Vec<String>| {
            let (client, creds, form) = (client.clone(), creds.clone(), form.clone());
            async move { client.send_xiaomi_regids(&creds, &form, &regids).await }
        };
        let batches = self.inner.batches.clone();
        batches
            .send(key, n.device_token.clone(), MAX_REGIDS, send)
            .await
    }

    /// One MiPush request of the notification `form` to `regids`: an outcome per regid.
    async fn send_xiaomi_regids(
        &self,
        creds: &XiaomiCredentials,
        form: &str,
        regids: &[String],
    ) -> Vec<Outcome> {
        let targets = form_urlencoded::Serializer::new(String::new())
            .append_pair("registration_id", &regids.join(","))
            .finish();
        let url = format!("{}/v3/message/regid", creds.endpoint.trim_end_matches('/'));
        let request = Request::post(url)
            .header("authorization", format!("key={}", creds.app_secret))
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=UTF-8",
            )
            .header("user-agent", USER_AGENT)
            .body(Bytes::from(format!("{targets}&{form}")));
        let (outcome, bad) = match request {
            Ok(request) => match exchange(&self.inner.client, request).await {
                Ok(answer) => (outcome(&answer), bad_regids(&answer)),
                Err(e) => (Outcome::retry(e), Vec::new()),
            },
            Err(e) => (
                Outcome::rejected(format!("Xiaomi request: {e}")),
                Vec::new(),
            ),
        };
        regids
            .iter()
            .map(|regid| match bad.contains(regid) {
                true => Outcome::TokenGone,
                false => outcome.clone(),
            })
            .collect()
    }
}

/// The regids a successful answer says MiPush no longer knows.
fn bad_regids(answer: &Answer) -> Vec<String> {
    let json = answer.json();
    let listed = json["data"]["bad_regids"].as_str().unwrap_or_default();
    listed
        .split(',')
        .filter(|regid| !regid.is_empty())
        .map(str::to_string)
        .collect()
}

fn outcome(answer: &Answer) -> Outcome {
    let json = answer.json();
    if answer.status == 200 && json["result"] == "ok" {
        return Outcome::Delivered;
    }
    let code = json["code"].as_i64();
    let reason = match (code, json["reason"].as_str()) {
        (Some(code), Some(reason)) => format!("Xiaomi {code}: {reason}"),
        _ => format!("Xiaomi {}", answer.summary()),
    };
    match code {
        // "No valid targets": every regid of the request is gone.
        Some(SEND_FAILED) => Outcome::TokenGone,
        Some(code) if TRANSIENT.contains(&code) => Outcome::Retry {
            reason,
            after: answer.retry_after(),
        },
        _ if answer.is_transient() => Outcome::Retry {
            reason,
            after: answer.retry_after(),
        },
        _ => Outcome::rejected(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: serde_json::Value) -> Answer {
        Answer {
            status: 200,
            headers: http::HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    // covers: PUSH-05
    #[test]
    fn result_and_code_map_to_outcomes() {
        let ok = json!({"result": "ok", "code": 0, "data": {"id": "slm1"}, "trace_id": "t"});
        assert_eq!(outcome(&answer(ok.clone())), Outcome::Delivered);
        assert!(bad_regids(&answer(ok)).is_empty());
        let some_bad =
            json!({"result": "ok", "code": 0, "data": {"id": "slm2", "bad_regids": "r1,r2"}});
        assert_eq!(outcome(&answer(some_bad.clone())), Outcome::Delivered);
        assert_eq!(bad_regids(&answer(some_bad)), ["r1", "r2"]);
        let gone = json!({"result": "error", "code": SEND_FAILED, "reason": "No valid targets!"});
        assert_eq!(outcome(&answer(gone)), Outcome::TokenGone);
        let busy = json!({"result": "error", "code": TOO_FREQUENT, "reason": "too frequent"});
        assert!(matches!(outcome(&answer(busy)), Outcome::Retry { .. }));
        let auth = json!({"result": "error", "code": 21301, "reason": "Authentication failed"});
        assert_eq!(
            outcome(&answer(auth)),
            Outcome::rejected("Xiaomi 21301: Authentication failed")
        );
    }
}
