//! The operator admin API (JSON over HTTP, bearer-token protected), served on every
//! cluster node's admin port and through edges. It is the control plane the Terraform
//! provider drives: apps (optionally keeping credentials moved in from another provider),
//! users, and cluster membership. Any node accepts a call; writes reach the leader
//! through [`ClusterClient`].
//!
//! | method | path | body |
//! |---|---|---|
//! | GET | /admin/v1/apps | |
//! | POST | /admin/v1/apps | `{name, dev?: {appKey, appSecret}, prod?: {appKey, appSecret}}` |
//! | GET, DELETE | /admin/v1/apps/{appKey} | |
//! | POST | /admin/v1/apps/{appKey}/users | `{userId, name?, portraitUri?, tags?}` |
//! | POST | /admin/v1/apps/{appKey}/users/erase | `{userIds, sentMessages?}` (≤ 100): erases the users as `/user/delusers.json` does (LIFE-02); with `sentMessages` every message they sent goes too, removed by the leader's sweep afterwards |
//! | GET | /admin/v1/apps/{appKey}/users/erasing | `{users: [{userId, askedAtMs}]}`: erasures whose sent messages are still being removed |
//! | GET | /admin/v1/apps/{appKey}/users/{userId} | |
//! | POST | /admin/v1/apps/{appKey}/import | `{users?: [{userId, name?, portraitUri?, tags?}], groups?: [{groupId, name?, members}], ultraGroups?, friends?, chatrooms?: [{roomId, name?, muted?, distributionStopped?, keepAlive?, idleDestroyMs?, entries?: [{key, value, owner, autoDelete?}], sets?: [{set: "gagged"\|"blocked"\|"userWhitelist"\|"muteWhitelist", userId, untilMs?}]}], chatroomSets?: [{set: "appMuted"\|"messageWhitelist"\|"lowPriority", member, untilMs?}], conversations?: [{kind: "conversation", userId, conversationType, targetId, channelId?, muted, pinned} or {kind: "conversationtype", userId, conversationType, unpushLevel}], messages?: [{conversationType, fromUserId, targetId, channelId?, objectName, content, sentTime, msgUID?}]}` (≤ 1000 each; all or nothing); or, as `application/x-ndjson`, the lines of an export (applied in order, 1000 of a kind per step) |
//! | GET | /admin/v1/apps/{appKey}/export | `application/x-ndjson`: one line per user (`{"kind":"user", userId, name, portraitUri, tags?}`), group (`{"kind":"group", groupId, name, members}`), ultra group (`"ultragroup"`), friend (`"friend"`), chatroom (`{"kind":"chatroom", roomId, name, muted, distributionStopped, keepAlive, idleDestroyMs, entries, sets}`), app-wide chatroom set entry (`{"kind":"chatroomset", set, member, untilMs}`), conversation setting (`"conversation"`, `"conversationtype"`) and message (`{"kind":"message", conversationType, fromUserId, targetId, channelId, objectName, content, sentTime, msgUID}`), in that order (LIFE-03) |
//! | GET, PUT | /admin/v1/apps/{appKey}/settings | `{offlineWindowDays?, multiDevice?, preJoinHistory?, whitelistMode?, secureDomains?, strictReplay?, callbacks?: {routingUrl?, routingTypes?, moderation?: [{url, senders?, receivers?, conversationTypes?, objectNames?, timeoutMs?, defaultAction?: "pass"\|"block"}], onlineStatusUrl?, chatroomStateUrl?, maxAttempts?}}` (PUT replaces; left out: default) |
//! | GET, PUT | /admin/v1/apps/{appKey}/file-limits | `{maxBytes?: {image?, gif?, voice?, video?, file?}, quotaBytes?, linkValidDays?, stripExif?}` (FILE-01; PUT replaces; GET also answers `usage: {bytes, files}`) |
//! | GET, PUT | /admin/v1/apps/{appKey}/file-access | `{private?}` (FILE-01; PUT replaces): in private mode only a file's uploader, the app server and the members of the conversation its link names may fetch it |
//! | GET, PUT | /admin/v1/apps/{appKey}/limits | `{groupMemberCap?, multiRoomChatrooms?, clientSendsPerSecond?, apiRates?: {defaultPerSecond?, getTokenPerSecond?, privateMessagesPerMinute?, groupPublishPerSecond?, chatroomPublishPerSecond?, ultraGroupPublishPerSecond?, chatroomBroadcastPerSecond?, broadcastsPerHour?, broadcastsPerDay?}, retentionDays?: {private?, group?, ultraGroup?, chatroom?}}` (API-08; PUT replaces; left out: default) |
//! | POST | /admin/v1/apps/{appKey}/secret | `{newSecret?, overlapSeconds?}`: rotates the App Secret (LIFE-04); the old one stays valid `overlapSeconds` (default 86400, at most 30 days); answers `{appKey, appSecret, previousValidUntilMs}` |
//! | GET, PUT | /admin/v1/apps/{appKey}/push-vendors | `{apps?: [{appId, channels: [{huawei: {appId, appSecret, tokenUri?, endpoint?}} \| {xiaomi: {appSecret, packageName, endpoint?}} \| {oppo: {appKey, masterSecret, endpoint?}} \| {vivo: {appId, appKey, appSecret, endpoint?}} \| {meizu: {appId, appSecret, endpoint?}} \| {honor: {appId, clientId, clientSecret, tokenUri?, endpoint?}}]}]}` (PUSH-05; PUT replaces; answers show secrets as `<redacted>`, which sent back keeps the stored one) |
//! | GET, PUT | /admin/v1/apps/{appKey}/ultra-group-push | `{intervalSecs}` (0–86,400): once a user is pushed for an ultra group, its other messages push nothing to them for that long, mentions of them excepted (ULG-06; 0, the default: every message) |
//! | GET, PUT | /admin/v1/apps/{appKey}/push-rate | `{perSecond}` (0–100,000): the most pushes per second the leader hands the app's providers; a second's worth may go at once, the rest wait their turn (PUSH-01; 0, the default: no cap) |
//! | GET | /admin/v1/apps/{appKey}/push-templates | `{pushTemplates: {templateId: template}}` |
//! | PUT, DELETE | /admin/v1/apps/{appKey}/push-templates/{templateId} | `{default: {title?, body}, languages?: {languageCode: {title?, body}}}` (PUT replaces; ≤ 100 templates, ≤ 50 languages, body 1–1,024 and title ≤ 200 characters): a message sent with `pushExt.templateId` pushes each recipient the text in the language its client set, else the default (PUSH-07) |
//! | GET, PUT | /admin/v1/apps/{appKey}/push-style | `{sound?, quietHours?: {startSecs, periodMinutes, level}}`: the app's notification sound and a daily quiet window (UTC; level 5 holds back every push, 1 all but mentions) on top of each user's (PUSH-07, PUSH-08; PUT replaces) |
//! | GET, PUT | /admin/v1/apps/{appKey}/sdk-features | `{realtimeConversations?}`: the commercial client SDKs' optional services this environment has on, as nav tells the SDK (`sessionMode`; WEB-06; PUT replaces) |
//! | GET, PUT | /admin/v1/apps/{appKey}/erasure-callback | `{url}` (`null`: none): once an erasure is complete (`/user/delusers.json`, `…/users/erase`, and with `sentMessages` once the sweep removed what they sent) the app server is posted `{"event": "usersErased", userIds, sentMessages, time}` there, signed as every callback (LIFE-02) |
//! | GET | /admin/v1/apps/{appKey}/callbacks/dead-letters | callbacks past their retry cap (kept 30 days from their creation), and how many wait |
//! | POST | /admin/v1/apps/{appKey}/callbacks/dead-letters/retry | puts them back in the outbox |
//! | GET | /admin/v1/apps/{appKey}/usage | `?by=hour\|day&from=&to=` (ms; default the last 24 hours or 30 days; ≤ 744 hours or 400 days): `{appKey, by, onlineUsers, buckets: [{startMs, messages: {private, group, ultragroup, chatroom, system, total}, apiCalls: {total, failed, paths: {path: {ok, failed}}}, onlineUsersPeak, pushes: {sent, accepted, dropped, failed: {reason: n}, clicked, providers: {provider: {sent, accepted, dropped, failed, clicked}}}, callbacks: {delivered, dropped, failedAttempts, deadLetters, kinds}}]}`, every bucket of the range, oldest first (CON-01, PUSH-09) |
//! | GET | /admin/v1/apps/{appKey}/usage/storage | `{families: [{family, records, bytes}], total: {records, bytes}}`: what the app keeps, read by walking its records (CON-01) |
//! | GET | /admin/v1/areas | the area catalog |
//! | GET, PUT, DELETE | /admin/v1/areas/{code} | `{code?, nav: {primary, backup}, api: {primary, backup}, edges: {discovery?, static?, tls?}}` (PUT creates or replaces) |
//! | GET | /admin/v1/cluster | |
//! | POST | /admin/v1/cluster/members | `{id, addr}` |
//! | DELETE | /admin/v1/cluster/members/{id} | |
//! | POST | /admin/v1/cluster/backup | answers the leader's snapshot file (`application/octet-stream`), at or after every write acknowledged before the call (LIFE-06); `meridian admin backup` keeps it with a manifest |

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use meridian_regions::{AreaCode, CatalogEntry};
use meridian_telemetry::json_response;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

