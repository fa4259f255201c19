//! The client protocol (`edge/PROTOCOL.md`): JSON text frames over a WebSocket, each an
//! object with a `type`. Shared by the edge and the Rust client SDK so both always agree,
//! as is the Server API's [`signature`], which the cluster's callbacks carry too.

pub mod signature;

use serde::{Deserialize, Serialize};

/// Client error codes, as the commercial SDKs know them (`server-api/COMPAT.md`).
pub mod codes {
    /// Refused by the recipient's blacklist (or not on its whitelist).
    pub const BLOCKED_BY_BLACKLIST: u32 = 405;
    /// The app refused the message: its moderation callback (HOOK-02) or one of its
    /// sensitive words (HOOK-06); nothing was stored.
    pub const CONTENT_REFUSED: u32 = 21501;
    /// A malformed frame or parameter.
    pub const BAD_REQUEST: u32 = 1002;
    /// Something failed inside the service; the request may be retried.
    pub const INTERNAL: u32 = 1000;
    /// The area is not reachable right now; retry.
    pub const UNAVAILABLE: u32 = 1050;
    /// Content over 128 KiB.
    pub const CONTENT_TOO_LARGE: u32 = 1500;
    /// More than 5 messages per second on one connection.
    pub const RATE_LIMITED: u32 = 20604;
    pub const NOT_IN_GROUP: u32 = 22406;
    pub const MUTED_IN_GROUP: u32 = 22408;
    pub const NOT_IN_CHATROOM: u32 = 23406;
    pub const MUTED_IN_CHATROOM: u32 = 23408;
    pub const KICKED_FROM_CHATROOM: u32 = 23409;
    pub const CHATROOM_NOT_FOUND: u32 = 23410;
    pub const TOKEN_INCORRECT: u32 = 31004;
    /// The user is banned (MSG-08).
    pub const USER_BLOCKED: u32 = 31009;
    /// Logged in on another device of the same platform (MSG-02).
    pub const KICKED_OTHER_LOGIN: u32 = 31010;
    /// The client could not keep up with its messages and was disconnected.
    pub const SLOW_CONSUMER: u32 = 31011;
    /// The sender is forbidden to send in private chats (`/user/chat/fb/set.json`).
    pub const FORBIDDEN_IN_PRIVATE: u32 = 20106;
    /// The user is in another audio/video room; it must leave that one first (RTC-01).
    pub const RTC_IN_ANOTHER_ROOM: u32 = 53001;
    /// Not a member of the audio/video room (or the room does not exist).
    pub const RTC_NOT_IN_ROOM: u32 = 53002;
    /// The member's role does not allow this (an observer or audience member publishing,
    /// RTC-04), or it needs a host's invitation.
    pub const RTC_ROLE_FORBIDS: u32 = 53003;
    /// A room limit is reached (hosts of a live room, attributes, resources).
    pub const RTC_LIMIT: u32 = 53004;
    /// The user is blocked from audio/video rooms for a while (`/rtc/user/block.json`).
    pub const RTC_BLOCKED: u32 = 53005;

    /// Whether a send refused with `code` may still be stored (a try timed out or failed
    /// midway): its outcome is open, and sending it again with the same client id settles
    /// it (the edge stores a client id once).
    pub fn leaves_open(code: u32) -> bool {
        matches!(code, INTERNAL | UNAVAILABLE)
    }
}

pub mod calls;
pub mod conversation;
pub mod files;
pub mod rtc;

