//! `meridian_app_settings`: what one app environment switches on or tunes, where its
//! callbacks go (its audio/video room and erasure callbacks too), which messages its app server
//! moderates, its push credentials (vendor channels too), push style, ultra-group push
//! pace and limits. The admin API replaces the settings whole, so every write reads them
//! first and keeps what this resource does not know; the room and erasure callbacks, the vendor
//! channels, the push style, the ultra-group push pace, the SDK switches and the limits
//! have paths of their own, which it replaces.

mod limits;
mod moderation;
mod push;
mod push_style;
mod vendors;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tf_provider::schema::{AttributeType, Block, Description, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, Resource};

use crate::admin::{AdminClient, AdminError};
use crate::attributes::{
    check, known_list, number_list, optional, optional_computed, or_default, required, string_list,
    text, to_value_list,
};
use crate::provider::{report, Connection};
use limits::LimitsState;
use moderation::{ModerationRuleState, RemoteRule};
use push::{PushAppState, RemotePushApp};
use push_style::QuietHoursState;
use vendors::VendorAppState;

pub struct AppSettingsResource {
    connection: Connection,
}

impl AppSettingsResource {
    /// Writes the planned settings (create and update alike) and answers them as stored.
    async fn write(
        &self,
        diags: &mut Diagnostics,
        planned: &AppSettingsState,
    ) -> Option<AppSettingsState> {
        let admin = self.connection.client(diags)?;
        match write_settings(&admin, planned).await {
            Ok(stored) => Some(stored.with_keys_of(planned)),
            Err(error) => {
                report(diags, "write the app settings", error);
                None
            }
        }
    }

    pub fn new(connection: Connection) -> Self {
        Self { connection }
    }
}

/// Attributes left out of a (test's) JSON value are null.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSettingsState {
    /// The App Key.
    id: Value<String>,
    app_key: Value<String>,
    offline_window_days: Value<i64>,
    multi_device: Value<bool>,
    pre_join_history: Value<bool>,
    whitelist_mode: Value<bool>,
    secure_domains: Value<Vec<Value<String>>>,
    strict_replay: Value<bool>,
    routing_url: Value<String>,
    routing_types: Value<Vec<Value<i64>>>,
    online_status_url: Value<String>,
    chatroom_state_url: Value<String>,
    callback_max_attempts: Value<i64>,
    moderation_rule: Value<Vec<ModerationRuleState>>,
    push_webhook_url: Value<String>,
    push_app: Value<Vec<PushAppState>>,
    /// Kept apart from the settings by the admin API (`…/rtc-callback`).
    rtc_callback_url: Value<String>,
    /// `…/erasure-callback`.
    erasure_callback_url: Value<String>,
    /// `…/push-vendors`.
    push_vendor_app: Value<Vec<VendorAppState>>,
    /// `…/push-style`.
    push_sound: Value<String>,
    #[serde(with = "tf_provider::value::serde_as_vec")]
    push_quiet_hours: Value<QuietHoursState>,
    /// `…/ultra-group-push`.
    ultra_group_push_interval_secs: Value<i64>,
    /// `…/push-rate`.
    push_rate_per_second: Value<i64>,
    /// `…/sdk-features`.
    realtime_conversations: Value<bool>,
    /// `…/limits`.
    #[serde(with = "tf_provider::value::serde_as_vec")]
    limits: Value<LimitsState>,
    /// `…/file-access`.
    private_files: Value<bool>,
}

/// The admin API's defaults, which a setting left out of the configuration is planned
/// to have: a change made outside Terraform to such a setting shows up as drift too.
const DEFAULT_OFFLINE_WINDOW_DAYS: i64 = 7;
const DEFAULT_MAX_ATTEMPTS: i64 = 16;
/// Conversation types callbacks can route: private, group, chatroom, system, ultra group.
const CONVERSATION_TYPES: [i64; 5] = [1, 3, 4, 6, 10];
const MAX_SECURE_DOMAINS: usize = 50;
/// The longest ultra-group push interval the admin API takes: a day (0, the default,
/// pushes every message).
const MAX_ULTRA_GROUP_PUSH_INTERVAL_SECS: i64 = 86_400;
/// The highest push rate cap the admin API takes (0, the default, caps nothing).
const MAX_PUSHES_PER_SECOND: i64 = 100_000;

