//! Golden bytes of the Raft wire and on-disk log format: one [`Command`] of every variant,
//! with fixed fields, encoded as the log encodes a batch (`raft::wire`). A change of these
//! bytes breaks rolling upgrades and the replay of existing logs; a refactor must leave
//! them as they are. A new variant is appended, and its row with it.

use meridian_regions::catalog::{CatalogEntry, EdgeDiscovery, HostPair};
use meridian_regions::AreaCode;

use crate::raft::wire::to_bytes;
use crate::state::push::{Notice, NoticeAudience};
use crate::state::push_style::{PushStyle, SetPushStyle};
use crate::state::rtc::{ChangeRecording, RecordingChange, SetRtcCallback};
use crate::state::user_extras::quiet_hours::QuietHours;
use crate::state::*;
use crate::state::{
    AppSettings, Batch, CallbackSettings, ClientOrigin, Command, Conversation, ConversationSetting,
    ConversationType, Credentials, DeviceStatus, DeviceToken, Envelope, ImportedMessage,
    MessageFlags, ModerationDefault, ModerationRule, NewMessage, PushApp, PushProvider,
    PushSettings, RoomFlag, RoomSet, SessionRecord, UltraGroupChange, UserList,
};
use meridian_proto::rtc::{Resource, ResourceKind, Role, RoomKind};

const APP: &str = "appkey01";

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn creds(key: &str, secret: &str) -> Credentials {
    Credentials {
        app_key: key.into(),
        app_secret: secret.into(),
    }
}

fn conversation() -> Conversation {
    Conversation {
        kind: ConversationType::Private,
        first: "alice".into(),
        second: "bob".into(),
        channel: "work".into(),
    }
}

fn new_message() -> NewMessage {
    NewMessage {
        conversation: conversation(),
        sender: "alice".into(),
        recipient: Some("bob".into()),
        object_name: "RC:TxtMsg".into(),
        content: r#"{"content":"hi"}"#.into(),
        flags: MessageFlags {
            persisted: true,
            counted: false,
        },
        push_content: Some("hi".into()),
        push_data: None,
        verify_blacklist: true,
        visible_to: strings(&["bob"]),
        sender_device: Some(ClientOrigin {
            device_id: "d1".into(),
            client_id: "c1".into(),
        }),
    }
}

fn settings() -> AppSettings {
    AppSettings {
        offline_window_days: 3,
        multi_device: true,
        pre_join_history: false,
        whitelist_mode: true,
        secure_domains: strings(&["https://chat.example.com"]),
        strict_replay: false,
        callbacks: CallbackSettings {
            routing_url: Some("https://hooks.example.com/route".into()),
            routing_types: vec![1, 3],
            moderation: vec![ModerationRule {
                url: "https://hooks.example.com/mod".into(),
                senders: strings(&["alice"]),
                receivers: Vec::new(),
                conversation_types: vec![3],
                object_names: strings(&["RC:TxtMsg"]),
                timeout_ms: 2_500,
                default_action: ModerationDefault::Block,
            }],
            online_status_url: None,
            chatroom_state_url: Some("https://hooks.example.com/room".into()),
            max_attempts: 7,
        },
        push: PushSettings {
            apps: vec![PushApp {
                app_id: "com.example.chat".into(),
                apns: None,
                fcm: None,
            }],
            webhook_url: Some("https://push.example.com".into()),
        },
    }
}

fn catalog_entry() -> CatalogEntry {
    CatalogEntry {
        code: AreaCode::SgB,
        nav: HostPair {
            primary: "nav.sg-b.example".into(),
            backup: "nav2.sg-b.example".into(),
        },
        api: HostPair {
            primary: "api.sg-b.example".into(),
            backup: "api2.sg-b.example".into(),
        },
        edges: EdgeDiscovery {
            discovery: Some("_edge._tcp.sg-b.example".into()),
            static_edges: strings(&["10.0.0.1:443"]),
            tls: true,
        },
    }
}