pub use conversation::{Conversation, ConversationType};
use rtc::{Resource, Role, RoomInfo, RoomKind, RoomNotice};
use std::collections::BTreeMap;

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClientFrame {
    /// Sends a message. `clientId` makes retries idempotent: a repeated id is acknowledged
    /// with the first send's answer and stored once.
    #[serde(rename_all = "camelCase")]
    Send {
        client_id: String,
        conversation_type: u8,
        target_id: String,
        #[serde(default)]
        channel_id: String,
        object_name: String,
        content: String,
        #[serde(default)]
        push_content: Option<String>,
        #[serde(default)]
        push_data: Option<String>,
        /// A directed group message: only these members see it.
        #[serde(default)]
        to_user_ids: Vec<String>,
    },
    /// Asks for everything after `cursor` again (normally the edge syncs on connect).
    #[serde(rename_all = "camelCase")]
    Sync {
        cursor: u64,
    },
    /// A page of a conversation's history, newest first, sent before `beforeTime` (0: now);
    /// with `afterTime`, oldest first, sent after it (`beforeTime` is then not read).
    #[serde(rename_all = "camelCase")]
    History {
        req_id: u64,
        conversation_type: u8,
        target_id: String,
        #[serde(default)]
        channel_id: String,
        #[serde(default)]
        before_time: u64,
        #[serde(default)]
        after_time: Option<u64>,
        #[serde(default = "default_history_limit")]
        limit: usize,
    },
    /// Recalls a message this user sent.
    #[serde(rename_all = "camelCase")]
    Recall {
        req_id: u64,
        #[serde(rename = "msgUID")]
        msg_uid: String,
    },
    /// Joins a chatroom; the answer carries its latest messages (CHR-03).
    #[serde(rename_all = "camelCase")]
    JoinChatroom {
        req_id: u64,
        chatroom_id: String,
    },
    #[serde(rename_all = "camelCase")]
    QuitChatroom {
        req_id: u64,
        chatroom_id: String,
    },
    /// The user's conversation list, pinned first, with unread counts (MSG-03).
    #[serde(rename_all = "camelCase")]
    Conversations {
        req_id: u64,
        #[serde(default = "default_list_limit")]
        limit: usize,
    },
    /// This user has read a conversation up to `seq`, or with `readTime` up to the last
    /// message sent at or before it (ms): its unread count drops (MSG-03).
    #[serde(rename_all = "camelCase")]
    MarkRead {
        req_id: u64,
        conversation_type: u8,
        target_id: String,
        #[serde(default)]
        channel_id: String,
        #[serde(default)]
        seq: u64,
        #[serde(default)]
        read_time: Option<u64>,
    },
    /// Pins (MSG-03) or mutes (do-not-disturb, PRV-09) a conversation for this user.
    #[serde(rename_all = "camelCase")]
    SetConversation {
        req_id: u64,
        conversation_type: u8,
        target_id: String,
        #[serde(default)]
        channel_id: String,
        #[serde(default)]
        pinned: Option<bool>,
        #[serde(default)]
        muted: Option<bool>,
    },
    /// Removes a conversation from this user's list (MSG-03) until a newer message
    /// arrives in it; what was unread in it counts as read.
    #[serde(rename_all = "camelCase")]
    RemoveConversation {
        req_id: u64,
        conversation_type: u8,
        target_id: String,
        #[serde(default)]
        channel_id: String,
    },
    /// Removes up to 100 conversations from this user's list at once, each as
    /// `RemoveConversation` removes one.
    #[serde(rename_all = "camelCase")]
    RemoveConversations {
        req_id: u64,
        conversations: Vec<ConversationKey>,
    },
    /// This member has read these group messages (GRP-03); their senders get an
    /// `RC:RRRspMsg` message naming them.
    #[serde(rename_all = "camelCase")]
    GroupReceipt {
        req_id: u64,
        group_id: String,
        #[serde(rename = "msgUIDs")]
        msg_uids: Vec<String>,
    },
    /// Who read a group message (GRP-03).
    #[serde(rename_all = "camelCase")]
    Readers {
        req_id: u64,
        #[serde(rename = "msgUID")]
        msg_uid: String,
    },
    /// Sets and removes expansion keys of a sent message (MSG-04); the conversation's online
    /// members get an `RC:MsgExMsg` status message with the change.
    #[serde(rename_all = "camelCase")]
    SetExpansion {
        req_id: u64,
        #[serde(rename = "msgUID")]
        msg_uid: String,
        #[serde(default)]
        set: std::collections::BTreeMap<String, String>,
        #[serde(default)]
        remove: Vec<String>,
    },
    /// The channels of an ultra group this user may read, with unread counts and last
    /// messages (ULG-03: ultra groups have no offline sync; clients fetch on reconnect).
    #[serde(rename_all = "camelCase")]
    UltraGroupChannels {
        req_id: u64,
        group_id: String,
    },
    /// The user's ultra groups (the first 500 by id), each with its channels as
    /// `UltraGroupChannels` answers them.
    #[serde(rename_all = "camelCase")]
    UltraGroups {
        req_id: u64,
    },
    /// The sender replaces the content of its ultra-group message (ULG-07); online members
    /// get an `RC:MsgModify` status message.
    #[serde(rename_all = "camelCase")]
    EditMessage {
        req_id: u64,
        group_id: String,
        #[serde(rename = "msgUID")]
        msg_uid: String,
        content: String,
    },
    /// Deletes messages from this user's own view of a conversation (PRV-05).
    #[serde(rename_all = "camelCase")]
    DeleteMessages {
        req_id: u64,
        conversation_type: u8,
        target_id: String,
        #[serde(default)]
        channel_id: String,
        #[serde(rename = "msgUIDs")]
        msg_uids: Vec<String>,
    },
    /// Clears this user's view of a conversation's history up to `beforeTime` (ms; 0: now).
    #[serde(rename_all = "camelCase")]
    ClearHistory {
        req_id: u64,
        conversation_type: u8,
        target_id: String,
        #[serde(default)]
        channel_id: String,
        #[serde(default)]
        before_time: u64,
    },
    /// Searches a conversation's history by keyword and/or sender, newest first (PRV-06);
    /// answered with `historyPage`.
    #[serde(rename_all = "camelCase")]
    Search {
        req_id: u64,
        conversation_type: u8,
        target_id: String,
        #[serde(default)]
        channel_id: String,
        #[serde(default)]
        keyword: Option<String>,
        #[serde(default)]
        sender_user_id: Option<String>,
        #[serde(default = "default_history_limit")]
        limit: usize,
    },
    Ping,
    /// Registers this device for push notifications while it is offline (PUSH-01):
    /// `provider` `apns`, `fcm` or `webhook`; `appId` the iOS bundle id or Android
    /// applicationId whose credentials the app configured (PUSH-04).
    #[serde(rename_all = "camelCase")]
    RegisterPush {
        req_id: u64,
        provider: String,
        token: String,
        app_id: String,
    },
    /// The user tapped a notification from `provider` (`apns`, `fcm`, a vendor's …):
    /// counted in the app's push statistics (PUSH-09); answered with `done`.
    #[serde(rename_all = "camelCase")]
    PushClicked {
        req_id: u64,
        provider: String,
    },
    /// The language this user's pushes are written in when a message names one of the
    /// app's push templates (PUSH-07; `zh_CN`, `en_US`, …; empty: the template's default);
    /// answered with `done`.
    #[serde(rename_all = "camelCase")]
    SetPushLanguage {
        req_id: u64,
        language: String,
    },
    /// The user logs out on this device: the session ends and the app server hears of a
    /// logout, not a disconnect (HOOK-03).
    Logout,
    /// Joins an audio/video room, creating it if nobody is in it (RTC-01); answered with
    /// `rtcJoined`. Joining the room this user is already in (after a reconnect) keeps its
    /// role and resources.
    #[serde(rename_all = "camelCase")]
    RtcJoin {
        req_id: u64,
        room_id: String,
        kind: RoomKind,
        role: Role,
    },
    #[serde(rename_all = "camelCase")]
    RtcLeave {
        req_id: u64,
        room_id: String,
    },
    /// The room as it is now; answered with `rtcRoom`.
    #[serde(rename_all = "camelCase")]
    RtcRoom {
        req_id: u64,
        room_id: String,
    },
    #[serde(rename_all = "camelCase")]
    RtcSetAttributes {
        req_id: u64,
        room_id: String,
        #[serde(default)]
        set: BTreeMap<String, String>,
        #[serde(default)]
        remove: Vec<String>,
    },
    /// Publishes and unpublishes this member's resources (RTC-02).
    #[serde(rename_all = "camelCase")]
    RtcPublish {
        req_id: u64,
        room_id: String,
        #[serde(default)]
        publish: Vec<Resource>,
        #[serde(default)]
        unpublish: Vec<String>,
    },
    /// Changes this member's own role: a host steps down to the audience, a meeting member
    /// switches between participant and observer (RTC-04).
    #[serde(rename_all = "camelCase")]
    RtcSetRole {
        req_id: u64,
        room_id: String,
        role: Role,
    },
    /// A host invites an audience member of its live room to become a host.
    #[serde(rename_all = "camelCase")]
    RtcInvite {
        req_id: u64,
        room_id: String,
        user_id: String,
    },
    /// The invited member accepts (it becomes a host) or declines.
    #[serde(rename_all = "camelCase")]
    RtcAnswerInvite {
        req_id: u64,
        room_id: String,
        accept: bool,
    },
    /// A host of live room `roomId` invites host `userId` of live room `otherRoomId` to a
    /// cross-room PK (RTC-04).
    #[serde(rename_all = "camelCase")]
    RtcPkInvite {
        req_id: u64,
        room_id: String,
        other_room_id: String,
        user_id: String,
    },
    /// The invited host (of `roomId`) accepts or declines the PK.
    #[serde(rename_all = "camelCase")]
    RtcPkAnswer {
        req_id: u64,
        room_id: String,
        accept: bool,
    },
    /// A host in a PK ends it.
    #[serde(rename_all = "camelCase")]
    RtcPkEnd {
        req_id: u64,
        room_id: String,
    },
}

