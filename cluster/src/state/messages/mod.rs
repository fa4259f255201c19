//! Messages: one ordered log per conversation (read diffusion, DESIGN §4). A message is
//! stored once, however many members its conversation has, with a dense per-conversation
//! `seq` and a service-generated `msgUID`; status messages get a `msgUID` but are never
//! stored.

use meridian_proto::Conversation;
use serde::{Deserialize, Serialize};

use super::apply::{ApplyContext, CommandError};
use super::keys::messages as keys;
use super::store::{Overlay, StateRead};
use super::users;

pub mod archive;
pub(in crate::state) mod expansions;
mod import;

pub(super) use expansions::expansions;
pub use expansions::{
    change_notice, ChangeExpansion, ExpansionEntry, MAX_EXPANSION_KEYS, MAX_EXPANSION_KEY_CHARS,
    MAX_EXPANSION_VALUE_CHARS,
};
pub use import::{ImportMessages, ImportedMessage, MAX_IMPORT};

/// SPEC MSG-07: content of at most 128 KiB.
pub const MAX_CONTENT_BYTES: usize = 128 * 1024;
pub const MAX_OBJECT_NAME_CHARS: usize = 32;
pub const MAX_CHANNEL_CHARS: usize = 20;
/// Messages one history page holds at most.
pub const MAX_PAGE: usize = 100;

/// Per objectName: stored in history/offline, counted as unread, or status-only (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageFlags {
    pub persisted: bool,
    pub counted: bool,
}

impl MessageFlags {
    /// Flags of the built-in types; custom types default to persisted and counted.
    pub fn builtin(object_name: &str) -> Self {
        match object_name {
            "RC:TypSts" | "RC:CmdMsg" | "RC:RL" => Self::status(),
            "RC:ContactNtf" | "RC:ProfileNtf" | "RC:CmdNtf" | "RC:InfoNtf" | "RC:GrpNtf"
            | "RC:ReadNtf" | "RC:chrmKVNotiMsg" | "RC:RcCmd" | "RC:SRSMsg" | "RC:RRReqMsg"
            | "RC:RRRspMsg" | "RC:RLStart" | "RC:RLJoin" | "RC:RLQuit" | "RC:RLEnd"
            | "RC:UIUMsg"
            // Call signalling (RTC-03): kept so an offline callee syncs the invite and
            // both sides the server's hang-ups, but never unread.
            | "RC:VCInvite" | "RC:VCRinging" | "RC:VCAccept" | "RC:VCHangup"
            | "RC:VCModifyMem" | "RC:VCModifyMedia" => Self {
                persisted: true,
                counted: false,
            },
            _ => Self {
                persisted: true,
                counted: true,
            },
        }
    }

    pub fn status() -> Self {
        Self {
            persisted: false,
            counted: false,
        }
    }
}

/// A message to store, as a publish command carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMessage {
    pub conversation: Conversation,
    pub sender: String,
    /// The user whose blacklist/whitelist is checked when `verify_blacklist` is set.
    pub recipient: Option<String>,
    pub object_name: String,
    pub content: String,
    pub flags: MessageFlags,
    pub push_content: Option<String>,
    pub push_data: Option<String>,
    pub verify_blacklist: bool,
    /// A directed group message (GRP-08) is visible only to these members; empty: all.
    pub visible_to: Vec<String>,
    /// Set when a client session sent it (see [`Message::sender_device`]).
    pub sender_device: Option<ClientOrigin>,
}

impl NewMessage {
    /// An `RC:TxtMsg` from `from` to `to` as the app server sends it: no push text, no
    /// blacklist check.
    pub fn private_text(from: &str, to: &str, content: &str) -> Self {
        Self {
            conversation: Conversation::private(from, to, ""),
            sender: from.into(),
            recipient: Some(to.into()),
            object_name: "RC:TxtMsg".into(),
            content: content.into(),
            flags: MessageFlags::builtin("RC:TxtMsg"),
            push_content: None,
            push_data: None,
            verify_blacklist: false,
            visible_to: Vec::new(),
            sender_device: None,
        }
    }
}

