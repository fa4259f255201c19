//! Apps (tenants): one record per app with its two environments' credentials, and an
//! index from every App Key to its app.

use meridian_regions::AreaCode;
use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::keys::apps as keys;
use super::messages::ConversationType;
use super::store::{Overlay, StateRead};
use super::users;

/// Web origins one app may list (MSG-10).
pub const MAX_SECURE_DOMAINS: usize = 50;
const MAX_NAME_CHARS: usize = 64;

/// `dev` and `prod` environments of one app: separate keys, separate data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppEnv {
    Dev,
    Prod,
}

impl AppEnv {
    pub fn as_str(self) -> &'static str {
        match self {
            AppEnv::Dev => "dev",
            AppEnv::Prod => "prod",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub app_key: String,
    pub app_secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub name: String,
    pub home: AreaCode,
    pub created_at_ms: u64,
    pub dev: Credentials,
    pub prod: Credentials,
}

impl App {
    pub fn credentials(&self, env: AppEnv) -> &Credentials {
        match env {
            AppEnv::Dev => &self.dev,
            AppEnv::Prod => &self.prod,
        }
    }
}

/// Which app (by its prod key) an App Key belongs to, and in which environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyIndex {
    prod_key: String,
    env: AppEnv,
}

/// App Keys and Secrets: 6–64 ASCII letters or digits (the commercial service's keys are
/// 13–14 lowercase alphanumerics; operators moving an app in keep theirs).
fn validate_credential(field: &str, value: &str) -> Result<(), CommandError> {
    if !(6..=64).contains(&value.len()) {
        return Err(CommandError::invalid(field, "must be 6 to 64 characters"));
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(CommandError::invalid(
            field,
            "only ASCII letters and digits are allowed",
        ));
    }
    Ok(())
}

pub(super) fn create(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    name: &str,
    dev: &Credentials,
    prod: &Credentials,
) -> Result<App, CommandError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(CommandError::invalid("name", "must be 1 to 64 characters"));
    }
    validate_credential("dev.appKey", &dev.app_key)?;
    validate_credential("dev.appSecret", &dev.app_secret)?;
    validate_credential("prod.appKey", &prod.app_key)?;
    validate_credential("prod.appSecret", &prod.app_secret)?;
    if dev.app_key == prod.app_key {
        return Err(CommandError::invalid(
            "dev.appKey",
            "must differ from prod.appKey",
        ));
    }
    for key in [&dev.app_key, &prod.app_key] {
        if state.get_raw(&keys::key_index(key))?.is_some() {
            return Err(CommandError::Conflict {
                what: format!("app key {key}"),
            });
        }
    }
    let app = App {
        name: name.to_string(),
        home: ctx.area,
        created_at_ms: ctx.now_ms,
        dev: dev.clone(),
        prod: prod.clone(),
    };
    state.put(keys::app(&prod.app_key), &app)?;
    for (env, creds) in [(AppEnv::Dev, dev), (AppEnv::Prod, prod)] {
        state.put(
            keys::key_index(&creds.app_key),
            &KeyIndex {
                prod_key: prod.app_key.clone(),
                env,
            },
        )?;
    }
    Ok(app)
}

/// What an app environment switches on or tunes (the operator admin API sets them;
/// they apply to the next request, MSG-11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct AppSettings {
    /// PRV-02: how long a device's offline messages are kept for sync, 1–7 days.
    pub offline_window_days: u8,
    /// MSG-02: several web sessions per user.
    pub multi_device: bool,
    /// GRP-05, ULG-04: new members also see what was said before they joined.
    pub pre_join_history: bool,
    /// PRV-11: only senders on a recipient's whitelist reach it (instead of the blacklist).
    pub whitelist_mode: bool,
    /// MSG-10: web origins allowed to open client sessions; empty: any.
    pub secure_domains: Vec<String>,
    /// API-02: Server API calls need a timestamp within ±5 minutes and a fresh nonce
    /// (off by default: one published SDK signs once and reuses its headers).
    pub strict_replay: bool,
    /// HOOK-01..04: what the app server wants to hear about, and where.
    pub callbacks: CallbackSettings,
    /// PUSH-02, PUSH-04: where notifications for offline users go.
    pub push: PushSettings,
}

