//! The replicated state of one area and the commands that change it.
//!
//! A Raft entry carries a [`Batch`] of [`Envelope`]s; each envelope is one command of one
//! caller and gets its own result, so one caller's bad input never fails another's write.
//! Later features add [`Command`] variants and key spaces here without touching the Raft
//! plumbing. Every key is built in [`keys`]: a family prefix, then (for per-app records)
//! the App Key, so a later split into many Raft groups is a routing change.

pub(crate) mod apps;
pub mod areas;
pub mod chatrooms;
pub mod conversations;
pub mod feed;
pub mod groups;
pub(crate) mod keys;
pub mod messages;
pub mod outbox;
pub mod presence;
pub mod push;
pub mod sensitive;
mod store;
pub mod ultragroups;
mod users;

use std::fmt;

use meridian_regions::{AreaCode, CatalogEntry};
use serde::{Deserialize, Serialize};

pub use apps::{
    App, AppEnv, AppSettings, CallbackSettings, Credentials, ModerationDefault, ModerationRule,
    PushApp, PushSettings,
};
pub use chatrooms::{Chatroom, Priority, RoomEntry, RoomFlag, RoomSet, SetEntry};
pub use conversations::{ConversationSetting, ConversationSettings, ConversationSummary};
pub use feed::{FeedEvent, FeedPage, SyncPage, SyncRequest};
pub use groups::{Group, Member};
pub use messages::{
    ClientOrigin, Conversation, ConversationType, ExpansionEntry, HistoryPage, ImportedMessage,
    Message, MessageFlags, NewMessage, Publication,
};
pub use outbox::{DeviceStatus, HookEvent, Job, RoomCause, RoomChange, RoomEvent, StatusChange};
pub use presence::SessionRecord;
pub use push::{DeviceToken, PushJob, PushProvider};
pub use sensitive::SensitiveWord;
pub use store::{Overlay, StateRead};
pub use ultragroups::{
    Channel, UltraGroup, UltraGroupAnswer, UltraGroupChange, UltraGroupQuestion, UltraGroupSet,
};
pub use users::{Block, User, UserList};

/// One Raft entry's worth of commands, stamped by the leader with the time they are
/// applied at (so every replica computes the same state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub issued_at_ms: u64,
    pub commands: Vec<Envelope>,
}

impl fmt::Display for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "batch of {} commands @{}",
            self.commands.len(),
            self.issued_at_ms
        )
    }
}

/// A [`Batch`] as Raft carries it: encoded once by the leader, then stored, replicated
/// and re-stored as opaque bytes (cheap to clone), and decoded only when applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodedBatch(pub bytes::Bytes);

impl EncodedBatch {
    pub fn encode(batch: &Batch) -> std::io::Result<Self> {
        Ok(Self(crate::raft::wire::to_bytes(batch)?.into()))
    }

    pub fn decode(&self) -> std::io::Result<Batch> {
        crate::raft::wire::from_bytes(&self.0)
    }
}

impl fmt::Display for EncodedBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "encoded batch of {} bytes", self.0.len())
    }
}

/// The results of a [`Batch`], in command order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchOutcome(pub Vec<Result<Output, CommandError>>);

