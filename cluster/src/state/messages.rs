//! Messages: one ordered log per conversation (read diffusion, DESIGN §4). A message is
//! stored once, however many members its conversation has, with a dense per-conversation
//! `seq` and a service-generated `msgUID`; status messages get a `msgUID` but are never
//! stored.

use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::keys::{messages as keys, of_app};
use super::store::{Overlay, StateRead};
use super::users::{self, UserList};
use super::{apps, feed};

/// SPEC MSG-07: content of at most 128 KiB.
pub const MAX_CONTENT_BYTES: usize = 128 * 1024;
pub const MAX_OBJECT_NAME_CHARS: usize = 32;
pub const MAX_CHANNEL_CHARS: usize = 20;
/// Messages one history page holds at most.
pub const MAX_PAGE: usize = 100;

/// Wire codes of conversation types (SPEC §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConversationType {
    Private = 1,
    Group = 3,
    Chatroom = 4,
    System = 6,
    UltraGroup = 10,
}

impl ConversationType {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Private,
            3 => Self::Group,
            4 => Self::Chatroom,
            6 => Self::System,
            10 => Self::UltraGroup,
            _ => return None,
        })
    }
}

/// A conversation as the service stores it. PRIVATE is keyed by the unordered pair of
/// users (each side sees the other as its target); SYSTEM by (system account, user);
/// the others by their group/room id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub kind: ConversationType,
    /// PRIVATE: the smaller user id; SYSTEM: the system account; else the group/room id.
    pub first: String,
    /// PRIVATE: the larger user id; SYSTEM: the user; else empty.
    pub second: String,
    pub channel: String,
}

impl Conversation {
    pub fn private(a: &str, b: &str, channel: &str) -> Self {
        let (first, second) = if a <= b { (a, b) } else { (b, a) };
        Self {
            kind: ConversationType::Private,
            first: first.to_string(),
            second: second.to_string(),
            channel: channel.to_string(),
        }
    }

    pub fn system(system_account: &str, user: &str) -> Self {
        Self {
            kind: ConversationType::System,
            first: system_account.to_string(),
            second: user.to_string(),
            channel: String::new(),
        }
    }

    pub fn group_like(kind: ConversationType, id: &str, channel: &str) -> Self {
        Self {
            kind,
            first: id.to_string(),
            second: String::new(),
            channel: channel.to_string(),
        }
    }

    /// The conversation's target as `viewer` sees it (SPEC §1 "Target ID").
    pub fn target_for(&self, viewer: &str) -> &str {
        match self.kind {
            ConversationType::Private if self.first == viewer => &self.second,
            ConversationType::Private => &self.first,
            _ => &self.first,
        }
    }
}

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
            | "RC:UIUMsg" => Self {
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
    /// acknowledgement instead of a copy.
    pub sender_device: Option<String>,
}

impl Message {
    pub fn visible_to(&self, user: &str) -> bool {
        self.visible_to.is_empty() || self.visible_to.iter().any(|u| u == user)
    }
}

/// What became of one message of a publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Publication {
    Stored {
        msg_uid: String,
        seq: u64,
        sent_time_ms: u64,
    },
    /// Status message: delivered to online devices only, never stored.
    Transient { msg_uid: String, sent_time_ms: u64 },
    /// The recipient's blacklist (or whitelist mode) refuses this sender.
    Blocked,
    /// A chatroom over its message budget dropped it (CHR-06): neither stored nor delivered.
    Dropped {
        msg_uid: String,
        sent_time_ms: u64,
        priority: super::chatrooms::Priority,
    },
    /// A client's text contains one of the app's sensitive words (HOOK-06).
    Sensitive,
}

/// The longest `pushContent` (PUSH-01).
pub const MAX_PUSH_CONTENT_CHARS: usize = 1_000;
/// The longest `pushData` (PUSH-01).
pub const MAX_PUSH_DATA_BYTES: usize = 4_096;

