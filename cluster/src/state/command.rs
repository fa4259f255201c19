//! The commands a Raft entry carries: one struct per command, each in the module of its
//! domain with its own [`Apply`], and [`Command`], the flat enum of them that is the wire
//! and on-disk log format.

use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::cross_domain::{
    bans, broadcast_pushes, delete_app, notifications, publish, receipts, ultragroup_changes,
};
use super::messages::{self, archive};
use super::store::Overlay;
use super::{
    apps, areas, chatrooms, conversations, groups, outbox, presence, push, sensitive, users,
};
use super::{App, AppLimits, AppSettings, ConversationSettings, Group, Publication, User};
use meridian_regions::CatalogEntry;

/// Defines [`Command`] from one list of `Variant(CommandStruct) => wrap the answer`, and
/// its one dispatch: a variant applies its struct and wraps the answer into an [`Output`].
macro_rules! commands {
    ($($variant:ident($command:ty) => $output:expr,)*) => {
        /// Every command, as the Raft log stores it and edges send it.
        ///
        /// Variants are appended, never inserted, reordered or removed, and a command
        /// struct's fields keep their order and types: edges and nodes of two versions
        /// exchange commands by position during a rolling upgrade, and the log replays
        /// entries written by older versions. bincode encodes a variant wrapping a struct
        /// exactly like a struct variant with the same fields, which is what these were;
        /// `state/tests/wire_format.rs` pins the bytes of every variant.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub enum Command {
            $($variant($command),)*
        }

        impl Command {
            /// Stages the command's writes in the overlay; the caller rolls them back if
            /// it is refused.
            pub(super) fn execute(
                &self,
                ctx: ApplyContext,
                state: &mut Overlay<'_>,
            ) -> Result<Output, CommandError> {
                match self {
                    $(Command::$variant(command) => command.apply(ctx, state).map($output),)*
                }
            }
        }
    };
}

