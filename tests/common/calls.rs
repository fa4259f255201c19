//! A user's phone for the call tests (tests/calls.rs): sends the CallLib's signalling
//! messages and waits for the ones it expects, keeping the others for later.

use meridian_client::{Connection, MessageBody};
use meridian_proto::{ClientFrame, ServerFrame};

use meridian_testkit::{metric_sum, DevDeployment};
use serde_json::{json, Value};

use super::{connect, synced, Api, FRAME_WAIT};

pub const PRIVATE: u8 = 1;
pub const GROUP: u8 = 3;

pub struct Phone {
    pub user: String,
    connection: Connection,
    /// Messages that arrived while waiting for something else.
    kept: Vec<MessageBody>,
    next_client_id: u64,
}

impl Phone {
    pub async fn connect(ws: &str, api: &Api, user: &str) -> Self {
        let mut connection = connect(ws, api, user, &format!("{user}-phone"), "iOS", None).await;
        // What it missed while offline comes first.
        let kept = synced(&mut connection).await;
        Self {
            user: user.to_string(),
            connection,
            kept,
            next_client_id: 1,
        }
    }

    /// Sends a signalling message (JSON, or any text); answers its ack, or the refusal's
    /// code and text.
    pub async fn signal(
        &mut self,
        conversation_type: u8,
        target: &str,
        object_name: &str,
        content: impl std::fmt::Display,
    ) -> Result<(), (u32, String)> {
        let client_id = format!("{}-{}", self.user, self.next_client_id);
        self.next_client_id += 1;
        let frame = ClientFrame::Send {
            client_id: client_id.clone(),
            conversation_type,
            target_id: target.into(),
            channel_id: String::new(),
            object_name: object_name.into(),
            content: content.to_string(),
            push_content: None,
            push_data: None,
            to_user_ids: Vec::new(),
        };
        self.connection.send(&frame).await.expect("send");
        loop {
            match self
                .connection
                .next_within(FRAME_WAIT)
                .await
                .expect("an answer")
            {
                ServerFrame::Ack { client_id: c, .. } if c == client_id => return Ok(()),
                ServerFrame::Error {
                    code,
                    message,
                    client_id: Some(c),
                    ..
                } if c == client_id => return Err((code, message)),
                ServerFrame::Message(body) => self.kept.push(body),
                _ => {}
            }
        }
    }

    /// The next `object_name` message from `sender` (earlier ones kept first), as its
    /// JSON content.
    pub async fn expect(&mut self, object_name: &str, sender: &str) -> Value {
        let matches = |m: &MessageBody| m.object_name == object_name && m.sender_user_id == sender;
        let body = if let Some(i) = self.kept.iter().position(matches) {
            self.kept.remove(i)
        } else {
            loop {
                match self.connection.next_within(FRAME_WAIT).await {
                    Ok(ServerFrame::Message(body)) if matches(&body) => break body,
                    Ok(ServerFrame::Message(body)) => self.kept.push(body),
                    Ok(_) => {}
                    Err(e) => panic!("{}: no {object_name} from {sender}: {e}", self.user),
                }
            }
        };
        serde_json::from_str(&body.content).expect("JSON content")
    }

    /// The next call signal from anyone: what arrives first, so nothing was sent before.
    pub async fn next_signal(&mut self) -> (String, String, Value) {
        let is_call = |m: &MessageBody| m.object_name.starts_with("RC:VC");
        let body = if let Some(i) = self.kept.iter().position(is_call) {
            self.kept.remove(i)
        } else {
            loop {
                match self.connection.next_within(FRAME_WAIT).await {
                    Ok(ServerFrame::Message(body)) if is_call(&body) => break body,
                    Ok(_) => {}
                    Err(e) => panic!("{}: no call signal: {e}", self.user),
                }
            }
        };
        let content = serde_json::from_str(&body.content).expect("JSON content");
        (body.object_name, body.sender_user_id, content)
    }
}

/// The record of `call_id` from `/rtc/call/query.json`.
pub async fn record(api: &Api, call_id: &str) -> Value {
    let (answer, value) = api
        .json(
            "/rtc/call/query.json",
            &serde_json::json!({ "callId": call_id }),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    value
}

pub fn invite(call_id: &str, media: u8, callees: &[&str]) -> Value {
    json!({ "callId": call_id, "engineType": 4, "mediaType": media,
            "channelInfo": { "Id": call_id, "Key": "" }, "inviteUserIds": callees })
}

pub fn hangup(call_id: &str, reason: u64) -> Value {
    json!({ "callId": call_id, "reason": reason })
}

pub fn call_id(call_id: &str) -> Value {
    json!({ "callId": call_id })
}

/// Each member's (state, reason) in a record, in its order.
pub fn members(record: &Value) -> Vec<(String, String, Value)> {
    record["members"]
        .as_array()
        .unwrap_or_else(|| panic!("members in {record}"))
        .iter()
        .map(|m| {
            let user = m["userId"].as_str().unwrap().to_string();
            (
                user,
                m["state"].as_str().unwrap().to_string(),
                m["reason"].clone(),
            )
        })
        .collect()
}

/// The node's `meridian_cluster_calls_total` for `outcome` (refreshed every 5 s).
pub async fn calls_ended(dev: &DevDeployment, outcome: &str) -> f64 {
    let metrics = dev.node_metrics("SG").await.expect("metrics");
    let label = format!("outcome=\"{outcome}\"");
    metric_sum(&metrics, "meridian_cluster_calls_total", &[&label])
}