impl AppSettingsState {
    /// The plan: configured values, and the API's defaults for what is left out.
    fn planned(config: AppSettingsState) -> Self {
        Self {
            id: config.app_key.clone(),
            app_key: config.app_key,
            offline_window_days: or_default(
                config.offline_window_days,
                DEFAULT_OFFLINE_WINDOW_DAYS,
            ),
            multi_device: or_default(config.multi_device, false),
            pre_join_history: or_default(config.pre_join_history, false),
            whitelist_mode: or_default(config.whitelist_mode, false),
            secure_domains: or_default(config.secure_domains, Vec::new()),
            strict_replay: or_default(config.strict_replay, false),
            routing_url: config.routing_url,
            routing_types: or_default(config.routing_types, Vec::new()),
            online_status_url: config.online_status_url,
            chatroom_state_url: config.chatroom_state_url,
            callback_max_attempts: or_default(config.callback_max_attempts, DEFAULT_MAX_ATTEMPTS),
            moderation_rule: or_default(
                config.moderation_rule.map(|rules| {
                    rules
                        .into_iter()
                        .map(ModerationRuleState::planned)
                        .collect()
                }),
                Vec::new(),
            ),
            push_webhook_url: config.push_webhook_url,
            push_app: or_default(
                config
                    .push_app
                    .map(|apps| apps.into_iter().map(PushAppState::planned).collect()),
                Vec::new(),
            ),
            rtc_callback_url: config.rtc_callback_url,
            erasure_callback_url: config.erasure_callback_url,
            push_vendor_app: or_default(config.push_vendor_app, Vec::new()),
            push_sound: config.push_sound,
            push_quiet_hours: config.push_quiet_hours,
            ultra_group_push_interval_secs: or_default(config.ultra_group_push_interval_secs, 0),
            push_rate_per_second: or_default(config.push_rate_per_second, 0),
            realtime_conversations: or_default(config.realtime_conversations, false),
            limits: config.limits.map(LimitsState::planned),
            private_files: or_default(config.private_files, false),
        }
    }

    /// The managed settings read from the API's `settings` object.
    fn from_api(app_key: &str, settings: &serde_json::Value) -> Result<Self, String> {
        let remote: RemoteSettings =
            serde_json::from_value(settings.clone()).map_err(|e| format!("{e}: {settings}"))?;
        Ok(Self {
            id: app_key.to_string().into(),
            app_key: app_key.to_string().into(),
            offline_window_days: remote.offline_window_days.into(),
            multi_device: remote.multi_device.into(),
            pre_join_history: remote.pre_join_history.into(),
            whitelist_mode: remote.whitelist_mode.into(),
            secure_domains: to_value_list(remote.secure_domains),
            strict_replay: remote.strict_replay.into(),
            routing_url: remote.callbacks.routing_url.into(),
            routing_types: to_value_list(remote.callbacks.routing_types),
            online_status_url: remote.callbacks.online_status_url.into(),
            chatroom_state_url: remote.callbacks.chatroom_state_url.into(),
            callback_max_attempts: remote.callbacks.max_attempts.into(),
            moderation_rule: Value::Value(
                remote
                    .callbacks
                    .moderation
                    .into_iter()
                    .map(ModerationRuleState::from)
                    .collect(),
            ),
            push_webhook_url: remote.push.webhook_url.into(),
            push_app: Value::Value(
                remote
                    .push
                    .apps
                    .into_iter()
                    .map(PushAppState::from)
                    .collect(),
            ),
            // Read from their own paths by `read_settings`.
            rtc_callback_url: Value::Null,
            erasure_callback_url: Value::Null,
            push_vendor_app: Value::Null,
            push_sound: Value::Null,
            push_quiet_hours: Value::Null,
            ultra_group_push_interval_secs: Value::Null,
            push_rate_per_second: Value::Null,
            realtime_conversations: Value::Null,
            limits: Value::Null,
            private_files: Value::Null,
        })
    }

