//! Optional services of the commercial client SDKs an app has switched on (WEB-06), as the
//! commercial console switches them per app: nav tells each SDK in its answer, and the
//! SDK changes how it works (with real-time conversations on, it keeps no conversation
//! list of its own and asks the server's). Meridian serves each service whether it is on
//! or not; the switch only decides what the SDK is told.

use serde::{Deserialize, Serialize};

use super::by_key;
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::keys::apps as keys;
use crate::state::store::{Overlay, StateRead};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SdkFeatures {
    /// The SDK's "real-time conversations": the conversation list, its unread counts and
    /// read marks live on the server (nav's `sessionMode` bit 0).
    pub realtime_conversations: bool,
}

/// The environment's switches (all off until set).
pub fn sdk_features(state: &impl StateRead, app_key: &str) -> Result<SdkFeatures, CommandError> {
    by_key(state, app_key)?;
    Ok(state.get(&keys::sdk_features(app_key))?.unwrap_or_default())
}

/// Replaces an environment's switches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetSdkFeatures {
    pub app_key: String,
    pub features: SdkFeatures,
}

impl Apply for SetSdkFeatures {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        by_key(state, &self.app_key)?;
        state.put(keys::sdk_features(&self.app_key), &self.features)?;
        Ok(())
    }
}
