//! A user's quiet hours (`/user/blockPushPeriod/*`): a daily window (UTC, as the
//! commercial global data centers) in which pushes to the user's devices are held back,
//! all of them (level 5) or all but mentions (level 1).

use serde::{Deserialize, Serialize};

use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::apps;
use crate::state::keys::user_extras as keys;
use crate::state::store::{Overlay, StateRead};
use crate::state::users::validate_user_id;

const DAY_SECS: u64 = 86_400;
/// The longest window: a day less a minute.
pub const MAX_PERIOD_MINUTES: u32 = 1439;
/// The levels the commercial service documents: 0 push all, 1 mentions only, 5 nothing.
pub const LEVELS: [u8; 3] = [0, 1, 5];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuietHours {
    /// Seconds after midnight UTC.
    pub start_secs: u32,
    pub period_minutes: u32,
    pub level: u8,
}

impl QuietHours {
    pub(crate) fn validate(&self) -> Result<(), CommandError> {
        if u64::from(self.start_secs) >= DAY_SECS {
            return Err(CommandError::invalid("startTime", "must be HH:MM:SS"));
        }
        if self.period_minutes > MAX_PERIOD_MINUTES {
            return Err(CommandError::invalid(
                "period",
                format!("must be 0 to {MAX_PERIOD_MINUTES}"),
            ));
        }
        if !LEVELS.contains(&self.level) {
            return Err(CommandError::invalid("level", "must be 0, 1 or 5"));
        }
        Ok(())
    }

    /// Whether a push at `now_ms` is held back; `mentioned`: the message mentions the
    /// user (or everyone), which level 1 lets through.
    pub fn holds_back(&self, now_ms: u64, mentioned: bool) -> bool {
        let since_start = (now_ms / 1000 + DAY_SECS - u64::from(self.start_secs)) % DAY_SECS;
        let inside = since_start < u64::from(self.period_minutes) * 60;
        inside
            && match self.level {
                5 => true,
                1 => !mentioned,
                _ => false,
            }
    }
}

pub(crate) fn get(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<Option<QuietHours>, CommandError> {
    Ok(state.get(&keys::quiet(app_key, user_id))?)
}

/// Sets (replaces) a user's quiet hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetQuietHours {
    pub app_key: String,
    pub user_id: String,
    pub quiet: QuietHours,
}

impl Apply for SetQuietHours {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        validate_user_id(&self.user_id)?;
        self.quiet.validate()?;
        state.put(keys::quiet(&self.app_key, &self.user_id), &self.quiet)?;
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteQuietHours {
    pub app_key: String,
    pub user_id: String,
}

impl Apply for DeleteQuietHours {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        validate_user_id(&self.user_id)?;
        state.delete(keys::quiet(&self.app_key, &self.user_id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::QuietHours;

    const HOUR_MS: u64 = 3_600_000;

    #[test]
    fn the_window_wraps_past_midnight_and_level_one_lets_mentions_through() {
        // 23:00 for 120 minutes: 23:00..01:00 UTC.
        let quiet = |level| QuietHours {
            start_secs: 23 * 3600,
            period_minutes: 120,
            level,
        };
        let day = 20_000 * 24 * HOUR_MS;
        assert!(quiet(5).holds_back(day + 23 * HOUR_MS, false));
        assert!(quiet(5).holds_back(day + 24 * HOUR_MS + HOUR_MS - 1, true));
        assert!(
            !quiet(5).holds_back(day + 25 * HOUR_MS, false),
            "01:00 is after"
        );
        assert!(
            !quiet(5).holds_back(day + 23 * HOUR_MS - 1, false),
            "22:59:59 is before"
        );
        assert!(quiet(1).holds_back(day + 23 * HOUR_MS, false));
        assert!(!quiet(1).holds_back(day + 23 * HOUR_MS, true));
        assert!(!quiet(0).holds_back(day + 23 * HOUR_MS, false));
    }
}
