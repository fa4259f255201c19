//! The replicated state of one area and the commands that change it.
//!
//! A Raft entry carries a [`Batch`] of [`Envelope`]s; each envelope is one command of one
//! caller and gets its own result, so one caller's bad input never fails another's write.
//!
//! Every key is built in [`keys`]: a family prefix, then (for per-app records) the App Key
//! (`user/{appKey}/{userId}`), so a later split into many Raft groups is a routing change.
//!
//! The modules form layers; each calls only the layers (and, among domains, the modules)
//! before it:
//!
//! 1. **Base**: `keys`, `store` (reads, and the overlay a batch writes to), `kept`
//!    (records pruned by time), `apply` (the
//!    context, the refusals, the [`Apply`] trait every command implements), and
//!    `meridian_proto`'s conversation types.
//! 2. **Domains**, the lower layer: each keeps its records, reads and writes them, and
//!    holds the commands that stay within it. In the order they may call each other:
//!    apps, usage, areas, users, sensitive, messages, feed, push, outbox, presence,
//!    groups, chatrooms, conversations, ultragroups. No domain calls up.
//!    `rtc` (audio/video rooms) comes after them and calls apps, users, groups (ids),
//!    chatrooms (attribute limits) and feed.
//!    The tier-2 domains come after them: `user_extras` (apps, users), `friends` and
//!    `hosted_groups` (also `user_extras`'s JSON checks; `hosted_groups` also `groups`).
//! 3. **`cross_domain`**, the upper layer: the commands and queries that write or read
//!    several domains at once: publishing and its fan-out, recalls, group receipts,
//!    ultra-group edits, bans, deleting an app, sync and history, and calls (kept from
//!    the signalling messages a publish stores).
//! 4. **[`Command`]** and **[`Query`]**: the wire enums, dispatching to both layers;
//!    `requests` wraps any command to apply it once per request id (`msgRandom`).
//!
//! A new command is a struct with its [`Apply`] in its domain (or in `cross_domain` if
//! it spans domains) and one line appended to the list in `command.rs`.

mod apply;
pub(crate) mod apps;
pub mod areas;
pub mod chatrooms;
mod command;
pub mod conversations;
mod cross_domain;
pub mod feed;
pub mod files;
pub mod friends;
pub mod groups;
pub mod hosted_groups;
pub mod interest;
mod kept;
pub(crate) mod keys;
pub mod messages;
pub mod outbox;
pub mod paging;
pub mod presence;
pub mod push;
pub mod push_style;
pub mod push_templates;
mod query;
pub mod requests;
pub mod rtc;
pub mod sensitive;
mod store;
pub mod ultragroups;
pub mod upgrades;
pub mod usage;
pub mod user_extras;
mod users;
pub mod vendor_push;

use std::fmt;

use meridian_regions::AreaCode;
use serde::{Deserialize, Serialize};