/// One row per variant (in declaration order), plus rows that pin the nested enums a
/// later change could renumber (every conversation type).
fn samples() -> Vec<(&'static str, Command)> {
    let mut rows = vec![
        (
            "CreateApp",
            Command::CreateApp(CreateApp {
                name: "Chat".into(),
                dev: creds("devkey01", "devsecret1"),
                prod: creds("prodkey01", "prodsecret1"),
            }),
        ),
        (
            "DeleteApp",
            Command::DeleteApp(DeleteApp {
                app_key: APP.into(),
            }),
        ),
        (
            "SetGroupRemark",
            Command::SetGroupRemark(SetGroupRemark {
                app_key: APP.into(),
                group_id: "g1".into(),
                user_id: "alice".into(),
                remark: Some("Al".into()),
            }),
        ),
        (
            "SetChatroomIdleDestroy",
            Command::SetChatroomIdleDestroy(SetChatroomIdleDestroy {
                app_key: APP.into(),
                room_id: "r1".into(),
                idle_ms: 120_000,
            }),
        ),
        (
            "DeleteArchiveHour",
            Command::DeleteArchiveHour(DeleteArchiveHour {
                app_key: APP.into(),
                hour_start_ms: 1_700_000_000_000,
            }),
        ),
        (
            "ImportMessages",
            Command::ImportMessages(ImportMessages {
                app_key: APP.into(),
                messages: vec![ImportedMessage {
                    conversation: conversation(),
                    sender: "bob".into(),
                    object_name: "RC:TxtMsg".into(),
                    content: "old".into(),
                    sent_time_ms: 1_600_000_000_000,
                    msg_uid: Some("OLD-1".into()),
                }],
            }),
        ),
        (
            "SetAppSettings",
            Command::SetAppSettings(SetAppSettings {
                app_key: APP.into(),
                settings: settings(),
            }),
        ),
        (
            "PutUser",
            Command::PutUser(PutUser {
                app_key: APP.into(),
                user_id: "alice".into(),
                name: Some("Alice".into()),
                portrait: None,
            }),
        ),
        (
            "Publish",
            Command::Publish(Publish {
                app_key: APP.into(),
                messages: vec![new_message()],
            }),
        ),
        (
            "Recall",
            Command::Recall(Recall {
                app_key: APP.into(),
                sender: "alice".into(),
                msg_uid: "ABCD-EFGH".into(),
                by_admin: true,
                delete: false,
            }),
        ),
        (
            "JoinGroup",
            Command::JoinGroup(JoinGroup {
                app_key: APP.into(),
                group_id: "g1".into(),
                name: Some("Group".into()),
                user_ids: strings(&["alice", "bob"]),
            }),
        ),
        (
            "ImportGroupMembers",
            Command::ImportGroupMembers(ImportGroupMembers {
                app_key: APP.into(),
                group_id: "g1".into(),
                name: None,
                user_ids: strings(&["carol"]),
            }),
        ),
        (
            "QuitGroup",
            Command::QuitGroup(QuitGroup {
                app_key: APP.into(),
                group_id: "g1".into(),
                user_ids: strings(&["bob"]),
            }),
        ),
        (
            "DismissGroup",
            Command::DismissGroup(DismissGroup {
                app_key: APP.into(),
                group_id: "g1".into(),
            }),
        ),
        (
            "RenameGroup",
            Command::RenameGroup(RenameGroup {
                app_key: APP.into(),
                group_id: "g1".into(),
                name: "New".into(),
            }),
        ),
        (
            "MuteGroupMembers",
            Command::MuteGroupMembers(MuteGroupMembers {
                app_key: APP.into(),
                group_id: "g1".into(),
                user_ids: strings(&["bob"]),
                until_ms: 99,
            }),
        ),
        (
            "SetGroupMuted",
            Command::SetGroupMuted(SetGroupMuted {
                app_key: APP.into(),
                group_ids: strings(&["g1", "g2"]),
                muted: true,
            }),
        ),
        (
            "ChangeGroupMuteWhitelist",
            Command::ChangeGroupMuteWhitelist(ChangeGroupMuteWhitelist {
                app_key: APP.into(),
                group_id: "g1".into(),
                user_ids: strings(&["alice"]),
                present: false,
            }),
        ),
        (
            "CreateChatrooms",
            Command::CreateChatrooms(CreateChatrooms {
                app_key: APP.into(),
                rooms: vec![("r1".into(), "Room".into())],
            }),
        ),
        (
            "DestroyChatrooms",
            Command::DestroyChatrooms(DestroyChatrooms {
                app_key: APP.into(),
                room_ids: strings(&["r1"]),
            }),
        ),
        (
            "SetChatroomFlag",
            Command::SetChatroomFlag(SetChatroomFlag {
                app_key: APP.into(),
                room_ids: strings(&["r1"]),
                flag: RoomFlag::KeepAlive,
                on: true,
            }),
        ),
        (
            "ChangeRoomSet",
            Command::ChangeRoomSet(ChangeRoomSet {
                app_key: APP.into(),
                room_id: Some("r1".into()),
                set: RoomSet::LowPriority,
                members: strings(&["RC:TxtMsg"]),
                until_ms: 300,
                present: true,
            }),
        ),
        (
            "SetRoomEntries",
            Command::SetRoomEntries(SetRoomEntries {
                app_key: APP.into(),
                room_id: "r1".into(),
                owner: "alice".into(),
                entries: vec![("k".into(), "v".into())],
                auto_delete: true,
            }),
        ),
        (
            "RemoveRoomEntry",
            Command::RemoveRoomEntry(RemoveRoomEntry {
                app_key: APP.into(),
                room_id: "r1".into(),
                key: "k".into(),
            }),
        ),
        (
            "JoinChatroom",
            Command::JoinChatroom(JoinChatroom {
                app_key: APP.into(),
                room_id: "r1".into(),
                user_id: "alice".into(),
            }),
        ),
        (
            "ChatroomMemberOffline",
            Command::ChatroomMemberOffline(ChatroomMemberOffline {
                app_key: APP.into(),
                room_id: "r1".into(),
                user_id: "alice".into(),
            }),
        ),
        (
            "QuitChatroom",
            Command::QuitChatroom(QuitChatroom {
                app_key: APP.into(),
                room_id: "r1".into(),
                user_ids: strings(&["alice"]),
            }),
        ),
        (
            "Presence",
            Command::Presence(ChangePresence {
                app_key: APP.into(),
                user_id: "alice".into(),
                record: SessionRecord {
                    edge_id: 7,
                    session_id: 300,
                    platform: "iOS".into(),
                    since_ms: 12,
                    client_ip: "192.0.2.1:5000".into(),
                },
                status: DeviceStatus::LoggedOut,
            }),
        ),
        ("EdgeAlive", Command::EdgeAlive(EdgeAlive { edge_id: 7 })),
        (
            "EdgeStopped",
            Command::EdgeStopped(EdgeStopped { edge_id: 8 }),
        ),
        ("ExpireEdges", Command::ExpireEdges(ExpireEdges)),
        (
            "UltraGroup",
            Command::UltraGroup(ChangeUltraGroup {
                app_key: APP.into(),
                group_id: "u1".into(),
                change: UltraGroupChange::Modify {
                    msg_uid: "ABCD".into(),
                    sender: "alice".into(),
                    content: "edited".into(),
                },
            }),
        ),
        (
            "DeleteForUser",
            Command::DeleteForUser(DeleteForUser {
                app_key: APP.into(),
                user_id: "alice".into(),
                conversation: conversation(),
                before_ms: Some(500),
                msg_uids: strings(&["M1"]),
            }),
        ),
        (
            "MarkRead",
            Command::MarkRead(MarkRead {
                app_key: APP.into(),
                user_id: "alice".into(),
                conversation: conversation(),
                seq: 42,
            }),
        ),
        (
            "GroupReadReceipt",
            Command::GroupReadReceipt(GroupReadReceipt {
                app_key: APP.into(),
                group_id: "g1".into(),
                user_id: "bob".into(),
                msg_uids: strings(&["M1", "M2"]),
            }),
        ),
        (
            "DestroyIdleChatrooms",
            Command::DestroyIdleChatrooms(DestroyIdleChatrooms {
                app_key: APP.into(),
            }),
        ),
        (
            "ChangeExpansion",
            Command::ChangeExpansion(ChangeExpansion {
                app_key: APP.into(),
                msg_uid: "M1".into(),
                entries: vec![("k".into(), Some("v".into())), ("gone".into(), None)],
            }),
        ),
        (
            "ChangeConversation",
            Command::ChangeConversation(ChangeConversation {
                app_key: APP.into(),
                user_id: "alice".into(),
                kind: ConversationType::Group,
                target_id: "g1".into(),
                channel: String::new(),
                setting: ConversationSetting::Pinned(true),
            }),
        ),
        (
            "SetConversationTypeLevel",
            Command::SetConversationTypeLevel(SetConversationTypeLevel {
                app_key: APP.into(),
                user_id: "alice".into(),
                kind: ConversationType::System,
                level: -1,
            }),
        ),
        (
            "All",
            Command::All(vec![
                Command::DeleteApp(DeleteApp {
                    app_key: APP.into(),
                }),
                Command::ExpireEdges(ExpireEdges),
            ]),
        ),
        (
            "RefreshUser",
            Command::RefreshUser(RefreshUser {
                app_key: APP.into(),
                user_id: "alice".into(),
                name: None,
                portrait: Some("https://img.example.com/a.png".into()),
            }),
        ),
        (
            "ExpireTokens",
            Command::ExpireTokens(ExpireTokens {
                app_key: APP.into(),
                user_id: "alice".into(),
                before_ms: 1_000,
            }),
        ),
        (
            "SetTags",
            Command::SetTags(SetTags {
                app_key: APP.into(),
                user_id: "alice".into(),
                tags: strings(&["vip", "beta"]),
            }),
        ),
        (
            "BlockUsers",
            Command::BlockUsers(BlockUsers {
                app_key: APP.into(),
                user_ids: strings(&["mallory"]),
                until_ms: 5_000,
            }),
        ),
        (
            "UnblockUsers",
            Command::UnblockUsers(UnblockUsers {
                app_key: APP.into(),
                user_ids: strings(&["mallory"]),
            }),
        ),
        (
            "ChangeUserList",
            Command::ChangeUserList(ChangeUserList {
                app_key: APP.into(),
                list: UserList::White,
                user_id: "alice".into(),
                others: strings(&["bob"]),
                present: true,
            }),
        ),
        (
            "OutboxDelivered",
            Command::OutboxDelivered(OutboxDelivered {
                ids: vec![1, 300, 70_000],
            }),
        ),
        (
            "OutboxFailed",
            Command::OutboxFailed(OutboxFailed {
                failures: vec![(2, "timeout".into())],
            }),
        ),
        (
            "RetryDeadLetters",
            Command::RetryDeadLetters(RetryDeadLetters {
                app_key: APP.into(),
            }),
        ),
        (
            "AddSensitiveWord",
            Command::AddSensitiveWord(AddSensitiveWord {
                app_key: APP.into(),
                word: "bad".into(),
                replace: Some("***".into()),
            }),
        ),
        (
            "DeleteSensitiveWords",
            Command::DeleteSensitiveWords(DeleteSensitiveWords {
                app_key: APP.into(),
                words: strings(&["bad"]),
            }),
        ),
        (
            "RegisterPushToken",
            Command::RegisterPushToken(RegisterPushToken {
                app_key: APP.into(),
                user_id: "alice".into(),
                device: DeviceToken {
                    device_id: "d1".into(),
                    provider: PushProvider::Fcm,
                    token: "tok".into(),
                    app_id: "com.example.chat".into(),
                },
            }),
        ),
        (
            "UnregisterPushToken",
            Command::UnregisterPushToken(UnregisterPushToken {
                app_key: APP.into(),
                user_id: "alice".into(),
                device_id: "d1".into(),
                token: Some("tok".into()),
            }),
        ),
        (
            "PutAreaEntry",
            Command::PutAreaEntry(PutAreaEntry(catalog_entry())),
        ),
        (
            "DeleteAreaEntry",
            Command::DeleteAreaEntry(DeleteAreaEntry { code: AreaCode::Na }),
        ),
        (
            "PushNotice",
            Command::PushNotice(PushNotice {
                app_key: APP.into(),
                notice: Notice {
                    audience: NoticeAudience {
                        everyone: false,
                        user_ids: strings(&["alice"]),
                        tags_all: strings(&["vip"]),
                        tags_any: Vec::new(),
                        providers: vec![PushProvider::Apns, PushProvider::Webhook],
                    },
                    title: "T".into(),
                    body: "B".into(),
                    data: Some("{}".into()),
                },
            }),
        ),
        (
            "PublishWithOptions",
            Command::PublishWithOptions(PublishWithOptions {
                app_key: APP.into(),
                messages: vec![new_message()],
                options: SendOptions {
                    exclude_sender: true,
                    disable_push: false,
                    push_title: Some("T".into()),
                    keep_last_message: true,
                    expansion: vec![("k".into(), "v".into())],
                },
            }),
        ),
        (
            "ExpandBroadcastPushes",
            Command::ExpandBroadcastPushes(ExpandBroadcastPushes {
                app_key: APP.into(),
            }),
        ),
        (
            "SetAppLimits",
            Command::SetAppLimits(SetAppLimits {
                app_key: APP.into(),
                limits: AppLimits {
                    group_member_cap: 10,
                    multi_room_chatrooms: true,
                    client_sends_per_second: Some(2),
                    api_rates: ApiRates {
                        default_per_second: Some(3),
                        ..ApiRates::default()
                    },
                    retention_days: RetentionDays::default(),
                },
            }),
        ),
        (
            "SetProfile",
            Command::SetProfile(SetProfile {
                app_key: APP.into(),
                user_id: "alice".into(),
                profile: Some(r#"{"name":"A"}"#.into()),
                ext: None,
            }),
        ),
        (
            "CleanProfiles",
            Command::CleanProfiles(CleanProfiles {
                app_key: APP.into(),
                user_ids: strings(&["alice"]),
            }),
        ),
        (
            "SetUserRemarks",
            Command::SetUserRemarks(SetUserRemarks {
                app_key: APP.into(),
                user_id: "alice".into(),
                remarks: vec![Remark {
                    target_id: "bob".into(),
                    remark: "B".into(),
                }],
            }),
        ),
        (
            "DeleteUserRemark",
            Command::DeleteUserRemark(DeleteUserRemark {
                app_key: APP.into(),
                user_id: "alice".into(),
                target_id: "bob".into(),
            }),
        ),
        (
            "SetPrivateChatBan",
            Command::SetPrivateChatBan(SetPrivateChatBan {
                app_key: APP.into(),
                user_ids: strings(&["alice"]),
                banned: true,
            }),
        ),
        (
            "SetQuietHours",
            Command::SetQuietHours(SetQuietHours {
                app_key: APP.into(),
                user_id: "alice".into(),
                quiet: QuietHours {
                    start_secs: 79_200,
                    period_minutes: 120,
                    level: 5,
                },
            }),
        ),
        (
            "DeleteQuietHours",
            Command::DeleteQuietHours(DeleteQuietHours {
                app_key: APP.into(),
                user_id: "alice".into(),
            }),
        ),
        (
            "DeleteUsers",
            Command::DeleteUsers(DeleteUsers {
                app_key: APP.into(),
                user_ids: strings(&["alice"]),
            }),
        ),
        (
            "AddFriend",
            Command::AddFriend(AddFriend {
                app_key: APP.into(),
                user_id: "alice".into(),
                target_id: "bob".into(),
                direct: false,
                extra: "hi".into(),
            }),
        ),
        (
            "DeleteFriends",
            Command::DeleteFriends(DeleteFriends {
                app_key: APP.into(),
                user_id: "alice".into(),
                target_ids: strings(&["bob"]),
            }),
        ),
        (
            "CleanFriends",
            Command::CleanFriends(CleanFriends {
                app_key: APP.into(),
                user_id: "alice".into(),
            }),
        ),
        (
            "SetFriendPermission",
            Command::SetFriendPermission(SetFriendPermission {
                app_key: APP.into(),
                user_ids: strings(&["alice"]),
                permission: 3,
            }),
        ),
        (
            "SetFriendProfile",
            Command::SetFriendProfile(SetFriendProfile {
                app_key: APP.into(),
                user_id: "alice".into(),
                target_id: "bob".into(),
                remark_name: Some("B".into()),
                ext: None,
            }),
        ),
        (
            "CreateHostedGroup",
            Command::CreateHostedGroup(CreateHostedGroup {
                app_key: APP.into(),
                group_id: "g1".into(),
                name: "G".into(),
                owner: "alice".into(),
                user_ids: strings(&["bob"]),
                info: GroupInfo {
                    profile: Some("{}".into()),
                    ext: None,
                    permissions: None,
                },
                import: false,
            }),
        ),
        (
            "UpdateHostedGroup",
            Command::UpdateHostedGroup(UpdateHostedGroup {
                app_key: APP.into(),
                group_id: "g1".into(),
                info: GroupInfo::default(),
            }),
        ),
        (
            "DismissHostedGroup",
            Command::DismissHostedGroup(DismissHostedGroup {
                app_key: APP.into(),
                group_id: "g1".into(),
            }),
        ),
        (
            "JoinHostedGroup",
            Command::JoinHostedGroup(JoinHostedGroup {
                app_key: APP.into(),
                group_id: "g1".into(),
                user_ids: strings(&["bob"]),
            }),
        ),
        (
            "LeaveHostedGroup",
            Command::LeaveHostedGroup(LeaveHostedGroup {
                app_key: APP.into(),
                group_id: "g1".into(),
                user_ids: strings(&["bob"]),
                del_followed: true,
            }),
        ),
        (
            "LeaveAllHostedGroups",
            Command::LeaveAllHostedGroups(LeaveAllHostedGroups {
                app_key: APP.into(),
                user_id: "bob".into(),
            }),
        ),
        (
            "TransferHostedOwner",
            Command::TransferHostedOwner(TransferHostedOwner {
                app_key: APP.into(),
                group_id: "g1".into(),
                new_owner: "bob".into(),
                quit: true,
                del_followed: false,
            }),
        ),
        (
            "ChangeHostedManagers",
            Command::ChangeHostedManagers(ChangeHostedManagers {
                app_key: APP.into(),
                group_id: "g1".into(),
                user_ids: strings(&["bob"]),
                add: true,
            }),
        ),
        (
            "SetHostedMember",
            Command::SetHostedMember(SetHostedMember {
                app_key: APP.into(),
                group_id: "g1".into(),
                user_id: "bob".into(),
                nickname: "B".into(),
                extra: None,
            }),
        ),
        (
            "ChangeHostedFollows",
            Command::ChangeHostedFollows(ChangeHostedFollows {
                app_key: APP.into(),
                group_id: "g1".into(),
                user_id: "bob".into(),
                followed: strings(&["alice"]),
                follow: true,
            }),
        ),
        (
            "SetHostedGroupRemark",
            Command::SetHostedGroupRemark(SetHostedGroupRemark {
                app_key: APP.into(),
                group_id: "g1".into(),
                user_id: "bob".into(),
                remark: Some("R".into()),
            }),
        ),
        (
            "RecordFile",
            Command::RecordFile(files::RecordFile {
                app_key: APP.into(),
                record: files::FileRecord {
                    file_id: "f1".into(),
                    kind: meridian_proto::files::FileKind::Image,
                    owner: "bob".into(),
                    size: 3,
                    content_type: "image/png".into(),
                    name: "a.png".into(),
                    sha256: "ab".into(),
                    created_ms: 5,
                    has_preview: true,
                    expires_ms: 6,
                },
            }),
        ),
        (
            "SetFileLimits",
            Command::SetFileLimits(files::SetFileLimits {
                app_key: APP.into(),
                limits: files::FileLimits {
                    max_bytes: files::KindBytes {
                        image: 1,
                        gif: 2,
                        voice: 3,
                        video: 4,
                        file: 5,
                    },
                    quota_bytes: 6,
                    link_valid_days: 7,
                    strip_exif: true,
                },
            }),
        ),
        (
            "ChangeRtcRoom",
            rtc_change(RtcChange::Join {
                kind: RoomKind::Live,
                role: Role::Host,
                edge_id: 3,
                session: 9,
            }),
        ),
        (
            "DropAbsentRtcMembers",
            Command::DropAbsentRtcMembers(DropAbsentRtcMembers),
        ),
        (
            "ForgetFiles",
            Command::ForgetFiles(files::ForgetFiles {
                app_key: APP.into(),
                file_ids: vec!["f1".into()],
            }),
        ),
        (
            "ExpireHistory",
            Command::ExpireHistory(ExpireHistory {
                app_key: APP.into(),
                ranges: vec![ExpiredRange {
                    conversation: conversation(),
                    first_seq: 1,
                    last_seq: 2,
                }],
            }),
        ),
        (
            "RotateAppSecret",
            Command::RotateAppSecret(RotateAppSecret {
                app_key: APP.into(),
                new_secret: "secret02".into(),
                overlap_ms: 5,
            }),
        ),
        ("SetVendorPush", set_vendor_push()),
        (
            "TrimInboxes",
            Command::TrimInboxes(TrimInboxes {
                app_key: APP.into(),
                entries: vec![("alice".into(), 7)],
            }),
        ),
        (
            "EraseUsers",
            Command::EraseUsers(EraseUsers {
                app_key: APP.into(),
                user_ids: vec!["alice".into()],
                sent_messages: true,
            }),
        ),
        (
            "SentMessagesErased",
            Command::SentMessagesErased(SentMessagesErased {
                app_key: APP.into(),
                user_ids: vec!["alice".into()],
            }),
        ),
        (
            "DropDeadLetters",
            Command::DropDeadLetters(DropDeadLetters {
                app_key: APP.into(),
                ids: vec![7],
            }),
        ),
        (
            "EndUnansweredCalls",
            Command::EndUnansweredCalls(EndUnansweredCalls { timeout_ms: 60_000 }),
        ),
        (
            "SetPushStyle",
            Command::SetPushStyle(SetPushStyle {
                app_key: APP.into(),
                style: PushStyle {
                    sound: Some("ding.caf".into()),
                    quiet_hours: Some(QuietHours {
                        start_secs: 79_200,
                        period_minutes: 480,
                        level: 1,
                    }),
                },
            }),
        ),
        (
            "RecordUsage",
            Command::RecordUsage(usage::RecordUsage {
                app_key: APP.into(),
                counts: vec![usage::ReportedCount {
                    hour_start_ms: 1_700_002_800_000,
                    category: usage::Category::Api,
                    name: "/user/getToken.json ok".into(),
                    count: 3,
                }],
            }),
        ),
        (
            "OutboxSettled",
            Command::OutboxSettled(OutboxSettled {
                jobs: vec![(7, Settlement::Delivered), (9, Settlement::TokenGone)],
            }),
        ),
        (
            "ChangeRecording",
            Command::ChangeRecording(ChangeRecording {
                app_key: APP.into(),
                room_id: "r1".into(),
                change: RecordingChange::Start {
                    callback_url: Some("http://h/".into()),
                },
            }),
        ),
        (
            "EndVanishedParties",
            Command::EndVanishedParties(EndVanishedParties { grace_ms: 30_000 }),
        ),
        (
            "SetRtcCallback",
            Command::SetRtcCallback(SetRtcCallback {
                app_key: APP.into(),
                url: Some("http://h/".into()),
            }),
        ),
        (
            "ImportFriends",
            Command::ImportFriends(crate::state::friends::ImportFriends {
                app_key: APP.into(),
                friends: vec![(
                    "u1".into(),
                    crate::state::friends::Friend {
                        user_id: "u2".into(),
                        remark_name: "Bo".into(),
                        ext: "{}".into(),
                        since_ms: 7,
                    },
                )],
            }),
        ),
        (
            "ChangeMix",
            Command::ChangeMix(crate::state::rtc::ChangeMix {
                app_key: APP.into(),
                room_id: "r1".into(),
                change: crate::state::rtc::MixChange::Start(Box::new(
                    crate::state::rtc::MixSettings {
                        layout: crate::state::rtc::LayoutKind::Custom,
                        width: 640,
                        height: 360,
                        fps: 25,
                        bitrate_kbps: 800,
                        push_urls: vec!["rtmp://c/l/k".into()],
                        main_user_id: None,
                        regions: vec![crate::state::rtc::MixRegion {
                            user_id: "u1".into(),
                            x: 0,
                            y: 0,
                            width: 320,
                            height: 180,
                        }],
                    },
                )),
            }),
        ),
        (
            "BlockRtcUser",
            Command::BlockRtcUser(crate::state::rtc::BlockRtcUser {
                app_key: APP.into(),
                user_id: "u1".into(),
                minutes: Some(5),
            }),
        ),
        (
            "ForgetCalls",
            Command::ForgetCalls(crate::state::cross_domain::calls::ForgetCalls {
                app_key: APP.into(),
                call_ids: vec!["c1".into()],
            }),
        ),
        (
            "EraseRtcUsers",
            Command::EraseRtcUsers(crate::state::rtc::EraseRtcUsers {
                app_key: APP.into(),
                user_ids: vec!["u1".into()],
            }),
        ),
        (
            "SetSdkFeatures",
            Command::SetSdkFeatures(crate::state::SetSdkFeatures {
                app_key: APP.into(),
                features: crate::state::SdkFeatures {
                    realtime_conversations: true,
                },
            }),
        ),
        (
            "PublishWithPush",
            Command::PublishWithPush(crate::state::PublishWithPush {
                app_key: APP.into(),
                messages: vec![new_message()],
                options: SendOptions::default(),
                push: Box::new(push_options()),
            }),
        ),
        (
            "PushNoticeWithOptions",
            Command::PushNoticeWithOptions(crate::state::PushNoticeWithOptions {
                app_key: APP.into(),
                notice: Notice {
                    audience: NoticeAudience {
                        everyone: true,
                        ..NoticeAudience::default()
                    },
                    title: "T".into(),
                    body: "B".into(),
                    data: None,
                },
                options: Box::new(crate::state::push::NoticeOptions {
                    push: push_options(),
                    package_name: Some("p".into()),
                    tag_items: vec![crate::state::push::TagItem {
                        tags: vec!["t".into()],
                        all_tags: true,
                        negated: true,
                        and_with_previous: false,
                    }],
                }),
            }),
        ),
        (
            "SetUltraGroupPushPace",
            Command::SetUltraGroupPushPace(crate::state::push_style::SetUltraGroupPushPace {
                app_key: APP.into(),
                pace: crate::state::push_style::UltraGroupPushPace { interval_secs: 60 },
            }),
        ),
        (
            "SetPushRate",
            Command::SetPushRate(crate::state::push_style::SetPushRate {
                app_key: APP.into(),
                rate: crate::state::push_style::PushRate { per_second: 500 },
            }),
        ),
        (
            "SetPushTemplate",
            Command::SetPushTemplate(crate::state::push_templates::SetPushTemplate {
                app_key: APP.into(),
                template_id: "tpl".into(),
                template: Some(crate::state::push_templates::PushTemplate {
                    default: crate::state::push_templates::TemplateText {
                        title: None,
                        body: "b".into(),
                    },
                    languages: std::collections::BTreeMap::from([(
                        "en_US".into(),
                        crate::state::push_templates::TemplateText {
                            title: Some("t".into()),
                            body: "e".into(),
                        },
                    )]),
                }),
            }),
        ),
        (
            "SetPushLanguage",
            Command::SetPushLanguage(crate::state::push_templates::SetPushLanguage {
                app_key: APP.into(),
                user_id: "bob".into(),
                language: Some("en_US".into()),
            }),
        ),
        (
            "SetFileAccess",
            Command::SetFileAccess(files::SetFileAccess {
                app_key: APP.into(),
                access: files::FileAccess { private: true },
            }),
        ),
        (
            "RecordOwnedFile",
            Command::RecordOwnedFile(files::RecordOwnedFile(files::RecordFile {
                app_key: APP.into(),
                record: files::FileRecord {
                    file_id: "f1".into(),
                    kind: meridian_proto::files::FileKind::Image,
                    owner: "alice".into(),
                    size: 3,
                    content_type: "image/png".into(),
                    name: "a.png".into(),
                    sha256: "ab".into(),
                    created_ms: 7,
                    has_preview: true,
                    expires_ms: 9,
                },
            })),
        ),
        (
            "ForgetOwnedFiles",
            Command::ForgetOwnedFiles(files::ForgetOwnedFiles(files::ForgetFiles {
                app_key: APP.into(),
                file_ids: vec!["f1".into()],
            })),
        ),
        (
            "EraseUserFiles",
            Command::EraseUserFiles(files::EraseUserFiles {
                app_key: APP.into(),
                user_ids: vec!["alice".into()],
            }),
        ),
        (
            "RemoveConversations",
            Command::RemoveConversations(crate::state::RemoveConversations {
                app_key: APP.into(),
                user_id: "bob".into(),
                conversations: vec![Conversation::private("alice", "bob", "")],
            }),
        ),
        (
            "UpdateHostedMember",
            Command::UpdateHostedMember(UpdateHostedMember {
                app_key: APP.into(),
                group_id: "g1".into(),
                user_id: "bob".into(),
                nickname: None,
                extra: Some("x".into()),
            }),
        ),
        (
            "BroadcastToPlatforms",
            Command::BroadcastToPlatforms(BroadcastToPlatforms {
                publish: PublishWithPush {
                    app_key: APP.into(),
                    messages: vec![],
                    options: SendOptions::default(),
                    push: Box::default(),
                },
                providers: vec![crate::state::push::PushProvider::Apns],
            }),
        ),
        (
            "SetAreaLevel",
            Command::SetAreaLevel(SetAreaLevel { level: 7 }),
        ),
        (
            "Once",
            Command::Once(Once {
                app_key: APP.into(),
                request_id: "private/alice/7".into(),
                command: Box::new(Command::SetAreaLevel(SetAreaLevel { level: 7 })),
            }),
        ),
        (
            "SetErasureCallback",
            Command::SetErasureCallback(crate::state::SetErasureCallback {
                app_key: APP.into(),
                url: Some("http://h/".into()),
            }),
        ),
        (
            "TrimFeed",
            Command::TrimFeed(crate::state::TrimFeed { through: 7 }),
        ),
    ];
    for (label, kind) in [
        ("ConversationType::Private", ConversationType::Private),
        ("ConversationType::Group", ConversationType::Group),
        ("ConversationType::Chatroom", ConversationType::Chatroom),
        ("ConversationType::System", ConversationType::System),
        ("ConversationType::UltraGroup", ConversationType::UltraGroup),
    ] {
        rows.push((
            label,
            Command::SetConversationTypeLevel(SetConversationTypeLevel {
                app_key: APP.into(),
                user_id: "u".into(),
                kind,
                level: 0,
            }),
        ));
    }
    let mut attributes = std::collections::BTreeMap::new();
    attributes.insert("k".to_string(), "v".to_string());
    rows.extend([
        ("RtcChange::Leave", rtc_change(RtcChange::Leave)),
        (
            "RtcChange::SessionGone",
            rtc_change(RtcChange::SessionGone {
                edge_id: 3,
                session: 9,
                timeout_ms: 30_000,
            }),
        ),
        (
            "RtcChange::SetAttributes",
            rtc_change(RtcChange::SetAttributes {
                set: attributes,
                remove: strings(&["old"]),
            }),
        ),
        (
            "RtcChange::Publish",
            rtc_change(RtcChange::Publish {
                publish: vec![Resource {
                    stream_id: "cam".into(),
                    kind: ResourceKind::Screen,
                    layers: strings(&["big", "small"]),
                    media_server: "sfu:7".into(),
                    params: "{}".into(),
                }],
                unpublish: strings(&["mic"]),
            }),
        ),
        (
            "RtcChange::SetRole",
            rtc_change(RtcChange::SetRole {
                role: Role::Observer,
            }),
        ),
        (
            "RtcChange::Invite",
            rtc_change(RtcChange::Invite {
                user_id: "bob".into(),
            }),
        ),
        (
            "RtcChange::AnswerInvite",
            rtc_change(RtcChange::AnswerInvite { accept: true }),
        ),
        ("RtcChange::Kick", rtc_change(RtcChange::Kick)),
        (
            "RtcChange::PkInvite",
            rtc_change(RtcChange::PkInvite {
                room_id: "r2".into(),
                user_id: "bob".into(),
            }),
        ),
        (
            "RtcChange::PkAnswer",
            rtc_change(RtcChange::PkAnswer { accept: false }),
        ),
        ("RtcChange::PkEnd", rtc_change(RtcChange::PkEnd)),
    ]);
    // PUSH-05 appended the vendor channels after the first three providers.
    for (label, provider) in [
        ("PushProvider::Huawei", PushProvider::Huawei),
        ("PushProvider::Xiaomi", PushProvider::Xiaomi),
        ("PushProvider::Oppo", PushProvider::Oppo),
        ("PushProvider::Vivo", PushProvider::Vivo),
        ("PushProvider::Meizu", PushProvider::Meizu),
        ("PushProvider::Honor", PushProvider::Honor),
        // RTC-10 appended the VoIP token.
        ("PushProvider::ApnsVoip", PushProvider::ApnsVoip),
    ] {
        rows.push((
            label,
            Command::RegisterPushToken(RegisterPushToken {
                app_key: APP.into(),
                user_id: "alice".into(),
                device: DeviceToken {
                    device_id: "d1".into(),
                    provider,
                    token: "tok".into(),
                    app_id: "com.example.chat".into(),
                },
            }),
        ));
    }
    rows
}

fn rtc_change(change: RtcChange) -> Command {
    Command::ChangeRtcRoom(ChangeRtcRoom {
        app_key: APP.into(),
        room_id: "r1".into(),
        user_id: "alice".into(),
        change,
    })
}

/// The encoding of every sample as the code produced it when this file was written.
const GOLDEN: &[(&str, &str)] = &[
        ("CreateApp", "000443686174086465766b657930310a646576736563726574310970726f646b657930310b70726f6473656372657431"),
        ("DeleteApp", "01086170706b65793031"),
        ("SetGroupRemark", "02086170706b6579303102673105616c6963650102416c"),
        ("SetChatroomIdleDestroy", "03086170706b65793031027231fcc0d40100"),
        ("DeleteArchiveHour", "04086170706b65793031fd0068e5cf8b010000"),
        ("ImportMessages", "05086170706b65793031010005616c69636503626f6204776f726b03626f620952433a5478744d7367036f6c64fd00806e877401000001054f4c442d31"),
        ("SetAppSettings", "06086170706b6579303103010001011868747470733a2f2f636861742e6578616d706c652e636f6d00011f68747470733a2f2f686f6f6b732e6578616d706c652e636f6d2f726f757465020103011d68747470733a2f2f686f6f6b732e6578616d706c652e636f6d2f6d6f640105616c696365000103010952433a5478744d7367fbc4090100011e68747470733a2f2f686f6f6b732e6578616d706c652e636f6d2f726f6f6d070110636f6d2e6578616d706c652e636861740000011868747470733a2f2f707573682e6578616d706c652e636f6d"),
        ("PutUser", "07086170706b6579303105616c6963650105416c69636500"),
        ("Publish", "08086170706b65793031010005616c69636503626f6204776f726b05616c6963650103626f620952433a5478744d7367107b22636f6e74656e74223a226869227d01000102686900010103626f6201026431026331"),
        ("Recall", "09086170706b6579303105616c69636509414243442d454647480100"),
        ("JoinGroup", "0a086170706b65793031026731010547726f75700205616c69636503626f62"),
        ("ImportGroupMembers", "0b086170706b657930310267310001056361726f6c"),
        ("QuitGroup", "0c086170706b657930310267310103626f62"),
        ("DismissGroup", "0d086170706b65793031026731"),
        ("RenameGroup", "0e086170706b65793031026731034e6577"),
        ("MuteGroupMembers", "0f086170706b657930310267310103626f6263"),
        ("SetGroupMuted", "10086170706b657930310202673102673201"),
        ("ChangeGroupMuteWhitelist", "11086170706b657930310267310105616c69636500"),
        ("CreateChatrooms", "12086170706b657930310102723104526f6f6d"),
        ("DestroyChatrooms", "13086170706b6579303101027231"),
        ("SetChatroomFlag", "14086170706b65793031010272310201"),
        ("ChangeRoomSet", "15086170706b657930310102723106010952433a5478744d7367fb2c0101"),
        ("SetRoomEntries", "16086170706b6579303102723105616c69636501016b017601"),
        ("RemoveRoomEntry", "17086170706b65793031027231016b"),
        ("JoinChatroom", "18086170706b6579303102723105616c696365"),
        ("ChatroomMemberOffline", "19086170706b6579303102723105616c696365"),
        ("QuitChatroom", "1a086170706b657930310272310105616c696365"),
        ("Presence", "1b086170706b6579303105616c69636507fb2c0103694f530c0e3139322e302e322e313a3530303002"),
        ("EdgeAlive", "1c07"),
        ("EdgeStopped", "1d08"),
        ("ExpireEdges", "1e"),
        ("UltraGroup", "1f086170706b657930310275310b044142434405616c69636506656469746564"),
        ("DeleteForUser", "20086170706b6579303105616c6963650005616c69636503626f6204776f726b01fbf40101024d31"),
        ("MarkRead", "21086170706b6579303105616c6963650005616c69636503626f6204776f726b2a"),
        ("GroupReadReceipt", "22086170706b6579303102673103626f6202024d31024d32"),
        ("DestroyIdleChatrooms", "23086170706b65793031"),
        ("ChangeExpansion", "24086170706b65793031024d3102016b01017604676f6e6500"),
        ("ChangeConversation", "25086170706b6579303105616c69636501026731000101"),
        ("SetConversationTypeLevel", "26086170706b6579303105616c69636503ff"),
        ("All", "270201086170706b657930311e"),
        ("RefreshUser", "28086170706b6579303105616c69636500011d68747470733a2f2f696d672e6578616d706c652e636f6d2f612e706e67"),
        ("ExpireTokens", "29086170706b6579303105616c696365fbe803"),
        ("SetTags", "2a086170706b6579303105616c69636502037669700462657461"),
        ("BlockUsers", "2b086170706b6579303101076d616c6c6f7279fb8813"),
        ("UnblockUsers", "2c086170706b6579303101076d616c6c6f7279"),
        ("ChangeUserList", "2d086170706b657930310105616c6963650103626f6201"),
        ("OutboxDelivered", "2e0301fb2c01fc70110100"),
        ("OutboxFailed", "2f01020774696d656f7574"),
        ("RetryDeadLetters", "30086170706b65793031"),
        ("AddSensitiveWord", "31086170706b657930310362616401032a2a2a"),
        ("DeleteSensitiveWords", "32086170706b657930310103626164"),
        ("RegisterPushToken", "33086170706b6579303105616c6963650264310103746f6b10636f6d2e6578616d706c652e63686174"),
        ("UnregisterPushToken", "34086170706b6579303105616c6963650264310103746f6b"),
        ("PutAreaEntry", "350453472d42106e61762e73672d622e6578616d706c65116e6176322e73672d622e6578616d706c65106170692e73672d622e6578616d706c6511617069322e73672d622e6578616d706c6501175f656467652e5f7463702e73672d622e6578616d706c65010c31302e302e302e313a34343301"),
        ("DeleteAreaEntry", "36024e41"),
        ("PushNotice", "37086170706b65793031000105616c6963650103766970000200020154014201027b7d"),
        ("PublishWithOptions", "38086170706b65793031010005616c69636503626f6204776f726b05616c6963650103626f620952433a5478744d7367107b22636f6e74656e74223a226869227d01000102686900010103626f620102643102633101000101540101016b0176"),
        ("ExpandBroadcastPushes", "39086170706b65793031"),
        ("SetAppLimits", "3a086170706b657930310a01010201030000000000000000b4b4073c"),
        ("SetProfile", "3b086170706b6579303105616c696365010c7b226e616d65223a2241227d00"),
        ("CleanProfiles", "3c086170706b657930310105616c696365"),
        ("SetUserRemarks", "3d086170706b6579303105616c6963650103626f620142"),
        ("DeleteUserRemark", "3e086170706b6579303105616c69636503626f62"),
        ("SetPrivateChatBan", "3f086170706b657930310105616c69636501"),
        ("SetQuietHours", "40086170706b6579303105616c696365fc603501007805"),
        ("DeleteQuietHours", "41086170706b6579303105616c696365"),
        ("DeleteUsers", "42086170706b657930310105616c696365"),
        ("AddFriend", "43086170706b6579303105616c69636503626f6200026869"),
        ("DeleteFriends", "44086170706b6579303105616c6963650103626f62"),
        ("CleanFriends", "45086170706b6579303105616c696365"),
        ("SetFriendPermission", "46086170706b657930310105616c69636503"),
        ("SetFriendProfile", "47086170706b6579303105616c69636503626f6201014200"),
        ("CreateHostedGroup", "48086170706b65793031026731014705616c6963650103626f6201027b7d000000"),
        ("UpdateHostedGroup", "49086170706b65793031026731000000"),
        ("DismissHostedGroup", "4a086170706b65793031026731"),
        ("JoinHostedGroup", "4b086170706b657930310267310103626f62"),
        ("LeaveHostedGroup", "4c086170706b657930310267310103626f6201"),
        ("LeaveAllHostedGroups", "4d086170706b6579303103626f62"),
        ("TransferHostedOwner", "4e086170706b6579303102673103626f620100"),
        ("ChangeHostedManagers", "4f086170706b657930310267310103626f6201"),
        ("SetHostedMember", "50086170706b6579303102673103626f62014200"),
        ("ChangeHostedFollows", "51086170706b6579303102673103626f620105616c69636501"),
        ("SetHostedGroupRemark", "52086170706b6579303102673103626f62010152"),
        ("RecordFile", "53086170706b657930310266310003626f620309696d6167652f706e6705612e706e67026162050106"),
        ("SetFileLimits", "54086170706b657930310102030405060701"),
        ("ChangeRtcRoom", "55086170706b6579303102723105616c6963650001020309"),
        ("DropAbsentRtcMembers", "56"),
        ("ForgetFiles", "57086170706b6579303101026631"),
        ("ExpireHistory", "58086170706b65793031010005616c69636503626f6204776f726b0102"),
        ("RotateAppSecret", "59086170706b6579303108736563726574303205"),
        ("SetVendorPush", "5a086170706b65793031010161060001310173017401650101780170016602016b016d0167030169016a0176016804017a01790177050132016301640175016e"),
        ("TrimInboxes", "5b086170706b657930310105616c69636507"),
        ("EraseUsers", "5c086170706b657930310105616c69636501"),
        ("SentMessagesErased", "5d086170706b657930310105616c696365"),
        ("DropDeadLetters", "5e086170706b657930310107"),
        ("EndUnansweredCalls", "5ffb60ea"),
        ("SetPushStyle", "60086170706b65793031010864696e672e63616601fc60350100fbe00101"),
        ("RecordUsage", "61086170706b6579303101fd802110d08b01000001162f757365722f676574546f6b656e2e6a736f6e206f6b03"),
        ("OutboxSettled", "620207000903"),
        ("ChangeRecording", "63086170706b65793031027231000109687474703a2f2f682f"),
        ("EndVanishedParties", "64fb3075"),
        ("SetRtcCallback", "65086170706b657930310109687474703a2f2f682f"),
        ("ImportFriends", "66086170706b657930310102753102753202426f027b7d07"),
        ("ChangeMix", "67086170706b657930310272310000fb8002fb680119fb2003010c72746d703a2f2f632f6c2f6b00010275310000fb4001b4"),
        ("BlockRtcUser", "68086170706b657930310275310105"),
        ("ForgetCalls", "69086170706b6579303101026331"),
        ("EraseRtcUsers", "6a086170706b6579303101027531"),
        ("SetSdkFeatures", "6b086170706b6579303101"),
        ("PublishWithPush", "6c086170706b65793031010005616c69636503626f6204776f726b05616c6963650103626f620952433a5478744d7367107b22636f6e74656e74223a226869227d01000102686900010103626f620102643102633100000000000103010101740000000001016600000001034c4f5700000001016901016d0001016f010000010374706c"),
        ("PushNoticeWithOptions", "6d086170706b65793031010000000001540142000103010101740000000001016600000001034c4f5700000001016901016d0001016f010000010374706c01017001010174010100"),
        ("SetUltraGroupPushPace", "6e086170706b657930313c"),
        ("SetPushRate", "6f086170706b65793031fbf401"),
        ("SetPushTemplate", "70086170706b657930310374706c010001620105656e5f55530101740165"),
        ("SetPushLanguage", "71086170706b6579303103626f620105656e5f5553"),
        ("SetFileAccess", "72086170706b6579303101"),
        ("RecordOwnedFile", "73086170706b657930310266310005616c6963650309696d6167652f706e6705612e706e67026162070109"),
        ("ForgetOwnedFiles", "74086170706b6579303101026631"),
        ("EraseUserFiles", "75086170706b657930310105616c696365"),
        ("RemoveConversations", "76086170706b6579303103626f62010005616c69636503626f6200"),
        ("UpdateHostedMember", "77086170706b6579303102673103626f6200010178"),
        ("BroadcastToPlatforms", "78086170706b65793031000000000000000000000000000000000000000000000000000000000100"),
        ("SetAreaLevel", "7907"),
        ("Once", "7a086170706b657930310f707269766174652f616c6963652f377907"),
        ("SetErasureCallback", "7b086170706b657930310109687474703a2f2f682f"),
        ("TrimFeed", "7c07"),
        ("ConversationType::Private", "26086170706b6579303101750000"),
        ("ConversationType::Group", "26086170706b6579303101750100"),
        ("ConversationType::Chatroom", "26086170706b6579303101750200"),
        ("ConversationType::System", "26086170706b6579303101750300"),
        ("ConversationType::UltraGroup", "26086170706b6579303101750400"),
        ("RtcChange::Leave", "55086170706b6579303102723105616c69636501"),
        ("RtcChange::SessionGone", "55086170706b6579303102723105616c696365020309fb3075"),
        ("RtcChange::SetAttributes", "55086170706b6579303102723105616c6963650301016b017601036f6c64"),
        ("RtcChange::Publish", "55086170706b6579303102723105616c69636504010363616d02020362696705736d616c6c057366753a37027b7d01036d6963"),
        ("RtcChange::SetRole", "55086170706b6579303102723105616c6963650501"),
        ("RtcChange::Invite", "55086170706b6579303102723105616c6963650603626f62"),
        ("RtcChange::AnswerInvite", "55086170706b6579303102723105616c6963650701"),
        ("RtcChange::Kick", "55086170706b6579303102723105616c69636508"),
        ("RtcChange::PkInvite", "55086170706b6579303102723105616c6963650902723203626f62"),
        ("RtcChange::PkAnswer", "55086170706b6579303102723105616c6963650a00"),
        ("RtcChange::PkEnd", "55086170706b6579303102723105616c6963650b"),
        ("PushProvider::Huawei", "33086170706b6579303105616c6963650264310303746f6b10636f6d2e6578616d706c652e63686174"),
        ("PushProvider::Xiaomi", "33086170706b6579303105616c6963650264310403746f6b10636f6d2e6578616d706c652e63686174"),
        ("PushProvider::Oppo", "33086170706b6579303105616c6963650264310503746f6b10636f6d2e6578616d706c652e63686174"),
        ("PushProvider::Vivo", "33086170706b6579303105616c6963650264310603746f6b10636f6d2e6578616d706c652e63686174"),
        ("PushProvider::Meizu", "33086170706b6579303105616c6963650264310703746f6b10636f6d2e6578616d706c652e63686174"),
        ("PushProvider::Honor", "33086170706b6579303105616c6963650264310803746f6b10636f6d2e6578616d706c652e63686174"),
        ("PushProvider::ApnsVoip", "33086170706b6579303105616c6963650264310903746f6b10636f6d2e6578616d706c652e63686174"),
];

/// One channel of each vendor, in the enum's order.
fn set_vendor_push() -> Command {
    use meridian_push::{
        HonorCredentials, HuaweiCredentials, MeizuCredentials, OppoCredentials, VivoCredentials,
        XiaomiCredentials,
    };
    use vendor_push::{SetVendorPush, VendorApp, VendorChannel, VendorPush};
    let huawei = HuaweiCredentials {
        app_id: "1".into(),
        app_secret: "s".into(),
        token_uri: "t".into(),
        endpoint: "e".into(),
    };
    let xiaomi = XiaomiCredentials {
        app_secret: "x".into(),
        package_name: "p".into(),
        endpoint: "f".into(),
    };
    let oppo = OppoCredentials {
        app_key: "k".into(),
        master_secret: "m".into(),
        endpoint: "g".into(),
    };
    let vivo = VivoCredentials {
        app_id: "i".into(),
        app_key: "j".into(),
        app_secret: "v".into(),
        endpoint: "h".into(),
    };
    let meizu = MeizuCredentials {
        app_id: "z".into(),
        app_secret: "y".into(),
        endpoint: "w".into(),
    };
    let honor = HonorCredentials {
        app_id: "2".into(),
        client_id: "c".into(),
        client_secret: "d".into(),
        token_uri: "u".into(),
        endpoint: "n".into(),
    };
    Command::SetVendorPush(SetVendorPush {
        app_key: APP.into(),
        vendors: VendorPush {
            apps: vec![VendorApp {
                app_id: "a".into(),
                channels: vec![
                    VendorChannel::Huawei(huawei),
                    VendorChannel::Xiaomi(xiaomi),
                    VendorChannel::Oppo(oppo),
                    VendorChannel::Vivo(vivo),
                    VendorChannel::Meizu(meizu),
                    VendorChannel::Honor(honor),
                ],
            }],
        },
    })
}

/// Push options with a value in each vendor's part.
fn push_options() -> meridian_push::PushOptions {
    let mut options = meridian_push::PushOptions {
        badge: Some(3),
        content_available: true,
        ..Default::default()
    };
    options.apns.thread_id = Some("t".into());
    options.fcm.channel_id = Some("f".into());
    options.huawei.importance = Some("LOW".into());
    options.honor.image = Some("i".into());
    options.xiaomi.channel_id = Some("m".into());
    options.oppo.channel_id = Some("o".into());
    options.vivo.classification = Some(0);
    options.template_id = Some("tpl".into());
    options
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Names every variant without a wildcard: a new variant does not compile here until it
/// has a sample.
fn variant(command: &Command) -> &'static str {
    match command {
        Command::CreateApp(_) => "CreateApp",
        Command::DeleteApp(_) => "DeleteApp",
        Command::SetGroupRemark(_) => "SetGroupRemark",
        Command::SetChatroomIdleDestroy(_) => "SetChatroomIdleDestroy",
        Command::DeleteArchiveHour(_) => "DeleteArchiveHour",
        Command::ImportMessages(_) => "ImportMessages",
        Command::SetAppSettings(_) => "SetAppSettings",
        Command::PutUser(_) => "PutUser",
        Command::Publish(_) => "Publish",
        Command::Recall(_) => "Recall",
        Command::JoinGroup(_) => "JoinGroup",
        Command::ImportGroupMembers(_) => "ImportGroupMembers",
        Command::QuitGroup(_) => "QuitGroup",
        Command::DismissGroup(_) => "DismissGroup",
        Command::RenameGroup(_) => "RenameGroup",
        Command::MuteGroupMembers(_) => "MuteGroupMembers",
        Command::SetGroupMuted(_) => "SetGroupMuted",
        Command::ChangeGroupMuteWhitelist(_) => "ChangeGroupMuteWhitelist",
        Command::CreateChatrooms(_) => "CreateChatrooms",
        Command::DestroyChatrooms(_) => "DestroyChatrooms",
        Command::SetChatroomFlag(_) => "SetChatroomFlag",
        Command::ChangeRoomSet(_) => "ChangeRoomSet",
        Command::SetRoomEntries(_) => "SetRoomEntries",
        Command::RemoveRoomEntry(_) => "RemoveRoomEntry",
        Command::JoinChatroom(_) => "JoinChatroom",
        Command::ChatroomMemberOffline(_) => "ChatroomMemberOffline",
        Command::QuitChatroom(_) => "QuitChatroom",
        Command::Presence(_) => "Presence",
        Command::EdgeAlive(_) => "EdgeAlive",
        Command::EdgeStopped(_) => "EdgeStopped",
        Command::ExpireEdges(_) => "ExpireEdges",
        Command::UltraGroup(_) => "UltraGroup",
        Command::DeleteForUser(_) => "DeleteForUser",
        Command::MarkRead(_) => "MarkRead",
        Command::GroupReadReceipt(_) => "GroupReadReceipt",
        Command::DestroyIdleChatrooms(_) => "DestroyIdleChatrooms",
        Command::ChangeExpansion(_) => "ChangeExpansion",
        Command::ChangeConversation(_) => "ChangeConversation",
        Command::SetConversationTypeLevel(_) => "SetConversationTypeLevel",
        Command::All(_) => "All",
        Command::RefreshUser(_) => "RefreshUser",
        Command::ExpireTokens(_) => "ExpireTokens",
        Command::SetTags(_) => "SetTags",
        Command::BlockUsers(_) => "BlockUsers",
        Command::UnblockUsers(_) => "UnblockUsers",
        Command::ChangeUserList(_) => "ChangeUserList",
        Command::OutboxDelivered(_) => "OutboxDelivered",
        Command::OutboxFailed(_) => "OutboxFailed",
        Command::RetryDeadLetters(_) => "RetryDeadLetters",
        Command::AddSensitiveWord(_) => "AddSensitiveWord",
        Command::DeleteSensitiveWords(_) => "DeleteSensitiveWords",
        Command::RegisterPushToken(_) => "RegisterPushToken",
        Command::UnregisterPushToken(_) => "UnregisterPushToken",
        Command::PutAreaEntry(_) => "PutAreaEntry",
        Command::DeleteAreaEntry(_) => "DeleteAreaEntry",
        Command::PushNotice(_) => "PushNotice",
        Command::PublishWithOptions(_) => "PublishWithOptions",
        Command::ExpandBroadcastPushes(_) => "ExpandBroadcastPushes",
        Command::SetAppLimits(_) => "SetAppLimits",
        Command::SetProfile(_) => "SetProfile",
        Command::CleanProfiles(_) => "CleanProfiles",
        Command::SetUserRemarks(_) => "SetUserRemarks",
        Command::DeleteUserRemark(_) => "DeleteUserRemark",
        Command::SetPrivateChatBan(_) => "SetPrivateChatBan",
        Command::SetQuietHours(_) => "SetQuietHours",
        Command::DeleteQuietHours(_) => "DeleteQuietHours",
        Command::DeleteUsers(_) => "DeleteUsers",
        Command::AddFriend(_) => "AddFriend",
        Command::DeleteFriends(_) => "DeleteFriends",
        Command::CleanFriends(_) => "CleanFriends",
        Command::SetFriendPermission(_) => "SetFriendPermission",
        Command::SetFriendProfile(_) => "SetFriendProfile",
        Command::CreateHostedGroup(_) => "CreateHostedGroup",
        Command::UpdateHostedGroup(_) => "UpdateHostedGroup",
        Command::DismissHostedGroup(_) => "DismissHostedGroup",
        Command::JoinHostedGroup(_) => "JoinHostedGroup",
        Command::LeaveHostedGroup(_) => "LeaveHostedGroup",
        Command::LeaveAllHostedGroups(_) => "LeaveAllHostedGroups",
        Command::TransferHostedOwner(_) => "TransferHostedOwner",
        Command::ChangeHostedManagers(_) => "ChangeHostedManagers",
        Command::SetHostedMember(_) => "SetHostedMember",
        Command::ChangeHostedFollows(_) => "ChangeHostedFollows",
        Command::SetHostedGroupRemark(_) => "SetHostedGroupRemark",
        Command::RecordFile(_) => "RecordFile",
        Command::SetFileLimits(_) => "SetFileLimits",
        Command::ChangeRtcRoom(_) => "ChangeRtcRoom",
        Command::DropAbsentRtcMembers(_) => "DropAbsentRtcMembers",
        Command::ForgetFiles(_) => "ForgetFiles",
        Command::ExpireHistory(_) => "ExpireHistory",
        Command::RotateAppSecret(_) => "RotateAppSecret",
        Command::SetVendorPush(_) => "SetVendorPush",
        Command::TrimInboxes(_) => "TrimInboxes",
        Command::EraseUsers(_) => "EraseUsers",
        Command::SentMessagesErased(_) => "SentMessagesErased",
        Command::DropDeadLetters(_) => "DropDeadLetters",
        Command::EndUnansweredCalls(_) => "EndUnansweredCalls",
        Command::SetPushStyle(_) => "SetPushStyle",
        Command::RecordUsage(_) => "RecordUsage",
        Command::OutboxSettled(_) => "OutboxSettled",
        Command::ChangeRecording(_) => "ChangeRecording",
        Command::EndVanishedParties(_) => "EndVanishedParties",
        Command::SetRtcCallback(_) => "SetRtcCallback",
        Command::ImportFriends(_) => "ImportFriends",
        Command::ChangeMix(_) => "ChangeMix",
        Command::BlockRtcUser(_) => "BlockRtcUser",
        Command::ForgetCalls(_) => "ForgetCalls",
        Command::EraseRtcUsers(_) => "EraseRtcUsers",
        Command::SetSdkFeatures(_) => "SetSdkFeatures",
        Command::PublishWithPush(_) => "PublishWithPush",
        Command::PushNoticeWithOptions(_) => "PushNoticeWithOptions",
        Command::SetUltraGroupPushPace(_) => "SetUltraGroupPushPace",
        Command::SetPushRate(_) => "SetPushRate",
        Command::SetPushTemplate(_) => "SetPushTemplate",
        Command::SetPushLanguage(_) => "SetPushLanguage",
        Command::SetFileAccess(_) => "SetFileAccess",
        Command::RecordOwnedFile(_) => "RecordOwnedFile",
        Command::ForgetOwnedFiles(_) => "ForgetOwnedFiles",
        Command::EraseUserFiles(_) => "EraseUserFiles",
        Command::RemoveConversations(_) => "RemoveConversations",
        Command::UpdateHostedMember(_) => "UpdateHostedMember",
        Command::BroadcastToPlatforms(_) => "BroadcastToPlatforms",
        Command::SetAreaLevel(_) => "SetAreaLevel",
        Command::Once(_) => "Once",
        Command::SetErasureCallback(_) => "SetErasureCallback",
        Command::TrimFeed(_) => "TrimFeed",
    }
}

#[test]
fn every_command_encodes_to_its_golden_bytes() {
    let samples = samples();
    // The first rows are the variants in declaration order: bincode writes the variant's
    // index first (one byte below 251), so row i must start with byte i.
    let variants = samples
        .iter()
        .take_while(|(label, _)| !label.contains("::"))
        .count();
    for (index, (label, command)) in samples.iter().take(variants).enumerate() {
        assert_eq!(*label, variant(command), "row {index} is not its variant");
        let bytes = to_bytes(command).expect("encodes");
        assert_eq!(
            usize::from(bytes[0]),
            index,
            "{label} is not variant {index}"
        );
    }
    let actual: Vec<(&str, String)> = samples
        .iter()
        .map(|(label, command)| (*label, hex(&to_bytes(command).expect("encodes"))))
        .collect();
    let listing: String = actual
        .iter()
        .map(|(label, hex)| format!("    (\"{label}\", \"{hex}\"),\n"))
        .collect();
    assert_eq!(
        actual.len(),
        GOLDEN.len(),
        "rows differ from the golden table; this code encodes:\n{listing}"
    );
    for ((label, hex), (golden_label, golden_hex)) in actual.iter().zip(GOLDEN) {
        assert_eq!(label, golden_label, "rows out of order");
        assert_eq!(hex, golden_hex, "{label} no longer encodes as it did");
    }
}

/// The envelope and batch around the commands, as a log entry holds them.
#[test]
fn a_batch_encodes_to_its_golden_bytes() {
    let batch = Batch {
        issued_at_ms: 1_700_000_000_123,
        commands: vec![Envelope {
            area: AreaCode::Sg,
            command: Command::EdgeAlive(EdgeAlive { edge_id: 3 }),
        }],
    };
    assert_eq!(
        hex(&to_bytes(&batch).expect("encodes")),
        "fd7b68e5cf8b010000010253471c03"
    );
}