/// App identifiers with push credentials one app may have (PUSH-04).
pub const MAX_PUSH_APPS: usize = 20;

/// The app's push credentials, per app identifier (PUSH-04).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PushSettings {
    pub apps: Vec<PushApp>,
    /// Devices registered with the `webhook` provider are pushed through this URL.
    pub webhook_url: Option<String>,
}

/// One app identifier (iOS bundle id, Android applicationId) and its credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushApp {
    pub app_id: String,
    #[serde(default)]
    pub apns: Option<meridian_push::ApnsCredentials>,
    #[serde(default)]
    pub fcm: Option<meridian_push::FcmCredentials>,
}

/// What the admin API shows instead of a private key; sent back, it keeps the stored one.
pub const REDACTED_KEY: &str = "<redacted>";

impl PushSettings {
    /// A copy without private keys, for answers.
    pub fn redacted(&self) -> Self {
        let mut copy = self.clone();
        for app in &mut copy.apps {
            if let Some(apns) = &mut app.apns {
                apns.private_key_pem = REDACTED_KEY.into();
            }
            if let Some(fcm) = &mut app.fcm {
                fcm.private_key_pem = REDACTED_KEY.into();
            }
        }
        copy
    }

    /// Puts back the stored private keys where `self` carries [`REDACTED_KEY`].
    fn keep_keys_of(&mut self, stored: &PushSettings) {
        for app in &mut self.apps {
            let old = stored.app(&app.app_id);
            if let Some(apns) = &mut app.apns {
                if apns.private_key_pem == REDACTED_KEY {
                    if let Some(key) = old.and_then(|o| o.apns.as_ref()) {
                        apns.private_key_pem = key.private_key_pem.clone();
                    }
                }
            }
            if let Some(fcm) = &mut app.fcm {
                if fcm.private_key_pem == REDACTED_KEY {
                    if let Some(key) = old.and_then(|o| o.fcm.as_ref()) {
                        fcm.private_key_pem = key.private_key_pem.clone();
                    }
                }
            }
        }
    }

    pub fn is_enabled(&self) -> bool {
        !self.apps.is_empty() || self.webhook_url.is_some()
    }

    pub fn app(&self, app_id: &str) -> Option<&PushApp> {
        self.apps.iter().find(|app| app.app_id == app_id)
    }

    fn validate(&self) -> Result<(), CommandError> {
        if let Some(url) = &self.webhook_url {
            validate_url("push.webhookUrl", url)?;
        }
        if self.apps.len() > MAX_PUSH_APPS {
            return Err(CommandError::invalid(
                "push.apps",
                format!("at most {MAX_PUSH_APPS} app identifiers"),
            ));
        }
        for (i, app) in self.apps.iter().enumerate() {
            if app.app_id.is_empty() || app.app_id.chars().count() > 128 {
                return Err(CommandError::invalid(
                    "push.apps.appId",
                    "must be 1 to 128 characters",
                ));
            }
            if self.apps[..i]
                .iter()
                .any(|other| other.app_id == app.app_id)
            {
                return Err(CommandError::invalid(
                    "push.apps.appId",
                    format!("{} is listed twice", app.app_id),
                ));
            }
            if let Some(apns) = &app.apns {
                apns.validate()
                    .map_err(|e| CommandError::invalid("push.apps.apns", e))?;
                if apns.bundle_id != app.app_id {
                    return Err(CommandError::invalid(
                        "push.apps.apns.bundleId",
                        "must be the app identifier it is listed under",
                    ));
                }
            }
            if let Some(fcm) = &app.fcm {
                fcm.validate()
                    .map_err(|e| CommandError::invalid("push.apps.fcm", e))?;
            }
        }
        Ok(())
    }
}

