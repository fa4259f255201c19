//! Apps (tenants): one record per app with its two environments' credentials, and an
//! index from every App Key to its app.

use meridian_regions::AreaCode;
use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::keys::apps as keys;
use super::store::{Overlay, StateRead};

mod features;
mod limits;
mod rotation;
mod settings;

pub use features::{sdk_features, SdkFeatures, SetSdkFeatures};
pub use limits::{limits, ApiRates, AppLimits, RetentionDays, SetAppLimits, DEFAULT_MEMBER_CAP};
pub use rotation::{previous_secret, PreviousSecret, RotateAppSecret, MAX_OVERLAP_MS};
pub(in crate::state) use settings::{validate_url, MAX_URL_CHARS};
pub use settings::{
    AppSettings, CallbackSettings, ModerationDefault, ModerationRule, PushApp, PushSettings,
    MAX_PUSH_APPS, REDACTED_KEY,
};

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

pub fn settings(state: &impl StateRead, app_key: &str) -> Result<AppSettings, CommandError> {
    by_key(state, app_key)?;
    Ok(state.get(&keys::settings(app_key))?.unwrap_or_default())
}

/// Removes the app's own records: its record, both keys and both environments' settings,
/// limits, SDK switches and erasure callback URLs
/// (what the environments keep elsewhere goes first, see `cross_domain::delete_app`).
pub(super) fn delete(state: &mut Overlay<'_>, app: &App) {
    for creds in [&app.dev, &app.prod] {
        state.delete(keys::previous_secret(&creds.app_key));
        state.delete(keys::settings(&creds.app_key));
        state.delete(keys::limits(&creds.app_key));
        state.delete(keys::sdk_features(&creds.app_key));
        state.delete(keys::erasure_callback(&creds.app_key));
        state.delete(keys::key_index(&creds.app_key));
    }
    state.delete(keys::app(&app.prod.app_key));
}

/// Sets (or, with `None`, removes) a callback URL of the app kept under `key`, apart from
/// its settings.
pub(in crate::state) fn set_url(
    state: &mut Overlay<'_>,
    app_key: &str,
    key: Vec<u8>,
    url: &Option<String>,
) -> Result<(), CommandError> {
    by_key(state, app_key)?;
    match url {
        Some(url) => {
            validate_url("url", url)?;
            Ok(state.put(key, url)?)
        }
        None => {
            state.delete(key);
            Ok(())
        }
    }
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
        let name: &str = &self.name;
        let dev: &Credentials = &self.dev;
        let prod: &Credentials = &self.prod;
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
        let app_key: &str = &self.app_key;
        let settings: &AppSettings = &self.settings;
        let mut settings = settings.clone();
        settings
            .push
            .keep_keys_of(&self::settings(state, app_key)?.push);
        settings.validate()?;
        state.put(keys::settings(app_key), &settings)?;
        Ok(settings)
    }
}
