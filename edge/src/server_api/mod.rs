//! The Server API of the commercial service (`shared/server-api/COMPAT.md`), served by
//! the edge for the areas it fronts: authenticated, validated and rate-limited here, then
//! carried out by the home area's cluster.

mod archive;
mod call;
mod endpoint;
mod entrust;
/// Names a Server API request in the edge's and the cluster's logs; echoed in answers.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

pub mod auth;
pub(crate) mod chatroom_notices;
mod chatrooms;
mod conversations;
mod friends;
mod groups;
mod messages;
#[cfg(feature = "planted-bug")]
mod planted;
mod push;
pub mod rate_limit;
mod rtc;
mod send_options;
mod sensitive;
mod templates;
mod ultragroups;
mod user_data;
mod users;

use crate::metrics::{ApiAnswer, ApiPath};
use crate::now_ms;
use crate::usage::UsageTally;
use meridian_cluster::trace;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use meridian_cluster::state::{RoomFlag, RoomSet, UltraGroupSet};
use serde_json::{Map, Value};

use self::auth::{ReplayGuard, ReplayMode};
pub(crate) use self::call::{Body, Call};
use self::chatrooms::SetCall;
use self::conversations::ExpansionScope;
use self::endpoint::Endpoint;
use self::rate_limit::RateLimiter;
use meridian_access::directory::{AppDirectory, Resolved};
use meridian_access::error::ApiError;
use meridian_access::params::Params;

/// Largest Server API request body; larger ones get 1508. (`content` alone may be 128 KiB.)
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub struct ServerApi {
    directory: Arc<AppDirectory>,
    metrics: crate::metrics::EdgeMetrics,
    /// Calls counted per app (CON-01).
    usage: Arc<UsageTally>,
    /// `https` when the public listener serves TLS.
    scheme: &'static str,
    /// `None` when the operator turned rate limits off (benchmarks of the pipeline).
    limits: Option<RateLimiter>,
    replay: ReplayGuard,
}

fn answer(result: Result<Map<String, Value>, ApiError>) -> Response<Bytes> {
    let (status, body) = match result {
        Ok(mut fields) => {
            fields.insert("code".into(), Value::from(200));
            (StatusCode::OK, Value::Object(fields))
        }
        Err(error) => {
            let (_, status) = error.code();
            (status, error.body())
        }
    };
    meridian_telemetry::json_response(status, &body)
}

impl ServerApi {
    pub(crate) fn new(
        directory: Arc<AppDirectory>,
        metrics: crate::metrics::EdgeMetrics,
        usage: Arc<UsageTally>,
        rate_limits: bool,
        tls: bool,
    ) -> Self {
        Self {
            directory,
            metrics,
            usage,
            scheme: if tls { "https" } else { "http" },
            limits: rate_limits.then(RateLimiter::default),
            replay: ReplayGuard::default(),
        }
    }

