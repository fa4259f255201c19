//! HOOK-02: a client's message matching one of the app's moderation rules is held at the
//! edge, before it is stored or delivered, while the rule's URL decides: pass, block, or
//! pass with replaced content. No answer within the rule's timeout (or an unusable one)
//! applies the rule's default action.
//!
//! The request is the commercial service's: a signed form POST with `appKey`,
//! `fromUserId`, `targetId`, `toUserIds`, `msgType`, `content`, `channelType`,
//! `msgTimeStamp`, `clientMsgId` and `os`; the answer is JSON `{"pass": 1|0,
//! "replaceContent"?: "...", "replacePushContent"?: "..."}`.

use std::time::Duration;
use tokio::time::Instant;

use meridian_cluster::hooks::{channel_type, url_encode};
use meridian_cluster::state::{ModerationDefault, ModerationRule, NewMessage};
use meridian_proto::signature::signed_url;
use meridian_rpc::OutboundClient;
use meridian_telemetry::labels::HistogramFamily;
use serde::Deserialize;

use crate::metrics::ModerationOutcome;

/// What the app server decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Block,
    /// Deliver with this content (and push text, when given).
    Replace {
        content: String,
        push_content: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    pass: u8,
    #[serde(default)]
    replace_content: Option<String>,
    #[serde(default)]
    replace_push_content: Option<String>,
}

impl Answer {
    fn verdict(self) -> Verdict {
        match (self.pass, self.replace_content) {
            (0, _) => Verdict::Block,
            (_, Some(content)) => Verdict::Replace {
                content,
                push_content: self.replace_push_content,
            },
            (_, None) => Verdict::Pass,
        }
    }
}

/// The app's credentials, for signing the request.
pub struct Signer<'a> {
    pub app_key: &'a str,
    pub app_secret: &'a str,
}

pub struct Moderator {
    client: OutboundClient,
    /// `meridian_edge_moderation_seconds{outcome}`: how long messages were held.
    held: HistogramFamily<ModerationOutcome>,
}

impl Moderator {
    pub(crate) fn new(client: OutboundClient, held: HistogramFamily<ModerationOutcome>) -> Self {
        Self { client, held }
    }

    /// Asks the rule's URL about `message`, sent from a `platform` device.
    pub async fn check(
        &self,
        rule: &ModerationRule,
        signer: Signer<'_>,
        message: &NewMessage,
        target_id: &str,
        client_msg_id: &str,
        platform: &str,
    ) -> Verdict {
        let started = Instant::now();
        let now_ms = crate::now_ms();
        let body = [
            ("appKey", signer.app_key),
            ("fromUserId", &message.sender),
            ("targetId", target_id),
            ("toUserIds", &message.visible_to.join(",")),
            ("msgType", &message.object_name),
            ("content", &message.content),
            ("channelType", channel_type(message.conversation.kind)),
            ("msgTimeStamp", &now_ms.to_string()),
            ("clientMsgId", client_msg_id),
            ("os", platform),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
        let url = signed_url(&rule.url, signer.app_key, signer.app_secret, now_ms);
        let answer = self
            .client
            .post(
                &url,
                "application/x-www-form-urlencoded",
                &[],
                body.into(),
                Duration::from_millis(rule.timeout_ms),
            )
            .await;
        let (verdict, outcome) = match answer {
            Ok(answer) if answer.status == 200 => {
                match serde_json::from_slice::<Answer>(&answer.body) {
                    Ok(parsed) => {
                        let verdict = parsed.verdict();
                        let outcome = match verdict {
                            Verdict::Pass => "pass",
                            Verdict::Block => "block",
                            Verdict::Replace { .. } => "replace",
                        };
                        (verdict, outcome)
                    }
                    Err(e) => {
                        tracing::debug!(url = %rule.url, error = %e, "unusable moderation answer");
                        (default(rule), "default")
                    }
                }
            }
            Ok(answer) => {
                tracing::debug!(url = %rule.url, status = answer.status, "moderation refused");
                (default(rule), "default")
            }
            Err(e) => {
                tracing::debug!(url = %rule.url, error = %e, "moderation did not answer");
                (default(rule), "default")
            }
        };
        let took = started.elapsed().as_secs_f64();
        self.held.with(&ModerationOutcome { outcome }).observe(took);
        verdict
    }
}

fn default(rule: &ModerationRule) -> Verdict {
    match rule.default_action {
        ModerationDefault::Pass => Verdict::Pass,
        ModerationDefault::Block => Verdict::Block,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // covers: HOOK-02
    #[test]
    fn answers_map_to_verdicts() {
        let verdict = |json: &str| serde_json::from_str::<Answer>(json).unwrap().verdict();
        assert_eq!(verdict(r#"{"pass":1}"#), Verdict::Pass);
        assert_eq!(
            verdict(r#"{"pass":0,"replaceContent":"x"}"#),
            Verdict::Block
        );
        assert_eq!(
            verdict(r#"{"pass":1,"replaceContent":"{\"content\":\"***\"}"}"#),
            Verdict::Replace {
                content: r#"{"content":"***"}"#.into(),
                push_content: None
            }
        );
        assert!(serde_json::from_str::<Answer>(r#"{"ok":true}"#).is_err());
    }
}