    /// Writes the managed settings into the API's `settings` object, leaving the rest.
    fn write_into(&self, settings: &mut serde_json::Value) {
        settings["offlineWindowDays"] = json!(self.offline_window_days.as_ref_option());
        settings["multiDevice"] = json!(self.multi_device.as_ref_option());
        settings["preJoinHistory"] = json!(self.pre_join_history.as_ref_option());
        settings["whitelistMode"] = json!(self.whitelist_mode.as_ref_option());
        settings["secureDomains"] = json!(known_list(&self.secure_domains));
        settings["strictReplay"] = json!(self.strict_replay.as_ref_option());
        let callbacks = &mut settings["callbacks"];
        callbacks["routingUrl"] = json!(self.routing_url.as_ref_option());
        callbacks["routingTypes"] = json!(known_list(&self.routing_types));
        callbacks["onlineStatusUrl"] = json!(self.online_status_url.as_ref_option());
        callbacks["chatroomStateUrl"] = json!(self.chatroom_state_url.as_ref_option());
        callbacks["maxAttempts"] = json!(self.callback_max_attempts.as_ref_option());
        let rules: Vec<RemoteRule> = self
            .moderation_rule
            .iter()
            .flatten()
            .map(ModerationRuleState::to_remote)
            .collect();
        callbacks["moderation"] = json!(rules);
        let apps: Vec<RemotePushApp> = self
            .push_app
            .iter()
            .flatten()
            .map(PushAppState::to_remote)
            .collect();
        settings["push"] = json!({
            "apps": apps,
            "webhookUrl": self.push_webhook_url.as_ref_option(),
        });
    }

    /// This state as read, with the private keys of `known` where the admin API shows
    /// its placeholder, vendor URLs and limits blocks shaped like `known`'s (the state
    /// before a read, the plan before a write; empty for an import).
    fn with_keys_of(mut self, known: &AppSettingsState) -> Self {
        push::keep_keys(&mut self.push_app, &known.push_app);
        vendors::keep_known(&mut self.push_vendor_app, &known.push_vendor_app);
        limits::fit(&mut self.limits, &known.limits);
        self
    }
}

