//! What an app environment switches on or tunes: options, callbacks (HOOK-01..04) and
//! push credentials (PUSH-02, PUSH-04), with their limits.

use meridian_proto::ConversationType;
use serde::{Deserialize, Serialize};

use crate::state::apply::CommandError;

/// Web origins one app may list (MSG-10).
pub const MAX_SECURE_DOMAINS: usize = 50;

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
    pub(super) fn keep_keys_of(&mut self, stored: &PushSettings) {
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

    pub(super) fn validate(&self) -> Result<(), CommandError> {
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
            && lists(&self.conversation_types, kind)
            && listed(&self.object_names, object_name)
    }
}

/// A callback URL: http(s), a host, no fragment (the signature goes into the query),
/// something an HTTP client can send.
pub(in crate::state) fn validate_url(field: &str, url: &str) -> Result<(), CommandError> {
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
        self.routing_url.is_some() && lists(&self.routing_types, kind)
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

    pub(super) fn validate(&self) -> Result<(), CommandError> {
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
    pub(super) fn validate(&self) -> Result<(), CommandError> {
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

/// Whether a conversation type is listed (an empty list means every type).
fn lists(types: &[u8], kind: ConversationType) -> bool {
    types.is_empty() || types.contains(&kind.code())
}
