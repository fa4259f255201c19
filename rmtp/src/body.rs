//! The protobuf bodies of the frames (proto2, the SDK's package `Modules`), with the
//! fields Meridian uses; a decoder skips the others. Field numbers and types follow the
//! schema the SDK ships (edge/COMMERCIAL-PROTOCOL.md lists them).

use prost::Message;
use thiserror::Error;

/// A body that does not decode as its topic's message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the body of {topic} is not a {message}: {reason}")]
pub struct BodyError {
    pub topic: String,
    pub message: &'static str,
    pub reason: String,
}

/// Decodes `bytes` as the body of a frame with `topic`.
pub fn decode<M: Message + Default>(topic: &str, bytes: &[u8]) -> Result<M, BodyError> {
    M::decode(bytes).map_err(|e| BodyError {
        topic: topic.to_string(),
        message: std::any::type_name::<M>()
            .rsplit("::")
            .next()
            .unwrap_or("message"),
        reason: e.to_string(),
    })
}

/// `UpStreamMessage.session_id` bits.
pub mod up_flags {
    pub const PERSISTED: i32 = 1;
    pub const COUNTED: i32 = 2;
    pub const MENTIONED: i32 = 4;
}

/// `DownStreamMessage.status` bits (not those of `up_flags`).
pub mod down_flags {
    pub const PERSISTED: i64 = 16;
    pub const COUNTED: i64 = 32;
    /// Its expansion may be changed (the SDK's `canIncludeExpansion`).
    pub const EXPANDABLE: i64 = 1024;
}

/// `DownStreamMessage.ext_status` bits.
pub mod ext_flags {
    /// Not stored (typing and other status messages).
    pub const STATUS_MESSAGE: i64 = 64;
}

/// `DownStreamMessage.direction`: the message is the user's own.
pub const DIRECTION_SENT: i32 = 1;
/// `DownStreamMessage.direction`: the message is from someone else.
pub const DIRECTION_RECEIVED: i32 = 2;

/// `NotifyMsg.type`: new messages to pull, up to `time`.
pub const NOTIFY_NEW_MESSAGES: i32 = 1;
/// `NotifyMsg.type`: new messages of the chatroom `chrmId` to pull (`chrmPull`).
pub const NOTIFY_CHATROOM_MESSAGES: i32 = 2;
/// `NotifyMsg.type` of an `s_cmd`: the chatroom `chrmId` was destroyed.
pub const COMMAND_CHATROOM_DESTROYED: i32 = 4;
/// `s_cmd` type: new ultra-group messages, pull them (`pullUgMsg`).
pub const COMMAND_ULTRA_GROUP_MESSAGES: i32 = 6;

/// A message the client sends (PUBLISH `ppMsgP`, `pgMsgP`, …).
#[derive(Clone, PartialEq, Message)]
pub struct UpStreamMessage {
    /// Flags ([`up_flags`]), despite the name.
    #[prost(int32, required, tag = "1")]
    pub session_id: i32,
    /// The objectName (`RC:TxtMsg`, …).
    #[prost(string, required, tag = "2")]
    pub classname: String,
    #[prost(string, required, tag = "3")]
    pub content: String,
    #[prost(string, optional, tag = "4")]
    pub push_text: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub app_data: Option<String>,
    /// A directed group message's recipients.
    #[prost(string, repeated, tag = "6")]
    pub to_user_ids: Vec<String>,
    /// The client's own id for the message: a repeated send carries the same one.
    #[prost(int64, optional, tag = "10")]
    pub client_unique_id: Option<i64>,
    /// An ultra group's channel.
    #[prost(string, optional, tag = "13")]
    pub bus_channel: Option<String>,
}