    /// True for paths this API answers (everything but the operator admin API).
    pub fn owns(path: &str) -> bool {
        !path.starts_with("/admin/")
    }

    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        if request.method() == Method::GET
            && request.uri().path().starts_with(archive::DOWNLOAD_PREFIX)
        {
            return self.archive_download(&request).await;
        }
        let started = tokio::time::Instant::now();
        // Paths from the table only: label values stay bounded whatever clients send.
        let path = match Endpoint::from_path(request.uri().path()) {
            Some(_) => request.uri().path().to_string(),
            None => "unknown".to_string(),
        };
        // The caller's X-Request-Id when it is plain, else a fresh one; cluster calls made
        // for this request carry it to the nodes' logs.
        let request_id = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(trace::accept_request_id)
            .unwrap_or_else(trace::new_request_id);
        let result = trace::with_request_id(request_id.clone(), self.serve(request)).await;
        let code = match &result {
            Ok(_) => 200,
            Err(error) => error.code().0,
        };
        tracing::debug!(%request_id, path, code, "server api request");
        let answered = ApiAnswer {
            path: path.clone(),
            code,
        };
        self.metrics.api_requests.with(&answered).inc();
        let took = started.elapsed().as_secs_f64();
        self.metrics
            .api_seconds
            .with(&ApiPath { path })
            .observe(took);
        let mut response = answer(result);
        if let Ok(value) = http::HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        response
    }

    /// The app whose App Secret signed these headers (and not in a replay).
    pub async fn authenticate(&self, headers: &http::HeaderMap) -> Result<Resolved, ApiError> {
        let headers = auth::signed_headers(headers)?;
        let app = self.directory.resolve(&headers.app_key).await?;
        auth::verify(app.secrets(), &headers)?;
        let replay = if app.settings.strict_replay {
            ReplayMode::Strict
        } else {
            ReplayMode::Compat
        };
        self.replay
            .check(app.app_key(), &headers, now_ms(), replay)?;
        Ok(app)
    }

    async fn serve(&self, request: Request<Bytes>) -> Result<Map<String, Value>, ApiError> {
        let path = request.uri().path();
        let endpoint =
            Endpoint::from_path(path).ok_or_else(|| ApiError::UnknownPath(path.to_string()))?;
        if request.method() != Method::POST {
            return Err(ApiError::param(format!("{path} takes POST")));
        }
        let app = self.authenticate(request.headers()).await?;
        let (area, app_key) = (app.area, app.app_key().to_string());
        let result = self.serve_app(app, endpoint, &request).await;
        self.usage.api_call(area, &app_key, path, result.is_ok());
        result
    }

    /// A call the app signed.
    async fn serve_app(
        &self,
        app: Resolved,
        endpoint: Endpoint,
        request: &Request<Bytes>,
    ) -> Result<Map<String, Value>, ApiError> {
        let now_ms = now_ms();
        let body = request.body();
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::BodyTooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        if body.is_empty() && endpoint.needs_body() {
            return Err(ApiError::NoBody);
        }
        let body = if endpoint.json_body() {
            Body::Json(meridian_access::params::json_body(body)?)
        } else {
            Body::Form(Params::parse_form(body)?)
        };
        // Only a well-formed, authenticated call spends the app's budget; a private
        // message to N users costs N.
        let cost = match endpoint {
            Endpoint::PrivatePublish
            | Endpoint::StatusPrivatePublish
            | Endpoint::PrivateTemplate => messages::private_cost(&body),
            Endpoint::FriendCheck => friends::batch_cost(&body, "targetIds"),
            Endpoint::FriendPermissionGet | Endpoint::FriendPermissionSet => {
                friends::batch_cost(&body, "userIds")
            }
            _ => 1.0,
        };
        // SYS-04: a push to everyone draws from the broadcast budget; to tags or users not.
        let classes = match endpoint {
            Endpoint::Push | Endpoint::PushCustom if push::to_everyone(&body) => {
                endpoint::BROADCAST_CLASSES
            }
            // The Go SDK's recall of a broadcast is not one.
            Endpoint::Broadcast if messages::recalls_a_broadcast(&body) => {
                &[rate_limit::LimitClass::Default]
            }
            _ => endpoint.limit_classes(),
        };
        if let Some(limits) = &self.limits {
            limits.take(app.app_key(), classes, cost, &app.limits.api_rates)?;
        }
        let cluster = self
            .directory
            .client(app.area)
            .cloned()
            .ok_or_else(|| ApiError::Internal(format!("no cluster client for {}", app.area)))?;
        let base_url = request
            .headers()
            .get(http::header::HOST)
            .and_then(|host| host.to_str().ok())
            .map(|host| format!("{}://{host}", self.scheme))
            .unwrap_or_default();
        let call = Call {
            app,
            cluster,
            body,
            now_ms,
            base_url,
        };
        match endpoint {
            Endpoint::GetToken => users::get_token(&call).await,
            Endpoint::Refresh => users::refresh(&call).await,
            Endpoint::Info => users::info(&call).await,
            Endpoint::CheckOnline => users::check_online(&call).await,
            Endpoint::SensitiveAdd => sensitive::add(&call).await,
            Endpoint::SensitiveDelete => sensitive::batch_delete(&call).await,
            Endpoint::SensitiveDeleteOne => sensitive::delete(&call).await,
            Endpoint::SensitiveList => sensitive::list(&call).await,
            Endpoint::Push => push::push(&call).await,
            Endpoint::PushUser => push::push_user(&call).await,
            Endpoint::PushCustom => push::push_custom(&call).await,
            Endpoint::TokenExpire => users::token_expire(&call).await,
            Endpoint::Block => users::block(&call).await,
            Endpoint::Unblock => users::unblock(&call).await,
            Endpoint::BlockQuery => users::block_query(&call).await,
            Endpoint::BlacklistAdd => users::change_list(&call, users::BLACKLIST, true).await,
            Endpoint::BlacklistRemove => users::change_list(&call, users::BLACKLIST, false).await,
            Endpoint::BlacklistQuery => users::list_query(&call, users::BLACKLIST).await,
            Endpoint::WhitelistAdd => users::change_list(&call, users::WHITELIST, true).await,
            Endpoint::WhitelistRemove => users::change_list(&call, users::WHITELIST, false).await,
            Endpoint::WhitelistQuery => users::list_query(&call, users::WHITELIST).await,
            Endpoint::TagSet => users::tag_set(&call).await,
            Endpoint::TagBatchSet => users::tag_batch_set(&call).await,
            Endpoint::TagsGet => users::tags_get(&call).await,
            Endpoint::PrivatePublish => messages::private_publish(&call, false).await,
            Endpoint::StatusPrivatePublish => messages::private_publish(&call, true).await,
            Endpoint::SystemPublish => messages::system_publish(&call).await,
            Endpoint::PrivateTemplate => {
                templates::publish(&call, templates::TemplateKind::Private).await
            }
            Endpoint::SystemTemplate => {
                templates::publish(&call, templates::TemplateKind::System).await
            }
            Endpoint::Recall => messages::recall(&call).await,
            Endpoint::PrivateQuery => messages::private_query(&call).await,
            Endpoint::GroupCreate | Endpoint::GroupJoin => groups::join(&call).await,
            Endpoint::GroupQuit => groups::quit(&call).await,
            Endpoint::GroupDismiss => groups::dismiss(&call).await,
            Endpoint::GroupRefresh => groups::refresh(&call).await,
            Endpoint::GroupSync => groups::sync(&call).await,
            Endpoint::GroupMembers => groups::members(&call).await,
            Endpoint::UserGroups => groups::of_user(&call).await,
            Endpoint::GroupGagAdd => groups::mute_members(&call, true).await,
            Endpoint::GroupGagRollback => groups::mute_members(&call, false).await,
            Endpoint::GroupGagList => groups::muted_members(&call).await,
            Endpoint::GroupBanAdd => groups::set_muted(&call, true).await,
            Endpoint::GroupBanRollback => groups::set_muted(&call, false).await,
            Endpoint::GroupBanQuery => groups::muted_groups(&call).await,
            Endpoint::GroupBanWhitelistAdd => groups::change_mute_whitelist(&call, true).await,
            Endpoint::GroupBanWhitelistRollback => {
                groups::change_mute_whitelist(&call, false).await
            }
            Endpoint::GroupBanWhitelistQuery => groups::mute_whitelist(&call).await,
            Endpoint::GroupPublish => messages::group_publish(&call, false).await,
            Endpoint::StatusGroupPublish => messages::group_publish(&call, true).await,
            Endpoint::BroadcastRecall => messages::broadcast_recall(&call).await,
            Endpoint::GroupRemarkSet => groups::remark(&call, true).await,
            Endpoint::GroupRemarkDelete => groups::remark(&call, false).await,
            Endpoint::GroupRemarkGet => groups::remark_get(&call).await,
            Endpoint::ChatroomDestroySet => chatrooms::destroy_set(&call).await,
            Endpoint::HistoryArchive => archive::link(&call).await,
            Endpoint::HistoryArchiveDelete => archive::delete(&call).await,
            Endpoint::GroupQuery => messages::group_query(&call).await,
            Endpoint::ChatroomCreate => chatrooms::create(&call).await,
            Endpoint::ChatroomCreateNew => chatrooms::create_new(&call).await,
            Endpoint::ChatroomDestroy => chatrooms::destroy(&call).await,
            Endpoint::ChatroomQuery => chatrooms::query(&call).await,
            Endpoint::ChatroomMembers => chatrooms::member_page(&call).await,
            Endpoint::ChatroomGet => chatrooms::info(&call).await,
            Endpoint::ChatroomUserExist => chatrooms::user_exists(&call).await,
            Endpoint::ChatroomUsersExist => chatrooms::users_exist(&call).await,
            Endpoint::ChatroomKeepAliveAdd => {
                chatrooms::flag(&call, RoomFlag::KeepAlive, true).await
            }
            Endpoint::ChatroomKeepAliveRemove => {
                chatrooms::flag(&call, RoomFlag::KeepAlive, false).await
            }
            Endpoint::ChatroomKeepAliveQuery => chatrooms::keep_alive_query(&call).await,
            Endpoint::ChatroomGagAdd => {
                chatrooms::change_set(&call, timed_user_set(RoomSet::Gagged), true).await
            }
            Endpoint::ChatroomGagRollback => {
                chatrooms::change_set(&call, timed_user_set(RoomSet::Gagged), false).await
            }
            Endpoint::ChatroomGagList => chatrooms::timed_set_query(&call, RoomSet::Gagged).await,
            Endpoint::ChatroomAppMuteAdd => {
                chatrooms::change_set(&call, timed_user_set(RoomSet::AppMuted), true).await
            }
            Endpoint::ChatroomAppMuteRemove => {
                chatrooms::change_set(&call, timed_user_set(RoomSet::AppMuted), false).await
            }
            Endpoint::ChatroomAppMuteQuery => {
                chatrooms::timed_set_query(&call, RoomSet::AppMuted).await
            }
            Endpoint::ChatroomMuteAdd => chatrooms::flag(&call, RoomFlag::Muted, true).await,
            Endpoint::ChatroomMuteRollback => chatrooms::flag(&call, RoomFlag::Muted, false).await,
            Endpoint::ChatroomMuteQuery => chatrooms::muted_rooms(&call).await,
            Endpoint::ChatroomMuteCheck => chatrooms::mute_check(&call).await,
            Endpoint::ChatroomMuteWhitelistAdd => {
                chatrooms::change_set(&call, user_set(RoomSet::MuteWhitelist), true).await
            }
            Endpoint::ChatroomMuteWhitelistRollback => {
                chatrooms::change_set(&call, user_set(RoomSet::MuteWhitelist), false).await
            }
            Endpoint::ChatroomMuteWhitelistQuery => {
                chatrooms::set_query(&call, RoomSet::MuteWhitelist, "userIds").await
            }
            Endpoint::ChatroomBlockAdd => {
                chatrooms::change_set(&call, timed_user_set(RoomSet::Blocked), true).await
            }
            Endpoint::ChatroomBlockRollback => {
                chatrooms::change_set(&call, timed_user_set(RoomSet::Blocked), false).await
            }
            Endpoint::ChatroomBlockList => {
                chatrooms::timed_set_query(&call, RoomSet::Blocked).await
            }
            Endpoint::ChatroomUserWhitelistAdd => {
                chatrooms::change_set(&call, user_set(RoomSet::UserWhitelist), true).await
            }
            Endpoint::ChatroomUserWhitelistRemove => {
                chatrooms::change_set(&call, user_set(RoomSet::UserWhitelist), false).await
            }
            Endpoint::ChatroomUserWhitelistQuery => {
                chatrooms::set_query(&call, RoomSet::UserWhitelist, "users").await
            }
            Endpoint::ChatroomTypeWhitelistAdd => {
                chatrooms::change_set(&call, TYPES_WHITELIST, true).await
            }
            Endpoint::ChatroomTypeWhitelistDelete => {
                chatrooms::change_set(&call, TYPES_WHITELIST, false).await
            }
            Endpoint::ChatroomTypeWhitelistQuery => {
                chatrooms::set_query(&call, RoomSet::MessageWhitelist, "whitlistMsgType").await
            }
            Endpoint::ChatroomPriorityAdd => chatrooms::change_set(&call, LOW_PRIORITY, true).await,
            Endpoint::ChatroomPriorityRemove => {
                chatrooms::change_set(&call, LOW_PRIORITY, false).await
            }
            Endpoint::ChatroomPriorityQuery => {
                chatrooms::set_query(&call, RoomSet::LowPriority, "objectNames").await
            }
            Endpoint::ChatroomEntrySet => chatrooms::entry_set(&call).await,
            Endpoint::ChatroomEntryBatchSet => chatrooms::entry_batch_set(&call).await,
            Endpoint::ChatroomEntryRemove => chatrooms::entry_remove(&call).await,
            Endpoint::ChatroomEntryQuery => chatrooms::entry_query(&call).await,
            Endpoint::ChatroomStopDistribution => {
                chatrooms::flag(&call, RoomFlag::DistributionStopped, true).await
            }
            Endpoint::ChatroomResumeDistribution => {
                chatrooms::flag(&call, RoomFlag::DistributionStopped, false).await
            }
            Endpoint::ChatroomPublish => messages::chatroom_publish(&call).await,
            Endpoint::ChatroomBroadcast => messages::chatroom_broadcast(&call).await,
            Endpoint::ChatroomHistory => messages::chatroom_query(&call).await,
            Endpoint::UltraPublish => ultragroups::publish(&call).await,
            Endpoint::UltraQuery => ultragroups::query(&call).await,
            Endpoint::UltraCreate => ultragroups::create(&call).await,
            Endpoint::UltraDismiss => ultragroups::dismiss(&call).await,
            Endpoint::UltraJoin => ultragroups::join(&call, true).await,
            Endpoint::UltraQuit => ultragroups::join(&call, false).await,
            Endpoint::UltraRefresh => ultragroups::refresh(&call).await,
            Endpoint::UltraMemberExist => ultragroups::member_exists(&call).await,
            Endpoint::UltraChannelCreate => ultragroups::channel_create(&call).await,
            Endpoint::UltraChannelDelete => ultragroups::channel_delete(&call).await,
            Endpoint::UltraChannels => ultragroups::channels(&call).await,
            Endpoint::UltraChannelType => ultragroups::channel_type(&call).await,
            Endpoint::UltraPrivateUsersAdd => {
                ultragroups::change_set(&call, UltraGroupSet::PrivateChannelUsers, true).await
            }
            Endpoint::UltraPrivateUsersDelete => {
                ultragroups::change_set(&call, UltraGroupSet::PrivateChannelUsers, false).await
            }
            Endpoint::UltraPrivateUsers => {
                ultragroups::set_query(&call, UltraGroupSet::PrivateChannelUsers).await
            }
            Endpoint::UltraMuteAdd => {
                ultragroups::change_set(&call, UltraGroupSet::Muted, true).await
            }
            Endpoint::UltraMuteDelete => {
                ultragroups::change_set(&call, UltraGroupSet::Muted, false).await
            }
            Endpoint::UltraMuted => ultragroups::set_query(&call, UltraGroupSet::Muted).await,
            Endpoint::UltraMuteWhitelistAdd => {
                ultragroups::change_set(&call, UltraGroupSet::MuteWhitelist, true).await
            }
            Endpoint::UltraMuteWhitelistDelete => {
                ultragroups::change_set(&call, UltraGroupSet::MuteWhitelist, false).await
            }
            Endpoint::UltraMuteWhitelist => {
                ultragroups::set_query(&call, UltraGroupSet::MuteWhitelist).await
            }
            Endpoint::UltraGlobalMuteSet => ultragroups::global_mute_set(&call).await,
            Endpoint::UltraGlobalMuteGet => ultragroups::global_mute_get(&call).await,
            Endpoint::UltraPushLevelSet => ultragroups::push_level_set(&call).await,
            Endpoint::UltraPushLevelGet => ultragroups::push_level_get(&call).await,
            Endpoint::UltraModify => ultragroups::modify(&call).await,
            Endpoint::UltraMessages => ultragroups::messages_by_id(&call).await,
            Endpoint::UltraHistory => ultragroups::history_by_time(&call).await,
            Endpoint::UltraHistoryAround => ultragroups::history_around(&call).await,
            Endpoint::UltraExpansionSet => {
                conversations::expansion_set(&call, ExpansionScope::UltraGroup).await
            }
            Endpoint::UltraExpansionDelete => {
                conversations::expansion_delete(&call, ExpansionScope::UltraGroup).await
            }
            Endpoint::UltraExpansionQuery => conversations::expansion_query(&call).await,
            Endpoint::ExpansionSet => {
                conversations::expansion_set(&call, ExpansionScope::Conversation).await
            }
            Endpoint::ExpansionDelete => {
                conversations::expansion_delete(&call, ExpansionScope::Conversation).await
            }
            Endpoint::ExpansionQuery => conversations::expansion_query(&call).await,
            Endpoint::NotificationSet => conversations::notification_set(&call).await,
            Endpoint::HistoryClean => conversations::history_clean(&call).await,
            Endpoint::NotificationGet => conversations::notification_get(&call).await,
            Endpoint::TypeNotificationSet => conversations::type_notification_set(&call).await,
            Endpoint::TypeNotificationGet => conversations::type_notification_get(&call).await,
            Endpoint::TopSet => conversations::top_set(&call).await,
            Endpoint::Broadcast => messages::broadcast(&call, true).await,
            Endpoint::OnlineBroadcast => messages::broadcast(&call, false).await,
            Endpoint::UserQuery => user_data::user_query(&call).await,
            Endpoint::ProfileSet => user_data::profile_set(&call).await,
            Endpoint::ProfileQuery => user_data::profile_query(&call).await,
            Endpoint::ProfileBatchQuery => user_data::profile_batch_query(&call).await,
            Endpoint::ProfileClean => user_data::profile_clean(&call).await,
            Endpoint::RemarksSet => user_data::remarks_set(&call).await,
            Endpoint::RemarksGet => user_data::remarks_get(&call).await,
            Endpoint::RemarksDelete => user_data::remarks_delete(&call).await,
            Endpoint::PrivateBanSet => user_data::private_ban_set(&call).await,
            Endpoint::PrivateBanList => user_data::private_ban_list(&call).await,
            Endpoint::QuietHoursSet => user_data::quiet_hours_set(&call).await,
            Endpoint::QuietHoursGet => user_data::quiet_hours_get(&call).await,
            Endpoint::QuietHoursDelete => user_data::quiet_hours_delete(&call).await,
            Endpoint::DeleteUsers => user_data::delete_users(&call).await,
            Endpoint::FriendAdd => friends::add(&call).await,
            Endpoint::FriendDelete => friends::delete(&call).await,
            Endpoint::FriendClean => friends::clean(&call).await,
            Endpoint::FriendGet => friends::get(&call).await,
            Endpoint::FriendCheck => friends::check(&call).await,
            Endpoint::FriendPermissionGet => friends::permission_get(&call).await,
            Endpoint::FriendPermissionSet => friends::permission_set(&call).await,
            Endpoint::FriendProfileSet => friends::profile_set(&call).await,
            Endpoint::EntrustCreate => entrust::create(&call, false).await,
            Endpoint::EntrustImport => entrust::create(&call, true).await,
            Endpoint::EntrustProfileUpdate => entrust::update(&call).await,
            Endpoint::EntrustDismiss => entrust::dismiss(&call).await,
            Endpoint::EntrustJoin => entrust::join(&call).await,
            Endpoint::EntrustQuit => entrust::leave(&call).await,
            Endpoint::EntrustKick => entrust::leave(&call).await,
            Endpoint::EntrustKickAll => entrust::leave_all(&call).await,
            Endpoint::EntrustTransfer => entrust::transfer(&call).await,
            Endpoint::EntrustManagerAdd => entrust::managers(&call, true).await,
            Endpoint::EntrustManagerRemove => entrust::managers(&call, false).await,
            Endpoint::EntrustMemberSet => entrust::member_set(&call).await,
            Endpoint::EntrustFollow => entrust::follow(&call, true).await,
            Endpoint::EntrustUnfollow => entrust::follow(&call, false).await,
            Endpoint::EntrustFollowed => entrust::followed(&call).await,
            Endpoint::EntrustRemarkSet => entrust::remark_set(&call, true).await,
            Endpoint::EntrustRemarkDelete => entrust::remark_set(&call, false).await,
            Endpoint::EntrustRemarkQuery => entrust::remark_query(&call).await,
            Endpoint::EntrustProfiles => entrust::profiles(&call).await,
            Endpoint::EntrustMembers => entrust::members(&call).await,
            Endpoint::EntrustSomeMembers => entrust::some_members(&call).await,
            Endpoint::EntrustGroups => entrust::groups(&call).await,
            Endpoint::EntrustJoined => entrust::joined(&call).await,
            Endpoint::RtcRoomQuery => rtc::room_query(&call).await,
            Endpoint::RtcUserKick => rtc::user_kick(&call).await,
            Endpoint::RtcCallQuery => rtc::call_query(&call).await,
            Endpoint::RtcRecordStart => rtc::record_start(&call).await,
            Endpoint::RtcRecordStop => rtc::record_stop(&call).await,
            Endpoint::RtcRecordQuery => rtc::record_query(&call).await,
            Endpoint::RtcMixStart => rtc::mix_start(&call).await,
            Endpoint::RtcMixStop => rtc::mix_stop(&call).await,
            Endpoint::RtcUserBlock => rtc::user_block(&call).await,
            Endpoint::RtcUserUnblock => rtc::user_unblock(&call).await,
        }
    }
}

