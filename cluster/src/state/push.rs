//! Push notifications for offline recipients (PUSH-01, PUSH-03, PUSH-04).
//!
//! Devices register their push token through the client protocol. When a message is
//! stored, every recipient with no live session gets one push job per registered device,
//! unless its do-not-disturb settings say otherwise; the jobs wait in the outbox like
//! callbacks and the leader's dispatcher hands them to APNs, FCM or the app's webhook.
//! Deciding in the apply round keeps it deterministic: presence and settings are
//! replicated state, read as of the message.

use meridian_push::PushOptions;
use serde::{Deserialize, Serialize};

use crate::raft::wire::from_bytes;

use super::apply::{Apply, ApplyContext, CommandError};
use super::keys::{of_app, push as keys};
use super::store::{Overlay, StateRead};
use super::users::validate_user_id;
use super::{apps, messages, users};

/// Devices one user may register for push.
pub const MAX_DEVICES_PER_USER: usize = 10;
/// The longest device token (FCM's are about 160 characters).
pub const MAX_TOKEN_CHARS: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushProvider {
    Apns,
    Fcm,
    Webhook,
    // PUSH-05 vendor channels, appended: stored registrations keep their variant indexes.
    Huawei,
    Xiaomi,
    Oppo,
    Vivo,
    Meizu,
    Honor,
    /// An iOS app's PushKit token: woken for incoming calls only (RTC-10), never for
    /// messages. Kept beside the device's other token ([`voip_device_id`]).
    ApnsVoip,
}

impl PushProvider {
    pub const ALL: [PushProvider; 10] = [
        Self::Apns,
        Self::Fcm,
        Self::Webhook,
        Self::Huawei,
        Self::Xiaomi,
        Self::Oppo,
        Self::Vivo,
        Self::Meizu,
        Self::Honor,
        Self::ApnsVoip,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Apns => "apns",
            Self::Fcm => "fcm",
            Self::Webhook => "webhook",
            Self::Huawei => "huawei",
            Self::Xiaomi => "xiaomi",
            Self::Oppo => "oppo",
            Self::Vivo => "vivo",
            Self::Meizu => "meizu",
            Self::Honor => "honor",
            Self::ApnsVoip => "apns_voip",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The channels that reach Android phones (`platform: android` of `/push.json`):
    /// FCM and every vendor channel.
    pub fn is_android(self) -> bool {
        !matches!(self, Self::Apns | Self::Webhook | Self::ApnsVoip)
    }
}

/// One device's registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceToken {
    pub device_id: String,
    pub provider: PushProvider,
    pub token: String,
    /// PUSH-04: the app identifier (iOS bundle id, Android applicationId) whose
    /// credentials push to this device.
    pub app_id: String,
}

/// One notification for one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushJob {
    pub user_id: String,
    pub device: DeviceToken,
    pub title: String,
    pub body: String,
    pub data: Option<String>,
    pub msg_uid: String,
    /// What the app server asked of the notification (API-07, PUSH-05); boxed, as jobs
    /// are moved through async stacks (bincode encodes it unboxed).
    pub options: Box<PushOptions>,
}

impl DeviceToken {
    /// Whether notifications go to it: everything but a VoIP token, which only calls wake.
    pub fn takes_alerts(&self) -> bool {
        self.provider != PushProvider::ApnsVoip
    }
}

/// A device's VoIP registration is a second slot beside its other token.
pub fn voip_device_id(device_id: &str) -> String {
    format!("{device_id}#voip")
}