/// A message sent by a client session: its device, and the id that makes retries of the
/// same send idempotent. Client sends also obey memberships and mutes, which the Server
/// API (acting for the app server) does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientOrigin {
    pub device_id: String,
    pub client_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub msg_uid: String,
    pub conversation: Conversation,
    pub sender: String,
    pub object_name: String,
    pub content: String,
    pub sent_time_ms: u64,
    pub seq: u64,
    pub counted: bool,
    pub push_content: Option<String>,
    pub push_data: Option<String>,
    pub recalled: bool,
    /// The sender replaced the content after sending (ultra groups, ULG-07).
    pub modified: bool,
    pub visible_to: Vec<String>,
    /// Position in the area's feed: a device's sync cursor (see `feed`).
    pub pos: u64,
    /// The device it was sent from, if a client sent it: that device gets an
    /// acknowledgement instead of a copy. [`Message::NO_SENDER_DEVICE`] when the app
    /// server sent it without a copy to any of the sender's devices (`isIncludeSender`).
    pub sender_device: Option<String>,
}

impl Message {
    /// See [`Message::sender_device`]; no client device id is empty.
    pub const NO_SENDER_DEVICE: &'static str = "";

    pub fn visible_to(&self, user: &str) -> bool {
        self.visible_to.is_empty() || self.visible_to.iter().any(|u| u == user)
    }

    /// Whether `user`'s device gets a copy: not the sending device (it gets an ack), nor
    /// any of the sender's devices when the app server said so.
    pub fn copied_to(&self, user: &str, device_id: &str) -> bool {
        user != self.sender
            || match self.sender_device.as_deref() {
                Some(Self::NO_SENDER_DEVICE) => false,
                Some(sender_device) => sender_device != device_id,
                None => true,
            }
    }
}

/// The longest `pushContent` (PUSH-01).
pub const MAX_PUSH_CONTENT_CHARS: usize = 1_000;
/// The longest `pushData` (PUSH-01).
pub const MAX_PUSH_DATA_BYTES: usize = 4_096;

/// What every stored message obeys, whoever sends it.
pub(in crate::state) fn validate(message: &NewMessage) -> Result<(), CommandError> {
    users::validate_user_id(&message.sender)?;
    if message.object_name.is_empty() || message.object_name.chars().count() > MAX_OBJECT_NAME_CHARS
    {
        return Err(CommandError::invalid(
            "objectName",
            "must be 1 to 32 characters",
        ));
    }
    if message.content.len() > MAX_CONTENT_BYTES {
        return Err(CommandError::Limit {
            what: "content bytes".into(),
            limit: MAX_CONTENT_BYTES as u64,
        });
    }
    if message.conversation.channel.chars().count() > MAX_CHANNEL_CHARS {
        return Err(CommandError::invalid(
            "busChannel",
            "must be at most 20 characters",
        ));
    }
    check_push_fields(
        ("pushContent", message.push_content.as_deref()),
        ("pushData", message.push_data.as_deref()),
    )?;
    for id in [&message.conversation.first, &message.conversation.second] {
        if !id.is_empty() {
            users::validate_user_id(id)?;
        }
    }
    for id in &message.visible_to {
        users::validate_user_id(id)?;
    }
    Ok(())
}

/// `XXXX-XXXX-XXXX-XXXX`: the area's code in the top bits and a scrambled counter below,
/// so ids are unique across areas, identical on every replica, and not guessable in order.
fn format_uid(area_code: u8, counter: u64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    // Odd multiplier: a bijection on u64, so distinct counters give distinct ids.
    let scrambled = counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let value = (u128::from(area_code) << 72) | (u128::from(scrambled) << 8);
    let chars: Vec<u8> = (0..16)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize])
        .collect();
    chars
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// A push's text and data (named as the caller's API names them): push providers take
/// about 4 KB a notification, so longer could never be pushed.
pub(in crate::state) fn check_push_fields(
    (text_field, text): (&str, Option<&str>),
    (data_field, data): (&str, Option<&str>),
) -> Result<(), CommandError> {
    if text.is_some_and(|text| text.chars().count() > MAX_PUSH_CONTENT_CHARS) {
        return Err(CommandError::invalid(
            text_field,
            format!("must be at most {MAX_PUSH_CONTENT_CHARS} characters"),
        ));
    }
    if data.is_some_and(|data| data.len() > MAX_PUSH_DATA_BYTES) {
        return Err(CommandError::invalid(
            data_field,
            format!("must be at most {MAX_PUSH_DATA_BYTES} bytes"),
        ));
    }
    Ok(())
}