fn is_false(value: &bool) -> bool {
    !value
}

fn default_list_limit() -> usize {
    100
}

fn default_history_limit() -> usize {
    20
}

/// What the edge sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerFrame {
    /// First frame of a session: who it is and where sync starts.
    #[serde(rename_all = "camelCase")]
    Connected {
        user_id: String,
        server_time: u64,
        /// The cursor sync starts from.
        cursor: u64,
        heartbeat_ms: u64,
    },
    /// A message for this device (also a copy of one this user sent from another device).
    Message(MessageBody),
    /// Offline sync is complete: everything up to `cursor` was sent; live messages follow.
    #[serde(rename_all = "camelCase")]
    Synced { cursor: u64 },
    /// A send was committed (SPEC MSG-01: only after the Raft commit).
    #[serde(rename_all = "camelCase")]
    Ack {
        client_id: String,
        #[serde(rename = "msgUID")]
        msg_uid: String,
        /// 0 for status messages, which are not stored.
        seq: u64,
        sent_time: u64,
        /// A chatroom over its budget shed the message (CHR-06): accepted, not delivered.
        #[serde(default, skip_serializing_if = "is_false")]
        dropped: bool,
    },
    #[serde(rename_all = "camelCase")]
    HistoryPage {
        req_id: u64,
        messages: Vec<MessageBody>,
    },
    /// A request (`reqId`) succeeded with nothing more to say.
    #[serde(rename_all = "camelCase")]
    Done { req_id: u64 },
    #[serde(rename_all = "camelCase")]
    ChatroomJoined {
        req_id: u64,
        chatroom_id: String,
        /// The latest messages, oldest first (at most 50).
        messages: Vec<MessageBody>,
    },
    /// This device left a room without asking (kicked, banned, the room destroyed).
    #[serde(rename_all = "camelCase")]
    ChatroomLeft { chatroom_id: String, code: u32 },
    #[serde(rename_all = "camelCase")]
    ConversationList {
        req_id: u64,
        conversations: Vec<ConversationBody>,
    },
    #[serde(rename_all = "camelCase")]
    ReaderList {
        req_id: u64,
        #[serde(rename = "msgUID")]
        msg_uid: String,
        readers: Vec<Reader>,
    },
    #[serde(rename_all = "camelCase")]
    UltraGroupChannels {
        req_id: u64,
        group_id: String,
        channels: Vec<ChannelBody>,
    },
    #[serde(rename_all = "camelCase")]
    UltraGroupList {
        req_id: u64,
        groups: Vec<UltraGroupBody>,
    },
    #[serde(rename_all = "camelCase")]
    Pong { server_time: u64 },
    /// A refusal. `clientId` or `reqId` names the request it answers, if any.
    #[serde(rename_all = "camelCase")]
    Error {
        code: u32,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req_id: Option<u64>,
    },
    /// The session ends (logged in elsewhere, banned, too slow); the socket closes next.
    #[serde(rename_all = "camelCase")]
    Kicked { code: u32, reason: String },
    /// The edge is shutting down: reconnect (through nav) after this delay.
    #[serde(rename_all = "camelCase")]
    Reconnect { after_ms: u64 },
    #[serde(rename_all = "camelCase")]
    RtcJoined {
        req_id: u64,
        room: RoomInfo,
        /// Where the area's media server takes WHIP/WHEP (docs/media.md); empty when the
        /// area has none.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        media_server: String,
    },
    #[serde(rename_all = "camelCase")]
    RtcRoom { req_id: u64, room: RoomInfo },
    /// A change of the audio/video room this user is in, in the order the room made them.
    #[serde(rename_all = "camelCase")]
    RtcEvent {
        cursor: u64,
        room_id: String,
        /// The room's version after this change.
        version: u64,
        notice: RoomNotice,
    },
}