/// The user's devices that take notifications.
pub fn devices(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<Vec<DeviceToken>, CommandError> {
    let all: Vec<DeviceToken> = state.scan(&keys::tokens(app_key, user_id))?;
    Ok(all.into_iter().filter(DeviceToken::takes_alerts).collect())
}

/// Whether `device` is registered as it was (not after a logout or a new token).
pub fn still_registered(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
    device: &DeviceToken,
) -> Result<bool, CommandError> {
    let key = keys::token(app_key, user_id, &device.device_id);
    Ok(state.get::<DeviceToken>(&key)?.as_ref() == Some(device))
}

/// The user's VoIP tokens (RTC-10).
pub(crate) fn voip_devices(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<Vec<DeviceToken>, CommandError> {
    let all: Vec<DeviceToken> = state.scan(&keys::tokens(app_key, user_id))?;
    Ok(all.into_iter().filter(|d| !d.takes_alerts()).collect())
}

/// Whether the app has anything to push with: provider settings or vendor channels.
pub(crate) fn enabled(
    state: &impl StateRead,
    app_key: &str,
    settings: &apps::AppSettings,
) -> Result<bool, CommandError> {
    Ok(settings.push.is_enabled() || super::vendor_push::of_app(state, app_key)?.is_enabled())
}

pub(super) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<(), CommandError> {
    state.delete_app(
        &[
            keys::TOKEN,
            keys::BROADCAST,
            keys::NOTICE,
            keys::VENDORS,
            keys::STYLE,
            keys::ULTRA_PACE,
            keys::ULTRA_PUSHED,
            keys::RATE,
            keys::TEMPLATE,
            keys::LANGUAGE,
        ],
        app_key,
    )?;
    Ok(())
}

/// Users one push-only notification may name (SYS-03).
pub const MAX_NOTICE_USERS: usize = 1_000;
/// Tags one push-only notification may name, in each of its tag lists.
pub const MAX_NOTICE_TAGS: usize = 20;
/// Devices one push-only notification may reach: its jobs are all written in one apply.
pub const MAX_NOTICE_DEVICES: usize = 10_000;
/// The longest notification title.
pub const MAX_NOTICE_TITLE_CHARS: usize = 200;

/// Whom a push-only notification goes to (SYS-03): everyone, or the union of the users
/// named, those with every tag of `tags_all` and those with a tag of `tags_any`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeAudience {
    pub everyone: bool,
    pub user_ids: Vec<String>,
    pub tags_all: Vec<String>,
    pub tags_any: Vec<String>,
    /// The providers to reach (empty: every one).
    pub providers: Vec<PushProvider>,
}

/// A push-only notification (SYS-03): it reaches devices and makes no message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub audience: NoticeAudience,
    pub title: String,
    pub body: String,
    pub data: Option<String>,
}

/// What a push-only notification may ask beyond [`Notice`] (PUSH-05): each platform's
/// options, devices of one app identifier only (`packageName`), and tag expressions
/// (`tagItems` of `/push/custom.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeOptions {
    pub push: PushOptions,
    pub package_name: Option<String>,
    pub tag_items: Vec<TagItem>,
}

/// One term of a tag expression: a user matches when it has all (`all_tags`) or any of
/// the tags, negated by `negated`; terms are joined left to right, each to the ones
/// before it by its own `and_with_previous` (the first's is not read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagItem {
    pub tags: Vec<String>,
    pub all_tags: bool,
    pub negated: bool,
    pub and_with_previous: bool,
}

/// Terms one tag expression may have.
pub const MAX_TAG_ITEMS: usize = 20;

impl NoticeOptions {
    fn validate(&self) -> Result<(), CommandError> {
        self.push
            .validate()
            .map_err(|reason| CommandError::invalid("notification", reason))?;
        if self.tag_items.len() > MAX_TAG_ITEMS {
            return Err(CommandError::Limit {
                what: "tagItems of a notification".into(),
                limit: MAX_TAG_ITEMS as u64,
            });
        }
        if let Some(item) = self
            .tag_items
            .iter()
            .find(|item| item.tags.is_empty() || item.tags.len() > MAX_NOTICE_TAGS)
        {
            return Err(CommandError::invalid(
                "tagItems",
                format!(
                    "each item names 1 to {MAX_NOTICE_TAGS} tags, not {}",
                    item.tags.len()
                ),
            ));
        }
        Ok(())
    }

    /// Whether the expression takes the user (no expression: everyone).
    fn tags_take(&self, user: &users::User) -> bool {
        let mut items = self.tag_items.iter();
        let Some(first) = items.next() else {
            return true;
        };
        let term = |item: &TagItem| {
            let has = |tag: &String| user.tags.contains(tag);
            let matched = if item.all_tags {
                item.tags.iter().all(has)
            } else {
                item.tags.iter().any(has)
            };
            matched != item.negated
        };
        items.fold(term(first), |so_far, item| {
            if item.and_with_previous {
                so_far && term(item)
            } else {
                so_far || term(item)
            }
        })
    }
}