fn validate(message: &NewMessage) -> Result<(), CommandError> {
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
pub(super) fn check_push_fields(
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

pub(super) fn next_uid(ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<String, CommandError> {
    let counter: u64 = state.get(keys::UID_COUNTER)?.unwrap_or(0) + 1;
    state.put(keys::UID_COUNTER.to_vec(), &counter)?;
    Ok(format_uid(ctx.area.sdk_code(), counter))
}

/// Where a stored message lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UidIndex {
    conversation: Conversation,
    seq: u64,
}

fn blocked_by_lists(
    state: &impl StateRead,
    app_key: &str,
    message: &NewMessage,
) -> Result<bool, CommandError> {
    let Some(recipient) = &message.recipient else {
        return Ok(false);
    };
    // PRV-10 / PRV-11: the app runs one of the two modes.
    if apps::settings(state, app_key)?.whitelist_mode {
        let white = users::list_members(state, app_key, UserList::White, recipient)?;
        return Ok(!white.contains(&message.sender));
    }
    let black = users::list_members(state, app_key, UserList::Black, recipient)?;
    Ok(black.contains(&message.sender))
}

/// Stores each message (or not, for status messages) and answers what became of it.
pub(super) fn publish(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    messages: &[NewMessage],
) -> Result<Vec<Publication>, CommandError> {
    apps::by_key(state, app_key)?;
    let mut out = Vec::with_capacity(messages.len());
    for message in messages {
        validate(message)?;
        let conversation = &message.conversation;
        let mut visible_to = message.visible_to.clone();
        match conversation.kind {
            ConversationType::Group => {
                super::groups::get(state, app_key, &conversation.first)?;
            }
            ConversationType::Chatroom => {
                super::chatrooms::touch(ctx, state, app_key, &conversation.first)?;
            }
            ConversationType::UltraGroup => {
                let audience = super::ultragroups::audience(
                    state,
                    app_key,
                    &conversation.first,
                    &conversation.channel,
                )?;
                if !audience.is_empty() {
                    visible_to = audience;
                }
            }
            _ => {}
        }
        if let Some(origin) = &message.sender_device {
            if let Some(earlier) = client_sends::earlier(state, app_key, &message.sender, origin)? {
                out.push(earlier);
                continue;
            }
            may_send_from_client(ctx, state, app_key, message)?;
        }
        if message.verify_blacklist && blocked_by_lists(state, app_key, message)? {
            out.push(Publication::Blocked);
            continue;
        }
        let (mut content, mut push_content) =
            (message.content.clone(), message.push_content.clone());
        if message.sender_device.is_some() {
            use super::sensitive::{screen_content, screen_text, Screened};
            let words = super::sensitive::list(state, app_key)?;
            let screened = [
                screen_content(&words, &message.object_name, &message.content),
                // The push text shows on lock screens: screened like the content.
                message
                    .push_content
                    .as_deref()
                    .map_or(Screened::Clean, |text| screen_text(&words, text)),
            ];
            if screened.contains(&Screened::Refused) {
                out.push(Publication::Sensitive);
                continue;
            }
            let [screened_content, screened_push] = screened;
            if let Screened::Replaced(text) = screened_content {
                content = text;
            }
            if let Screened::Replaced(text) = screened_push {
                push_content = Some(text);
            }
        }
        let msg_uid = next_uid(ctx, state)?;
        if message.conversation.kind == ConversationType::Chatroom {
            let admitted = super::chatrooms::admit(
                ctx,
                state,
                app_key,
                &message.conversation.first,
                &message.sender,
                &message.object_name,
            )?;
            if let Err(priority) = admitted {
                let publication = Publication::Dropped {
                    msg_uid,
                    sent_time_ms: ctx.now_ms,
                    priority,
                };
                client_sends::remember(ctx, state, app_key, message, &publication)?;
                out.push(publication);
                continue;
            }
            super::chatrooms::message_accepted(ctx, state, app_key, &message.conversation.first)?;
        }
        let mut built = Message {
            msg_uid: msg_uid.clone(),
            conversation: message.conversation.clone(),
            sender: message.sender.clone(),
            object_name: message.object_name.clone(),
            content,
            sent_time_ms: ctx.now_ms,
            seq: 0,
            counted: message.flags.counted,
            push_content,
            push_data: message.push_data.clone(),
            recalled: false,
            modified: false,
            visible_to,
            pos: feed::next_position(state)?,
            sender_device: message.sender_device.as_ref().map(|o| o.device_id.clone()),
        };
        if !message.flags.persisted {
            feed::append_event(
                state,
                feed::FeedEvent::Message {
                    app_key: app_key.to_string(),
                    message: Box::new(built),
                },
            )?;
            let publication = Publication::Transient {
                msg_uid,
                sent_time_ms: ctx.now_ms,
            };
            client_sends::remember(ctx, state, app_key, message, &publication)?;
            out.push(publication);
            continue;
        }
        let seq_key = keys::last_seq(app_key, &message.conversation);
        let seq: u64 = state.get(&seq_key)?.unwrap_or(0) + 1;
        state.put(seq_key, &seq)?;
        built.seq = seq;
        state.put(keys::message(app_key, &message.conversation, seq), &built)?;
        state.put(
            keys::uid(app_key, &msg_uid),
            &UidIndex {
                conversation: message.conversation.clone(),
                seq,
            },
        )?;
        feed::append_stored(state, app_key, &built)?;
        super::outbox::message_stored(ctx, state, app_key, &built)?;
        archive::index(state, app_key, &built)?;
        let publication = Publication::Stored {
            msg_uid,
            seq,
            sent_time_ms: ctx.now_ms,
        };
        client_sends::remember(ctx, state, app_key, message, &publication)?;
        out.push(publication);
    }
    Ok(out)
}

/// The hourly archive (`/message/history.json`): every stored message is also indexed by
/// the UTC hour it was sent in, so an hour's archive reads only that hour.
pub mod archive {
    use super::*;

    const HOUR_MS: u64 = 3_600_000;

    pub(in crate::state) fn index(
        state: &mut Overlay<'_>,
        app_key: &str,
        message: &Message,
    ) -> Result<(), CommandError> {
        let key = keys::archived(app_key, message.sent_time_ms / HOUR_MS, message.pos);
        Ok(state.put(key, &(message.conversation.clone(), message.seq))?)
    }

    /// The messages sent in the hour starting at `hour_start_ms` (UTC), oldest first.
    pub(in crate::state) fn hour(
        state: &impl StateRead,
        app_key: &str,
        hour_start_ms: u64,
    ) -> Result<Vec<Message>, CommandError> {
        apps::by_key(state, app_key)?;
        let pointers: Vec<(Conversation, u64)> =
            state.scan(&keys::archive_hour(app_key, hour_start_ms / HOUR_MS))?;
        let mut messages = Vec::with_capacity(pointers.len());
        for (conversation, seq) in pointers {
            if let Some(message) = get(state, app_key, &conversation, seq)? {
                messages.push(message);
            }
        }
        Ok(messages)
    }

    /// `/message/history/delete.json`: the hour's archive is gone (the conversations keep
    /// their history).
    pub(in crate::state) fn delete_hour(
        state: &mut Overlay<'_>,
        app_key: &str,
        hour_start_ms: u64,
    ) -> Result<(), CommandError> {
        apps::by_key(state, app_key)?;
        Ok(state.delete_prefix(&keys::archive_hour(app_key, hour_start_ms / HOUR_MS))?)
    }
}

/// A message of another provider's history, moved in (API-04).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedMessage {
    pub conversation: Conversation,
    pub sender: String,
    pub object_name: String,
    pub content: String,
    pub sent_time_ms: u64,
    /// The id it had; kept when given (and unique), so references to it still work.
    #[serde(default)]
    pub msg_uid: Option<String>,
}

/// Messages one import call may carry.
pub const MAX_IMPORT: usize = 1000;

/// Appends moved-in history to each conversation's log (API-04). History only: imported
/// messages are not synced or delivered. Per conversation they must come in time order,
/// after what the log already holds, so history stays in time order.
pub(super) fn import(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    imported: &[ImportedMessage],
) -> Result<u64, CommandError> {
    apps::by_key(state, app_key)?;
    if imported.len() > MAX_IMPORT {
        return Err(CommandError::Limit {
            what: "messages per import".into(),
            limit: MAX_IMPORT as u64,
        });
    }
    for item in imported {
        let as_new = NewMessage {
            conversation: item.conversation.clone(),
            sender: item.sender.clone(),
            recipient: None,
            object_name: item.object_name.clone(),
            content: item.content.clone(),
            flags: MessageFlags::builtin(&item.object_name),
            push_content: None,
            push_data: None,
            verify_blacklist: false,
            visible_to: Vec::new(),
            sender_device: None,
        };
        validate(&as_new)?;
        if item.conversation.kind == ConversationType::Chatroom {
            return Err(CommandError::invalid(
                "conversationType",
                "chatroom history is not imported",
            ));
        }
        let seq_key = keys::last_seq(app_key, &item.conversation);
        let last_seq: u64 = state.get(&seq_key)?.unwrap_or(0);
        if let Some(last) = get(state, app_key, &item.conversation, last_seq)? {
            if item.sent_time_ms < last.sent_time_ms {
                return Err(CommandError::invalid(
                    "sentTime",
                    "history is imported oldest first, after what the conversation holds",
                ));
            }
        }
        if item.sent_time_ms > ctx.now_ms {
            return Err(CommandError::invalid("sentTime", "is in the future"));
        }
        let msg_uid = match &item.msg_uid {
            Some(uid) => {
                if uid.is_empty() || uid.len() > 64 {
                    return Err(CommandError::invalid(
                        "msgUID",
                        "must be 1 to 64 characters",
                    ));
                }
                if state.get_raw(&keys::uid(app_key, uid))?.is_some() {
                    return Err(CommandError::Conflict {
                        what: format!("message {uid}"),
                    });
                }
                uid.clone()
            }
            None => next_uid(ctx, state)?,
        };
        let seq = last_seq + 1;
        state.put(seq_key, &seq)?;
        let message = Message {
            msg_uid: msg_uid.clone(),
            conversation: item.conversation.clone(),
            sender: item.sender.clone(),
            object_name: item.object_name.clone(),
            content: item.content.clone(),
            sent_time_ms: item.sent_time_ms,
            seq,
            counted: false,
            push_content: None,
            push_data: None,
            recalled: false,
            modified: false,
            visible_to: Vec::new(),
            // Not in the feed: 0 sorts before every live message.
            pos: 0,
            sender_device: None,
        };
        state.put(keys::message(app_key, &item.conversation, seq), &message)?;
        state.put(
            keys::uid(app_key, &msg_uid),
            &UidIndex {
                conversation: item.conversation.clone(),
                seq,
            },
        )?;
    }
    Ok(imported.len() as u64)
}

/// Stores a changed message in its place.
pub(super) fn replace(
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
pub(super) fn get(
    state: &impl StateRead,
    app_key: &str,
    conversation: &Conversation,
    seq: u64,
) -> Result<Option<Message>, CommandError> {
    Ok(state.get(&keys::message(app_key, conversation, seq))?)
}

/// The newest message `viewer` may see in a conversation (after its join), and how many
/// counted messages from others came after `read_seq` (at most `cap`).
pub(super) fn last_and_unread(
    state: &impl StateRead,
    app_key: &str,
    conversation: &Conversation,
    viewer: &str,
    read_seq: u64,
    joined_at_pos: u64,
    cap: u64,
) -> Result<(Option<Message>, u64), CommandError> {
    let prefix = keys::log(app_key, conversation);
    let (mut last, mut unread) = (None, 0);
    let mut failure = None;
    state.visit_raw(&prefix, true, &mut |bytes| {
        let message: Message = match crate::raft::wire::from_bytes(bytes) {
            Ok(message) => message,
            Err(e) => {
                failure = Some(e);
                return false;
            }
        };
        // A join's own position is its membership event's, never a message's.
        if message.pos < joined_at_pos {
            return false;
        }
        if !message.visible_to(viewer) {
            return true;
        }
        let past_read = message.seq <= read_seq;
        if !past_read && message.counted && message.sender != viewer {
            unread += 1;
        }
        if last.is_none() {
            last = Some(message);
        }
        !past_read && unread < cap
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    Ok((last, unread))
}

/// The oldest `limit` messages of a conversation whose feed position is after `after`
/// and that `keep` keeps (counted after that filter, so none are skipped). Reads back
/// from the newest, so it costs what the device missed, not the history.
pub(super) fn after_position(
    state: &impl StateRead,
    app_key: &str,
    conversation: &Conversation,
    after: u64,
    limit: usize,
    keep: &dyn Fn(&Message) -> bool,
) -> Result<Vec<Message>, CommandError> {
    let prefix = keys::log(app_key, conversation);
    let mut newer = Vec::new();
    let mut failure = None;
    state.visit_raw(
        &prefix,
        true,
        &mut |bytes| match crate::raft::wire::from_bytes::<Message>(bytes) {
            Ok(message) if message.pos > after => {
                if keep(&message) {
                    newer.push(message);
                }
                true
            }
            Ok(_) => false,
            Err(e) => {
                failure = Some(e);
                false
            }
        },
    )?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    newer.reverse();
    newer.truncate(limit);
    Ok(newer)
}

/// What a client may not do that the Server API may: send to a group it is not in or
/// while muted (GRP-06, GRP-07), or to a chatroom it has not joined or is gagged in (CHR-05).
fn may_send_from_client(
    ctx: ApplyContext,
    state: &impl StateRead,
    app_key: &str,
    message: &NewMessage,
) -> Result<(), CommandError> {
    let conversation = &message.conversation;
    let sender = &message.sender;
    match conversation.kind {
        ConversationType::Group => {
            super::groups::may_speak(ctx, state, app_key, &conversation.first, sender)
        }
        ConversationType::Chatroom => {
            super::chatrooms::may_speak(ctx, state, app_key, &conversation.first, sender)
        }
        ConversationType::UltraGroup => super::ultragroups::may_speak(
            state,
            app_key,
            &conversation.first,
            &conversation.channel,
            sender,
        ),
        _ => Ok(()),
    }
}

/// Answers to client sends by client id, so a retried send is stored once. Kept a day,
/// pruned a few at a time by later client sends (deterministic on every replica).
mod client_sends {
    use super::*;

    const KEPT_MS: u64 = 24 * 60 * 60 * 1000;
    const PRUNED_PER_SEND: usize = 2;

    pub(super) fn earlier(
        state: &impl StateRead,
        app_key: &str,
        sender: &str,
        origin: &ClientOrigin,
    ) -> Result<Option<Publication>, CommandError> {
        Ok(state.get(&keys::client_send(app_key, sender, &origin.client_id))?)
    }

    pub(super) fn remember(
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
        app_key: &str,
        message: &NewMessage,
        publication: &Publication,
    ) -> Result<(), CommandError> {
        let Some(origin) = &message.sender_device else {
            return Ok(());
        };
        let key = keys::client_send(app_key, &message.sender, &origin.client_id);
        let mut stale = Vec::new();
        let by_time = keys::CLIENT_SEND_BY_TIME;
        state.visit_from(
            by_time,
            by_time,
            &mut |time_key, _| match keys::client_send_of(time_key) {
                Some((at, indexed)) if at + KEPT_MS < ctx.now_ms => {
                    stale.push((time_key.to_vec(), indexed));
                    stale.len() < PRUNED_PER_SEND
                }
                _ => false,
            },
        )?;
        for (time_key, indexed) in stale {
            state.delete(time_key);
            state.delete(indexed);
        }
        state.put(keys::client_send_by_time(ctx.now_ms, &key), &())?;
        state.put(key, publication)?;
        Ok(())
    }
}

pub(super) fn by_uid(
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

/// Marks a message recalled (its content removed when `delete`) and stores the
/// `RC:RcCmd` notification every member will see.
pub(super) fn recall(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    sender: &str,
    msg_uid: &str,
    by_admin: bool,
    delete: bool,
) -> Result<Vec<Publication>, CommandError> {
    let mut message = by_uid(state, app_key, msg_uid)?;
    if !by_admin && message.sender != sender {
        return Err(CommandError::invalid(
            "fromUserId",
            "only the sender (or an admin) may recall a message",
        ));
    }
    if message.recalled {
        return Err(CommandError::Conflict {
            what: format!("recall of {msg_uid}"),
        });
    }
    message.recalled = true;
    if delete {
        message.content.clear();
    }
    state.put(
        keys::message(app_key, &message.conversation, message.seq),
        &message,
    )?;
    let notice = NewMessage {
        conversation: message.conversation.clone(),
        sender: sender.to_string(),
        recipient: None,
        object_name: "RC:RcCmd".into(),
        content: serde_json::json!({
            "messageUId": msg_uid,
            "conversationType": message.conversation.kind.code(),
            "targetId": message.conversation.target_for(&message.sender),
            "channelId": message.conversation.channel,
            "isAdmin": u8::from(by_admin),
            "isDelete": u8::from(delete),
        })
        .to_string(),
        flags: MessageFlags::builtin("RC:RcCmd"),
        push_content: None,
        push_data: None,
        verify_blacklist: false,
        visible_to: message.visible_to.clone(),
        sender_device: None,
    };
    publish(ctx, state, app_key, &[notice])
}

/// Which page of a conversation's history a query wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub conversation: Conversation,
    /// Whose view: directed messages to others are left out.
    pub viewer: Option<String>,
    pub from_ms: u64,
    pub to_ms: u64,
    pub newest_first: bool,
    pub limit: usize,
    /// A client's view: group and ultra-group history only for members, and only since
    /// they joined (GRP-05, ULG-04).
    pub members_only: bool,
    /// Only messages containing this text (case-insensitive) (PRV-06).
    pub keyword: Option<String>,
    /// Only messages from this user (PRV-06).
    pub sender: Option<String>,
}

/// Where `viewer`'s view of a group-like conversation starts (its join, or the beginning
/// with the app's pre-join history option); refused for non-members.
fn joined_at_pos(
    state: &impl StateRead,
    app_key: &str,
    conversation: &Conversation,
    viewer: &str,
) -> Result<u64, CommandError> {
    let not_member = |what: &str| CommandError::NotMember {
        what: format!("{what} {}", conversation.first),
    };
    let pre_join = apps::settings(state, app_key)?.pre_join_history;
    let since = |joined: u64| if pre_join { 0 } else { joined };
    match conversation.kind {
        ConversationType::Group => {
            super::groups::membership(state, app_key, &conversation.first, viewer)?
                .map(|m| since(m.joined_at_pos))
                .ok_or_else(|| not_member("group"))
        }
        ConversationType::UltraGroup => {
            super::ultragroups::joined_at_pos(state, app_key, &conversation.first, viewer)?
                .map(since)
                .ok_or_else(|| not_member("ultra group"))
        }
        _ => Ok(0),
    }
}

/// A page of a conversation's history between two instants, oldest first or newest first.
pub(super) fn history(
    state: &impl StateRead,
    app_key: &str,
    page: &HistoryPage,
) -> Result<Vec<Message>, CommandError> {
    let HistoryPage {
        conversation,
        viewer,
        from_ms,
        to_ms,
        newest_first,
        limit,
        members_only,
        keyword,
        sender,
    } = page;
    let keyword = keyword.as_ref().map(|k| k.to_lowercase());
    let since_pos = match (members_only, viewer) {
        (true, Some(viewer)) => joined_at_pos(state, app_key, conversation, viewer)?,
        _ => 0,
    };
    let (from_ms, to_ms, newest_first, limit) = (*from_ms, *to_ms, *newest_first, *limit);
    let viewer = viewer.as_deref();
    apps::by_key(state, app_key)?;
    // What the viewer deleted from its own view stays out of it (PRV-05).
    let deletions = viewer
        .map(|v| super::conversations::deletions(state, app_key, v, conversation))
        .transpose()?;
    let prefix = keys::log(app_key, conversation);
    let limit = limit.clamp(1, MAX_PAGE);
    let mut messages = Vec::new();
    let mut failure: Option<CommandError> = None;
    // Sequence order is time order (the leader's stamps never go backwards), so a page
    // stops as soon as it leaves the window.
    state.visit_raw(&prefix, newest_first, &mut |bytes| {
        let message: Message = match crate::raft::wire::from_bytes(bytes) {
            Ok(message) => message,
            Err(e) => {
                failure = Some(e.into());
                return false;
            }
        };
        let time = message.sent_time_ms;
        let past_window = if newest_first {
            time < from_ms
        } else {
            time > to_ms
        };
        if past_window {
            return false;
        }
        let visible = viewer.is_none_or(|v| message.visible_to(v)) && message.pos >= since_pos;
        let matches = sender.as_ref().is_none_or(|s| &message.sender == s)
            && keyword
                .as_ref()
                .is_none_or(|k| message.content.to_lowercase().contains(k));
        if visible && matches && (from_ms..=to_ms).contains(&time) {
            match deletions.as_ref().map(|d| d.hides(&message)) {
                Some(Err(e)) => {
                    failure = Some(e);
                    return false;
                }
                Some(Ok(true)) => {}
                Some(Ok(false)) | None => messages.push(message),
            }
        }
        messages.len() < limit
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(messages)
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

/// Removes every message of an app environment.
pub(super) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<(), CommandError> {
    for family in keys::PER_APP {
        state.delete_prefix(&of_app(family, app_key))?;
    }
    Ok(())
}

/// SPEC MSG-04: at most 300 expansion keys per message.
pub const MAX_EXPANSION_KEYS: u64 = 300;
pub const MAX_EXPANSION_KEY_CHARS: usize = 32;
pub const MAX_EXPANSION_VALUE_CHARS: usize = 4096;

/// One key/value attached to a sent message, with when it was last set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpansionEntry {
    pub key: String,
    pub value: String,
    pub updated_at_ms: u64,
}

/// Sets (or, with `values` None, deletes) expansion keys of a stored message.
pub(super) fn change_expansion(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    msg_uid: &str,
    entries: &[(String, Option<String>)],
) -> Result<(), CommandError> {
    by_uid(state, app_key, msg_uid)?;
    let prefix = keys::expansions(app_key, msg_uid);
    for (key, value) in entries {
        if key.is_empty() || key.chars().count() > MAX_EXPANSION_KEY_CHARS {
            return Err(CommandError::invalid("key", "must be 1 to 32 characters"));
        }
        let full = keys::expansion(app_key, msg_uid, key);
        match value {
            Some(value) => {
                if value.chars().count() > MAX_EXPANSION_VALUE_CHARS {
                    return Err(CommandError::invalid(
                        "value",
                        "must be at most 4096 characters",
                    ));
                }
                let entry = ExpansionEntry {
                    key: key.clone(),
                    value: value.clone(),
                    updated_at_ms: ctx.now_ms,
                };
                state.put(full, &entry)?;
            }
            None => state.delete(full),
        }
    }
    if state.count_prefix(&prefix)? > MAX_EXPANSION_KEYS {
        return Err(CommandError::Limit {
            what: "expansion keys per message".into(),
            limit: MAX_EXPANSION_KEYS,
        });
    }
    Ok(())
}

pub(super) fn expansion(
    state: &impl StateRead,
    app_key: &str,
    msg_uid: &str,
) -> Result<Vec<ExpansionEntry>, CommandError> {
    by_uid(state, app_key, msg_uid)?;
    Ok(state.scan(&keys::expansions(app_key, msg_uid))?)
}

/// Deletes the hourly archive of the hour starting at `hour_start_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteArchiveHour {
    pub app_key: String,
    pub hour_start_ms: u64,
}

impl Apply for DeleteArchiveHour {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            hour_start_ms,
        } = self;
        archive::delete_hour(state, app_key, *hour_start_ms)
    }
}

/// Moves in another provider's history (API-04).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportMessages {
    pub app_key: String,
    pub messages: Vec<ImportedMessage>,
}

impl Apply for ImportMessages {
    type Answer = u64;

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<u64, CommandError> {
        let Self { app_key, messages } = self;
        import(ctx, state, app_key, messages)
    }
}

/// Stores messages (one per conversation); each gets a `msgUID` and, unless it is a
/// status message, the next `seq` of its conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Publish {
    pub app_key: String,
    pub messages: Vec<NewMessage>,
}

impl Apply for Publish {
    type Answer = Vec<Publication>;

    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<Vec<Publication>, CommandError> {
        let Self { app_key, messages } = self;
        publish(ctx, state, app_key, messages)
    }
}

/// Recalls a stored message and stores the `RC:RcCmd` notice of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recall {
    pub app_key: String,
    pub sender: String,
    pub msg_uid: String,
    pub by_admin: bool,
    pub delete: bool,
}

impl Apply for Recall {
    type Answer = Vec<Publication>;

    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<Vec<Publication>, CommandError> {
        let Self {
            app_key,
            sender,
            msg_uid,
            by_admin,
            delete,
        } = self;
        recall(ctx, state, app_key, sender, msg_uid, *by_admin, *delete)
    }
}

/// Sets (`Some`) or deletes (`None`) expansion keys of a stored message (MSG-04).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeExpansion {
    pub app_key: String,
    pub msg_uid: String,
    pub entries: Vec<(String, Option<String>)>,
}

impl Apply for ChangeExpansion {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            msg_uid,
            entries,
        } = self;
        change_expansion(ctx, state, app_key, msg_uid, entries)
    }
}
