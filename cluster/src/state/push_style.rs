//! How an app's pushes present themselves and when they wait (PUSH-07, PUSH-08): the
//! sound its notifications play and a daily quiet window of the app's own, on top of each
//! user's (`/user/blockPushPeriod/*`). Read where a push is decided (quiet hours) and
//! where it is sent (the sound), so a change applies to waiting pushes too. Also how
//! often an ultra group may push one user (ULG-06), a record of its own so the push
//! style's layout stays as it is.

use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::apps;
use super::keys::push as keys;
use super::store::{Overlay, StateRead};
use super::user_extras::quiet_hours::QuietHours;

/// A sound is a file name in the app's bundle (or `default`).
pub const MAX_SOUND_CHARS: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushStyle {
    /// The notification sound (APNs `aps.sound`, FCM `notification.sound`); `default` when
    /// not set.
    #[serde(default)]
    pub sound: Option<String>,
    /// While it holds, the app's pushes are held back as a user's quiet hours hold theirs.
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
}

impl PushStyle {
    fn validate(&self) -> Result<(), CommandError> {
        if let Some(sound) = &self.sound {
            let fits = (1..=MAX_SOUND_CHARS).contains(&sound.chars().count())
                && sound
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !fits {
                return Err(CommandError::invalid(
                    "sound",
                    format!("1 to {MAX_SOUND_CHARS} of A-Z a-z 0-9 . _ -"),
                ));
            }
        }
        match &self.quiet_hours {
            Some(quiet) => quiet.validate(),
            None => Ok(()),
        }
    }
}

/// The app's style (the default when never set).
pub fn of_app(state: &impl StateRead, app_key: &str) -> Result<PushStyle, CommandError> {
    Ok(state.get(&keys::style(app_key))?.unwrap_or_default())
}

/// Replaces an app's push style.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetPushStyle {
    pub app_key: String,
    pub style: PushStyle,
}

impl Apply for SetPushStyle {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        self.style.validate()?;
        state.put(keys::style(&self.app_key), &self.style)?;
        Ok(())
    }
}

/// The longest ultra-group push interval an app may set: a day.
pub const MAX_ULTRA_GROUP_PUSH_INTERVAL_SECS: u32 = 86_400;

/// ULG-06, the seed's "提醒频率可按应用进行调整": once a user is pushed for an ultra group,
/// other messages of that group push nothing to them for `interval_secs`, except those
/// that mention them. 0 (the default): every message pushes, as before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UltraGroupPushPace {
    pub interval_secs: u32,
}

/// The app's ultra-group pace (the default when never set).
pub fn ultra_group_pace(
    state: &impl StateRead,
    app_key: &str,
) -> Result<UltraGroupPushPace, CommandError> {
    Ok(state.get(&keys::ultra_pace(app_key))?.unwrap_or_default())
}

/// Replaces an app's ultra-group pace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetUltraGroupPushPace {
    pub app_key: String,
    pub pace: UltraGroupPushPace,
}

impl Apply for SetUltraGroupPushPace {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        if self.pace.interval_secs > MAX_ULTRA_GROUP_PUSH_INTERVAL_SECS {
            return Err(CommandError::invalid(
                "intervalSecs",
                format!("must be 0 to {MAX_ULTRA_GROUP_PUSH_INTERVAL_SECS}"),
            ));
        }
        state.put(keys::ultra_pace(&self.app_key), &self.pace)?;
        Ok(())
    }
}

/// The most pushes per second an app may cap its fan-out at.
pub const MAX_PUSHES_PER_SECOND: u32 = 100_000;

/// PUSH-01: how fast the leader hands an app's push jobs to the providers, so a push to
/// every device of a large app does not trip a vendor's rate limit or flood the app's
/// own click-through traffic. 0 (the default): as fast as the dispatcher goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushRate {
    pub per_second: u32,
}

/// The app's push rate cap (none when never set).
pub fn push_rate(state: &impl StateRead, app_key: &str) -> Result<PushRate, CommandError> {
    Ok(state.get(&keys::push_rate(app_key))?.unwrap_or_default())
}

/// Replaces an app's push rate cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetPushRate {
    pub app_key: String,
    pub rate: PushRate,
}

impl Apply for SetPushRate {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        if self.rate.per_second > MAX_PUSHES_PER_SECOND {
            return Err(CommandError::invalid(
                "perSecond",
                format!("must be 0 (no cap) to {MAX_PUSHES_PER_SECOND}"),
            ));
        }
        state.put(keys::push_rate(&self.app_key), &self.rate)?;
        Ok(())
    }
}

/// Whether `user` may be pushed for ultra group `group` now under the app's pace (read
/// once per message by the caller); when it may, the push is remembered. A mention always
/// may (and does not restart the wait).
pub(crate) fn ultra_group_push_due(
    state: &mut Overlay<'_>,
    (app_key, pace): (&str, UltraGroupPushPace),
    (user, group): (&str, &str),
    now_ms: u64,
    mentioned: bool,
) -> Result<bool, CommandError> {
    let interval_ms = u64::from(pace.interval_secs) * 1_000;
    if interval_ms == 0 || mentioned {
        return Ok(true);
    }
    let key = keys::ultra_pushed(app_key, user, group);
    let last: Option<u64> = state.get(&key)?;
    if last.is_some_and(|last| now_ms < last.saturating_add(interval_ms)) {
        return Ok(false);
    }
    state.put(key, &now_ms)?;
    Ok(true)
}