/// A command and the area its caller believes the app lives in; the state machine
/// refuses it unless that is this cluster's area (residency guard, NAV-05).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub area: AreaCode,
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Credentials are chosen before proposing (by the caller or the admin API), never
    /// generated while applying: every replica must compute the same state.
    CreateApp {
        name: String,
        dev: Credentials,
        prod: Credentials,
    },
    DeleteApp {
        app_key: String,
    },
    /// A member's remark in a group (`None` removes it).
    SetGroupRemark {
        app_key: String,
        group_id: String,
        user_id: String,
        remark: Option<String>,
    },
    /// How long a room may stay idle before it is destroyed.
    SetChatroomIdleDestroy {
        app_key: String,
        room_id: String,
        idle_ms: u64,
    },
    /// Deletes the hourly archive of the hour starting at `hour_start_ms`.
    DeleteArchiveHour {
        app_key: String,
        hour_start_ms: u64,
    },
    /// Moves in another provider's history (API-04).
    ImportMessages {
        app_key: String,
        messages: Vec<ImportedMessage>,
    },
    /// Replaces an app environment's settings.
    SetAppSettings {
        app_key: String,
        settings: AppSettings,
    },
    /// Creates the user or updates it; a name or portrait not given stays as it was.
    PutUser {
        app_key: String,
        user_id: String,
        name: Option<String>,
        portrait: Option<String>,
    },
    /// Stores messages (one per conversation); each gets a `msgUID` and, unless it is a
    /// status message, the next `seq` of its conversation.
    Publish {
        app_key: String,
        messages: Vec<NewMessage>,
    },
    /// Recalls a stored message and stores the `RC:RcCmd` notice of it.
    Recall {
        app_key: String,
        sender: String,
        msg_uid: String,
        by_admin: bool,
        delete: bool,
    },
    /// Adds members, creating the group (with this name) if needed.
    JoinGroup {
        app_key: String,
        group_id: String,
        name: Option<String>,
        user_ids: Vec<String>,
    },
    /// Adds members moved in from another provider: members since the start (API-04).
    ImportGroupMembers {
        app_key: String,
        group_id: String,
        name: Option<String>,
        user_ids: Vec<String>,
    },
    QuitGroup {
        app_key: String,
        group_id: String,
        user_ids: Vec<String>,
    },
    DismissGroup {
        app_key: String,
        group_id: String,
    },
    RenameGroup {
        app_key: String,
        group_id: String,
        name: String,
    },
    /// Mutes members of a group until `until_ms` (0 lifts it).
    MuteGroupMembers {
        app_key: String,
        group_id: String,
        user_ids: Vec<String>,
        until_ms: u64,
    },
    /// Turns whole-group mute on or off.
    SetGroupMuted {
        app_key: String,
        group_ids: Vec<String>,
        muted: bool,
    },
    ChangeGroupMuteWhitelist {
        app_key: String,
        group_id: String,
        user_ids: Vec<String>,
        present: bool,
    },
    /// Creates the chatrooms that do not exist yet.
    CreateChatrooms {
        app_key: String,
        rooms: Vec<(String, String)>,
    },
    DestroyChatrooms {
        app_key: String,
        room_ids: Vec<String>,
    },
    SetChatroomFlag {
        app_key: String,
        room_ids: Vec<String>,
        flag: RoomFlag,
        on: bool,
    },
    /// Adds or removes members of a room's (or the app's) set; `until_ms` 0: no end.
    ChangeRoomSet {
        app_key: String,
        room_id: Option<String>,
        set: RoomSet,
        members: Vec<String>,
        until_ms: u64,
        present: bool,
    },
    SetRoomEntries {
        app_key: String,
        room_id: String,
        owner: String,
        entries: Vec<(String, String)>,
        auto_delete: bool,
    },
    RemoveRoomEntry {
        app_key: String,
        room_id: String,
        key: String,
    },
    /// A client session joins a room (leaving any other).
    JoinChatroom {
        app_key: String,
        room_id: String,
        user_id: String,
    },
    /// A member's session ended: it is auto-exited once it misses too much (CHR-07).
    ChatroomMemberOffline {
        app_key: String,
        room_id: String,
        user_id: String,
    },
    /// Members leave a room; non-members are skipped.
    QuitChatroom {
        app_key: String,
        room_id: String,
        user_ids: Vec<String>,
    },
    /// A client session started or ended on an edge.
    Presence {
        app_key: String,
        user_id: String,
        record: SessionRecord,
        status: DeviceStatus,
    },
    /// An edge renews its lease: its sessions count as online for another 30 s.
    EdgeAlive {
        edge_id: u64,
    },
    /// An edge shut down: its sessions are gone.
    EdgeStopped {
        edge_id: u64,
    },
    /// Clears the sessions of edges whose lease ran out (the leader proposes it).
    ExpireEdges,
    /// Changes one ultra group (ULG).
    UltraGroup {
        app_key: String,
        group_id: String,
        change: UltraGroupChange,
    },
    /// A user deletes messages from its own view of a conversation, or clears it up to an
    /// instant (PRV-05).
    DeleteForUser {
        app_key: String,
        user_id: String,
        conversation: Conversation,
        before_ms: Option<u64>,
        msg_uids: Vec<String>,
    },
    /// A user has read a conversation up to `seq` (clears its unread count).
    MarkRead {
        app_key: String,
        user_id: String,
        conversation: Conversation,
        seq: u64,
    },
    /// A member has read these group messages (GRP-03).
    GroupReadReceipt {
        app_key: String,
        group_id: String,
        user_id: String,
        msg_uids: Vec<String>,
    },
    /// Destroys the app's rooms idle for an hour (CHR-08) and auto-exits offline members
    /// 30 s after the first message they missed (CHR-07), as of the entry's time.
    DestroyIdleChatrooms {
        app_key: String,
    },
    /// Sets (`Some`) or deletes (`None`) expansion keys of a stored message (MSG-04).
    ChangeExpansion {
        app_key: String,
        msg_uid: String,
        entries: Vec<(String, Option<String>)>,
    },
    /// Mutes or pins a conversation for one user.
    ChangeConversation {
        app_key: String,
        user_id: String,
        kind: ConversationType,
        target_id: String,
        channel: String,
        setting: ConversationSetting,
    },
    /// Push level of a whole conversation type for one user.
    SetConversationTypeLevel {
        app_key: String,
        user_id: String,
        kind: ConversationType,
        level: i8,
    },
    /// All of these or none: the first refusal undoes the others.
    All(Vec<Command>),
    /// Updates an existing user's name and/or portrait.
    RefreshUser {
        app_key: String,
        user_id: String,
        name: Option<String>,
        portrait: Option<String>,
    },
    /// Tokens issued before `before_ms` stop being valid.
    ExpireTokens {
        app_key: String,
        user_id: String,
        before_ms: u64,
    },
    /// Replaces the user's tags.
    SetTags {
        app_key: String,
        user_id: String,
        tags: Vec<String>,
    },
    /// Bans users until `until_ms`.
    BlockUsers {
        app_key: String,
        user_ids: Vec<String>,
        until_ms: u64,
    },
    UnblockUsers {
        app_key: String,
        user_ids: Vec<String>,
    },
    /// Adds (`present`) or removes users on one user's blacklist or whitelist.
    ChangeUserList {
        app_key: String,
        list: UserList,
        user_id: String,
        others: Vec<String>,
        present: bool,
    },
    // Variants are appended, never inserted: edges and nodes of two versions exchange
    // commands by position during a rolling upgrade.
    /// The app server took these callbacks (the dispatcher reports it).
    OutboxDelivered {
        ids: Vec<u64>,
    },
    /// These callbacks failed, with why: retried later or dead-lettered.
    OutboxFailed {
        failures: Vec<(u64, String)>,
    },
    /// The app's dead letters go back into the outbox.
    RetryDeadLetters {
        app_key: String,
    },
    /// Adds a sensitive word (HOOK-06), replaced by `replace` or (`None`) refused.
    AddSensitiveWord {
        app_key: String,
        word: String,
        replace: Option<String>,
    },
    DeleteSensitiveWords {
        app_key: String,
        words: Vec<String>,
    },
    /// A device registers (or replaces) its push token.
    RegisterPushToken {
        app_key: String,
        user_id: String,
        device: DeviceToken,
    },
    /// A device stops getting pushes: it logged out (`token` None), or its provider said
    /// the token is gone (only if it is still that token).
    UnregisterPushToken {
        app_key: String,
        user_id: String,
        device_id: String,
        token: Option<String>,
    },
    /// Creates or replaces an entry of the area catalog.
    PutAreaEntry(CatalogEntry),
    DeleteAreaEntry {
        code: AreaCode,
    },
    /// A push-only notification (SYS-03).
    PushNotice {
        app_key: String,
        notice: push::Notice,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Output {
    App(App),
    AppDeleted {
        app_key: String,
        users_removed: u64,
    },
    User(User),
    Published(Vec<Publication>),
    Group(Group),
    Conversation(ConversationSettings),
    Settings(AppSettings),
    /// How many records an import added.
    Imported(u64),
    /// Rooms destroyed.
    Destroyed(Vec<String>),
    Done,
    /// How many records a command moved (dead letters retried).
    Count(u64),
    /// The callbacks that became dead letters.
    Dead(Vec<u64>),
    AreaEntry(CatalogEntry),
    /// A push-only notification's id and how many devices it reaches.
    Notice {
        id: String,
        devices: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Query {
    /// The area's feed after a position (edges tail it).
    Feed {
        after: u64,
        limit: usize,
    },
    UltraGroup {
        app_key: String,
        group_id: String,
        question: UltraGroupQuestion,
    },
    /// The ultra groups a user belongs to.
    UserUltraGroups {
        app_key: String,
        user_id: String,
    },
    GroupRemark {
        app_key: String,
        group_id: String,
        user_id: String,
    },
    /// The messages sent in one UTC hour (the hourly archive).
    ArchiveHour {
        app_key: String,
        hour_start_ms: u64,
    },
    /// A user's live client sessions at `now_ms`.
    Online {
        app_key: String,
        user_id: String,
        now_ms: u64,
    },
    /// A user's conversation list with unread counts (MSG-03).
    Conversations {
        app_key: String,
        user_id: String,
        limit: usize,
    },
    /// Who read a group message (GRP-03).
    Readers {
        app_key: String,
        msg_uid: String,
    },
    /// A user and its ban, checked when a client connects.
    UserAccess {
        app_key: String,
        user_id: String,
    },
    /// What a user's device missed after its cursor.
    Sync {
        app_key: String,
        request: SyncRequest,
    },
    /// The app owning this key (dev or prod).
    GetApp {
        app_key: String,
    },
    ListApps,
    AppSettings {
        app_key: String,
    },
    GetUser {
        app_key: String,
        user_id: String,
    },
    /// Bans in force at `now_ms`.
    BlockedUsers {
        app_key: String,
        now_ms: u64,
    },
    UserList {
        app_key: String,
        list: UserList,
        user_id: String,
    },
    /// Users that exist among `user_ids`, with their tags.
    Users {
        app_key: String,
        user_ids: Vec<String>,
    },
    /// A page of a conversation's history.
    History {
        app_key: String,
        page: HistoryPage,
    },
    GetMessage {
        app_key: String,
        msg_uid: String,
    },
    GroupMembers {
        app_key: String,
        group_id: String,
    },
    UserGroups {
        app_key: String,
        user_id: String,
    },
    MutedGroups {
        app_key: String,
    },
    GroupMuteWhitelist {
        app_key: String,
        group_id: String,
    },
    /// Rooms by id, or all the app's rooms when `room_ids` is empty.
    Chatrooms {
        app_key: String,
        room_ids: Vec<String>,
    },
    RoomSetMembers {
        app_key: String,
        room_id: Option<String>,
        set: RoomSet,
        now_ms: u64,
    },
    RoomEntries {
        app_key: String,
        room_id: String,
        keys: Vec<String>,
    },
    RoomMembers {
        app_key: String,
        room_id: String,
    },
    Expansion {
        app_key: String,
        msg_uid: String,
    },
    ConversationSettings {
        app_key: String,
        user_id: String,
        kind: ConversationType,
        target_id: String,
        channel: String,
    },
    ConversationTypeLevel {
        app_key: String,
        user_id: String,
        kind: ConversationType,
    },
    Counts,
    /// Callbacks waiting after an outbox id, oldest first, and how many wait in all.
    Outbox {
        after: u64,
        limit: usize,
    },
    DeadLetters {
        app_key: String,
        limit: usize,
    },
    SensitiveWords {
        app_key: String,
    },
    AreaCatalog,
    AreaEntry {
        code: AreaCode,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QueryOutput {
    Feed(FeedPage),
    Sync(SyncPage),
    /// The user, its ban if any, and its app's settings (all a connecting client needs).
    Access(User, Option<Block>, AppSettings),
    Settings(AppSettings),
    ConversationList(Vec<ConversationSummary>),
    Sessions(Vec<SessionRecord>),
    Remark(Option<String>),
    UltraGroup(UltraGroupAnswer),
    /// (user, ms), oldest first.
    Readers(Vec<(String, u64)>),
    App(App, AppEnv),
    Apps(Vec<App>),
    User(User),
    Users(Vec<User>),
    Blocked(Vec<Block>),
    UserIds(Vec<String>),
    Messages(Vec<Message>),
    Members(Group, Vec<Member>),
    Groups(Vec<Group>),
    Chatrooms(Vec<Chatroom>),
    SetEntries(Vec<SetEntry>),
    RoomEntries(Vec<RoomEntry>),
    /// (user, joined at ms), oldest first.
    RoomMembers(Vec<(String, u64)>),
    Expansion(Vec<ExpansionEntry>),
    Conversation(ConversationSettings),
    Level(i8),
    Counts {
        apps: u64,
        users: u64,
    },
    Jobs {
        jobs: Vec<Job>,
        waiting: u64,
    },
    SensitiveWords(Vec<SensitiveWord>),
    AreaCatalog(Vec<CatalogEntry>),
    AreaEntry(CatalogEntry),
}

/// Why a command or query was refused. Each variant maps to one wire code at the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CommandError {
    #[error("this cluster serves area {cluster}; the request was for area {requested}")]
    WrongArea {
        cluster: AreaCode,
        requested: AreaCode,
    },
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{what} already exists")]
    Conflict { what: String },
    #[error("limit reached: {what} (at most {limit})")]
    Limit { what: String, limit: u64 },
    #[error("forbidden: {reason}")]
    Forbidden { reason: String },
    #[error("not a member of {what}")]
    NotMember { what: String },
    #[error("muted in {what}")]
    Muted { what: String },
    #[error("a dev environment holds at most {limit} users")]
    DevUserLimit { limit: u64 },
    #[error("a group holds at most {limit} members")]
    MemberCap { limit: u64 },
    #[error("storage: {0}")]
    Storage(String),
}

impl CommandError {
    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        CommandError::Invalid {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        CommandError::NotFound { what: what.into() }
    }
}

impl From<std::io::Error> for CommandError {
    fn from(e: std::io::Error) -> Self {
        CommandError::Storage(e.to_string())
    }
}

/// What applying a command may depend on besides the state: identical on every replica.
#[derive(Debug, Clone, Copy)]
pub struct ApplyContext {
    pub area: AreaCode,
    pub now_ms: u64,
}

/// Applies one command to the batch's overlay. On error nothing it wrote stays.
pub fn apply(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    envelope: &Envelope,
) -> Result<Output, CommandError> {
    if envelope.area != ctx.area {
        return Err(CommandError::WrongArea {
            cluster: ctx.area,
            requested: envelope.area,
        });
    }
    let checkpoint = state.checkpoint();
    let result = execute(ctx, state, &envelope.command);
    if result.is_err() {
        state.rollback(checkpoint);
    }
    result
}

fn execute(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    command: &Command,
) -> Result<Output, CommandError> {
    match command {
        Command::Publish { app_key, messages } => {
            messages::publish(ctx, state, app_key, messages).map(Output::Published)
        }
        Command::Recall {
            app_key,
            sender,
            msg_uid,
            by_admin,
            delete,
        } => messages::recall(ctx, state, app_key, sender, msg_uid, *by_admin, *delete)
            .map(Output::Published),
        Command::JoinGroup {
            app_key,
            group_id,
            name,
            user_ids,
        } => groups::join(
            ctx,
            state,
            app_key,
            group_id,
            name.as_deref(),
            user_ids,
            groups::JoinedSince::Now,
        )
        .map(Output::Group),
        Command::ImportGroupMembers {
            app_key,
            group_id,
            name,
            user_ids,
        } => groups::join(
            ctx,
            state,
            app_key,
            group_id,
            name.as_deref(),
            user_ids,
            groups::JoinedSince::Always,
        )
        .map(Output::Group),
        Command::QuitGroup {
            app_key,
            group_id,
            user_ids,
        } => groups::quit(state, app_key, group_id, user_ids).map(Output::Group),
        Command::DismissGroup { app_key, group_id } => {
            groups::dismiss(state, app_key, group_id).map(|()| Output::Done)
        }
        Command::RenameGroup {
            app_key,
            group_id,
            name,
        } => groups::rename(state, app_key, group_id, name).map(Output::Group),
        Command::MuteGroupMembers {
            app_key,
            group_id,
            user_ids,
            until_ms,
        } => groups::mute_members(state, app_key, group_id, user_ids, *until_ms)
            .map(|()| Output::Done),
        Command::SetGroupMuted {
            app_key,
            group_ids,
            muted,
        } => {
            for group_id in group_ids {
                groups::set_muted(state, app_key, group_id, *muted)?;
            }
            Ok(Output::Done)
        }
        Command::ChangeGroupMuteWhitelist {
            app_key,
            group_id,
            user_ids,
            present,
        } => groups::change_mute_whitelist(state, app_key, group_id, user_ids, *present)
            .map(|()| Output::Done),
        Command::CreateChatrooms { app_key, rooms } => {
            chatrooms::create(ctx, state, app_key, rooms).map(|()| Output::Done)
        }
        Command::DestroyChatrooms { app_key, room_ids } => {
            chatrooms::destroy(ctx, state, app_key, room_ids, outbox::RoomCause::Requested)
                .map(|()| Output::Done)
        }
        Command::SetChatroomFlag {
            app_key,
            room_ids,
            flag,
            on,
        } => chatrooms::set_flag(state, app_key, room_ids, *flag, *on).map(|()| Output::Done),
        Command::ChangeRoomSet {
            app_key,
            room_id,
            set,
            members,
            until_ms,
            present,
        } => chatrooms::change_set(
            ctx,
            state,
            app_key,
            room_id.as_deref(),
            *set,
            members,
            present.then_some(*until_ms),
        )
        .map(|()| Output::Done),
        Command::SetRoomEntries {
            app_key,
            room_id,
            owner,
            entries,
            auto_delete,
        } => chatrooms::set_entries(ctx, state, app_key, room_id, owner, entries, *auto_delete)
            .map(|()| Output::Done),
        Command::RemoveRoomEntry {
            app_key,
            room_id,
            key,
        } => chatrooms::remove_entry(state, app_key, room_id, key).map(|()| Output::Done),
        Command::JoinChatroom {
            app_key,
            room_id,
            user_id,
        } => chatrooms::join(ctx, state, app_key, room_id, user_id).map(|()| Output::Done),
        Command::QuitChatroom {
            app_key,
            room_id,
            user_ids,
        } => chatrooms::leave(
            ctx,
            state,
            app_key,
            room_id,
            user_ids,
            outbox::RoomCause::Requested,
        )
        .map(|()| Output::Done),
        Command::ChatroomMemberOffline {
            app_key,
            room_id,
            user_id,
        } => {
            chatrooms::member_offline(ctx, state, app_key, room_id, user_id).map(|()| Output::Done)
        }
        Command::Presence {
            app_key,
            user_id,
            record,
            status,
        } => presence::change(ctx, state, app_key, user_id, record, *status).map(|()| Output::Done),
        Command::EdgeAlive { edge_id } => {
            presence::renew(ctx, state, *edge_id).map(|()| Output::Done)
        }
        Command::EdgeStopped { edge_id } => {
            presence::edge_stopped(ctx, state, *edge_id).map(|()| Output::Done)
        }
        Command::ExpireEdges => presence::expire(ctx, state).map(|()| Output::Done),
        Command::UltraGroup {
            app_key,
            group_id,
            change,
        } => ultragroups::change(ctx, state, app_key, group_id, change).map(Output::Published),
        Command::DeleteForUser {
            app_key,
            user_id,
            conversation,
            before_ms,
            msg_uids,
        } => conversations::delete_for_user(
            state,
            app_key,
            user_id,
            conversation,
            *before_ms,
            msg_uids,
        )
        .map(|()| Output::Done),
        Command::MarkRead {
            app_key,
            user_id,
            conversation,
            seq,
        } => conversations::mark_read(state, app_key, user_id, conversation, *seq)
            .map(|()| Output::Done),
        Command::GroupReadReceipt {
            app_key,
            group_id,
            user_id,
            msg_uids,
        } => groups::read_receipt(ctx, state, app_key, group_id, user_id, msg_uids)
            .map(Output::Published),
        Command::DestroyIdleChatrooms { app_key } => {
            chatrooms::destroy_idle(ctx, state, app_key).map(Output::Destroyed)
        }
        Command::ChangeExpansion {
            app_key,
            msg_uid,
            entries,
        } => {
            messages::change_expansion(ctx, state, app_key, msg_uid, entries).map(|()| Output::Done)
        }
        Command::ChangeConversation {
            app_key,
            user_id,
            kind,
            target_id,
            channel,
            setting,
        } => conversations::change(state, app_key, user_id, *kind, target_id, channel, *setting)
            .map(Output::Conversation),
        Command::SetConversationTypeLevel {
            app_key,
            user_id,
            kind,
            level,
        } => conversations::set_type_level(state, app_key, user_id, *kind, *level)
            .map(|()| Output::Done),
        Command::OutboxDelivered { ids } => outbox::delivered(state, ids).map(|()| Output::Done),
        Command::OutboxFailed { failures } => {
            outbox::failed(ctx, state, failures).map(Output::Dead)
        }
        Command::RetryDeadLetters { app_key } => {
            outbox::retry_dead(state, app_key).map(Output::Count)
        }
        Command::AddSensitiveWord {
            app_key,
            word,
            replace,
        } => sensitive::add(state, app_key, word, replace.as_deref()).map(|()| Output::Done),
        Command::DeleteSensitiveWords { app_key, words } => {
            sensitive::delete(state, app_key, words).map(|()| Output::Done)
        }
        Command::RegisterPushToken {
            app_key,
            user_id,
            device,
        } => push::register(state, app_key, user_id, device).map(|()| Output::Done),
        Command::UnregisterPushToken {
            app_key,
            user_id,
            device_id,
            token,
        } => push::unregister(state, app_key, user_id, device_id, token.as_deref())
            .map(|()| Output::Done),
        Command::PutAreaEntry(entry) => areas::put(state, entry).map(Output::AreaEntry),
        Command::DeleteAreaEntry { code } => areas::delete(state, *code).map(|()| Output::Done),
        Command::PushNotice { app_key, notice } => outbox::notice(ctx, state, app_key, notice)
            .map(|(id, devices)| Output::Notice { id, devices }),
        Command::All(commands) => {
            for command in commands {
                execute(ctx, state, command)?;
            }
            Ok(Output::Done)
        }
        Command::CreateApp { name, dev, prod } => {
            apps::create(ctx, state, name, dev, prod).map(Output::App)
        }
        Command::DeleteApp { app_key } => apps::delete(state, app_key),
        Command::SetGroupRemark {
            app_key,
            group_id,
            user_id,
            remark,
        } => groups::set_remark(state, app_key, group_id, user_id, remark.as_deref())
            .map(|()| Output::Done),
        Command::SetChatroomIdleDestroy {
            app_key,
            room_id,
            idle_ms,
        } => chatrooms::set_idle_destroy(state, app_key, room_id, *idle_ms).map(|()| Output::Done),
        Command::DeleteArchiveHour {
            app_key,
            hour_start_ms,
        } => messages::archive::delete_hour(state, app_key, *hour_start_ms).map(|()| Output::Done),
        Command::ImportMessages { app_key, messages } => {
            messages::import(ctx, state, app_key, messages).map(Output::Imported)
        }
        Command::SetAppSettings { app_key, settings } => {
            apps::set_settings(state, app_key, settings).map(Output::Settings)
        }
        Command::PutUser {
            app_key,
            user_id,
            name,
            portrait,
        } => users::put(
            ctx,
            state,
            app_key,
            user_id,
            name.as_deref(),
            portrait.as_deref(),
        )
        .map(Output::User),
        Command::RefreshUser {
            app_key,
            user_id,
            name,
            portrait,
        } => users::refresh(
            state,
            app_key,
            user_id,
            name.as_deref(),
            portrait.as_deref(),
        )
        .map(Output::User),
        Command::ExpireTokens {
            app_key,
            user_id,
            before_ms,
        } => users::expire_tokens(state, app_key, user_id, *before_ms).map(Output::User),
        Command::SetTags {
            app_key,
            user_id,
            tags,
        } => users::set_tags(state, app_key, user_id, tags).map(Output::User),
        Command::BlockUsers {
            app_key,
            user_ids,
            until_ms,
        } => users::block(state, app_key, user_ids, *until_ms).map(|()| Output::Done),
        Command::UnblockUsers { app_key, user_ids } => {
            users::unblock(state, app_key, user_ids).map(|()| Output::Done)
        }
        Command::ChangeUserList {
            app_key,
            list,
            user_id,
            others,
            present,
        } => users::change_list(state, app_key, *list, user_id, others, *present)
            .map(|()| Output::Done),
    }
}

/// Answers a query from committed state.
pub fn query(state: &impl StateRead, query: &Query) -> Result<QueryOutput, CommandError> {
    match query {
        Query::GetApp { app_key } => {
            let (app, env) = apps::by_key(state, app_key)?;
            Ok(QueryOutput::App(app, env))
        }
        Query::ListApps => apps::list(state).map(QueryOutput::Apps),
        Query::AppSettings { app_key } => apps::settings(state, app_key).map(QueryOutput::Settings),
        Query::Feed { after, limit } => feed::page(state, *after, *limit).map(QueryOutput::Feed),
        Query::Conversations {
            app_key,
            user_id,
            limit,
        } => {
            conversations::list(state, app_key, user_id, *limit).map(QueryOutput::ConversationList)
        }
        Query::UltraGroup {
            app_key,
            group_id,
            question,
        } => ultragroups::answer(state, app_key, group_id, question).map(QueryOutput::UltraGroup),
        Query::UserUltraGroups { app_key, user_id } => {
            apps::by_key(state, app_key)?;
            ultragroups::of_user(state, app_key, user_id).map(QueryOutput::UserIds)
        }
        Query::ArchiveHour {
            app_key,
            hour_start_ms,
        } => messages::archive::hour(state, app_key, *hour_start_ms).map(QueryOutput::Messages),
        Query::GroupRemark {
            app_key,
            group_id,
            user_id,
        } => groups::remark(state, app_key, group_id, user_id).map(QueryOutput::Remark),
        Query::Online {
            app_key,
            user_id,
            now_ms,
        } => presence::sessions(state, app_key, user_id, *now_ms).map(QueryOutput::Sessions),
        Query::Readers { app_key, msg_uid } => {
            groups::readers(state, app_key, msg_uid).map(QueryOutput::Readers)
        }
        Query::UserAccess { app_key, user_id } => {
            let (user, ban) = users::access(state, app_key, user_id)?;
            Ok(QueryOutput::Access(
                user,
                ban,
                apps::settings(state, app_key)?,
            ))
        }
        Query::Sync { app_key, request } => {
            apps::by_key(state, app_key)?;
            feed::sync(state, app_key, request).map(QueryOutput::Sync)
        }
        Query::GetUser { app_key, user_id } => {
            users::get(state, app_key, user_id).map(QueryOutput::User)
        }
        Query::BlockedUsers { app_key, now_ms } => {
            users::blocked(state, app_key, *now_ms).map(QueryOutput::Blocked)
        }
        Query::UserList {
            app_key,
            list,
            user_id,
        } => users::list_members(state, app_key, *list, user_id).map(QueryOutput::UserIds),
        Query::Users { app_key, user_ids } => {
            users::existing(state, app_key, user_ids).map(QueryOutput::Users)
        }
        Query::History { app_key, page } => {
            messages::history(state, app_key, page).map(QueryOutput::Messages)
        }
        Query::GetMessage { app_key, msg_uid } => {
            messages::by_uid(state, app_key, msg_uid).map(|m| QueryOutput::Messages(vec![m]))
        }
        Query::GroupMembers { app_key, group_id } => {
            let group = groups::get(state, app_key, group_id)?;
            groups::members(state, app_key, group_id)
                .map(|members| QueryOutput::Members(group, members))
        }
        Query::UserGroups { app_key, user_id } => {
            groups::of_user(state, app_key, user_id).map(QueryOutput::Groups)
        }
        Query::MutedGroups { app_key } => {
            groups::muted_groups(state, app_key).map(QueryOutput::Groups)
        }
        Query::GroupMuteWhitelist { app_key, group_id } => {
            groups::mute_whitelist(state, app_key, group_id).map(QueryOutput::UserIds)
        }
        Query::Chatrooms { app_key, room_ids } => {
            chatrooms::rooms(state, app_key, room_ids).map(QueryOutput::Chatrooms)
        }
        Query::RoomSetMembers {
            app_key,
            room_id,
            set,
            now_ms,
        } => chatrooms::set_members(state, app_key, room_id.as_deref(), *set, *now_ms)
            .map(QueryOutput::SetEntries),
        Query::RoomEntries {
            app_key,
            room_id,
            keys,
        } => chatrooms::entries(state, app_key, room_id, keys).map(QueryOutput::RoomEntries),
        Query::RoomMembers { app_key, room_id } => {
            chatrooms::members(state, app_key, room_id).map(QueryOutput::RoomMembers)
        }
        Query::Expansion { app_key, msg_uid } => {
            messages::expansion(state, app_key, msg_uid).map(QueryOutput::Expansion)
        }
        Query::ConversationSettings {
            app_key,
            user_id,
            kind,
            target_id,
            channel,
        } => conversations::settings(state, app_key, user_id, *kind, target_id, channel)
            .map(QueryOutput::Conversation),
        Query::ConversationTypeLevel {
            app_key,
            user_id,
            kind,
        } => conversations::type_level(state, app_key, user_id, *kind).map(QueryOutput::Level),
        Query::Outbox { after, limit } => Ok(QueryOutput::Jobs {
            jobs: outbox::waiting(state, *after, *limit)?,
            waiting: outbox::waiting_count(state)?,
        }),
        Query::DeadLetters { app_key, limit } => Ok(QueryOutput::Jobs {
            jobs: outbox::dead_letters(state, app_key, *limit)?,
            waiting: outbox::waiting_count(state)?,
        }),
        Query::SensitiveWords { app_key } => {
            apps::by_key(state, app_key)?;
            sensitive::list(state, app_key).map(QueryOutput::SensitiveWords)
        }
        Query::AreaCatalog => areas::list(state).map(QueryOutput::AreaCatalog),
        Query::AreaEntry { code } => areas::get(state, *code).map(QueryOutput::AreaEntry),
        Query::Counts => Ok(QueryOutput::Counts {
            apps: state.count_prefix(keys::apps::APP)?,
            users: state.count_prefix(keys::users::USER)?,
        }),
    }
}

#[cfg(test)]
mod tests;