/// Moderation rules one app may have (HOOK-02).
pub const MAX_MODERATION_RULES: usize = 20;
/// Entries one moderation rule's list may hold.
pub const MAX_RULE_ENTRIES: usize = 100;
/// The longest callback URL.
pub const MAX_URL_CHARS: usize = 1024;
/// Moderation timeouts: the commercial service waits 3 s.
pub const MODERATION_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 100..=10_000;
/// A callback is tried at most this many times before it becomes a dead letter.
pub const MAX_ATTEMPTS: std::ops::RangeInclusive<u32> = 1..=50;

/// The app server's callback URLs (HOOK-01..04). Every callback is signed (HOOK-05).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CallbackSettings {
    /// HOOK-01: every stored message is posted here.
    pub routing_url: Option<String>,
    /// Conversation type codes routed (1 private, 3 group, 4 chatroom, 6 system, 10 ultra
    /// group); empty: all.
    pub routing_types: Vec<u8>,
    /// HOOK-02: messages matching a rule are held until its URL answers.
    pub moderation: Vec<ModerationRule>,
    /// HOOK-03: device connect/disconnect/logout.
    pub online_status_url: Option<String>,
    /// HOOK-04: chatroom create/destroy/join/quit.
    pub chatroom_state_url: Option<String>,
    /// Attempts per callback before it becomes a dead letter.
    pub max_attempts: u32,
}

impl Default for CallbackSettings {
    fn default() -> Self {
        Self {
            routing_url: None,
            routing_types: Vec::new(),
            moderation: Vec::new(),
            online_status_url: None,
            chatroom_state_url: None,
            max_attempts: 16,
        }
    }
}

/// What a moderation rule does when its URL does not answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModerationDefault {
    /// Deliver unchanged (the commercial service's behaviour).
    #[default]
    Pass,
    Block,
}

/// HOOK-02: which messages are held for the app server. Empty lists match anything; a
/// message is held by the first rule all of whose lists match it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ModerationRule {
    pub url: String,
    pub senders: Vec<String>,
    /// Target ids: the recipient user, the group or the chatroom.
    pub receivers: Vec<String>,
    pub conversation_types: Vec<u8>,
    pub object_names: Vec<String>,
    pub timeout_ms: u64,
    pub default_action: ModerationDefault,
}

impl Default for ModerationRule {
    fn default() -> Self {
        Self {
            url: String::new(),
            senders: Vec::new(),
            receivers: Vec::new(),
            conversation_types: Vec::new(),
            object_names: Vec::new(),
            timeout_ms: 3_000,
            default_action: ModerationDefault::Pass,
        }
    }
}

impl ModerationRule {
    pub fn matches(
        &self,
        sender: &str,
        receiver: &str,
        kind: ConversationType,
        object_name: &str,
    ) -> bool {
        let listed =
            |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        listed(&self.senders, sender)
            && listed(&self.receivers, receiver)
            && super::outbox::lists(&self.conversation_types, kind)
            && listed(&self.object_names, object_name)
    }
}

/// A callback URL: http(s), a host, no fragment (the signature goes into the query),
/// something an HTTP client can send.
fn validate_url(field: &str, url: &str) -> Result<(), CommandError> {
    let parsed = url.parse::<http::Uri>().ok();
    let valid = url.len() <= MAX_URL_CHARS
        && !url.contains('#')
        && parsed.is_some_and(|uri| {
            matches!(uri.scheme_str(), Some("http" | "https"))
                && uri.host().is_some_and(|host| !host.is_empty())
        });
    if valid {
        Ok(())
    } else {
        Err(CommandError::invalid(
            field,
            format!(
                "must be an http:// or https:// URL with a host and no fragment, at most {MAX_URL_CHARS} characters"
            ),
        ))
    }
}