pub use apply::{Apply, ApplyContext, CommandError};
pub use apps::{
    ApiRates, App, AppEnv, AppLimits, AppSettings, CallbackSettings, Credentials,
    ModerationDefault, ModerationRule, PreviousSecret, PushApp, PushSettings, RetentionDays,
    RotateAppSecret, SdkFeatures, SetAppLimits, SetSdkFeatures, MAX_OVERLAP_MS,
};
pub use chatrooms::{Chatroom, Priority, RoomEntry, RoomFlag, RoomSet, SetEntry};
pub use command::{Command, Output, COMMAND_LEVEL, LEGACY_COMMAND_LEVEL};
pub use conversations::{ConversationSetting, ConversationSettings, ConversationSummary};
/// Calls (RTC-03) and their records (RTC-10).
pub use cross_domain::calls::{
    expired_calls, unanswered_calls_due, vanished_parties_due, CallRecord, EndReason,
    EndUnansweredCalls, EndVanishedParties, ExpiredCalls, ForgetCalls, Media, Party, PartyState,
    ANSWER_TIMEOUT_MS, MAX_FORGOTTEN_CALLS,
};
pub use cross_domain::export::{ConversationOf, ExportPage, ExportPart, Exported, MAX_EXPORT_PAGE};
pub use cross_domain::history::HistoryPage;
pub use cross_domain::publish::{Publication, RecallNotice};
pub use cross_domain::retention::{
    expired_history, stale_inbox_entries, ExpireHistory, ExpiredFound, ExpiredRange,
    RetentionCursor, StaleFound, TrimInboxes, DAY_MS, EXPIRE_BATCH,
};
pub use feed::{FeedEvent, FeedPage, SyncPage, SyncRequest, TrimFeed};
/// The `/friend/*` commands.
pub use friends::{
    AddFriend, CleanFriends, DeleteFriends, Friend, SetFriendPermission, SetFriendProfile,
};
pub use groups::{Group, Member};
/// The `/entrust/*` commands and reads.
pub use hosted_groups::{
    ChangeHostedFollows, ChangeHostedManagers, CreateHostedGroup, DismissHostedGroup, GroupInfo,
    HostedAnswer, HostedGroupView, HostedQuestion, JoinHostedGroup, LeaveAllHostedGroups,
    LeaveHostedGroup, MemberView, SetHostedGroupRemark, SetHostedMember, TransferHostedOwner,
    UpdateHostedGroup, UpdateHostedMember,
};
pub use meridian_proto::{Conversation, ConversationType};
pub use messages::{
    ClientOrigin, ExpansionEntry, ImportedMessage, Message, MessageFlags, NewMessage,
};
pub use outbox::{DeviceStatus, HookEvent, Job, RoomCause, RoomChange, RoomEvent, StatusChange};
pub use presence::SessionRecord;
pub use push::{DeviceToken, PushJob, PushProvider};
pub use query::{query, Query, QueryOutput};
/// The audio/video room commands.
pub use rtc::{absent_members_due, ChangeRtcRoom, DropAbsentRtcMembers, RtcChange};
pub use sensitive::SensitiveWord;
pub use store::{Overlay, StateRead};
pub use ultragroups::{
    Channel, UltraGroup, UltraGroupAnswer, UltraGroupChange, UltraGroupQuestion, UltraGroupSet,
};
pub use users::{Block, User, UserList};
/// The command structs [`Command`]'s variants wrap.
pub use {
    apps::{CreateApp, SetAppSettings},
    areas::{DeleteAreaEntry, PutAreaEntry, SetAreaLevel},
    chatrooms::{
        ChangeRoomSet, ChatroomMemberOffline, CreateChatrooms, DestroyChatrooms,
        DestroyIdleChatrooms, JoinChatroom, QuitChatroom, RemoveRoomEntry, SetChatroomFlag,
        SetChatroomIdleDestroy, SetRoomEntries,
    },
    conversations::{
        ChangeConversation, DeleteForUser, MarkRead, RemoveConversations, SetConversationTypeLevel,
    },
    cross_domain::bans::BlockUsers,
    cross_domain::broadcast_pushes::{pending_broadcast_pushes, ExpandBroadcastPushes},
    cross_domain::delete_app::DeleteApp,
    cross_domain::notifications::{PushNotice, PushNoticeWithOptions},
    cross_domain::publish::{
        BroadcastToPlatforms, Publish, PublishWithOptions, PublishWithPush, Recall, SendOptions,
    },
    cross_domain::receipts::GroupReadReceipt,
    cross_domain::ultragroup_changes::ChangeUltraGroup,
    groups::{
        ChangeGroupMuteWhitelist, DismissGroup, ImportGroupMembers, JoinGroup, MuteGroupMembers,
        QuitGroup, RenameGroup, SetGroupMuted, SetGroupRemark,
    },
    messages::archive::DeleteArchiveHour,
    messages::{ChangeExpansion, ImportMessages},
    outbox::{
        expired_dead_letters, DropDeadLetters, OutboxDelivered, OutboxFailed, OutboxSettled,
        RetryDeadLetters, Settlement,
    },
    presence::{ChangePresence, EdgeAlive, EdgeStopped, ExpireEdges},
    push::{RegisterPushToken, UnregisterPushToken},
    push_style::SetPushStyle,
    requests::Once,
    sensitive::{AddSensitiveWord, DeleteSensitiveWords},
    usage::RecordUsage,
    users::{ChangeUserList, ExpireTokens, PutUser, RefreshUser, SetTags, UnblockUsers},
    vendor_push::SetVendorPush,
};
/// The tier-2 `/user/*` commands and reads.
pub use {
    cross_domain::delete_users::{
        erasing_sent, erasure_callback, sent_by_erased, DeleteUsers, EraseUsers, SentFound,
        SentMessagesErased, SetErasureCallback, UsersErased,
    },
    cross_domain::user_data::{UserAnswer, UserQuestion},
    paging::Window,
    user_extras::private_bans::SetPrivateChatBan,
    user_extras::profiles::{CleanProfiles, Profile, SetProfile},
    user_extras::quiet_hours::{DeleteQuietHours, QuietHours, SetQuietHours},
    user_extras::remarks::{DeleteUserRemark, Remark, SetUserRemarks},
};

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
    let result = envelope.command.execute(ctx, state);
    if result.is_err() {
        state.rollback(checkpoint);
    }
    result
}

#[cfg(test)]
mod tests;
