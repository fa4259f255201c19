//! The user's conversation list in the commercial SDKs' shapes: the list itself
//! (`qryRelation`, and `qrySessions`, the SDK's "real-time conversations" kept by the
//! server), its unread total (`qrySessionsAtt`), the unread counts of named conversations
//! (`qrySessionsUnread`), and marking a conversation read up to a time (`updRRTime`,
//! `updUgRTime`). Each list request is one `conversations` request of the session core;
//! the shape asked for is cut from its answer here.

use meridian_proto::{ClientFrame, ConversationBody};
use meridian_rmtp::body::{
    self, RelationQryInput, SessionMsgReadInput, Sessions, SessionsAttOutput,
};
use prost::Message;

use super::frames::relations;
use super::Malformed;

/// The longest list the session core gives (and so the most a page can be cut from).
pub(super) const WHOLE_LIST: usize = 500;

/// What a list QUERY asked for.
pub(super) enum ListAsked {
    /// Up to `count` conversations whose last message is on one side of `start_ms`.
    Page {
        start_ms: u64,
        newer: bool,
        count: usize,
    },
    /// The unread total.
    Total,
    /// The unread counts of these conversations.
    Unread(Vec<body::SessionInfo>),
}

impl ListAsked {
    /// Reads a list QUERY's body; `None` for a topic that is not one.
    pub(super) fn read(topic: &str, bytes: &[u8]) -> Result<Option<Self>, Malformed> {
        Ok(Some(match topic {
            "qryRelationR" | "qryRelation" | "qrySessions" => {
                let asked: RelationQryInput = body::decode(topic, bytes)?;
                let count = asked.count.unwrap_or(100).clamp(1, 500);
                ListAsked::Page {
                    start_ms: u64::try_from(asked.start_time.unwrap_or(0)).unwrap_or(0),
                    newer: asked.order == Some(1),
                    count: usize::try_from(count).unwrap_or(100),
                }
            }
            "qrySessionsAtt" => {
                body::decode::<body::SessionsAttQryInput>(topic, bytes)?;
                ListAsked::Total
            }
            "qrySessionsUnread" => {
                let asked: Sessions = body::decode(topic, bytes)?;
                ListAsked::Unread(asked.sessions)
            }
            _ => return Ok(None),
        }))
    }

    /// The QUERYACK body for the user's whole list; `cursor`, the newest feed position
    /// the session knows, is the SDK's inbox time.
    pub(super) fn answer(&self, list: &[ConversationBody], viewer: &str, cursor: u64) -> Vec<u8> {
        match self {
            ListAsked::Page {
                start_ms,
                newer,
                count,
            } => {
                let (page, finished) = page(list, *start_ms, *newer, *count);
                relations(&page, viewer, finished)
            }
            ListAsked::Total => {
                let total: u64 = list.iter().map(|c| c.unread).sum();
                let inbox_time = i64::try_from(cursor).unwrap_or(i64::MAX);
                SessionsAttOutput {
                    inbox_time,
                    sendbox_time: inbox_time,
                    total_unread_count: i64::try_from(total).unwrap_or(i64::MAX),
                }
                .encode_to_vec()
            }
            ListAsked::Unread(asked) => {
                let sessions = asked
                    .iter()
                    .map(|session| {
                        let channel = session.bus_channel.as_deref().unwrap_or_default();
                        let unread = list
                            .iter()
                            .find(|c| {
                                i32::from(c.conversation_type) == session.r#type
                                    && c.target_id == session.channel_id
                                    && c.channel_id == channel
                            })
                            .map_or(0, |c| c.unread);
                        body::SessionInfo {
                            unread_count: Some(i64::try_from(unread).unwrap_or(i64::MAX)),
                            ..session.clone()
                        }
                    })
                    .collect();
                Sessions { sessions }.encode_to_vec()
            }
        }
    }
}

/// The last message's time of a conversation (0 without one).
fn last_time(conversation: &ConversationBody) -> u64 {
    conversation
        .last_message
        .as_ref()
        .map_or(0, |m| m.sent_time)
}

/// Up to `count` conversations last active before `start_ms` (0: now), newest first, or
/// after it, oldest first; and whether that side holds no more.
fn page(
    list: &[ConversationBody],
    start_ms: u64,
    newer: bool,
    count: usize,
) -> (Vec<ConversationBody>, bool) {
    let mut side: Vec<ConversationBody> = list
        .iter()
        .filter(|c| match newer {
            true => last_time(c) > start_ms,
            false => start_ms == 0 || last_time(c) < start_ms,
        })
        .cloned()
        .collect();
    side.sort_by_key(last_time);
    if !newer {
        side.reverse();
    }
    let finished = side.len() <= count;
    side.truncate(count);
    (side, finished)
}

/// `updRRTime` / `updUgRTime`: the conversation is read up to `msgTime`; `None` when the
/// body names no conversation type the session core knows.
pub(super) fn mark_read(
    topic: &str,
    bytes: &[u8],
    req_id: u64,
) -> Result<Option<ClientFrame>, Malformed> {
    let read: SessionMsgReadInput = body::decode(topic, bytes)?;
    let Ok(conversation_type) = u8::try_from(read.r#type) else {
        return Ok(None);
    };
    Ok(Some(ClientFrame::MarkRead {
        req_id,
        conversation_type,
        target_id: read.channel_id,
        channel_id: read.bus_channel.unwrap_or_default(),
        seq: 0,
        read_time: Some(u64::try_from(read.msg_time).unwrap_or(0)),
    }))
}
