//! Call signalling (RTC-03, `edge/PROTOCOL.md` "Calls"): the CallLib's messages as an app
//! sends them with [`Signal::frame`] and reads them with [`Signal::read`]. A call is
//! ordinary messages to a private chat or a group; the server answers for busy and
//! unanswering callees with hang-ups from them.

use meridian_proto::{ClientFrame, MessageBody};
use serde_json::{json, Value};

use crate::Outgoing;

pub use meridian_proto::calls::{ACCEPT, HANGUP, INVITE, MODIFY_MEDIA, MODIFY_MEMBERS, RINGING};

/// Audio or video, as `mediaType` says (1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Audio = 1,
    Video = 2,
}

/// Hang-up reasons as the sender sees them (`reason`).
pub mod reason {
    pub const CANCEL: u64 = 1;
    pub const REJECT: u64 = 2;
    pub const HANGUP: u64 = 3;
    pub const BUSY: u64 = 4;
    pub const NO_RESPONSE: u64 = 5;
    pub const NETWORK: u64 = 7;
}

/// One signalling message of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Rings `callees` (in a private chat, the other user).
    Invite {
        media: Media,
        callees: Vec<String>,
    },
    Ringing,
    Accept,
    /// Leaves the call with a [`reason`] code.
    Hangup {
        reason: u64,
    },
    /// Invites more callees into a running call.
    AddCallees(Vec<String>),
    SwitchMedia(Media),
}

impl Signal {
    fn object_name(&self) -> &'static str {
        match self {
            Signal::Invite { .. } => INVITE,
            Signal::Ringing => RINGING,
            Signal::Accept => ACCEPT,
            Signal::Hangup { .. } => HANGUP,
            Signal::AddCallees(_) => MODIFY_MEMBERS,
            Signal::SwitchMedia(_) => MODIFY_MEDIA,
        }
    }

    /// This signal of `call_id` as a message to a conversation.
    pub fn outgoing(&self, call_id: &str, conversation_type: u8, target_id: &str) -> Outgoing {
        let mut content = json!({ "callId": call_id });
        match self {
            Signal::Invite { media, callees } => {
                content["mediaType"] = json!(*media as u8);
                content["inviteUserIds"] = json!(callees);
                content["channelInfo"] = json!({ "Id": call_id, "Key": "" });
            }
            Signal::Hangup { reason } => content["reason"] = json!(reason),
            Signal::AddCallees(callees) => {
                content["modifyMemType"] = json!(1);
                content["inviteUserIds"] = json!(callees);
            }
            Signal::SwitchMedia(media) => content["mediaType"] = json!(*media as u8),
            Signal::Ringing | Signal::Accept => {}
        }
        Outgoing {
            conversation_type,
            target_id: target_id.into(),
            channel_id: String::new(),
            object_name: self.object_name().into(),
            content: content.to_string(),
        }
    }

    /// The `send` frame carrying this signal of `call_id` to a conversation.
    pub fn frame(
        &self,
        client_id: &str,
        call_id: &str,
        conversation_type: u8,
        target_id: &str,
    ) -> ClientFrame {
        self.outgoing(call_id, conversation_type, target_id)
            .frame(client_id)
    }

    /// The call a received message signals and what it says; `None` for other messages.
    pub fn read(message: &MessageBody) -> Option<(String, Signal)> {
        let content: Value = serde_json::from_str(&message.content).ok()?;
        let call_id = content["callId"].as_str()?.to_string();
        let media = |v: &Value| match v.as_u64() {
            Some(2) => Media::Video,
            _ => Media::Audio,
        };
        let users = |v: &Value| -> Vec<String> {
            let list = v.as_array().map(Vec::as_slice).unwrap_or_default();
            list.iter()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect()
        };
        let signal = match message.object_name.as_str() {
            INVITE => Signal::Invite {
                media: media(&content["mediaType"]),
                callees: users(&content["inviteUserIds"]),
            },
            RINGING => Signal::Ringing,
            ACCEPT => Signal::Accept,
            HANGUP => Signal::Hangup {
                reason: content["reason"].as_u64().unwrap_or(reason::HANGUP),
            },
            MODIFY_MEMBERS => Signal::AddCallees(users(&content["inviteUserIds"])),
            MODIFY_MEDIA => Signal::SwitchMedia(media(&content["mediaType"])),
            _ => return None,
        };
        Some((call_id, signal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_reads_back_as_sent() {
        let signals = [
            Signal::Invite {
                media: Media::Video,
                callees: vec!["bob".into()],
            },
            Signal::Ringing,
            Signal::Accept,
            Signal::Hangup {
                reason: reason::BUSY,
            },
            Signal::AddCallees(vec!["carol".into()]),
            Signal::SwitchMedia(Media::Audio),
        ];
        for signal in signals {
            let ClientFrame::Send {
                object_name,
                content,
                ..
            } = signal.frame("c1", "call-1", 1, "bob")
            else {
                unreachable!()
            };
            let body = MessageBody {
                cursor: 0,
                msg_uid: String::new(),
                seq: 0,
                conversation_type: 1,
                target_id: "alice".into(),
                channel_id: String::new(),
                sender_user_id: "alice".into(),
                object_name,
                content,
                sent_time: 0,
                push_content: None,
                push_data: None,
                recalled: false,
                modified: false,
            };
            assert_eq!(Signal::read(&body), Some(("call-1".into(), signal)));
        }
    }
}
