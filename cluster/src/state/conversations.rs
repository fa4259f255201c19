//! Per-user conversation settings: do-not-disturb (PRV-09) and pinning (MSG-03), and the
//! per-type push level.

use serde::{Deserialize, Serialize};

use super::messages::ConversationType;
use super::store::{Overlay, StateRead};
use super::users::validate_user_id;
use super::{apps, CommandError};

const SETTINGS_PREFIX: &[u8] = b"convset/";
const TYPE_LEVEL_PREFIX: &[u8] = b"convtype/";

/// One user's settings for one conversation (as that user sees it: type, target, channel).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSettings {
    pub muted: bool,
    pub pinned: bool,
}

/// Which setting a command changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConversationSetting {
    Muted(bool),
    Pinned(bool),
}

fn settings_key(
    app_key: &str,
    user: &str,
    kind: ConversationType,
    target: &str,
    channel: &str,
) -> Vec<u8> {
    [
        SETTINGS_PREFIX,
        format!("{app_key}/{user}/{}/{target}/{channel}", kind.code()).as_bytes(),
    ]
    .concat()
}

fn type_level_key(app_key: &str, user: &str, kind: ConversationType) -> Vec<u8> {
    [
        TYPE_LEVEL_PREFIX,
        format!("{app_key}/{user}/{}", kind.code()).as_bytes(),
    ]
    .concat()
}

pub(super) fn settings(
    state: &impl StateRead,
    app_key: &str,
    user: &str,
    kind: ConversationType,
    target: &str,
    channel: &str,
) -> Result<ConversationSettings, CommandError> {
    apps::by_key(state, app_key)?;
    Ok(state
        .get(&settings_key(app_key, user, kind, target, channel))?
        .unwrap_or_default())
}

pub(super) fn change(
    state: &mut Overlay<'_>,
    app_key: &str,
    user: &str,
    kind: ConversationType,
    target: &str,
    channel: &str,
    setting: ConversationSetting,
) -> Result<ConversationSettings, CommandError> {
    validate_user_id(user)?;
    if target.is_empty() {
        return Err(CommandError::invalid("targetId", "is required"));
    }
    let mut current = settings(state, app_key, user, kind, target, channel)?;
    match setting {
        ConversationSetting::Muted(on) => current.muted = on,
        ConversationSetting::Pinned(on) => current.pinned = on,
    }
    state.put(settings_key(app_key, user, kind, target, channel), &current)?;
    Ok(current)
}

/// Push level for a whole conversation type: -1 everything, 0 default, 1 @mentions only,
/// 2 @mentions of me only, 4 @all only, 5 nothing (the commercial `unpushLevel`).
pub(super) fn set_type_level(
    state: &mut Overlay<'_>,
    app_key: &str,
    user: &str,
    kind: ConversationType,
    level: i8,
) -> Result<(), CommandError> {
    apps::by_key(state, app_key)?;
    validate_user_id(user)?;
    if ![-1, 0, 1, 2, 4, 5].contains(&level) {
        return Err(CommandError::invalid(
            "unpushLevel",
            "must be -1, 0, 1, 2, 4 or 5",
        ));
    }
    state.put(type_level_key(app_key, user, kind), &level)?;
    Ok(())
}

pub(super) fn type_level(
    state: &impl StateRead,
    app_key: &str,
    user: &str,
    kind: ConversationType,
) -> Result<i8, CommandError> {
    apps::by_key(state, app_key)?;
    Ok(state
        .get(&type_level_key(app_key, user, kind))?
        .unwrap_or(0))
}

/// Removes every setting of an app environment.
pub(super) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<(), CommandError> {
    for prefix in [SETTINGS_PREFIX, TYPE_LEVEL_PREFIX] {
        for (key, _) in state.scan_raw(&[prefix, app_key.as_bytes(), b"/"].concat())? {
            state.delete(key);
        }
    }
    Ok(())
}
