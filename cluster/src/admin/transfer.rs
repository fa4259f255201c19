//! An app's data moving in and out: the import of what an app brings from another
//! provider (API-04), and the export of its users, groups, ultra groups, friends,
//! chatrooms, app-wide chatroom sets, conversation settings and history (LIFE-03) as JSON
//! lines, one record per line, which the import takes back.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{error_response, AdminApi, CreateUser};
use crate::client::ClusterError;
use crate::hooks::render::target_id;
use crate::state::chatrooms::{
    ChangeRoomSet, Chatroom, CreateChatrooms, RoomEntry, RoomFlag, RoomSet, SetChatroomFlag,
    SetChatroomIdleDestroy, SetEntry, SetRoomEntries, IDLE_DESTROY_MS,
};
use crate::state::friends::{Friend, ImportFriends};
use crate::state::ultragroups::{rebuild, UltraGroupExport};
use crate::state::{
    ChangeConversation, ChangeUltraGroup, Command, CommandError, Conversation, ConversationSetting,
    ConversationType, ExportPart, Exported, ImportGroupMembers, ImportMessages, ImportedMessage,
    Query, QueryOutput, SetConversationTypeLevel, MAX_EXPORT_PAGE,
};

/// Users, groups, ultra groups, friends, chatrooms, app-wide set entries or messages one
/// import may carry, each.
const MAX_IMPORT_ITEMS: usize = 1000;

/// The content type of an export, and of an import that is one.
const JSON_LINES: &str = "application/x-ndjson";

/// What an app moving in from another provider brings along. Applied whole or not at
/// all.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Import {
    #[serde(default)]
    users: Vec<CreateUser>,
    #[serde(default)]
    groups: Vec<ImportGroup>,
    /// Created with their first member, who must not have them already.
    #[serde(default, rename = "ultraGroups")]
    ultra_groups: Vec<UltraGroupExport>,
    #[serde(default)]
    messages: Vec<ImportMessage>,
    /// Each direction of a friendship as its owner keeps it.
    #[serde(default)]
    friends: Vec<ImportFriend>,
    /// Created if missing, with their settings and attributes.
    #[serde(default)]
    chatrooms: Vec<ImportChatroom>,
    /// Entries of the app-wide chatroom sets.
    #[serde(default, rename = "chatroomSets")]
    chatroom_sets: Vec<ImportAppSetEntry>,
    /// Users' settings of their conversations and push levels of conversation types.
    #[serde(default)]
    conversations: Vec<ImportConversation>,
}

/// One user's settings of one conversation (`conversation`), or its push level of a
/// whole conversation type (`conversationtype`, the commercial `unpushLevel`).
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum ImportConversation {
    #[serde(rename_all = "camelCase")]
    Conversation {
        user_id: String,
        conversation_type: u8,
        target_id: String,
        #[serde(default)]
        channel_id: String,
        muted: bool,
        pinned: bool,
    },
    #[serde(rename = "conversationtype", rename_all = "camelCase")]
    ConversationType {
        user_id: String,
        conversation_type: u8,
        unpush_level: i8,
    },
}

impl ImportConversation {
    /// The writes that put it back, as the Server API's conversation calls make them.
    fn commands(self, key: &str) -> Result<Vec<Command>, CommandError> {
        let kind_of = |code| {
            ConversationType::from_code(code).ok_or_else(|| {
                CommandError::invalid("conversationType", "is not a conversation type")
            })
        };
        Ok(match self {
            ImportConversation::Conversation {
                user_id,
                conversation_type,
                target_id,
                channel_id,
                muted,
                pinned,
            } => {
                let kind = kind_of(conversation_type)?;
                [
                    ConversationSetting::Muted(muted),
                    ConversationSetting::Pinned(pinned),
                ]
                .into_iter()
                .map(|setting| {
                    Command::ChangeConversation(ChangeConversation {
                        app_key: key.to_string(),
                        user_id: user_id.clone(),
                        kind,
                        target_id: target_id.clone(),
                        channel: channel_id.clone(),
                        setting,
                    })
                })
                .collect()
            }
            ImportConversation::ConversationType {
                user_id,
                conversation_type,
                unpush_level,
            } => vec![Command::SetConversationTypeLevel(
                SetConversationTypeLevel {
                    app_key: key.to_string(),
                    user_id,
                    kind: kind_of(conversation_type)?,
                    level: unpush_level,
                },
            )],
        })
    }
}

/// One entry of an app-wide chatroom set: a user muted in every room, or a message type
/// whitelisted or of low priority under load, until its time (0: no end).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ImportAppSetEntry {
    set: AppSet,
    member: String,
    #[serde(default)]
    until_ms: u64,
}

