//! Credentials of the Chinese Android vendor channels (PUSH-05), per app identifier.
//!
//! They are a record of their own (`pushvendor/{appKey}/`) rather than fields of
//! [`super::PushSettings`]: records are bincode, and a new field would change the
//! encoding of every stored app's settings. Vendors are an enum for the same reason: a new
//! vendor is a variant appended at the end, and stored records keep their meaning.

use meridian_push::{
    HonorCredentials, HuaweiCredentials, MeizuCredentials, OppoCredentials, VivoCredentials,
    XiaomiCredentials,
};
use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::apps::{self, MAX_PUSH_APPS, REDACTED_KEY};
use super::keys::push as keys;
use super::store::{Overlay, StateRead};
use super::PushProvider;

/// An app's vendor channels: `{"apps": [{"appId", "channels": [{"huawei": {...}}]}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct VendorPush {
    pub apps: Vec<VendorApp>,
}

/// One app identifier (Android applicationId) and its vendor channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VendorApp {
    pub app_id: String,
    pub channels: Vec<VendorChannel>,
}

/// Append only (see the module).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VendorChannel {
    Huawei(HuaweiCredentials),
    Xiaomi(XiaomiCredentials),
    Oppo(OppoCredentials),
    Vivo(VivoCredentials),
    Meizu(MeizuCredentials),
    Honor(HonorCredentials),
}

impl VendorChannel {
    /// The provider a device registers to be pushed through this channel.
    pub fn provider(&self) -> PushProvider {
        match self {
            VendorChannel::Huawei(_) => PushProvider::Huawei,
            VendorChannel::Xiaomi(_) => PushProvider::Xiaomi,
            VendorChannel::Oppo(_) => PushProvider::Oppo,
            VendorChannel::Vivo(_) => PushProvider::Vivo,
            VendorChannel::Meizu(_) => PushProvider::Meizu,
            VendorChannel::Honor(_) => PushProvider::Honor,
        }
    }

    fn secret(&self) -> &str {
        match self {
            VendorChannel::Huawei(c) => &c.app_secret,
            VendorChannel::Xiaomi(c) => &c.app_secret,
            VendorChannel::Oppo(c) => &c.master_secret,
            VendorChannel::Vivo(c) => &c.app_secret,
            VendorChannel::Meizu(c) => &c.app_secret,
            VendorChannel::Honor(c) => &c.client_secret,
        }
    }

    fn secret_mut(&mut self) -> &mut String {
        match self {
            VendorChannel::Huawei(c) => &mut c.app_secret,
            VendorChannel::Xiaomi(c) => &mut c.app_secret,
            VendorChannel::Oppo(c) => &mut c.master_secret,
            VendorChannel::Vivo(c) => &mut c.app_secret,
            VendorChannel::Meizu(c) => &mut c.app_secret,
            VendorChannel::Honor(c) => &mut c.client_secret,
        }
    }

    fn validate(&self) -> Result<(), String> {
        match self {
            VendorChannel::Huawei(c) => c.validate(),
            VendorChannel::Xiaomi(c) => c.validate(),
            VendorChannel::Oppo(c) => c.validate(),
            VendorChannel::Vivo(c) => c.validate(),
            VendorChannel::Meizu(c) => c.validate(),
            VendorChannel::Honor(c) => c.validate(),
        }
    }
}

impl VendorPush {
    pub fn is_enabled(&self) -> bool {
        self.apps.iter().any(|app| !app.channels.is_empty())
    }

    /// The channel of `app_id` that pushes to devices registered with `provider`.
    pub fn channel(&self, app_id: &str, provider: PushProvider) -> Option<&VendorChannel> {
        let app = self.apps.iter().find(|app| app.app_id == app_id)?;
        app.channels.iter().find(|c| c.provider() == provider)
    }

    /// A copy without secrets, for answers.
    pub fn redacted(&self) -> Self {
        let mut copy = self.clone();
        for channel in copy.apps.iter_mut().flat_map(|app| &mut app.channels) {
            *channel.secret_mut() = REDACTED_KEY.into();
        }
        copy
    }

    /// Puts back the stored secrets where `self` carries [`REDACTED_KEY`].
    fn keep_secrets_of(&mut self, stored: &VendorPush) {
        for app in &mut self.apps {
            for channel in &mut app.channels {
                if channel.secret() != REDACTED_KEY {
                    continue;
                }
                if let Some(old) = stored.channel(&app.app_id, channel.provider()) {
                    *channel.secret_mut() = old.secret().to_string();
                }
            }
        }
    }

    fn validate(&self) -> Result<(), CommandError> {
        if self.apps.len() > MAX_PUSH_APPS {
            return Err(CommandError::invalid(
                "apps",
                format!("at most {MAX_PUSH_APPS} app identifiers"),
            ));
        }
        for (i, app) in self.apps.iter().enumerate() {
            if app.app_id.is_empty() || app.app_id.chars().count() > 128 {
                return Err(CommandError::invalid(
                    "apps.appId",
                    "must be 1 to 128 characters",
                ));
            }
            if self.apps[..i]
                .iter()
                .any(|other| other.app_id == app.app_id)
            {
                return Err(CommandError::invalid(
                    "apps.appId",
                    format!("{} appears twice", app.app_id),
                ));
            }
            for (j, channel) in app.channels.iter().enumerate() {
                let field = format!("apps.channels.{}", channel.provider().name());
                channel
                    .validate()
                    .map_err(|reason| CommandError::invalid(&field, reason))?;
                if channel.secret() == REDACTED_KEY {
                    return Err(CommandError::invalid(&field, "no stored secret to keep"));
                }
                if app.channels[..j]
                    .iter()
                    .any(|other| other.provider() == channel.provider())
                {
                    return Err(CommandError::invalid(&field, "appears twice"));
                }
            }
        }
        Ok(())
    }
}

/// The app's vendor channels (none when never set).
pub fn of_app(state: &impl StateRead, app_key: &str) -> Result<VendorPush, CommandError> {
    Ok(state.get(&keys::vendors(app_key))?.unwrap_or_default())
}

/// Replaces an app's vendor channels; a secret sent back as `<redacted>` keeps the
/// stored one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetVendorPush {
    pub app_key: String,
    pub vendors: VendorPush,
}

impl Apply for SetVendorPush {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        let mut vendors = self.vendors.clone();
        vendors.keep_secrets_of(&of_app(state, &self.app_key)?);
        vendors.validate()?;
        state.put(keys::vendors(&self.app_key), &vendors)?;
        Ok(())
    }
}