// Append only (see `Command`).
commands! {
    CreateApp(apps::CreateApp) => Output::App,
    DeleteApp(delete_app::DeleteApp) => app_deleted,
    SetGroupRemark(groups::SetGroupRemark) => done,
    SetChatroomIdleDestroy(chatrooms::SetChatroomIdleDestroy) => done,
    DeleteArchiveHour(archive::DeleteArchiveHour) => done,
    ImportMessages(messages::ImportMessages) => Output::Imported,
    SetAppSettings(apps::SetAppSettings) => Output::Settings,
    PutUser(users::PutUser) => Output::User,
    Publish(publish::Publish) => Output::Published,
    Recall(publish::Recall) => Output::Published,
    JoinGroup(groups::JoinGroup) => Output::Group,
    ImportGroupMembers(groups::ImportGroupMembers) => Output::Group,
    QuitGroup(groups::QuitGroup) => Output::Group,
    DismissGroup(groups::DismissGroup) => done,
    RenameGroup(groups::RenameGroup) => Output::Group,
    MuteGroupMembers(groups::MuteGroupMembers) => done,
    SetGroupMuted(groups::SetGroupMuted) => done,
    ChangeGroupMuteWhitelist(groups::ChangeGroupMuteWhitelist) => done,
    CreateChatrooms(chatrooms::CreateChatrooms) => done,
    DestroyChatrooms(chatrooms::DestroyChatrooms) => done,
    SetChatroomFlag(chatrooms::SetChatroomFlag) => done,
    ChangeRoomSet(chatrooms::ChangeRoomSet) => done,
    SetRoomEntries(chatrooms::SetRoomEntries) => done,
    RemoveRoomEntry(chatrooms::RemoveRoomEntry) => done,
    JoinChatroom(chatrooms::JoinChatroom) => done,
    ChatroomMemberOffline(chatrooms::ChatroomMemberOffline) => done,
    QuitChatroom(chatrooms::QuitChatroom) => done,
    Presence(presence::ChangePresence) => done,
    EdgeAlive(presence::EdgeAlive) => done,
    EdgeStopped(presence::EdgeStopped) => done,
    ExpireEdges(presence::ExpireEdges) => done,
    UltraGroup(ultragroup_changes::ChangeUltraGroup) => Output::Published,
    DeleteForUser(conversations::DeleteForUser) => done,
    MarkRead(conversations::MarkRead) => done,
    GroupReadReceipt(receipts::GroupReadReceipt) => Output::Published,
    DestroyIdleChatrooms(chatrooms::DestroyIdleChatrooms) => Output::Destroyed,
    ChangeExpansion(messages::ChangeExpansion) => done,
    ChangeConversation(conversations::ChangeConversation) => Output::Conversation,
    SetConversationTypeLevel(conversations::SetConversationTypeLevel) => done,
    All(Vec<Command>) => done,
    RefreshUser(users::RefreshUser) => Output::User,
    ExpireTokens(users::ExpireTokens) => Output::User,
    SetTags(users::SetTags) => Output::User,
    BlockUsers(bans::BlockUsers) => done,
    UnblockUsers(users::UnblockUsers) => done,
    ChangeUserList(users::ChangeUserList) => done,
    OutboxDelivered(outbox::OutboxDelivered) => done,
    OutboxFailed(outbox::OutboxFailed) => Output::Dead,
    RetryDeadLetters(outbox::RetryDeadLetters) => Output::Count,
    AddSensitiveWord(sensitive::AddSensitiveWord) => done,
    DeleteSensitiveWords(sensitive::DeleteSensitiveWords) => done,
    RegisterPushToken(push::RegisterPushToken) => done,
    UnregisterPushToken(push::UnregisterPushToken) => done,
    PutAreaEntry(areas::PutAreaEntry) => Output::AreaEntry,
    DeleteAreaEntry(areas::DeleteAreaEntry) => done,
    PushNotice(notifications::PushNotice) => |(id, devices)| Output::Notice { id, devices },
    PublishWithOptions(publish::PublishWithOptions) => Output::Published,
    ExpandBroadcastPushes(broadcast_pushes::ExpandBroadcastPushes) => done,
    SetAppLimits(apps::SetAppLimits) => Output::Limits,
    SetProfile(super::user_extras::profiles::SetProfile) => done,
    CleanProfiles(super::user_extras::profiles::CleanProfiles) => done,
    SetUserRemarks(super::user_extras::remarks::SetUserRemarks) => done,
    DeleteUserRemark(super::user_extras::remarks::DeleteUserRemark) => done,
    SetPrivateChatBan(super::user_extras::private_bans::SetPrivateChatBan) => done,
    SetQuietHours(super::user_extras::quiet_hours::SetQuietHours) => done,
    DeleteQuietHours(super::user_extras::quiet_hours::DeleteQuietHours) => done,
    DeleteUsers(super::cross_domain::delete_users::DeleteUsers) => done,
    AddFriend(super::friends::AddFriend) => done,
    DeleteFriends(super::friends::DeleteFriends) => done,
    CleanFriends(super::friends::CleanFriends) => done,
    SetFriendPermission(super::friends::SetFriendPermission) => done,
    SetFriendProfile(super::friends::SetFriendProfile) => done,
    CreateHostedGroup(super::hosted_groups::CreateHostedGroup) => done,
    UpdateHostedGroup(super::hosted_groups::UpdateHostedGroup) => done,
    DismissHostedGroup(super::hosted_groups::DismissHostedGroup) => done,
    JoinHostedGroup(super::hosted_groups::JoinHostedGroup) => done,
    LeaveHostedGroup(super::hosted_groups::LeaveHostedGroup) => done,
    LeaveAllHostedGroups(super::hosted_groups::LeaveAllHostedGroups) => done,
    TransferHostedOwner(super::hosted_groups::TransferHostedOwner) => done,
    ChangeHostedManagers(super::hosted_groups::ChangeHostedManagers) => Output::UserIds,
    SetHostedMember(super::hosted_groups::SetHostedMember) => done,
    ChangeHostedFollows(super::hosted_groups::ChangeHostedFollows) => done,
    SetHostedGroupRemark(super::hosted_groups::SetHostedGroupRemark) => done,
    RecordFile(super::files::RecordFile) => done,
    SetFileLimits(super::files::SetFileLimits) => done,
    ChangeRtcRoom(super::rtc::ChangeRtcRoom) => Output::RtcRoom,
    DropAbsentRtcMembers(super::rtc::DropAbsentRtcMembers) => done,
    ForgetFiles(super::files::ForgetFiles) => done,
    ExpireHistory(super::cross_domain::retention::ExpireHistory) => Output::Count,
    RotateAppSecret(super::apps::RotateAppSecret) => Output::PreviousSecret,
    SetVendorPush(super::vendor_push::SetVendorPush) => done,
    TrimInboxes(super::cross_domain::retention::TrimInboxes) => done,
    EraseUsers(super::cross_domain::delete_users::EraseUsers) => done,
    SentMessagesErased(super::cross_domain::delete_users::SentMessagesErased) => done,
    DropDeadLetters(super::outbox::DropDeadLetters) => done,
    EndUnansweredCalls(super::cross_domain::calls::EndUnansweredCalls) => done,
    SetPushStyle(super::push_style::SetPushStyle) => done,
    RecordUsage(super::usage::RecordUsage) => done,
    OutboxSettled(super::outbox::OutboxSettled) => done,
    ChangeRecording(super::rtc::ChangeRecording) => done,
    EndVanishedParties(super::cross_domain::calls::EndVanishedParties) => done,
    SetRtcCallback(super::rtc::SetRtcCallback) => done,
    ImportFriends(super::friends::ImportFriends) => done,
    ChangeMix(super::rtc::ChangeMix) => done,
    BlockRtcUser(super::rtc::BlockRtcUser) => done,
    ForgetCalls(super::cross_domain::calls::ForgetCalls) => done,
    EraseRtcUsers(super::rtc::EraseRtcUsers) => done,
    SetSdkFeatures(super::apps::SetSdkFeatures) => done,
    PublishWithPush(publish::PublishWithPush) => Output::Published,
    PushNoticeWithOptions(notifications::PushNoticeWithOptions) => |(id, devices)| Output::Notice { id, devices },
    SetUltraGroupPushPace(super::push_style::SetUltraGroupPushPace) => done,
    SetPushRate(super::push_style::SetPushRate) => done,
    SetPushTemplate(super::push_templates::SetPushTemplate) => done,
    SetPushLanguage(super::push_templates::SetPushLanguage) => done,
    SetFileAccess(super::files::SetFileAccess) => done,
    RecordOwnedFile(super::files::RecordOwnedFile) => done,
    ForgetOwnedFiles(super::files::ForgetOwnedFiles) => done,
    EraseUserFiles(super::files::EraseUserFiles) => done,
    RemoveConversations(conversations::RemoveConversations) => done,
    UpdateHostedMember(super::hosted_groups::UpdateHostedMember) => done,
    BroadcastToPlatforms(publish::BroadcastToPlatforms) => Output::Published,
    SetAreaLevel(areas::SetAreaLevel) => done,
    Once(super::requests::Once) => std::convert::identity,
    SetErasureCallback(super::cross_domain::delete_users::SetErasureCallback) => done,
    TrimFeed(super::feed::TrimFeed) => Output::Count,
}