/// A message the server hands the client.
#[derive(Clone, PartialEq, Message)]
pub struct DownStreamMessage {
    /// The sender; for the user's own private or system message, the peer.
    #[prost(string, required, tag = "1")]
    pub from_user_id: String,
    /// The conversation type code (1 private, 3 group, 4 chatroom, 6 system, 10 ultra).
    #[prost(int32, required, tag = "2")]
    pub channel_type: i32,
    /// The group, room or ultra group; empty for private and system messages.
    #[prost(string, optional, tag = "3")]
    pub group_id: Option<String>,
    #[prost(string, required, tag = "4")]
    pub classname: String,
    #[prost(string, required, tag = "5")]
    pub content: String,
    /// Sent time, ms.
    #[prost(int64, required, tag = "6")]
    pub data_time: i64,
    /// Flags ([`down_flags`]).
    #[prost(int64, required, tag = "7")]
    pub status: i64,
    /// The msgUID.
    #[prost(string, optional, tag = "9")]
    pub msg_id: Option<String>,
    #[prost(int32, optional, tag = "10")]
    pub direction: Option<i32>,
    #[prost(string, optional, tag = "16")]
    pub push_content: Option<String>,
    #[prost(string, optional, tag = "19")]
    pub bus_channel: Option<String>,
    /// Flags ([`ext_flags`]).
    #[prost(int64, optional, tag = "20")]
    pub ext_status: Option<i64>,
}

/// The answer to a pull: messages after the client's `syncTime`, oldest first.
#[derive(Clone, PartialEq, Message)]
pub struct DownStreamMessages {
    #[prost(message, repeated, tag = "1")]
    pub list: Vec<DownStreamMessage>,
    /// What the client sends as `syncTime` next (Meridian: the feed position).
    #[prost(int64, required, tag = "2")]
    pub sync_time: i64,
    /// False: pull again.
    #[prost(bool, optional, tag = "3")]
    pub finished: Option<bool>,
}

/// A pull's request (QUERY `pullMsg`).
#[derive(Clone, PartialEq, Message)]
pub struct SyncRequestMsg {
    #[prost(int64, required, tag = "1")]
    pub sync_time: i64,
    #[prost(bool, required, tag = "2")]
    pub ispolling: bool,
}

/// "Something to pull" (PUBLISH `s_ntf`), or a command (`s_cmd`).
#[derive(Clone, PartialEq, Message)]
pub struct NotifyMsg {
    #[prost(int32, required, tag = "1")]
    pub r#type: i32,
    #[prost(int64, optional, tag = "2")]
    pub time: Option<i64>,
    /// The chatroom a chatroom command is about.
    #[prost(string, optional, tag = "3")]
    pub chrm_id: Option<String>,
}

/// A page of history (QUERY `qryPMsg`, `qryGMsg`, `qryCHMsg`, `qrySMsg`).
#[derive(Clone, PartialEq, Message)]
pub struct HistoryMsgInput {
    /// The conversation's target (the peer, group or room).
    #[prost(string, optional, tag = "1")]
    pub target_id: Option<String>,
    /// ms; with order 0, messages sent before it.
    #[prost(int64, optional, tag = "2")]
    pub time: Option<i64>,
    #[prost(int32, optional, tag = "3")]
    pub count: Option<i32>,
    /// 0: older than `time`, newest first; 1: newer.
    #[prost(int32, optional, tag = "4")]
    pub order: Option<i32>,
    #[prost(string, optional, tag = "5")]
    pub bus_channel: Option<String>,
}

/// A history page (the schema's own spelling).
#[derive(Clone, PartialEq, Message)]
pub struct HistoryMsgOuput {
    #[prost(message, repeated, tag = "1")]
    pub list: Vec<DownStreamMessage>,
    /// The oldest message's time: where the next page starts.
    #[prost(int64, required, tag = "2")]
    pub sync_time: i64,
    /// 1: there are more.
    #[prost(int32, required, tag = "3")]
    pub has_msg: i32,
}

