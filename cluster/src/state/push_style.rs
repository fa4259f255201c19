//! How an app's pushes present themselves and when they wait (PUSH-07, PUSH-08): the
//! sound its notifications play and a daily quiet window of the app's own, on top of each
//! user's (`/user/blockPushPeriod/*`). Read where a push is decided (quiet hours) and
//! where it is sent (the sound), so a change applies to waiting pushes too.

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