pub(in crate::state) fn next_uid(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
) -> Result<String, CommandError> {
    let counter: u64 = state.get(keys::UID_COUNTER)?.unwrap_or(0) + 1;
    state.put(keys::UID_COUNTER.to_vec(), &counter)?;
    Ok(format_uid(ctx.area.sdk_code(), counter))
}

/// The `seq` of a conversation's newest message (0: none yet).
pub(in crate::state) fn last_seq(
    state: &impl StateRead,
    app_key: &str,
    conversation: &Conversation,
) -> Result<u64, CommandError> {
    Ok(state
        .get(&keys::last_seq(app_key, conversation))?
        .unwrap_or(0))
}

/// Appends a message to its conversation's log under the next `seq` (set on it) and
/// indexes it by its `msgUID`.
pub(in crate::state) fn append(
    state: &mut Overlay<'_>,
    app_key: &str,
    message: &mut Message,
) -> Result<(), CommandError> {
    let conversation = &message.conversation;
    let seq = last_seq(state, app_key, conversation)? + 1;
    state.put(keys::last_seq(app_key, conversation), &seq)?;
    message.seq = seq;
    state.put(keys::message(app_key, conversation, seq), &*message)?;
    let index = UidIndex {
        conversation: message.conversation.clone(),
        seq,
    };
    state.put(keys::uid(app_key, &message.msg_uid), &index)?;
    Ok(())
}

/// Where a stored message lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UidIndex {
    conversation: Conversation,
    seq: u64,
}

/// Stores a changed message in its place.
pub(in crate::state) fn replace(
    state: &mut Overlay<'_>,
    app_key: &str,
    message: &Message,
) -> Result<(), CommandError> {
    Ok(state.put(
        keys::message(app_key, &message.conversation, message.seq),
        message,
    )?)
}

/// The message at `seq` of a conversation, if stored.
pub(in crate::state) fn get(
    state: &impl StateRead,
    app_key: &str,
    conversation: &Conversation,
    seq: u64,
) -> Result<Option<Message>, CommandError> {
    Ok(state.get(&keys::message(app_key, conversation, seq))?)
}

/// Visits a conversation's messages in `seq` order (newest first with `newest_first`)
/// until `visit` answers false or fails; a record that does not decode fails the read.
pub(in crate::state) fn visit_log(
    state: &impl StateRead,
    app_key: &str,
    conversation: &Conversation,
    newest_first: bool,
    visit: &mut dyn FnMut(Message) -> Result<bool, CommandError>,
) -> Result<(), CommandError> {
    let mut failure = None;
    state.visit_raw(
        &keys::log(app_key, conversation),
        newest_first,
        &mut |bytes| {
            let visited = crate::raft::wire::from_bytes::<Message>(bytes)
                .map_err(CommandError::from)
                .and_then(&mut *visit);
            visited.unwrap_or_else(|e| {
                failure = Some(e);
                false
            })
        },
    )?;
    failure.map_or(Ok(()), Err)
}

/// The newest message `viewer` may see in a conversation (after its join), and how many
/// counted messages from others came after `read_seq` (at most `cap`).
/// `disableUpdateLastMsg`: the message never becomes its conversation's last message.
pub(in crate::state) fn keep_last_message(
    state: &mut Overlay<'_>,
    app_key: &str,
    msg_uid: &str,
) -> Result<(), CommandError> {
    Ok(state.put(keys::keeps_last(app_key, msg_uid), &())?)
}

fn keeps_last_message(
    state: &impl StateRead,
    app_key: &str,
    msg_uid: &str,
) -> Result<bool, CommandError> {
    Ok(state
        .get_raw(&keys::keeps_last(app_key, msg_uid))?
        .is_some())
}