/// The conversation list's request (QUERY `qryRelationR`, `qryRelation`, and the
/// server-side list's `qrySessions`).
#[derive(Clone, PartialEq, Message)]
pub struct RelationQryInput {
    #[prost(int32, optional, tag = "2")]
    pub count: Option<i32>,
    /// ms; with order 0, conversations whose last message is older (0: now).
    #[prost(int64, optional, tag = "3")]
    pub start_time: Option<i64>,
    /// 0: older than `start_time`, newest first; 1: newer, oldest first.
    #[prost(int32, optional, tag = "4")]
    pub order: Option<i32>,
}

/// One conversation of the list.
#[derive(Clone, PartialEq, Message)]
pub struct RelationInfo {
    /// The conversation type code.
    #[prost(int32, required, tag = "1")]
    pub r#type: i32,
    /// The conversation's target.
    #[prost(string, required, tag = "2")]
    pub user_id: String,
    #[prost(message, optional, tag = "3")]
    pub msg: Option<DownStreamMessage>,
    #[prost(int64, optional, tag = "5")]
    pub unread_count: Option<i64>,
    #[prost(string, optional, tag = "6")]
    pub bus_channel: Option<String>,
    /// An ultra-group channel's list position (`pullUgSes` pages after it); ms.
    #[prost(int64, optional, tag = "7")]
    pub version_time: Option<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct RelationsOutput {
    #[prost(message, repeated, tag = "1")]
    pub info: Vec<RelationInfo>,
    #[prost(bool, optional, tag = "2")]
    pub is_finished: Option<bool>,
}

/// The server-side list's totals (QUERY `qrySessionsAtt`).
#[derive(Clone, PartialEq, Message)]
pub struct SessionsAttQryInput {
    #[prost(int32, required, tag = "1")]
    pub nothing: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct SessionsAttOutput {
    /// The newest feed position the session knows (the pull's `syncTime`).
    #[prost(int64, required, tag = "1")]
    pub inbox_time: i64,
    #[prost(int64, required, tag = "2")]
    pub sendbox_time: i64,
    #[prost(int64, required, tag = "3")]
    pub total_unread_count: i64,
}

/// "Read up to `msgTime`" (PUBLISH `updRRTime`, and `updUgRTime` for ultra groups).
#[derive(Clone, PartialEq, Message)]
pub struct SessionMsgReadInput {
    /// The conversation type code.
    #[prost(int32, required, tag = "1")]
    pub r#type: i32,
    /// ms.
    #[prost(int64, required, tag = "2")]
    pub msg_time: i64,
    /// The conversation's target, despite the name.
    #[prost(string, required, tag = "3")]
    pub channel_id: String,
    /// The ultra-group channel.
    #[prost(string, optional, tag = "4")]
    pub bus_channel: Option<String>,
}

/// One conversation named in a request, and its unread count in an answer.
#[derive(Clone, PartialEq, Message)]
pub struct SessionInfo {
    #[prost(int32, required, tag = "1")]
    pub r#type: i32,
    /// The conversation's target, despite the name.
    #[prost(string, required, tag = "2")]
    pub channel_id: String,
    #[prost(int64, optional, tag = "3")]
    pub unread_count: Option<i64>,
    #[prost(string, optional, tag = "4")]
    pub bus_channel: Option<String>,
}

/// Named conversations: the unread counts asked for and answered (QUERY
/// `qrySessionsUnread`: `QuerySessionsInput`, `QuerySessionsOutPut` in the schema), and
/// those removed from the server-side list (QUERY `delSessions`: `DeleteSessionsInput`).
/// The three have the same fields.
#[derive(Clone, PartialEq, Message)]
pub struct Sessions {
    #[prost(message, repeated, tag = "1")]
    pub sessions: Vec<SessionInfo>,
}

/// Joining or leaving a chatroom (QUERY `joinChrm`, `joinChrmR`, `exitChrm`).
#[derive(Clone, PartialEq, Message)]
pub struct ChrmInput {
    #[prost(int32, required, tag = "1")]
    pub nothing: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct ChrmOutput {
    #[prost(int32, required, tag = "1")]
    pub nothing: i32,
    /// ms.
    #[prost(int64, optional, tag = "3")]
    pub join_time: Option<i64>,
}

/// A chatroom's messages after `syncTime` (QUERY `chrmPull`).
#[derive(Clone, PartialEq, Message)]
pub struct ChrmPullMsg {
    #[prost(int64, required, tag = "1")]
    pub sync_time: i64,
    #[prost(int32, required, tag = "2")]
    pub count: i32,
}

/// A chatroom pull's answer: each message an encoded [`DownStreamMessage`].
#[derive(Clone, PartialEq, Message)]
pub struct ChrmDownStreamMessages {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub list: Vec<Vec<u8>>,
    /// The newest message's time (ms): the next pull's `syncTime`.
    #[prost(int64, required, tag = "2")]
    pub sync_time: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_up_stream_message_decodes_from_the_sdk_field_numbers() {
        // session_id 3, classname "RC:TxtMsg", content "{}", clientUniqueId 5: the bytes
        // a proto2 encoder writes for them.
        let mut bytes = vec![0x08, 3, 0x12, 9];
        bytes.extend_from_slice(b"RC:TxtMsg");
        bytes.extend_from_slice(&[0x1A, 2, b'{', b'}', 0x50, 5]);
        let up: UpStreamMessage = decode("ppMsgP", &bytes).unwrap();
        assert_eq!(up.session_id, 3);
        assert_eq!(up.classname, "RC:TxtMsg");
        assert_eq!(up.content, "{}");
        assert_eq!(up.client_unique_id, Some(5));
    }

