//! Users kept out of audio/video rooms for a while (`/rtc/user/block.json`, as the
//! commercial RTC server API): a blocked user's joins are refused until the block ends or
//! is lifted. A block does not remove the user from the room it is in (the app server
//! kicks it for that, as the commercial service asks too).

use serde::{Deserialize, Serialize};

use super::super::apply::{Apply, ApplyContext, CommandError};
use super::super::apps;
use super::super::keys::rtc as keys;
use super::super::store::{Overlay, StateRead};
use super::super::users::validate_user_id;

/// The longest block, in minutes (30 days, the commercial limit).
pub const MAX_BLOCK_MINUTES: u32 = 43_200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockRtcUser {
    pub app_key: String,
    pub user_id: String,
    /// How long from now; `None` lifts the block.
    pub minutes: Option<u32>,
}

impl Apply for BlockRtcUser {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        validate_user_id(&self.user_id)?;
        let key = keys::block(&self.app_key, &self.user_id);
        match self.minutes {
            Some(minutes) => {
                if !(1..=MAX_BLOCK_MINUTES).contains(&minutes) {
                    return Err(CommandError::invalid(
                        "minute",
                        format!("must be from 1 to {MAX_BLOCK_MINUTES}"),
                    ));
                }
                let until_ms = ctx.now_ms + u64::from(minutes) * 60_000;
                Ok(state.put(key, &until_ms)?)
            }
            None => {
                state.delete(key);
                Ok(())
            }
        }
    }
}

/// Refuses `user_id` while it is blocked; an ended block is forgotten.
pub(super) fn check(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    let key = keys::block(app_key, user_id);
    match state.get::<u64>(&key)? {
        Some(until_ms) if until_ms > ctx.now_ms => Err(CommandError::Muted {
            what: format!("audio/video rooms (blocked until {until_ms} ms)"),
        }),
        Some(_) => {
            state.delete(key);
            Ok(())
        }
        None => Ok(()),
    }
}

/// Until when `user_id` is blocked, if it is now.
pub fn blocked_until(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
    now_ms: u64,
) -> Result<Option<u64>, CommandError> {
    let until: Option<u64> = state.get(&keys::block(app_key, user_id))?;
    Ok(until.filter(|&until_ms| until_ms > now_ms))
}