impl NoticeAudience {
    fn validate(&self, tag_items: bool) -> Result<(), CommandError> {
        if self.user_ids.len() > MAX_NOTICE_USERS {
            return Err(CommandError::Limit {
                what: "users per notification".into(),
                limit: MAX_NOTICE_USERS as u64,
            });
        }
        if self.tags_all.len().max(self.tags_any.len()) > MAX_NOTICE_TAGS {
            return Err(CommandError::Limit {
                what: "tags per notification".into(),
                limit: MAX_NOTICE_TAGS as u64,
            });
        }
        for user in &self.user_ids {
            validate_user_id(user)?;
        }
        if !tag_items && !self.names_anyone() {
            return Err(CommandError::invalid(
                "audience",
                "must be everyone or name users or tags",
            ));
        }
        Ok(())
    }

    fn names_anyone(&self) -> bool {
        self.everyone
            || !self.user_ids.is_empty()
            || !self.tags_all.is_empty()
            || !self.tags_any.is_empty()
    }

    fn reaches(&self, user: &users::User) -> bool {
        self.everyone
            || self.user_ids.contains(&user.user_id)
            || (!self.tags_all.is_empty() && self.tags_all.iter().all(|t| user.tags.contains(t)))
            || self.tags_any.iter().any(|t| user.tags.contains(t))
    }
}

/// Checks a notice and gives it its id.
pub(super) fn new_notice(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    notice: &Notice,
    options: &NoticeOptions,
) -> Result<String, CommandError> {
    apps::by_key(state, app_key)?;
    options.validate()?;
    notice.audience.validate(!options.tag_items.is_empty())?;
    if notice.body.is_empty() {
        return Err(CommandError::invalid("alert", "is required"));
    }
    messages::check_push_fields(
        ("alert", Some(&notice.body)),
        ("extras", notice.data.as_deref()),
    )?;
    if notice.title.chars().count() > MAX_NOTICE_TITLE_CHARS {
        return Err(CommandError::invalid(
            "title",
            format!("must be at most {MAX_NOTICE_TITLE_CHARS} characters"),
        ));
    }
    messages::next_uid(ctx, state)
}

/// Whether a notice chooses users from every user with a device (everyone, tags, tag
/// expressions) rather than from the users it names.
pub fn notice_scans_every_device(notice: &Notice, options: &NoticeOptions) -> bool {
    let audience = &notice.audience;
    audience.everyone
        || !audience.tags_all.is_empty()
        || !audience.tags_any.is_empty()
        || !options.tag_items.is_empty()
}

/// Whether a notice goes to this device of this user.
pub(super) fn notice_takes(
    notice: &Notice,
    options: &NoticeOptions,
    user: &users::User,
    device: &DeviceToken,
) -> bool {
    let audience = &notice.audience;
    let chosen = if !options.tag_items.is_empty() && !audience.names_anyone() {
        options.tags_take(user)
    } else {
        audience.reaches(user) && options.tags_take(user)
    };
    chosen
        && (audience.providers.is_empty() || audience.providers.contains(&device.provider))
        && options
            .package_name
            .as_ref()
            .is_none_or(|package| *package == device.app_id)
}

/// The notice's job for one device.
pub(super) fn notice_job(
    (id, notice, options): (&str, &Notice, &NoticeOptions),
    user_id: &str,
    device: DeviceToken,
) -> PushJob {
    PushJob {
        user_id: user_id.to_string(),
        device,
        title: notice.title.clone(),
        body: notice.body.clone(),
        data: notice.data.clone(),
        msg_uid: id.to_string(),
        options: Box::new(options.push.clone()),
    }
}

/// SYS-03: one push job per registered device of every user the notice reaches, online
/// or not (a notification is not a message: nothing else would tell an online user), all
/// in this apply (at most [`MAX_NOTICE_DEVICES`]). Answers the notice's id and the jobs.
pub(super) fn notice_jobs(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    notice: &Notice,
    options: &NoticeOptions,
) -> Result<(String, Vec<PushJob>), CommandError> {
    let id = new_notice(ctx, state, app_key, notice, options)?;
    let every_device = notice_scans_every_device(notice, options);
    let mut jobs = Vec::new();
    for (user_id, devices) in notice_candidates(state, app_key, &notice.audience, every_device)? {
        let Ok(user) = users::get(state, app_key, &user_id) else {
            continue;
        };
        for device in devices {
            if notice_takes(notice, options, &user, &device) {
                jobs.push(notice_job((&id, notice, options), &user_id, device));
            }
        }
        if jobs.len() > MAX_NOTICE_DEVICES {
            return Err(CommandError::Limit {
                what: "devices one notification reaches".into(),
                limit: MAX_NOTICE_DEVICES as u64,
            });
        }
    }
    Ok((id, jobs))
}