    #[test]
    fn required_fields_are_written_even_when_zero() {
        let pulled = DownStreamMessages {
            list: vec![],
            sync_time: 0,
            finished: Some(true),
        };
        // syncTime 0 is still on the wire: the SDK's decoder requires it.
        assert_eq!(pulled.encode_to_vec(), vec![0x10, 0, 0x18, 1]);
    }

    #[test]
    fn a_bad_body_is_a_clear_error() {
        // A field with wire type 7, which does not exist.
        let error = decode::<UpStreamMessage>("ppMsgP", &[0x0F]).unwrap_err();
        assert_eq!(error.topic, "ppMsgP");
        assert_eq!(error.message, "UpStreamMessage");
        // A length-delimited field that claims more bytes than there are.
        assert!(decode::<SyncRequestMsg>("pullMsg", &[0x0A, 50, 1]).is_err());
    }
}

/// Ultra-group messages after a sync time (QUERY `pullUgMsg`; answered with
/// `DownStreamMessages`).
#[derive(Clone, PartialEq, Message)]
pub struct UltraGrpPullMsg {
    #[prost(int64, required, tag = "1")]
    pub sync_time: i64,
    #[prost(bool, optional, tag = "2")]
    pub compressio_enabled: Option<bool>,
}

/// The user's ultra-group channels changed after a sync time (QUERY `pullUgSes`;
/// answered with `RelationsOutput`).
#[derive(Clone, PartialEq, Message)]
pub struct UltraGrpPullSes {
    #[prost(int64, required, tag = "1")]
    pub sync_time: i64,
    #[prost(bool, optional, tag = "2")]
    pub is_erase_msg_content: Option<bool>,
}

/// Ultra-group message changes after a sync time (QUERY `qryMsgChange`).
#[derive(Clone, PartialEq, Message)]
pub struct QueryMsgChange {
    #[prost(int64, required, tag = "1")]
    pub sync_time: i64,
}

/// The answer to `qryMsgChange`; its changes (`MsgChange`) are not modelled: Meridian
/// sends none.
#[derive(Clone, PartialEq, Message)]
pub struct MsgChangeList {
    #[prost(int64, required, tag = "2")]
    pub sync_time: i64,
    #[prost(bool, optional, tag = "3")]
    pub has_next: Option<bool>,
}
