//! Reads of committed state: what edges, the admin API and the hooks dispatcher ask.

use meridian_proto::ConversationType;
use meridian_regions::{AreaCode, CatalogEntry};
use serde::{Deserialize, Serialize};

use super::apply::CommandError;
use super::apps::{App, AppEnv, AppSettings};
use super::chatrooms::{Chatroom, RoomEntry, RoomSet, SetEntry};
use super::conversations::{ConversationSettings, ConversationSummary};
use super::cross_domain::{self, history::HistoryPage};
use super::feed::{FeedPage, SyncPage, SyncRequest};
use super::groups::{Group, Member};
use super::messages::{ExpansionEntry, Message};
use super::outbox::Job;
use super::presence::SessionRecord;
use super::sensitive::SensitiveWord;
use super::store::StateRead;
use super::ultragroups::{UltraGroupAnswer, UltraGroupQuestion};
use super::users::{Block, User, UserList};
use super::{
    apps, areas, chatrooms, conversations, feed, groups, keys, messages, outbox, presence,
    sensitive, ultragroups, users,
};

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
    /// Who is muted in a group (members and users muted before they join).
    GroupMutes {
        app_key: String,
        group_id: String,
    },
    /// An environment's limits (API-08).
    AppLimits {
        app_key: String,
    },
    /// Users with every tag of `all` (when given) or any tag of `any`.
    UsersByTags {
        app_key: String,
        all: Vec<String>,
        any: Vec<String>,
    },
    /// The reads of the tier-2 `/user/*` paths.
    UserData {
        app_key: String,
        question: cross_domain::user_data::UserQuestion,
    },
    /// The reads of `/entrust/*`.
    HostedGroups {
        app_key: String,
        question: super::hosted_groups::HostedQuestion,
    },
    /// The reads of the file service.
    Files {
        app_key: String,
        question: super::files::FileQuestion,
    },
    /// An audio/video room; with `viewer`, only if that user is one of its members.
    RtcRoom {
        app_key: String,
        room_id: String,
        viewer: Option<String>,
    },
    /// Up to `limit` files of any app whose time is up at `now_ms` (FILE-04).
    ExpiredFiles {
        now_ms: u64,
        limit: usize,
    },
    /// The secret a rotation replaced, while it is still valid at `now_ms` (LIFE-04).
    PreviousSecret {
        app_key: String,
        now_ms: u64,
    },
    /// The app's vendor push channels (PUSH-05).
    VendorPush {
        app_key: String,
    },
    /// Erased users whose sent messages are still being removed (LIFE-02).
    ErasingSent {
        app_key: String,
    },
    /// A page of the app's export (LIFE-03).
    Export {
        app_key: String,
        part: cross_domain::export::ExportPart,
        after: Vec<u8>,
        limit: usize,
    },
    /// A call's record (RTC-10).
    Call {
        app_key: String,
        call_id: String,
    },
    /// How many calls of the area ended with each reason (metrics).
    CallOutcomes,
    /// The app's push sound and quiet hours (PUSH-07, PUSH-08).
    PushStyle {
        app_key: String,
    },
    /// The client SDK services the environment switched on (WEB-06).
    SdkFeatures {
        app_key: String,
    },
    /// The app's usage records of the hours from `from_ms` up to `to_ms` (CON-01).
    Usage {
        app_key: String,
        from_ms: u64,
        to_ms: u64,
    },
    /// What the app keeps, family by family (CON-01).
    Storage {
        app_key: String,
    },
    /// The area's messages by conversation type (metrics).
    MessageTotals,
    /// Every room of the area being recorded (RTC-07; the media servers ask).
    RtcRecordings,
    /// What recording stored in a room and is still kept.
    RtcRecorded {
        app_key: String,
        room_id: String,
    },
    /// Where the app's room callbacks go (RTC-01).
    RtcCallback {
        app_key: String,
    },
    /// Every room of the area being mixed (RTC-09; the media servers ask).
    RtcMixes,
    /// How often the app's ultra groups may push one user (ULG-06).
    UltraGroupPushPace {
        app_key: String,
    },
    /// How fast the app's pushes go out at most (PUSH-01).
    PushRate {
        app_key: String,
    },
    /// The app's push templates by id (PUSH-07).
    PushTemplates {
        app_key: String,
    },
    /// Rooms by id, or all the app's rooms when `room_ids` is empty, with the settings
    /// kept for rooms not created yet (their presets, `created_at_ms` 0) in their place.
    ChatroomSettings {
        app_key: String,
        room_ids: Vec<String>,
    },
    /// Where the app hears of finished erasures (LIFE-02).
    ErasureCallback {
        app_key: String,
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
    /// Users muted in a group and until when (ms).
    Mutes(Vec<(String, u64)>),
    Limits(super::AppLimits),
    UserData(cross_domain::user_data::UserAnswer),
    HostedGroups(super::hosted_groups::HostedAnswer),
    Files(super::files::FileAnswer),
    RtcRoom(meridian_proto::rtc::RoomInfo),
    /// (App Key, record) of expired files.
    ExpiredFiles(Vec<(String, super::files::FileRecord)>),
    PreviousSecret(Option<super::apps::PreviousSecret>),
    VendorPush(super::vendor_push::VendorPush),
    /// User id → when its erasure was asked for (ms).
    ErasingSent(std::collections::BTreeMap<String, u64>),
    Export(cross_domain::export::ExportPage),
    Call(cross_domain::calls::CallRecord),
    CallOutcomes(Vec<(cross_domain::calls::EndReason, u64)>),
    PushStyle(super::push_style::PushStyle),
    SdkFeatures(super::apps::SdkFeatures),
    Usage(super::usage::UsageReport),
    Storage(Vec<super::usage::StoredFamily>),
    MessageTotals(Vec<(String, u64)>),
    RtcRecordings(Vec<super::rtc::RecordingOrder>),
    RtcRecorded(Vec<super::rtc::RecordedStream>),
    RtcCallback(Option<String>),
    RtcMixes(Vec<super::rtc::MixOrder>),
    UltraGroupPushPace(super::push_style::UltraGroupPushPace),
    PushRate(super::push_style::PushRate),
    PushTemplates(std::collections::BTreeMap<String, super::push_templates::PushTemplate>),
    /// A callback URL kept apart from the app's settings, if set.
    CallbackUrl(Option<String>),
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
            cross_domain::sync::sync(state, app_key, request).map(QueryOutput::Sync)
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
            cross_domain::history::history(state, app_key, page).map(QueryOutput::Messages)
        }
        Query::GetMessage { app_key, msg_uid } => {
            messages::by_uid(state, app_key, msg_uid).map(|m| QueryOutput::Messages(vec![m]))
        }
        Query::GroupMembers { app_key, group_id } => {
            let group = groups::get_or_empty(state, app_key, group_id, 0)?;
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
            messages::expansions(state, app_key, msg_uid).map(QueryOutput::Expansion)
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
        Query::GroupMutes { app_key, group_id } => {
            groups::mutes(state, app_key, group_id).map(QueryOutput::Mutes)
        }
        Query::AppLimits { app_key } => apps::limits(state, app_key).map(QueryOutput::Limits),
        Query::UsersByTags { app_key, all, any } => {
            users::with_tags(state, app_key, all, any).map(QueryOutput::UserIds)
        }
        Query::Counts => Ok(QueryOutput::Counts {
            apps: state.count_prefix(keys::apps::APP)?,
            users: state.count_prefix(keys::users::USER)?,
        }),
        Query::UserData { app_key, question } => {
            cross_domain::user_data::answer(state, app_key, question).map(QueryOutput::UserData)
        }
        Query::HostedGroups { app_key, question } => {
            super::hosted_groups::answer(state, app_key, question).map(QueryOutput::HostedGroups)
        }
        Query::Files { app_key, question } => {
            super::files::answer(state, app_key, question).map(QueryOutput::Files)
        }
        Query::PreviousSecret { app_key, now_ms } => {
            apps::previous_secret(state, app_key, *now_ms).map(QueryOutput::PreviousSecret)
        }
        Query::ExpiredFiles { now_ms, limit } => {
            super::files::expired(state, *now_ms, *limit).map(QueryOutput::ExpiredFiles)
        }
        Query::VendorPush { app_key } => {
            apps::by_key(state, app_key)?;
            super::vendor_push::of_app(state, app_key).map(QueryOutput::VendorPush)
        }
        Query::ErasingSent { app_key } => {
            apps::by_key(state, app_key)?;
            cross_domain::delete_users::erasing_sent(state, app_key).map(QueryOutput::ErasingSent)
        }
        Query::Export {
            app_key,
            part,
            after,
            limit,
        } => cross_domain::export::page(state, app_key, *part, after, *limit)
            .map(QueryOutput::Export),
        Query::RtcRoom {
            app_key,
            room_id,
            viewer,
        } => super::rtc::room_info(state, app_key, room_id, viewer.as_deref())
            .map(QueryOutput::RtcRoom),
        Query::Call { app_key, call_id } => {
            cross_domain::calls::record(state, app_key, call_id).map(QueryOutput::Call)
        }
        Query::CallOutcomes => cross_domain::calls::outcomes(state).map(QueryOutput::CallOutcomes),
        Query::SdkFeatures { app_key } => {
            apps::sdk_features(state, app_key).map(QueryOutput::SdkFeatures)
        }
        Query::PushStyle { app_key } => {
            apps::by_key(state, app_key)?;
            super::push_style::of_app(state, app_key).map(QueryOutput::PushStyle)
        }
        Query::Usage {
            app_key,
            from_ms,
            to_ms,
        } => super::usage::report(state, app_key, *from_ms, *to_ms).map(QueryOutput::Usage),
        Query::Storage { app_key } => {
            super::usage::storage(state, app_key).map(QueryOutput::Storage)
        }
        Query::MessageTotals => super::usage::message_totals(state).map(QueryOutput::MessageTotals),
        Query::RtcRecordings => super::rtc::recording_orders(state).map(QueryOutput::RtcRecordings),
        Query::RtcRecorded { app_key, room_id } => {
            super::rtc::recorded_streams(state, app_key, room_id).map(QueryOutput::RtcRecorded)
        }
        Query::RtcCallback { app_key } => {
            apps::by_key(state, app_key)?;
            super::rtc::callback_url(state, app_key).map(QueryOutput::RtcCallback)
        }
        Query::RtcMixes => super::rtc::mix_orders(state).map(QueryOutput::RtcMixes),
        Query::UltraGroupPushPace { app_key } => {
            apps::by_key(state, app_key)?;
            super::push_style::ultra_group_pace(state, app_key).map(QueryOutput::UltraGroupPushPace)
        }
        Query::PushRate { app_key } => {
            apps::by_key(state, app_key)?;
            super::push_style::push_rate(state, app_key).map(QueryOutput::PushRate)
        }
        Query::PushTemplates { app_key } => {
            apps::by_key(state, app_key)?;
            super::push_templates::templates(state, app_key).map(QueryOutput::PushTemplates)
        }
        Query::ChatroomSettings { app_key, room_ids } => {
            chatrooms::settings(state, app_key, room_ids).map(QueryOutput::Chatrooms)
        }
        Query::ErasureCallback { app_key } => {
            apps::by_key(state, app_key)?;
            super::cross_domain::delete_users::erasure_callback(state, app_key)
                .map(QueryOutput::CallbackUrl)
        }
    }
}