/// The part of the admin API's settings this resource manages.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoteSettings {
    offline_window_days: i64,
    multi_device: bool,
    pre_join_history: bool,
    whitelist_mode: bool,
    secure_domains: Vec<String>,
    strict_replay: bool,
    callbacks: RemoteCallbacks,
    push: RemotePush,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoteCallbacks {
    routing_url: Option<String>,
    routing_types: Vec<i64>,
    online_status_url: Option<String>,
    chatroom_state_url: Option<String>,
    max_attempts: i64,
    moderation: Vec<RemoteRule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemotePush {
    apps: Vec<RemotePushApp>,
    webhook_url: Option<String>,
}

fn check_range(range: std::ops::RangeInclusive<i64>) -> impl Fn(&i64) -> Result<(), String> {
    move |value| {
        if range.contains(value) {
            Ok(())
        } else {
            Err(format!("must be {} to {}", range.start(), range.end()))
        }
    }
}

/// A list of at most `max` items (`what`: "origins", "entries").
fn at_most<T>(max: usize, what: &'static str) -> impl Fn(&[T]) -> Result<(), String> {
    move |items| {
        if items.len() <= max {
            Ok(())
        } else {
            Err(format!("at most {max} {what}"))
        }
    }
}

fn check_url(url: &str) -> Result<(), String> {
    let valid = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 1024
        && !url.contains(char::is_whitespace);
    if valid {
        Ok(())
    } else {
        Err("must be an http:// or https:// URL of at most 1024 characters".into())
    }
}

fn check_origins(origins: &[Value<String>]) -> Result<(), String> {
    at_most(MAX_SECURE_DOMAINS, "origins")(origins)?;
    for origin in origins.iter().filter_map(Value::as_ref_option) {
        let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
            && origin.len() <= 253
            && !origin.ends_with('/');
        if !valid {
            return Err(format!(
                "{origin:?} must be an origin like https://chat.example.com"
            ));
        }
    }
    Ok(())
}

fn check_conversation_types(types: &[Value<i64>]) -> Result<(), String> {
    match types
        .iter()
        .filter_map(Value::as_ref_option)
        .find(|t| !CONVERSATION_TYPES.contains(t))
    {
        Some(bad) => Err(format!(
            "{bad} is not a conversation type (1 private, 3 group, 4 chatroom, 6 system, 10 ultra group)"
        )),
        None => Ok(()),
    }
}

fn settings_path(app_key: &str) -> String {
    format!("/admin/v1/apps/{app_key}/settings")
}

fn rtc_callback_path(app_key: &str) -> String {
    format!("/admin/v1/apps/{app_key}/rtc-callback")
}

fn erasure_callback_path(app_key: &str) -> String {
    format!("/admin/v1/apps/{app_key}/erasure-callback")
}

fn push_vendors_path(app_key: &str) -> String {
    format!("/admin/v1/apps/{app_key}/push-vendors")
}

fn push_style_path(app_key: &str) -> String {
    format!("/admin/v1/apps/{app_key}/push-style")
}

fn ultra_group_push_path(app_key: &str) -> String {
    format!("/admin/v1/apps/{app_key}/ultra-group-push")
}

fn push_rate_path(app_key: &str) -> String {
    format!("/admin/v1/apps/{app_key}/push-rate")
}

fn sdk_features_path(app_key: &str) -> String {
    format!("/admin/v1/apps/{app_key}/sdk-features")
}

fn limits_path(app_key: &str) -> String {
    format!("/admin/v1/apps/{app_key}/limits")
}

fn file_access_path(app_key: &str) -> String {
    format!("/admin/v1/apps/{app_key}/file-access")
}

/// The admin API's body for the ultra-group push pace.
fn ultra_group_push_body(interval_secs: &Value<i64>) -> serde_json::Value {
    json!({ "intervalSecs": interval_secs.as_ref_option() })
}

/// The answers of the paths the admin API keeps apart from the settings.
struct Extras {
    vendors: serde_json::Value,
    style: serde_json::Value,
    ultra_group_push: serde_json::Value,
    push_rate: serde_json::Value,
    features: serde_json::Value,
    limits: serde_json::Value,
    file_access: serde_json::Value,
}

/// Reads the vendor channels, the push style, the ultra-group push pace, the push rate
/// cap, the SDK switches, the limits and the file access from their answers.
fn read_extras(state: &mut AppSettingsState, extras: &Extras) -> Result<(), AdminError> {
    state.push_vendor_app =
        vendors::from_remote(&extras.vendors["pushVendors"]).map_err(AdminError::Malformed)?;
    (state.push_sound, state.push_quiet_hours) =
        push_style::from_remote(&extras.style["pushStyle"]);
    state.ultra_group_push_interval_secs = extras.ultra_group_push["ultraGroupPush"]
        ["intervalSecs"]
        .as_i64()
        .into();
    state.push_rate_per_second = extras.push_rate["pushRate"]["perSecond"].as_i64().into();
    state.realtime_conversations = extras.features["sdkFeatures"]["realtimeConversations"]
        .as_bool()
        .into();
    state.limits = limits::from_remote(&extras.limits["limits"]).map_err(AdminError::Malformed)?;
    state.private_files = extras.file_access["fileAccess"]["private"].as_bool().into();
    Ok(())
}

fn url_of(answer: &serde_json::Value) -> Value<String> {
    answer["url"].as_str().map(str::to_string).into()
}

/// Replaces a callback URL kept at a path of its own; answers it as stored.
async fn put_url(
    admin: &AdminClient,
    path: &str,
    url: &Value<String>,
) -> Result<Value<String>, AdminError> {
    let body = json!({ "url": url.as_ref_option() });
    Ok(url_of(&admin.put(path, &body).await?))
}

fn stored_settings(
    app_key: &str,
    answer: &serde_json::Value,
) -> Result<AppSettingsState, AdminError> {
    AppSettingsState::from_api(app_key, &answer["settings"]).map_err(AdminError::Malformed)
}

/// The settings as the API has them.
async fn read_settings(admin: &AdminClient, app_key: &str) -> Result<AppSettingsState, AdminError> {
    let mut state = stored_settings(app_key, &admin.get(&settings_path(app_key)).await?)?;
    state.rtc_callback_url = url_of(&admin.get(&rtc_callback_path(app_key)).await?);
    state.erasure_callback_url = url_of(&admin.get(&erasure_callback_path(app_key)).await?);
    let extras = Extras {
        vendors: admin.get(&push_vendors_path(app_key)).await?,
        style: admin.get(&push_style_path(app_key)).await?,
        ultra_group_push: admin.get(&ultra_group_push_path(app_key)).await?,
        push_rate: admin.get(&push_rate_path(app_key)).await?,
        features: admin.get(&sdk_features_path(app_key)).await?,
        limits: admin.get(&limits_path(app_key)).await?,
        file_access: admin.get(&file_access_path(app_key)).await?,
    };
    read_extras(&mut state, &extras)?;
    Ok(state)
}

/// Reads the whole settings object, overwrites the managed part with `state` and writes
/// it back; answers the state as stored.
async fn write_settings(
    admin: &AdminClient,
    state: &AppSettingsState,
) -> Result<AppSettingsState, AdminError> {
    let app_key = text(&state.app_key);
    let path = settings_path(app_key);
    let mut settings = admin.get(&path).await?["settings"].take();
    state.write_into(&mut settings);
    let mut stored = stored_settings(app_key, &admin.put(&path, &settings).await?)?;
    stored.rtc_callback_url =
        put_url(admin, &rtc_callback_path(app_key), &state.rtc_callback_url).await?;
    stored.erasure_callback_url = put_url(
        admin,
        &erasure_callback_path(app_key),
        &state.erasure_callback_url,
    )
    .await?;
    let vendors = vendors::to_remote(&state.push_vendor_app);
    let style = push_style::to_remote(&state.push_sound, &state.push_quiet_hours);
    let pace = ultra_group_push_body(&state.ultra_group_push_interval_secs);
    let rate = json!({ "perSecond": state.push_rate_per_second.as_ref_option() });
    let features = json!({ "realtimeConversations": state.realtime_conversations.as_ref_option() });
    let limits = limits::to_remote(&state.limits);
    let access = json!({ "private": state.private_files.as_ref_option() });
    let extras = Extras {
        vendors: admin.put(&push_vendors_path(app_key), &vendors).await?,
        style: admin.put(&push_style_path(app_key), &style).await?,
        ultra_group_push: admin.put(&ultra_group_push_path(app_key), &pace).await?,
        push_rate: admin.put(&push_rate_path(app_key), &rate).await?,
        features: admin.put(&sdk_features_path(app_key), &features).await?,
        limits: admin.put(&limits_path(app_key), &limits).await?,
        file_access: admin.put(&file_access_path(app_key), &access).await?,
    };
    read_extras(&mut stored, &extras)?;
    Ok(stored)
}

#[async_trait]
impl Resource for AppSettingsResource {
    type State<'a> = AppSettingsState;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let text = AttributeType::String;
        let flag = AttributeType::Bool;
        let number = AttributeType::Number;
        Some(Schema {
            version: 1,
            block: Block {
                description: Description::plain(
                    "Settings of one app environment (its App Key), its moderation rules, push credentials (APNs, FCM and the Chinese Android vendor channels), push style, ultra-group push pace, limits and file access. Settings left out take the admin API's defaults (no moderation rules, no push credentials, the default sound, no quiet hours, every ultra-group message pushed, the default limits, files fetched by link). Destroying it puts the settings back to their defaults.",
                ),
                attributes: map! {
                    "id" => crate::attributes::computed(text.clone(), "The App Key."),
                    "app_key" => required(text.clone(), "App Key of the environment (dev_app_key or prod_app_key of a meridian_app)."),
                    "offline_window_days" => optional_computed(number.clone(), "Days a device's offline messages are kept for sync, 1 to 7 (default 7)."),
                    "multi_device" => optional_computed(flag.clone(), "Several web sessions per user (default false)."),
                    "pre_join_history" => optional_computed(flag.clone(), "New group and ultra group members also see earlier messages (default false)."),
                    "whitelist_mode" => optional_computed(flag.clone(), "Only senders on a recipient's whitelist reach it, instead of the blacklist (default false)."),
                    "secure_domains" => optional_computed(string_list(), "Web origins allowed to open client sessions, like https://chat.example.com; empty: any (default)."),
                    "strict_replay" => optional_computed(flag.clone(), "Server API calls need a timestamp within 5 minutes and a fresh nonce (default false)."),
                    "routing_url" => optional(text.clone(), "Every stored message is posted here."),
                    "routing_types" => optional_computed(number_list(), "Conversation types routed: 1 private, 3 group, 4 chatroom, 6 system, 10 ultra group; empty: all (default)."),
                    "online_status_url" => optional(text.clone(), "Device connect, disconnect and logout are posted here."),
                    "chatroom_state_url" => optional(text.clone(), "Chatroom create, destroy, join and quit are posted here."),
                    "callback_max_attempts" => optional_computed(number.clone(), "Attempts per callback before it becomes a dead letter, 1 to 50 (default 16)."),
                    "push_webhook_url" => optional(text.clone(), "Notifications for devices registered with the webhook provider are posted here."),
                    "rtc_callback_url" => optional(text.clone(), "Audio/video room events (room created and destroyed, members joining and leaving, resources changing) are posted here."),
                    "erasure_callback_url" => optional(text.clone(), "Once users are erased (their sent messages too, if asked), their ids are posted here."),
                    "push_sound" => optional(text, "The notification sound, a file in the app's bundle (APNs aps.sound, FCM sound); left out: default."),
                    "push_rate_per_second" => optional_computed(number.clone(), &format!("The most pushes per second the app's providers are handed, 0 to {MAX_PUSHES_PER_SECOND}: a second's worth goes at once, the rest wait their turn; 0 (default): no cap.")),
                    "ultra_group_push_interval_secs" => optional_computed(number, &format!("Once a user is pushed for an ultra group, that group's other messages push nothing to them for this many seconds, mentions of them excepted (ULG-06), 0 to {MAX_ULTRA_GROUP_PUSH_INTERVAL_SECS}; 0 (default): every message pushes.")),
                    "private_files" => optional_computed(flag.clone(), "Files are fetched only by their uploader, the app server and the members of the conversation they were uploaded for; a download link alone is refused (default false)."),
                    "realtime_conversations" => optional_computed(flag, "The commercial client SDKs' real-time conversations: they ask the server for the conversation list and its unread counts and keep none of their own (nav's sessionMode; default false)."),
                },
                blocks: map! {
                    "moderation_rule" => moderation::schema(),
                    "push_app" => push::schema(),
                    "push_vendor_app" => vendors::schema(),
                    "push_quiet_hours" => push_style::quiet_hours_schema(),
                    "limits" => limits::schema(),
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: AppSettingsState) -> Option<()> {
        check(
            diags,
            "offline_window_days",
            &config.offline_window_days,
            check_range(1..=7),
        );
        check(
            diags,
            "callback_max_attempts",
            &config.callback_max_attempts,
            check_range(1..=50),
        );
        check(
            diags,
            "secure_domains",
            &config.secure_domains,
            check_origins,
        );
        check(
            diags,
            "routing_types",
            &config.routing_types,
            check_conversation_types,
        );
        check(diags, "routing_url", &config.routing_url, check_url);
        check(
            diags,
            "online_status_url",
            &config.online_status_url,
            check_url,
        );
        check(
            diags,
            "chatroom_state_url",
            &config.chatroom_state_url,
            check_url,
        );
        check(
            diags,
            "push_webhook_url",
            &config.push_webhook_url,
            check_url,
        );
        check(
            diags,
            "rtc_callback_url",
            &config.rtc_callback_url,
            check_url,
        );
        check(
            diags,
            "erasure_callback_url",
            &config.erasure_callback_url,
            check_url,
        );
        moderation::validate(diags, &config.moderation_rule);
        push::validate(diags, &config.push_app);
        vendors::validate(diags, &config.push_vendor_app);
        push_style::validate(diags, &config.push_sound, &config.push_quiet_hours);
        check(
            diags,
            "ultra_group_push_interval_secs",
            &config.ultra_group_push_interval_secs,
            check_range(0..=MAX_ULTRA_GROUP_PUSH_INTERVAL_SECS),
        );
        check(
            diags,
            "push_rate_per_second",
            &config.push_rate_per_second,
            check_range(0..=MAX_PUSHES_PER_SECOND),
        );
        limits::validate(diags, &config.limits);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: AppSettingsState,
        private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(AppSettingsState, ValueEmpty)> {
        let admin = self.connection.client(diags)?;
        match read_settings(&admin, text(&state.app_key)).await {
            Ok(current) => Some((current.with_keys_of(&state), private_state)),
            // The app is gone, and its settings with it.
            Err(error) if error.is_not_found() => None,
            Err(error) => {
                report(diags, "read the app settings", error);
                Some((state, private_state))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        _diags: &mut Diagnostics,
        _proposed_state: AppSettingsState,
        config_state: AppSettingsState,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(AppSettingsState, ValueEmpty)> {
        Some((AppSettingsState::planned(config_state), Default::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior_state: AppSettingsState,
        _proposed_state: AppSettingsState,
        config_state: AppSettingsState,
        prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(AppSettingsState, ValueEmpty, Vec<AttributePath>)> {
        let planned = AppSettingsState::planned(config_state);
        let replace = if planned.app_key != prior_state.app_key {
            vec![AttributePath::new("app_key")]
        } else {
            Vec::new()
        };
        Some((planned, prior_private_state, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior_state: AppSettingsState,
        prior_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(prior_private_state)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned_state: AppSettingsState,
        _config_state: AppSettingsState,
        planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(AppSettingsState, ValueEmpty)> {
        self.write(diags, &planned_state)
            .await
            .map(|stored| (stored, planned_private_state))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        _prior_state: AppSettingsState,
        planned_state: AppSettingsState,
        _config_state: AppSettingsState,
        planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<(AppSettingsState, ValueEmpty)> {
        self.write(diags, &planned_state)
            .await
            .map(|stored| (stored, planned_private_state))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior_state: AppSettingsState,
        _planned_private_state: ValueEmpty,
        _provider_meta_state: ValueEmpty,
    ) -> Option<()> {
        let admin = self.connection.client(diags)?;
        let defaults = AppSettingsState::planned(AppSettingsState {
            app_key: prior_state.app_key,
            ..Default::default()
        });
        match write_settings(&admin, &defaults).await {
            Ok(_) => Some(()),
            // Deleting the app already took its settings.
            Err(error) if error.is_not_found() => Some(()),
            Err(error) => {
                report(diags, "reset the app settings", error);
                None
            }
        }
    }

    /// `terraform import meridian_app_settings.NAME <App Key>`.
    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(AppSettingsState, ValueEmpty)> {
        let admin = self.connection.client(diags)?;
        match read_settings(&admin, &id).await {
            // Nothing known: limits blocks only where the limits are not the defaults.
            Ok(state) => Some((
                state.with_keys_of(&AppSettingsState::default()),
                Default::default(),
            )),
            Err(error) => {
                report(diags, &format!("import the settings of app {id}"), error);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
