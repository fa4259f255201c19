//! Single frames and bodies of the commercial protocol as this side writes them: messages
//! and conversation lists in the SDK's shapes, status codes in its tables, and the
//! refusals of what Meridian does not serve.

use meridian_proto::{codes, ConversationBody, MessageBody};
use meridian_rmtp::body::{self, ChrmOutput, DownStreamMessage, RelationsOutput};
use meridian_rmtp::{Request, ServerFrame as RmtpOut};
use prost::Message;

use super::{Incoming, DISCONNECT_EXCEPTION};
use crate::now_ms;

/// The DISCONNECT that ends a session after a frame it could not read.
pub(in crate::sessions) fn bad_frame() -> Vec<u8> {
    let bye = RmtpOut::Disconnect {
        status: DISCONNECT_EXCEPTION,
    };
    encode(&bye).unwrap_or_default()
}

/// A frame this side makes is always writable: its strings are a client frame's (read
/// with a 2-byte length) or the cluster's bounded ids.
pub(super) fn encode(frame: &RmtpOut) -> Option<Vec<u8>> {
    match frame.encode() {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            tracing::error!(error = %e, "a commercial frame could not be written");
            None
        }
    }
}

/// The conversation type a PUBLISH topic sends to (`ppMsgS`/`pgMsgS` are the status
/// variants: the core tells status messages by their objectName, as for JSON clients).
pub(super) fn conversation_type(topic: &str) -> Option<u8> {
    Some(match topic {
        "ppMsgP" | "ppMsgS" => 1,
        "pgMsgP" | "pgMsgS" => 3,
        "chatMsg" | "chatMsgS" => 4,
        "pbMsgP" => 6,
        "ugMsg" => 10,
        _ => return None,
    })
}

pub(super) fn chrm_output() -> Vec<u8> {
    ChrmOutput {
        nothing: 1,
        join_time: i64::try_from(now_ms()).ok(),
    }
    .encode_to_vec()
}

/// Conversations as the SDK reads them; `finished`: the list holds no more.
pub(super) fn relations(
    conversations: &[ConversationBody],
    viewer: &str,
    finished: bool,
) -> Vec<u8> {
    RelationsOutput {
        info: conversations
            .iter()
            .map(|c| body::RelationInfo {
                r#type: i32::from(c.conversation_type),
                user_id: c.target_id.clone(),
                msg: c.last_message.as_ref().map(|m| down_stream(m, viewer)),
                unread_count: i64::try_from(c.unread).ok(),
                bus_channel: (!c.channel_id.is_empty()).then(|| c.channel_id.clone()),
                version_time: None,
            })
            .collect(),
        is_finished: Some(finished),
    }
    .encode_to_vec()
}

#[derive(Clone, Copy)]
pub(super) enum Kind {
    Publish,
    Query,
}

/// The answer to a topic Meridian does not serve: a refusal the SDK reports at once,
/// rather than its 30 s timeout.
pub(super) fn unserved(request: &Request, kind: Kind) -> Incoming {
    tracing::debug!(topic = %request.topic, "commercial topic not served");
    let status = status16(codes::BAD_REQUEST);
    let out = match kind {
        Kind::Publish => RmtpOut::PubAck {
            message_id: request.message_id,
            status,
            time_ms: now_ms(),
            msg_uid: String::new(),
        },
        Kind::Query => RmtpOut::QueryAck {
            message_id: request.message_id,
            status,
            time_ms: now_ms(),
            body: Vec::new(),
        },
    };
    encode(&out).map_or(Incoming::Nothing, Incoming::Answer)
}

/// Every code of PROTOCOL.md fits the frames' 2 bytes.
pub(super) fn status16(code: u32) -> u16 {
    u16::try_from(code).unwrap_or(u16::MAX)
}

/// The CONNACK status for a refusal at connect (the SDK's table).
pub(super) fn connack_status(code: u32) -> u8 {
    match code {
        codes::TOKEN_INCORRECT => 4,
        codes::USER_BLOCKED => 9,
        // A connect the SDK cannot have meant (no deviceId, unknown platform).
        codes::BAD_REQUEST => 2,
        // The area is unreachable: the SDK tries again.
        _ => 3,
    }
}

/// A message as the SDK reads it, for `viewer`.
pub(super) fn down_stream(message: &MessageBody, viewer: &str) -> DownStreamMessage {
    let own = message.sender_user_id == viewer;
    let group_like = matches!(message.conversation_type, 3 | 4 | 10);
    // The SDK takes a private or system conversation's target from fromUserId: for the
    // user's own message that is the peer.
    let from_user_id = match (own, group_like) {
        (true, false) => message.target_id.clone(),
        _ => message.sender_user_id.clone(),
    };
    let stored = message.seq > 0;
    let content = match message.object_name.as_str() {
        super::expansion::OBJECT_NAME => super::expansion::for_sdk(&message.content),
        _ => None,
    };
    DownStreamMessage {
        from_user_id,
        channel_type: i32::from(message.conversation_type),
        group_id: group_like.then(|| message.target_id.clone()),
        classname: message.object_name.clone(),
        content: content.unwrap_or_else(|| message.content.clone()),
        data_time: i64::try_from(message.sent_time).unwrap_or(i64::MAX),
        // Any stored message may be expanded (MSG-04 asks for no flag at send).
        status: match stored {
            true => {
                body::down_flags::PERSISTED
                    | body::down_flags::COUNTED
                    | body::down_flags::EXPANDABLE
            }
            false => 0,
        },
        ext_status: (!stored).then_some(body::ext_flags::STATUS_MESSAGE),
        msg_id: Some(message.msg_uid.clone()),
        direction: Some(match own {
            true => body::DIRECTION_SENT,
            false => body::DIRECTION_RECEIVED,
        }),
        push_content: message.push_content.clone(),
        bus_channel: (!message.channel_id.is_empty()).then(|| message.channel_id.clone()),
    }
}