/// A room set whose members are users named by `userId`, added for `minute` minutes.
fn timed_user_set(set: RoomSet) -> SetCall {
    SetCall {
        set,
        members: "userId",
        timed: true,
    }
}

/// A room set whose members are users named by `userId`, with no end.
fn user_set(set: RoomSet) -> SetCall {
    SetCall {
        set,
        members: "userId",
        timed: false,
    }
}

const TYPES_WHITELIST: SetCall = SetCall {
    set: RoomSet::MessageWhitelist,
    members: "objectnames",
    timed: false,
};

const LOW_PRIORITY: SetCall = SetCall {
    set: RoomSet::LowPriority,
    members: "objectName",
    timed: false,
};

/// What a handler answers: the fields beside `"code": 200`, or the failure.
pub(crate) type Fields = Result<Map<String, Value>, ApiError>;

/// A `json!({...})` object as answer fields.
pub(crate) fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

pub(crate) fn owned(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// How a list path pages: the page size's parameter, its default and its largest value.
pub(crate) struct Paging {
    pub size_key: &'static str,
    pub default: usize,
    pub max: usize,
}

impl Paging {
    /// The page `page` (from 1) of `all`; a size outside 1 to `max` is refused.
    pub(crate) fn page<T: Clone>(&self, form: &Params, all: &[T]) -> Result<Vec<T>, ApiError> {
        let page = page_number(form)?;
        let size = form.int::<usize>(self.size_key)?.unwrap_or(self.default);
        if !(1..=self.max).contains(&size) {
            return Err(ApiError::param(format!(
                "{} must be 1 to {}",
                self.size_key, self.max
            )));
        }
        Ok(all
            .iter()
            .skip((page - 1).saturating_mul(size))
            .take(size)
            .cloned()
            .collect())
    }
}

/// `page` (from 1; 1 when absent). 0, which the typed SDKs send for a page their caller
/// left unset, is the first page too.
pub(crate) fn page_number(form: &Params) -> Result<usize, ApiError> {
    Ok(form.int::<usize>("page")?.unwrap_or(1).max(1))
}

/// A query answered with another kind of output than asked: a bug, not bad input.
pub(crate) use meridian_access::error::unexpected;

/// `yyyy-MM-dd HH:mm:ss` (UTC), the commercial service's time format in answers.
pub(crate) use meridian_clock::format_utc as format_time;
