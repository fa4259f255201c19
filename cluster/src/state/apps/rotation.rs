//! Rotating an environment's App Secret (LIFE-04): the new secret signs from now on, and
//! the one it replaces stays valid for an overlap window, so app servers can be
//! redeployed and users' tokens renewed without an outage.

use serde::{Deserialize, Serialize};

use super::{by_key, keys, validate_credential, AppEnv};
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::store::{Overlay, StateRead};

/// The longest overlap an operator may ask for.
pub const MAX_OVERLAP_MS: u64 = 30 * 24 * 3600 * 1000;

/// A replaced secret, still valid (for verifying signatures and tokens) until `until_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviousSecret {
    pub app_secret: String,
    pub until_ms: u64,
}

/// Replaces an environment's App Secret with `new_secret` (chosen before proposing, so
/// every replica stores the same); the old one stays valid for `overlap_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RotateAppSecret {
    pub app_key: String,
    pub new_secret: String,
    pub overlap_ms: u64,
}

impl Apply for RotateAppSecret {
    type Answer = PreviousSecret;

    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<PreviousSecret, CommandError> {
        let (mut app, env) = by_key(state, &self.app_key)?;
        validate_credential("newSecret", &self.new_secret)?;
        if self.overlap_ms > MAX_OVERLAP_MS {
            return Err(CommandError::invalid(
                "overlapSeconds",
                "must be at most 30 days",
            ));
        }
        let credentials = match env {
            AppEnv::Dev => &mut app.dev,
            AppEnv::Prod => &mut app.prod,
        };
        if credentials.app_secret == self.new_secret {
            return Err(CommandError::invalid(
                "newSecret",
                "must differ from the current secret",
            ));
        }
        let previous = PreviousSecret {
            app_secret: std::mem::replace(&mut credentials.app_secret, self.new_secret.clone()),
            until_ms: ctx.now_ms + self.overlap_ms,
        };
        state.put(keys::app(&app.prod.app_key), &app)?;
        state.put(keys::previous_secret(&self.app_key), &previous)?;
        Ok(previous)
    }
}

/// The environment's replaced secret while it is still valid at `now_ms`.
pub fn previous_secret(
    state: &impl StateRead,
    app_key: &str,
    now_ms: u64,
) -> Result<Option<PreviousSecret>, CommandError> {
    by_key(state, app_key)?;
    let previous: Option<PreviousSecret> = state.get(&keys::previous_secret(app_key))?;
    Ok(previous.filter(|p| p.until_ms > now_ms))
}