/// A message as a client sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageBody {
    /// The feed position: the device's sync cursor after this message (0 for history).
    pub cursor: u64,
    #[serde(rename = "msgUID")]
    pub msg_uid: String,
    pub seq: u64,
    pub conversation_type: u8,
    /// The conversation as this receiver sees it: the peer for private chats.
    pub target_id: String,
    pub channel_id: String,
    pub sender_user_id: String,
    pub object_name: String,
    pub content: String,
    pub sent_time: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_data: Option<String>,
    #[serde(default)]
    pub recalled: bool,
    /// The sender edited it (ultra groups).
    #[serde(default)]
    pub modified: bool,
}

/// One line of a conversation list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationBody {
    pub conversation_type: u8,
    pub target_id: String,
    pub channel_id: String,
    pub unread: u64,
    pub pinned: bool,
    pub muted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<MessageBody>,
}

/// A conversation named by a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationKey {
    pub conversation_type: u8,
    pub target_id: String,
    #[serde(default)]
    pub channel_id: String,
}

/// One channel of an ultra group as a member sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelBody {
    pub channel_id: String,
    pub unread: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<MessageBody>,
}

/// One of a user's ultra groups: the channels the user may read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UltraGroupBody {
    pub group_id: String,
    pub channels: Vec<ChannelBody>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reader {
    pub user_id: String,
    pub read_time: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_tagged_camel_case_json() {
        let frame: ClientFrame = serde_json::from_str(
            r#"{"type":"send","clientId":"c1","conversationType":1,"targetId":"bob",
                "objectName":"RC:TxtMsg","content":"{}"}"#,
        )
        .unwrap();
        assert!(matches!(frame, ClientFrame::Send { ref client_id, .. } if client_id == "c1"));
        let ack = serde_json::to_value(ServerFrame::Ack {
            client_id: "c1".into(),
            msg_uid: "A".into(),
            seq: 3,
            sent_time: 9,
            dropped: false,
        })
        .unwrap();
        assert_eq!(
            ack,
            serde_json::json!({"type":"ack","clientId":"c1","msgUID":"A","seq":3,"sentTime":9})
        );
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"nope"}"#).is_err());
    }
}