mod callback_urls;
mod files;
mod push;
mod request;
mod transfer;
mod usage;

use request::Operation;

use crate::api::{ApiReply, ApiRequest};
use crate::client::{ClusterClient, ClusterError};
use crate::state::files::EraseUserFiles;
use crate::state::rtc::{EraseRtcUsers, SetRtcCallback};
use crate::state::{
    AppLimits, AppSettings, Command, CommandError, Credentials, DeleteApp, DeleteAreaEntry,
    Envelope, EraseUsers, Output, PutAreaEntry, PutUser, Query, QueryOutput, RetryDeadLetters,
    RotateAppSecret, SdkFeatures, SetAppLimits, SetAppSettings, SetErasureCallback, SetSdkFeatures,
    SetTags,
};

pub struct AdminApi {
    token: String,
    cluster: Arc<ClusterClient>,
}

/// One error table for the admin API: HTTP status and a stable code per failure.
fn error_response(error: &ClusterError) -> Response<Bytes> {
    let (status, code) = match error {
        ClusterError::Refused(refusal) => match refusal {
            CommandError::WrongArea { .. } => (StatusCode::MISDIRECTED_REQUEST, "wrong_area"),
            CommandError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid"),
            CommandError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            CommandError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            CommandError::Forbidden { .. }
            | CommandError::NotMember { .. }
            | CommandError::Muted { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            CommandError::Limit { .. }
            | CommandError::DevUserLimit { .. }
            | CommandError::MemberCap { .. } => (StatusCode::FORBIDDEN, "limit"),
            CommandError::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage"),
            CommandError::Upgrading { .. } => (StatusCode::SERVICE_UNAVAILABLE, "upgrading"),
        },
        ClusterError::NoLeader { .. } => (StatusCode::SERVICE_UNAVAILABLE, "no_leader"),
        ClusterError::Ambiguous(_) => (StatusCode::GATEWAY_TIMEOUT, "outcome_unknown"),
        ClusterError::Protocol(_) | ClusterError::NotUnderstood(_) | ClusterError::Rpc(_) => {
            (StatusCode::BAD_GATEWAY, "cluster_error")
        }
    };
    json_response(status, &json!({ "code": code, "error": error.to_string() }))
}

fn client_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response<Bytes> {
    json_response(status, &json!({ "code": code, "error": message.into() }))
}

fn ok(value: Value) -> Response<Bytes> {
    json_response(StatusCode::OK, &value)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateApp {
    name: String,
    #[serde(default)]
    dev: Option<Credentials>,
    #[serde(default)]
    prod: Option<Credentials>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateUser {
    user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    portrait_uri: Option<String>,
    /// The user's tags (`/user/tag/set.json`), which push-only notices select by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
}

impl CreateUser {
    /// The writes that make the user: its profile, then its tags if it has any.
    fn commands(self, key: &str) -> Vec<Command> {
        let tags = (!self.tags.is_empty()).then(|| {
            Command::SetTags(SetTags {
                app_key: key.to_string(),
                user_id: self.user_id.clone(),
                tags: self.tags,
            })
        });
        let profile = Command::PutUser(PutUser {
            app_key: key.to_string(),
            user_id: self.user_id,
            name: self.name,
            portrait: self.portrait_uri,
        });
        std::iter::once(profile).chain(tags).collect()
    }
}

/// `POST …/users/erase` (LIFE-02).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Erasure {
    user_ids: Vec<String>,
    /// Also every message they sent (removed by the leader's sweep afterwards).
    #[serde(default)]
    sent_messages: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddMember {
    id: u64,
    addr: String,
}

const KEY_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_string(charset: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| charset[rng.random_range(0..charset.len())] as char)
        .collect()
}

/// Fresh credentials shaped like the commercial service's (14-character lowercase key).
pub fn generate_credentials() -> Credentials {
    Credentials {
        app_key: random_string(KEY_CHARS, 14),
        app_secret: random_string(SECRET_CHARS, 16),
    }
}

/// `POST …/secret` (LIFE-04).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rotation {
    #[serde(default)]
    new_secret: Option<String>,
    #[serde(default = "default_overlap_seconds")]
    overlap_seconds: u64,
}

/// A day: time to redeploy app servers and for clients to fetch new tokens.
fn default_overlap_seconds() -> u64 {
    86_400
}

/// Reads a request as [`AdminApi::handle`] does, carrying nothing out: the answer
/// refusing it, or `None` when it names an operation (for the `admin_request` fuzz target).
pub fn refusal(request: &Request<Bytes>) -> Option<Response<Bytes>> {
    Operation::read(request, meridian_clock::now_ms())
        .err()
        .map(|refusal| *refusal)
}

impl AdminApi {
    pub fn new(token: String, cluster: Arc<ClusterClient>) -> Self {
        Self { token, cluster }
    }

    fn authorized(&self, request: &Request<Bytes>) -> bool {
        let expected = format!("Bearer {}", self.token);
        request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| constant_time_eq(v.as_bytes(), expected.as_bytes()))
    }

    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        // Other paths are answered 404 before the token is checked.
        if request.uri().path().starts_with(request::PREFIX) && !self.authorized(&request) {
            return client_error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "operator token required",
            );
        }
        match Operation::read(&request, meridian_clock::now_ms()) {
            Ok(operation) => self.execute(operation).await,
            Err(refusal) => *refusal,
        }
    }

    async fn execute(&self, operation: Operation) -> Response<Bytes> {
        use Operation as O;
        let result = match operation {
            O::ListApps => self.list_apps().await,
            O::CreateApp(create) => self.create_app(create).await,
            O::GetApp(key) => self.get_app(&key).await,
            O::DeleteApp(key) => self.delete_app(&key).await,
            O::CreateUser(key, user) => self.create_user(&key, user).await,
            O::EraseUsers(key, erasure) => self.erase_users(&key, erasure).await,
            O::Erasing(key) => self.erasing(&key).await,
            O::GetUser(key, user_id) => self.get_user(&key, &user_id).await,
            O::ImportLines(key, body) => self.import_lines(&key, &body).await,
            O::Import(key, import) => self.import(&key, import).await,
            O::Export(key) => return self.export(&key).await,
            O::GetSettings(key) => self.get_settings(&key).await,
            O::PutSettings(key, settings) => self.put_settings(&key, settings).await,
            O::GetLimits(key) => self.get_limits(&key).await,
            O::PutLimits(key, limits) => self.put_limits(&key, limits).await,
            O::GetFileLimits(key) => self.get_file_limits(&key).await,
            O::PutFileLimits(key, limits) => self.put_file_limits(&key, limits).await,
            O::GetFileAccess(key) => self.get_file_access(&key).await,
            O::PutFileAccess(key, access) => self.put_file_access(&key, access).await,
            O::RotateSecret(key, rotation) => self.rotate_secret(&key, rotation).await,
            O::GetPushVendors(key) => self.get_push_vendors(&key).await,
            O::PutPushVendors(key, vendors) => self.put_push_vendors(&key, vendors).await,
            O::GetUltraGroupPush(key) => self.get_ultra_group_push(&key).await,
            O::PutUltraGroupPush(key, pace) => self.put_ultra_group_push(&key, pace).await,
            O::GetPushTemplates(key) => self.get_push_templates(&key).await,
            O::SetPushTemplate(key, id, template) => {
                self.set_push_template(&key, &id, template).await
            }
            O::GetPushRate(key) => self.get_push_rate(&key).await,
            O::PutPushRate(key, rate) => self.put_push_rate(&key, rate).await,
            O::GetPushStyle(key) => self.get_push_style(&key).await,
            O::PutPushStyle(key, style) => self.put_push_style(&key, style).await,
            O::GetSdkFeatures(key) => self.get_sdk_features(&key).await,
            O::PutSdkFeatures(key, features) => self.put_sdk_features(&key, features).await,
            O::GetRtcCallback(app_key) => {
                self.get_callback_url(Query::RtcCallback { app_key }).await
            }
            O::PutRtcCallback(app_key, url) => {
                let set = |url| Command::SetRtcCallback(SetRtcCallback { app_key, url });
                self.put_callback_url(url, set).await
            }
            O::GetErasureCallback(app_key) => {
                self.get_callback_url(Query::ErasureCallback { app_key })
                    .await
            }
            O::PutErasureCallback(app_key, url) => {
                let set = |url| Command::SetErasureCallback(SetErasureCallback { app_key, url });
                self.put_callback_url(url, set).await
            }
            O::DeadLetters(key) => self.dead_letters(&key).await,
            O::RetryDeadLetters(key) => self.retry_dead_letters(&key).await,
            O::Usage(key, range) => self.usage(&key, range).await,
            O::Storage(key) => self.storage(&key).await,
            O::ListAreas => self.list_areas().await,
            O::GetArea(code) => self.get_area(code).await,
            O::PutArea(entry) => self.put_area(entry).await,
            O::DeleteArea(code) => self.delete_area(code).await,
            O::ClusterStatus => self.cluster_call(ApiRequest::Status).await,
            O::Backup => return self.backup().await,
            O::AddMember(AddMember { id, addr }) => {
                self.cluster_call(ApiRequest::AddNode { id, addr }).await
            }
            O::RemoveMember(id) => self.cluster_call(ApiRequest::RemoveNode { id }).await,
        };
        match result {
            Ok(value) => ok(value),
            Err(error) => error_response(&error),
        }
    }

    fn envelope(&self, command: Command) -> Envelope {
        Envelope {
            area: self.cluster.area(),
            command,
        }
    }

    async fn list_apps(&self) -> Result<Value, ClusterError> {
        match self.cluster.read(Query::ListApps).await? {
            QueryOutput::Apps(apps) => Ok(json!({ "apps": apps })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    async fn create_app(&self, create: CreateApp) -> Result<Value, ClusterError> {
        let command = Command::CreateApp(crate::state::CreateApp {
            name: create.name,
            dev: create.dev.unwrap_or_else(generate_credentials),
            prod: create.prod.unwrap_or_else(generate_credentials),
        });
        match self.cluster.write_one(self.envelope(command)).await? {
            Output::App(app) => Ok(json!({ "app": app })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    async fn get_app(&self, key: &str) -> Result<Value, ClusterError> {
        match self
            .cluster
            .read(Query::GetApp {
                app_key: key.to_string(),
            })
            .await?
        {
            QueryOutput::App(app, env) => Ok(json!({ "app": app, "env": env })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    async fn delete_app(&self, key: &str) -> Result<Value, ClusterError> {
        let command = Command::DeleteApp(DeleteApp {
            app_key: key.to_string(),
        });
        match self.cluster.write_one(self.envelope(command)).await? {
            Output::AppDeleted {
                app_key,
                users_removed,
            } => Ok(json!({ "deleted": app_key, "usersRemoved": users_removed })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    async fn create_user(&self, key: &str, user: CreateUser) -> Result<Value, ClusterError> {
        let user_id = user.user_id.clone();
        let commands = Command::All(user.commands(key));
        self.cluster.write_one(self.envelope(commands)).await?;
        self.get_user(key, &user_id).await
    }

    async fn erase_users(&self, key: &str, erasure: Erasure) -> Result<Value, ClusterError> {
        let command = Command::All(vec![
            Command::EraseUsers(EraseUsers {
                app_key: key.to_string(),
                user_ids: erasure.user_ids.clone(),
                sent_messages: erasure.sent_messages,
            }),
            Command::EraseRtcUsers(EraseRtcUsers {
                app_key: key.to_string(),
                user_ids: erasure.user_ids.clone(),
            }),
            Command::EraseUserFiles(EraseUserFiles {
                app_key: key.to_string(),
                user_ids: erasure.user_ids.clone(),
            }),
        ]);
        self.cluster.write_one(self.envelope(command)).await?;
        Ok(json!({ "erased": erasure.user_ids, "sentMessages": erasure.sent_messages }))
    }

    async fn erasing(&self, key: &str) -> Result<Value, ClusterError> {
        let query = Query::ErasingSent {
            app_key: key.to_string(),
        };
        match self.cluster.read(query).await? {
            QueryOutput::ErasingSent(pending) => {
                let users: Vec<Value> = pending
                    .into_iter()
                    .map(|(user_id, asked_ms)| json!({ "userId": user_id, "askedAtMs": asked_ms }))
                    .collect();
                Ok(json!({ "users": users }))
            }
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    async fn get_user(&self, key: &str, user_id: &str) -> Result<Value, ClusterError> {
        let query = Query::GetUser {
            app_key: key.to_string(),
            user_id: user_id.to_string(),
        };
        match self.cluster.read(query).await? {
            QueryOutput::User(user) => Ok(json!({ "user": user })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    async fn get_settings(&self, key: &str) -> Result<Value, ClusterError> {
        let query = Query::AppSettings {
            app_key: key.to_string(),
        };
        match self.cluster.read(query).await? {
            QueryOutput::Settings(settings) => Ok(json!({ "settings": shown(settings) })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    /// Replaces the settings whole (fields left out take their defaults).
    async fn put_settings(&self, key: &str, settings: AppSettings) -> Result<Value, ClusterError> {
        let command = Command::SetAppSettings(SetAppSettings {
            app_key: key.to_string(),
            settings,
        });
        match self.cluster.write_one(self.envelope(command)).await? {
            Output::Settings(settings) => Ok(json!({ "settings": shown(settings) })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    async fn get_limits(&self, key: &str) -> Result<Value, ClusterError> {
        let query = Query::AppLimits {
            app_key: key.to_string(),
        };
        match self.cluster.read(query).await? {
            QueryOutput::Limits(limits) => Ok(json!({ "limits": limits })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    /// Replaces the limits whole (fields left out take their defaults).
    async fn put_limits(&self, key: &str, limits: AppLimits) -> Result<Value, ClusterError> {
        let command = Command::SetAppLimits(SetAppLimits {
            app_key: key.to_string(),
            limits,
        });
        match self.cluster.write_one(self.envelope(command)).await? {
            Output::Limits(limits) => Ok(json!({ "limits": limits })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    /// A new App Secret, chosen here (or given) so every replica stores the same one.
    async fn rotate_secret(&self, key: &str, rotation: Rotation) -> Result<Value, ClusterError> {
        let new_secret = rotation
            .new_secret
            .unwrap_or_else(|| generate_credentials().app_secret);
        let command = Command::RotateAppSecret(RotateAppSecret {
            app_key: key.to_string(),
            new_secret: new_secret.clone(),
            overlap_ms: rotation.overlap_seconds.saturating_mul(1000),
        });
        match self.cluster.write_one(self.envelope(command)).await? {
            Output::PreviousSecret(previous) => Ok(json!({
                "appKey": key,
                "appSecret": new_secret,
                "previousValidUntilMs": previous.until_ms,
            })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    async fn get_sdk_features(&self, key: &str) -> Result<Value, ClusterError> {
        let query = Query::SdkFeatures {
            app_key: key.to_string(),
        };
        match self.cluster.read(query).await? {
            QueryOutput::SdkFeatures(features) => Ok(json!({ "sdkFeatures": features })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    /// Replaces the client SDK switches whole.
    async fn put_sdk_features(
        &self,
        key: &str,
        features: SdkFeatures,
    ) -> Result<Value, ClusterError> {
        let command = Command::SetSdkFeatures(SetSdkFeatures {
            app_key: key.to_string(),
            features: features.clone(),
        });
        self.cluster.write_one(self.envelope(command)).await?;
        Ok(json!({ "sdkFeatures": features }))
    }

    async fn usage(&self, key: &str, range: usage::Range) -> Result<Value, ClusterError> {
        let query = Query::Usage {
            app_key: key.to_string(),
            from_ms: range.from_ms,
            to_ms: range.to_ms,
        };
        match self.cluster.read(query).await? {
            QueryOutput::Usage(report) => Ok(usage::shape(key, range, &report)),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    async fn storage(&self, key: &str) -> Result<Value, ClusterError> {
        let query = Query::Storage {
            app_key: key.to_string(),
        };
        match self.cluster.read(query).await? {
            QueryOutput::Storage(families) => {
                let records: u64 = families.iter().map(|f| f.records).sum();
                let bytes: u64 = families.iter().map(|f| f.bytes).sum();
                Ok(json!({
                    "families": families,
                    "total": { "records": records, "bytes": bytes },
                }))
            }
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    async fn dead_letters(&self, key: &str) -> Result<Value, ClusterError> {
        let query = Query::DeadLetters {
            app_key: key.to_string(),
            limit: crate::state::outbox::MAX_DEAD_PAGE,
        };
        match self.cluster.read(query).await? {
            QueryOutput::Jobs { jobs, waiting } => {
                let dead: Vec<Value> = jobs
                    .iter()
                    .map(|job| {
                        json!({
                            "id": job.id,
                            "kind": job.event.kind(),
                            "lane": job.lane,
                            "attempts": job.attempts,
                            "lastError": job.last_error,
                            "createdMs": job.created_ms,
                        })
                    })
                    .collect();
                Ok(json!({ "deadLetters": dead, "waiting": waiting }))
            }
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    async fn retry_dead_letters(&self, key: &str) -> Result<Value, ClusterError> {
        let command = Command::RetryDeadLetters(RetryDeadLetters {
            app_key: key.to_string(),
        });
        match self.cluster.write_one(self.envelope(command)).await? {
            Output::Count(retried) => Ok(json!({ "retried": retried })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    async fn list_areas(&self) -> Result<Value, ClusterError> {
        match self.cluster.read(Query::AreaCatalog).await? {
            QueryOutput::AreaCatalog(areas) => Ok(json!({ "areas": areas })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    async fn get_area(&self, code: AreaCode) -> Result<Value, ClusterError> {
        match self.cluster.read(Query::AreaEntry { code }).await? {
            QueryOutput::AreaEntry(area) => Ok(json!({ "area": area })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    async fn put_area(&self, entry: CatalogEntry) -> Result<Value, ClusterError> {
        let command = Command::PutAreaEntry(PutAreaEntry(entry));
        match self.cluster.write_one(self.envelope(command)).await? {
            Output::AreaEntry(area) => Ok(json!({ "area": area })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    async fn delete_area(&self, code: AreaCode) -> Result<Value, ClusterError> {
        let command = Command::DeleteAreaEntry(DeleteAreaEntry { code });
        self.cluster.write_one(self.envelope(command)).await?;
        Ok(json!({ "deleted": code }))
    }

    async fn backup(&self) -> Response<Bytes> {
        match self.cluster.call(&ApiRequest::Backup).await {
            Ok(ApiReply::Backup(snapshot)) => Response::builder()
                .header(http::header::CONTENT_TYPE, "application/octet-stream")
                .body(snapshot)
                .unwrap_or_default(),
            Ok(other) => error_response(&ClusterError::Protocol(format!("{other:?}"))),
            Err(error) => error_response(&error),
        }
    }

    async fn cluster_call(&self, request: ApiRequest) -> Result<Value, ClusterError> {
        match self.cluster.call(&request).await? {
            ApiReply::Status(status) => Ok(json!({ "status": status })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }
}

/// Settings as answers show them: push private keys never leave the cluster (a PUT that
/// sends the placeholder back keeps the stored key).
fn shown(mut settings: AppSettings) -> AppSettings {
    settings.push = settings.push.redacted();
    settings
}

/// Compares secrets without leaking where they first differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