pub(in crate::state) fn last_and_unread(
    state: &impl StateRead,
    app_key: &str,
    conversation: &Conversation,
    viewer: &str,
    read_seq: u64,
    joined_at_pos: u64,
    cap: u64,
) -> Result<(Option<Message>, u64), CommandError> {
    let (mut last, mut unread) = (None, 0);
    visit_log(state, app_key, conversation, true, &mut |message| {
        // A join's own position is its membership event's, never a message's.
        if message.pos < joined_at_pos {
            return Ok(false);
        }
        if !message.visible_to(viewer) {
            return Ok(true);
        }
        let past_read = message.seq <= read_seq;
        if !past_read && message.counted && message.sender != viewer {
            unread += 1;
        }
        // `disableUpdateLastMsg`: the conversation's last message stays the one before.
        if last.is_none() && !keeps_last_message(state, app_key, &message.msg_uid)? {
            last = Some(message);
        }
        Ok(!past_read && unread < cap)
    })?;
    Ok((last, unread))
}

/// The oldest `limit` messages of a conversation whose feed position is after `after`
/// and that `keep` keeps (counted after that filter, so none are skipped). Reads back
/// from the newest, so it costs what the device missed, not the history.
pub(in crate::state) fn after_position(
    state: &impl StateRead,
    app_key: &str,
    conversation: &Conversation,
    after: u64,
    limit: usize,
    keep: &dyn Fn(&Message) -> bool,
) -> Result<Vec<Message>, CommandError> {
    let mut newer = Vec::new();
    visit_log(state, app_key, conversation, true, &mut |message| {
        if message.pos <= after {
            return Ok(false);
        }
        if keep(&message) {
            newer.push(message);
        }
        Ok(true)
    })?;
    newer.reverse();
    newer.truncate(limit);
    Ok(newer)
}

pub(in crate::state) fn by_uid(
    state: &impl StateRead,
    app_key: &str,
    msg_uid: &str,
) -> Result<Message, CommandError> {
    let not_found = || CommandError::not_found(format!("message {msg_uid}"));
    let index: UidIndex = state
        .get(&keys::uid(app_key, msg_uid))?
        .ok_or_else(not_found)?;
    state
        .get(&keys::message(app_key, &index.conversation, index.seq))?
        .ok_or_else(not_found)
}

/// Removes a stored message and what only it has: its `msgUID` index, expansion,
/// archive entry and `disableUpdateLastMsg` mark (LIFE-01). The conversation keeps its
/// last `seq`, so later messages still follow on.
pub(in crate::state) fn forget(
    state: &mut Overlay<'_>,
    app_key: &str,
    message: &Message,
) -> Result<(), CommandError> {
    state.delete(keys::message(app_key, &message.conversation, message.seq));
    state.delete(keys::uid(app_key, &message.msg_uid));
    state.delete(keys::keeps_last(app_key, &message.msg_uid));
    state.delete_prefix(&keys::expansions(app_key, &message.msg_uid))?;
    archive::unindex(state, app_key, message);
    Ok(())
}

/// Removes every message of an app environment.
pub(in crate::state) fn delete_all(
    state: &mut Overlay<'_>,
    app_key: &str,
) -> Result<(), CommandError> {
    state.delete_app(&keys::PER_APP, app_key)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_distinct_formatted_and_carry_the_area() {
        let a = format_uid(2, 1);
        let b = format_uid(2, 2);
        let c = format_uid(3, 1);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 19);
        assert_eq!(a.matches('-').count(), 3);
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|i| format_uid(1, i)).collect();
        assert_eq!(ids.len(), 10_000);
    }

    #[test]
    fn private_conversations_are_the_same_from_both_sides() {
        let ab = Conversation::private("alice", "bob", "");
        assert_eq!(ab, Conversation::private("bob", "alice", ""));
        assert_eq!(ab.target_for("alice"), "bob");
        assert_eq!(ab.target_for("bob"), "alice");
        assert_ne!(ab, Conversation::private("alice", "bob", "work"));
    }
}