fn validate_types(field: &str, types: &[u8]) -> Result<(), CommandError> {
    match types
        .iter()
        .find(|t| ConversationType::from_code(**t).is_none())
    {
        Some(bad) => Err(CommandError::invalid(
            field,
            format!("{bad} is not a conversation type (1, 3, 4, 6 or 10)"),
        )),
        None => Ok(()),
    }
}

impl CallbackSettings {
    /// HOOK-01: whether messages of this conversation type are routed.
    pub fn routes(&self, kind: ConversationType) -> bool {
        self.routing_url.is_some() && super::outbox::lists(&self.routing_types, kind)
    }

    /// HOOK-02: the rule holding this message, if any.
    pub fn moderation_rule(
        &self,
        sender: &str,
        receiver: &str,
        kind: ConversationType,
        object_name: &str,
    ) -> Option<&ModerationRule> {
        self.moderation
            .iter()
            .find(|rule| rule.matches(sender, receiver, kind, object_name))
    }

    fn validate(&self) -> Result<(), CommandError> {
        for (field, url) in [
            ("callbacks.routingUrl", &self.routing_url),
            ("callbacks.onlineStatusUrl", &self.online_status_url),
            ("callbacks.chatroomStateUrl", &self.chatroom_state_url),
        ] {
            if let Some(url) = url {
                validate_url(field, url)?;
            }
        }
        validate_types("callbacks.routingTypes", &self.routing_types)?;
        if !MAX_ATTEMPTS.contains(&self.max_attempts) {
            return Err(CommandError::invalid(
                "callbacks.maxAttempts",
                format!("must be {} to {}", MAX_ATTEMPTS.start(), MAX_ATTEMPTS.end()),
            ));
        }
        if self.moderation.len() > MAX_MODERATION_RULES {
            return Err(CommandError::invalid(
                "callbacks.moderation",
                format!("at most {MAX_MODERATION_RULES} rules"),
            ));
        }
        for rule in &self.moderation {
            validate_url("callbacks.moderation.url", &rule.url)?;
            validate_types(
                "callbacks.moderation.conversationTypes",
                &rule.conversation_types,
            )?;
            if !MODERATION_TIMEOUT_MS.contains(&rule.timeout_ms) {
                return Err(CommandError::invalid(
                    "callbacks.moderation.timeoutMs",
                    format!(
                        "must be {} to {}",
                        MODERATION_TIMEOUT_MS.start(),
                        MODERATION_TIMEOUT_MS.end()
                    ),
                ));
            }
            let longest = [
                rule.senders.len(),
                rule.receivers.len(),
                rule.conversation_types.len(),
                rule.object_names.len(),
            ];
            if longest.into_iter().any(|len| len > MAX_RULE_ENTRIES) {
                return Err(CommandError::invalid(
                    "callbacks.moderation",
                    format!("a rule's lists hold at most {MAX_RULE_ENTRIES} entries"),
                ));
            }
        }
        Ok(())
    }
}

impl Default for AppSettings {
    fn default() -> Self {
        Self {
            offline_window_days: 7,
            multi_device: false,
            pre_join_history: false,
            whitelist_mode: false,
            secure_domains: Vec::new(),
            strict_replay: false,
            callbacks: CallbackSettings::default(),
            push: PushSettings::default(),
        }
    }
}

impl AppSettings {
    fn validate(&self) -> Result<(), CommandError> {
        self.callbacks.validate()?;
        self.push.validate()?;
        if !(1..=7).contains(&self.offline_window_days) {
            return Err(CommandError::invalid("offlineWindowDays", "must be 1 to 7"));
        }
        if self.secure_domains.len() > MAX_SECURE_DOMAINS {
            return Err(CommandError::invalid(
                "secureDomains",
                format!("at most {MAX_SECURE_DOMAINS}"),
            ));
        }
        for origin in &self.secure_domains {
            let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
                && origin.len() <= 253
                && !origin.ends_with('/');
            if !valid {
                return Err(CommandError::invalid(
                    "secureDomains",
                    format!("{origin:?} must be an origin like https://chat.example.com"),
                ));
            }
        }
        Ok(())
    }