/// The users a notice may reach, with their devices: the ones it names, or (for everyone
/// and tags) every user with a device, each once.
fn notice_candidates(
    state: &impl StateRead,
    app_key: &str,
    audience: &NoticeAudience,
    every_device: bool,
) -> Result<Vec<(String, Vec<DeviceToken>)>, CommandError> {
    if !every_device {
        let mut named = audience.user_ids.clone();
        named.sort();
        named.dedup();
        return named
            .into_iter()
            .map(|user| Ok((user.clone(), devices(state, app_key, &user)?)))
            .collect();
    }
    let prefix = of_app(keys::TOKEN, app_key);
    let mut by_user: Vec<(String, Vec<DeviceToken>)> = Vec::new();
    for (key, value) in state.scan_raw(&prefix)? {
        let Some(user) = keys::token_user(&prefix, &key) else {
            continue;
        };
        let device: DeviceToken = from_bytes(&value)?;
        if !device.takes_alerts() {
            continue;
        }
        match by_user.last_mut() {
            Some((last, devices)) if *last == user => devices.push(device),
            _ => by_user.push((user, vec![device])),
        }
    }
    Ok(by_user)
}

/// A device registers (or replaces) its push token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterPushToken {
    pub app_key: String,
    pub user_id: String,
    pub device: DeviceToken,
}

impl Apply for RegisterPushToken {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let user_id: &str = &self.user_id;
        let device: &DeviceToken = &self.device;
        apps::by_key(state, app_key)?;
        validate_user_id(user_id)?;
        if device.device_id.is_empty() || device.device_id.len() > 128 {
            return Err(CommandError::invalid("deviceId", "must be 1 to 128 bytes"));
        }
        if device.token.is_empty() || device.token.chars().count() > MAX_TOKEN_CHARS {
            return Err(CommandError::invalid(
                "token",
                format!("must be 1 to {MAX_TOKEN_CHARS} characters"),
            ));
        }
        if device.app_id.is_empty() || device.app_id.chars().count() > 128 {
            return Err(CommandError::invalid(
                "appId",
                "must be 1 to 128 characters",
            ));
        }
        let key = keys::token(app_key, user_id, &device.device_id);
        let known = state.get_raw(&key)?.is_some();
        if !known && devices(state, app_key, user_id)?.len() >= MAX_DEVICES_PER_USER {
            return Err(CommandError::Limit {
                what: "push devices per user".into(),
                limit: MAX_DEVICES_PER_USER as u64,
            });
        }
        Ok(state.put(key, device)?)
    }
}

/// A device stops getting pushes: it logged out (`token` None), or its provider said
/// the token is gone (only if it is still that token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnregisterPushToken {
    pub app_key: String,
    pub user_id: String,
    pub device_id: String,
    pub token: Option<String>,
}

impl Apply for UnregisterPushToken {
    type Answer = ();

    /// The device stops getting pushes (a logout); `token`: only if it is still this one
    /// (a provider said it is gone, and the device may have registered a new one since).
    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let user_id: &str = &self.user_id;
        let device_id: &str = &self.device_id;
        let token: Option<&str> = self.token.as_deref();
        let key = keys::token(app_key, user_id, device_id);
        let current: Option<DeviceToken> = state.get(&key)?;
        if current.is_some_and(|c| token.is_none_or(|t| t == c.token)) {
            state.delete(key);
        }
        // A logout ends the device's VoIP registration too.
        if token.is_none() {
            state.delete(keys::token(app_key, user_id, &voip_device_id(device_id)));
        }
        Ok(())
    }
}

/// Forgets every device a user registered.
pub(super) fn erase_user(
    state: &mut Overlay<'_>,
    app_key: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    state.delete_prefix(&keys::tokens(app_key, user_id))?;
    state.delete(keys::language(app_key, user_id));
    Ok(state.delete_prefix(&keys::ultra_pushed_of(app_key, user_id))?)
}