/// The command level of this build (LIFE-05): it knows every command up to it. A
/// rolling upgrade runs nodes of two builds side by side, and a node cannot apply a
/// command its build does not know, so the leader proposes a command only once every
/// voter knows its level (`crate::upgrade_gate`).
pub const COMMAND_LEVEL: u32 = 10;
/// The level of builds that did not report theirs (before rolling upgrades were gated).
pub const LEGACY_COMMAND_LEVEL: u32 = 1;

impl Command {
    /// The first command level that knows this command: raise [`COMMAND_LEVEL`] with
    /// each release that appends commands, and list them here.
    pub fn level(&self) -> u32 {
        match self {
            Command::RecordUsage(_) | Command::OutboxSettled(_) => 2,
            Command::ChangeRecording(_)
            | Command::EndVanishedParties(_)
            | Command::SetRtcCallback(_)
            | Command::ImportFriends(_)
            | Command::ChangeMix(_)
            | Command::BlockRtcUser(_)
            | Command::ForgetCalls(_)
            | Command::EraseRtcUsers(_) => 3,
            Command::SetSdkFeatures(_) => 4,
            Command::PublishWithPush(_)
            | Command::PushNoticeWithOptions(_)
            | Command::SetUltraGroupPushPace(_)
            | Command::SetPushRate(_)
            | Command::SetPushTemplate(_)
            | Command::SetPushLanguage(_) => 5,
            Command::SetFileAccess(_)
            | Command::RecordOwnedFile(_)
            | Command::ForgetOwnedFiles(_)
            | Command::EraseUserFiles(_)
            | Command::RemoveConversations(_)
            | Command::UpdateHostedMember(_)
            | Command::BroadcastToPlatforms(_) => 6,
            Command::SetAreaLevel(_) => 7,
            Command::Once(once) => once.command.level().max(8),
            Command::SetErasureCallback(_) => 9,
            Command::TrimFeed(_) => 10,
            Command::All(commands) => commands.iter().map(Command::level).max().unwrap_or(1),
            _ => LEGACY_COMMAND_LEVEL,
        }
    }
}

/// All of these or none (`Command::All`): the first refusal refuses the whole command, and
/// its envelope is rolled back whole.
impl Apply for Vec<Command> {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        for command in self {
            command.execute(ctx, state)?;
        }
        Ok(())
    }
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
    Limits(AppLimits),
    /// Users a command left out (e.g. managers that are not members).
    UserIds(Vec<String>),
    /// An audio/video room after a change; `None` once it ended.
    RtcRoom(Option<meridian_proto::rtc::RoomInfo>),
    /// The secret a rotation replaced and until when it stays valid (LIFE-04).
    PreviousSecret(super::apps::PreviousSecret),
}

fn done((): ()) -> Output {
    Output::Done
}

fn app_deleted((app_key, users_removed): (String, u64)) -> Output {
    Output::AppDeleted {
        app_key,
        users_removed,
    }
}