    /// Whether a browser page from `origin` may open a session (no `Origin`: not a
    /// browser, always allowed).
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        match origin {
            None => true,
            Some(origin) => {
                self.secure_domains.is_empty()
                    || self.secure_domains.iter().any(|allowed| allowed == origin)
            }
        }
    }
}

pub(super) fn set_settings(
    state: &mut Overlay<'_>,
    app_key: &str,
    settings: &AppSettings,
) -> Result<AppSettings, CommandError> {
    let mut settings = settings.clone();
    settings
        .push
        .keep_keys_of(&self::settings(state, app_key)?.push);
    settings.validate()?;
    state.put(keys::settings(app_key), &settings)?;
    Ok(settings)
}

pub fn settings(state: &impl StateRead, app_key: &str) -> Result<AppSettings, CommandError> {
    by_key(state, app_key)?;
    Ok(state.get(&keys::settings(app_key))?.unwrap_or_default())
}

/// Removes the app, both keys and every user of both environments; answers how many
/// users there were.
pub(super) fn delete(state: &mut Overlay<'_>, app_key: &str) -> Result<u64, CommandError> {
    let (app, _) = by_key(state, app_key)?;
    let mut users_removed = 0;
    for creds in [&app.dev, &app.prod] {
        users_removed += users::delete_all(state, &creds.app_key)?;
        super::messages::delete_all(state, &creds.app_key)?;
        super::groups::delete_all(state, &creds.app_key)?;
        super::chatrooms::delete_all(state, &creds.app_key)?;
        super::conversations::delete_all(state, &creds.app_key)?;
        super::feed::delete_all(state, &creds.app_key)?;
        super::ultragroups::delete_all(state, &creds.app_key)?;
        super::outbox::delete_all(state, &creds.app_key)?;
        super::push::delete_all(state, &creds.app_key)?;
        super::sensitive::delete_all(state, &creds.app_key)?;
        state.delete(keys::settings(&creds.app_key));
        state.delete(keys::key_index(&creds.app_key));
    }
    state.delete(keys::app(&app.prod.app_key));
    Ok(users_removed)
}

pub(super) fn by_key(state: &impl StateRead, app_key: &str) -> Result<(App, AppEnv), CommandError> {
    let not_found = || CommandError::not_found(format!("app key {app_key}"));
    let index: KeyIndex = state
        .get(&keys::key_index(app_key))?
        .ok_or_else(not_found)?;
    let app: App = state
        .get(&keys::app(&index.prod_key))?
        .ok_or_else(not_found)?;
    Ok((app, index.env))
}

pub(super) fn list(state: &impl StateRead) -> Result<Vec<App>, CommandError> {
    Ok(state.scan(keys::APP)?)
}

/// Credentials are chosen before proposing (by the caller or the admin API), never
/// generated while applying: every replica must compute the same state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateApp {
    pub name: String,
    pub dev: Credentials,
    pub prod: Credentials,
}

impl Apply for CreateApp {
    type Answer = App;

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<App, CommandError> {
        let Self { name, dev, prod } = self;
        create(ctx, state, name, dev, prod)
    }
}

/// Replaces an app environment's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetAppSettings {
    pub app_key: String,
    pub settings: AppSettings,
}

impl Apply for SetAppSettings {
    type Answer = AppSettings;

    fn apply(
        &self,
        _ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<AppSettings, CommandError> {
        let Self { app_key, settings } = self;
        set_settings(state, app_key, settings)
    }
}

/// Removes the app, both keys and everything both environments keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteApp {
    pub app_key: String,
}

impl Apply for DeleteApp {
    /// The key asked for and how many users were removed.
    type Answer = (String, u64);

    fn apply(
        &self,
        _ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<(String, u64), CommandError> {
        let users_removed = delete(state, &self.app_key)?;
        Ok((self.app_key.clone(), users_removed))
    }
}