/// The app-wide chatroom sets, as export lines name them.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum AppSet {
    AppMuted,
    MessageWhitelist,
    LowPriority,
}

impl AppSet {
    fn of(set: RoomSet) -> Option<Self> {
        Some(match set {
            RoomSet::AppMuted => AppSet::AppMuted,
            RoomSet::MessageWhitelist => AppSet::MessageWhitelist,
            RoomSet::LowPriority => AppSet::LowPriority,
            _ => return None,
        })
    }

    fn room_set(self) -> RoomSet {
        match self {
            AppSet::AppMuted => RoomSet::AppMuted,
            AppSet::MessageWhitelist => RoomSet::MessageWhitelist,
            AppSet::LowPriority => RoomSet::LowPriority,
        }
    }
}

/// The writes that put set entries `(set, until_ms, member)` of a room (or, without one,
/// of the app) back: one per set and end.
fn set_commands(
    key: &str,
    room_id: Option<&str>,
    entries: impl IntoIterator<Item = (RoomSet, u64, String)>,
) -> Vec<Command> {
    let mut by_set = std::collections::BTreeMap::<(RoomSet, u64), Vec<String>>::new();
    for (set, until_ms, member) in entries {
        by_set.entry((set, until_ms)).or_default().push(member);
    }
    by_set
        .into_iter()
        .map(|((set, until_ms), members)| {
            Command::ChangeRoomSet(ChangeRoomSet {
                app_key: key.to_string(),
                room_id: room_id.map(str::to_string),
                set,
                members,
                until_ms,
                present: true,
            })
        })
        .collect()
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ImportChatroom {
    room_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    muted: bool,
    #[serde(default)]
    distribution_stopped: bool,
    #[serde(default)]
    keep_alive: bool,
    #[serde(default = "idle_destroy_ms")]
    idle_destroy_ms: u64,
    #[serde(default)]
    entries: Vec<ImportEntry>,
    /// Gagged, blocked and whitelisted members, each until its time (0: no end).
    #[serde(default)]
    sets: Vec<ImportSetEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ImportSetEntry {
    set: ImportSet,
    user_id: String,
    #[serde(default)]
    until_ms: u64,
}

/// The room sets an export holds, as its lines name them.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum ImportSet {
    Gagged,
    Blocked,
    UserWhitelist,
    MuteWhitelist,
}

impl ImportSet {
    fn of(set: RoomSet) -> Option<Self> {
        Some(match set {
            RoomSet::Gagged => ImportSet::Gagged,
            RoomSet::Blocked => ImportSet::Blocked,
            RoomSet::UserWhitelist => ImportSet::UserWhitelist,
            RoomSet::MuteWhitelist => ImportSet::MuteWhitelist,
            RoomSet::AppMuted | RoomSet::MessageWhitelist | RoomSet::LowPriority => return None,
        })
    }

    fn room_set(self) -> RoomSet {
        match self {
            ImportSet::Gagged => RoomSet::Gagged,
            ImportSet::Blocked => RoomSet::Blocked,
            ImportSet::UserWhitelist => RoomSet::UserWhitelist,
            ImportSet::MuteWhitelist => RoomSet::MuteWhitelist,
        }
    }
}

fn idle_destroy_ms() -> u64 {
    IDLE_DESTROY_MS
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ImportEntry {
    key: String,
    value: String,
    owner: String,
    #[serde(default)]
    auto_delete: bool,
}

/// A room's attributes by owner and auto-delete choice: each group is one write.
type EntriesByOwner = std::collections::BTreeMap<(String, bool), Vec<(String, String)>>;

impl ImportChatroom {
    fn of(room: Chatroom, entries: Vec<RoomEntry>, sets: Vec<(RoomSet, SetEntry)>) -> Self {
        Self {
            room_id: room.room_id,
            name: room.name,
            muted: room.muted,
            distribution_stopped: room.distribution_stopped,
            keep_alive: room.keep_alive,
            idle_destroy_ms: room.idle_destroy_ms,
            entries: entries
                .into_iter()
                .map(|e| ImportEntry {
                    key: e.key,
                    value: e.value,
                    owner: e.owner,
                    auto_delete: e.auto_delete,
                })
                .collect(),
            sets: sets
                .into_iter()
                .filter_map(|(set, entry)| {
                    Some(ImportSetEntry {
                        set: ImportSet::of(set)?,
                        user_id: entry.member,
                        until_ms: entry.until_ms,
                    })
                })
                .collect(),
        }
    }

    /// What makes the room as exported: created if missing, then its flags, idle time,
    /// attributes (one write per owner and auto-delete choice) and sets (one write per
    /// set and end).
    fn commands(self, key: &str) -> Vec<Command> {
        let app_key = key.to_string();
        let flag = |flag, on| {
            Command::SetChatroomFlag(SetChatroomFlag {
                app_key: app_key.clone(),
                room_ids: vec![self.room_id.clone()],
                flag,
                on,
            })
        };
        let mut commands = vec![
            Command::CreateChatrooms(CreateChatrooms {
                app_key: app_key.clone(),
                rooms: vec![(self.room_id.clone(), self.name.clone())],
            }),
            flag(RoomFlag::Muted, self.muted),
            flag(RoomFlag::DistributionStopped, self.distribution_stopped),
            flag(RoomFlag::KeepAlive, self.keep_alive),
            Command::SetChatroomIdleDestroy(SetChatroomIdleDestroy {
                app_key: app_key.clone(),
                room_id: self.room_id.clone(),
                idle_ms: self.idle_destroy_ms,
            }),
        ];
        let mut by_owner = EntriesByOwner::new();
        for entry in self.entries {
            let owner = (entry.owner, entry.auto_delete);
            by_owner
                .entry(owner)
                .or_default()
                .push((entry.key, entry.value));
        }
        commands.extend(by_owner.into_iter().map(|((owner, auto_delete), entries)| {
            Command::SetRoomEntries(SetRoomEntries {
                app_key: app_key.clone(),
                room_id: self.room_id.clone(),
                owner,
                entries,
                auto_delete,
            })
        }));
        let entries = self
            .sets
            .into_iter()
            .map(|e| (e.set.room_set(), e.until_ms, e.user_id));
        commands.extend(set_commands(key, Some(&self.room_id), entries));
        commands
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ImportFriend {
    user_id: String,
    friend_id: String,
    #[serde(default)]
    remark_name: String,
    /// A JSON object's text (`friendExtProfile`).
    #[serde(default = "empty_object")]
    ext: String,
    #[serde(default)]
    since: u64,
}

fn empty_object() -> String {
    "{}".into()
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportGroup {
    #[serde(rename = "groupId")]
    group_id: String,
    #[serde(default)]
    name: Option<String>,
    members: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ImportMessage {
    conversation_type: u8,
    from_user_id: String,
    target_id: String,
    #[serde(default)]
    channel_id: String,
    object_name: String,
    content: String,
    sent_time: u64,
    #[serde(default, rename = "msgUID")]
    msg_uid: Option<String>,
}

/// One line of an export.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Line {
    User(CreateUser),
    Group(ImportGroup),
    #[serde(rename = "ultragroup")]
    UltraGroup(UltraGroupExport),
    Message(ImportMessage),
    Friend(ImportFriend),
    Chatroom(ImportChatroom),
    #[serde(rename = "chatroomset")]
    ChatroomSet(ImportAppSetEntry),
    #[serde(untagged)]
    Conversation(ImportConversation),
}

impl Line {
    /// The line of an exported record (`None` for what no line carries).
    fn of(record: Exported) -> Option<Self> {
        Some(match record {
            Exported::User(user) => Line::User(CreateUser {
                user_id: user.user_id,
                name: Some(user.name),
                portrait_uri: Some(user.portrait),
                tags: user.tags,
            }),
            Exported::Group(group, members) => Line::Group(ImportGroup {
                group_id: group.group_id,
                name: Some(group.name),
                members,
            }),
            Exported::UltraGroup(group) => Line::UltraGroup(*group),
            Exported::Friend(user_id, friend) => Line::Friend(ImportFriend {
                user_id,
                friend_id: friend.user_id,
                remark_name: friend.remark_name,
                ext: friend.ext,
                since: friend.since_ms,
            }),
            Exported::Chatroom(room, entries, sets) => {
                Line::Chatroom(ImportChatroom::of(*room, entries, sets))
            }
            Exported::Message(message) => Line::Message(ImportMessage {
                conversation_type: message.conversation.kind.code(),
                target_id: target_id(&message).to_string(),
                from_user_id: message.sender,
                channel_id: message.conversation.channel,
                object_name: message.object_name,
                content: message.content,
                sent_time: message.sent_time_ms,
                msg_uid: Some(message.msg_uid),
            }),
            Exported::ChatroomAppSet(set, entry) => Line::ChatroomSet(ImportAppSetEntry {
                set: AppSet::of(set)?,
                member: entry.member,
                until_ms: entry.until_ms,
            }),
            Exported::ConversationSettings(of, settings) => {
                Line::Conversation(ImportConversation::Conversation {
                    user_id: of.user_id,
                    conversation_type: of.kind,
                    target_id: of.target_id,
                    channel_id: of.channel_id,
                    muted: settings.muted,
                    pinned: settings.pinned,
                })
            }
            Exported::ConversationTypeLevel(user_id, kind, level) => {
                Line::Conversation(ImportConversation::ConversationType {
                    user_id,
                    conversation_type: kind,
                    unpush_level: level,
                })
            }
        })
    }
}

/// Whether a request's body is JSON lines (an export) rather than one import object.
pub(super) fn is_json_lines(request: &Request<Bytes>) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(JSON_LINES))
}

impl AdminApi {
    pub(super) async fn import(&self, key: &str, import: Import) -> Result<Value, ClusterError> {
        let too_many = [
            import.users.len(),
            import.groups.len(),
            import.ultra_groups.len(),
            import.messages.len(),
            import.friends.len(),
            import.chatrooms.len(),
            import.chatroom_sets.len(),
            import.conversations.len(),
        ]
        .into_iter()
        .any(|n| n > MAX_IMPORT_ITEMS);
        if too_many {
            return Err(CommandError::Limit {
                what: "users, groups, ultra groups, messages, friends, chatrooms, chatroom \
                       set entries or conversation settings per import"
                    .into(),
                limit: MAX_IMPORT_ITEMS as u64,
            }
            .into());
        }
        let mut messages = Vec::with_capacity(import.messages.len());
        for m in import.messages {
            let kind = ConversationType::from_code(m.conversation_type).ok_or_else(|| {
                CommandError::invalid("conversationType", "is not a conversation type")
            })?;
            let conversation = match kind {
                ConversationType::Private => {
                    Conversation::private(&m.from_user_id, &m.target_id, &m.channel_id)
                }
                ConversationType::System => Conversation::system(&m.from_user_id, &m.target_id),
                other => Conversation::group_like(other, &m.target_id, &m.channel_id),
            };
            messages.push(ImportedMessage {
                conversation,
                sender: m.from_user_id,
                object_name: m.object_name,
                content: m.content,
                sent_time_ms: m.sent_time,
                msg_uid: m.msg_uid,
            });
        }
        let mut ultra_group_changes = Vec::new();
        for group in &import.ultra_groups {
            let changes = rebuild(group).ok_or_else(|| {
                CommandError::invalid(
                    "members",
                    format!("ultra group {} has none", group.group_id),
                )
            })?;
            ultra_group_changes.extend(changes.into_iter().map(|change| {
                Command::UltraGroup(ChangeUltraGroup {
                    app_key: key.to_string(),
                    group_id: group.group_id.clone(),
                    change,
                })
            }));
        }
        let (users, groups, count) = (import.users.len(), import.groups.len(), messages.len());
        let (ultra_groups, friend_count) = (import.ultra_groups.len(), import.friends.len());
        let (chatroom_count, set_count) = (import.chatrooms.len(), import.chatroom_sets.len());
        let entries = import
            .chatroom_sets
            .into_iter()
            .map(|e| (e.set.room_set(), e.until_ms, e.member));
        let app_set_writes = set_commands(key, None, entries);
        let conversation_count = import.conversations.len();
        let mut conversation_commands = Vec::new();
        for conversation in import.conversations {
            conversation_commands.extend(conversation.commands(key)?);
        }
        let chatroom_commands: Vec<Command> = import
            .chatrooms
            .into_iter()
            .flat_map(|room| room.commands(key))
            .collect();
        let friends: Vec<(String, Friend)> = import
            .friends
            .into_iter()
            .map(|f| {
                let friend = Friend {
                    user_id: f.friend_id,
                    remark_name: f.remark_name,
                    ext: f.ext,
                    since_ms: f.since,
                };
                (f.user_id, friend)
            })
            .collect();
        let commands: Vec<Command> = import
            .users
            .into_iter()
            .flat_map(|user| user.commands(key))
            .chain(import.groups.into_iter().map(|group| {
                Command::ImportGroupMembers(ImportGroupMembers {
                    app_key: key.to_string(),
                    group_id: group.group_id,
                    name: group.name,
                    user_ids: group.members,
                })
            }))
            .chain(ultra_group_changes)
            .chain((!friends.is_empty()).then(|| {
                Command::ImportFriends(ImportFriends {
                    app_key: key.to_string(),
                    friends,
                })
            }))
            .chain(chatroom_commands)
            .chain(app_set_writes)
            .chain(conversation_commands)
            .chain((!messages.is_empty()).then(|| {
                Command::ImportMessages(ImportMessages {
                    app_key: key.to_string(),
                    messages,
                })
            }))
            .collect();
        self.cluster
            .write_one(self.envelope(Command::All(commands)))
            .await?;
        Ok(json!({
            "users": users,
            "groups": groups,
            "ultraGroups": ultra_groups,
            "messages": count,
            "friends": friend_count,
            "chatrooms": chatroom_count,
            "chatroomSets": set_count,
            "conversations": conversation_count,
        }))
    }

    /// An export's lines, every one checked before anything is written, then applied in
    /// order, up to [`MAX_IMPORT_ITEMS`] of a kind per step (each step whole or not at
    /// all). A refused step stops the import; the steps before it stay.
    pub(super) async fn import_lines(&self, key: &str, body: &[u8]) -> Result<Value, ClusterError> {
        let text =
            std::str::from_utf8(body).map_err(|_| CommandError::invalid("body", "is not UTF-8"))?;
        let mut steps = vec![Import::default()];
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let line: Line = serde_json::from_str(line)
                .map_err(|e| CommandError::invalid("body", format!("line {}: {e}", number + 1)))?;
            let step = steps.last_mut().expect("never empty");
            let full = match &line {
                Line::User(_) => step.users.len(),
                Line::Group(_) => step.groups.len(),
                Line::UltraGroup(_) => step.ultra_groups.len(),
                Line::Message(_) => step.messages.len(),
                Line::Friend(_) => step.friends.len(),
                Line::Chatroom(_) => step.chatrooms.len(),
                Line::ChatroomSet(_) => step.chatroom_sets.len(),
                Line::Conversation(_) => step.conversations.len(),
            } == MAX_IMPORT_ITEMS;
            if full {
                steps.push(Import::default());
            }
            let step = steps.last_mut().expect("never empty");
            match line {
                Line::User(user) => step.users.push(user),
                Line::Group(group) => step.groups.push(group),
                Line::UltraGroup(group) => step.ultra_groups.push(group),
                Line::Message(message) => step.messages.push(message),
                Line::Friend(friend) => step.friends.push(friend),
                Line::Chatroom(room) => step.chatrooms.push(room),
                Line::ChatroomSet(entry) => step.chatroom_sets.push(entry),
                Line::Conversation(conversation) => step.conversations.push(conversation),
            }
        }
        const KINDS: [&str; 8] = [
            "users",
            "groups",
            "ultraGroups",
            "friends",
            "chatrooms",
            "chatroomSets",
            "conversations",
            "messages",
        ];
        let mut totals = [0u64; 8];
        for step in steps {
            let done = self.import(key, step).await?;
            for (total, kind) in totals.iter_mut().zip(KINDS) {
                *total += done[kind].as_u64().unwrap_or(0);
            }
        }
        Ok(Value::Object(
            KINDS
                .into_iter()
                .zip(totals)
                .map(|(kind, total)| (kind.to_string(), json!(total)))
                .collect(),
        ))
    }

    /// The app's users, groups, ultra groups, friends, chatrooms, app-wide chatroom sets,
    /// conversation settings and history as JSON lines, read a page at a time; history
    /// last, so an import has the conversations before their messages.
    pub(super) async fn export(&self, key: &str) -> Response<Bytes> {
        let mut out = Vec::new();
        let parts = [
            ExportPart::Users,
            ExportPart::Groups,
            ExportPart::UltraGroups,
            ExportPart::Friends,
            ExportPart::Chatrooms,
            ExportPart::ChatroomAppSets,
            ExportPart::ConversationSettings,
            ExportPart::ConversationTypeLevels,
            ExportPart::Messages,
        ];
        for part in parts {
            let mut after = Vec::new();
            loop {
                let query = Query::Export {
                    app_key: key.to_string(),
                    part,
                    after,
                    limit: MAX_EXPORT_PAGE,
                };
                let page = match self.cluster.read(query).await {
                    Ok(QueryOutput::Export(page)) => page,
                    Ok(other) => {
                        return error_response(&ClusterError::Protocol(format!("{other:?}")))
                    }
                    Err(error) => return error_response(&error),
                };
                for line in page.records.into_iter().filter_map(Line::of) {
                    // A line serializes whole: these types have no fallible field.
                    serde_json::to_writer(&mut out, &line).unwrap_or_default();
                    out.push(b'\n');
                }
                match page.next {
                    Some(next) => after = next,
                    None => break,
                }
            }
        }
        Response::builder()
            .status(StatusCode::OK)
            .header(http::header::CONTENT_TYPE, JSON_LINES)
            .body(Bytes::from(out))
            .unwrap_or_default()
    }
}
