//! Hosted user profiles (`/user/profile/*`): the documented `userProfile` fields and up to
//! 20 `ext_` keys of `userExtProfile`, both kept as the JSON text the API answers with.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::apps;
use crate::state::keys::{of_app, user_extras as keys, users as user_keys};
use crate::state::store::{Overlay, StateRead};
use crate::state::users::{self, User};

/// Most `userExtProfile` keys one user keeps (the commercial default).
pub const MAX_EXT_KEYS: u64 = 20;
const MAX_EXT_KEY_CHARS: usize = 32;
const MAX_EXT_VALUE_CHARS: usize = 256;
/// Most users one clean call names.
pub const MAX_CLEAN_USERS: usize = 20;

/// The documented `userProfile` fields: text up to a length, or a number in a range.
enum Field {
    Text(usize),
    Number(i64, i64),
}

const FIELDS: [(&str, Field); 9] = [
    ("uniqueId", Field::Text(32)),
    ("name", Field::Text(64)),
    ("portraitUri", Field::Text(1024)),
    ("email", Field::Text(128)),
    ("birthday", Field::Text(32)),
    ("gender", Field::Number(0, 2)),
    ("location", Field::Text(32)),
    ("role", Field::Number(0, 100)),
    ("level", Field::Number(0, 100)),
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub user_id: String,
    /// JSON object text of the documented fields set so far.
    pub profile: String,
    /// JSON object text of the `ext_` keys set so far.
    pub ext: String,
    /// The instant of the last change (the commercial `version`).
    pub version: u64,
    /// Orders the paged list: the user's registration, or the first set if unregistered.
    pub registered_ms: u64,
}

pub(crate) fn object(field: &str, text: &str) -> Result<Map<String, Value>, CommandError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(CommandError::invalid(field, "must be a JSON object")),
    }
}

/// The documented fields of `text`, checked; other keys are dropped, as the commercial
/// service stores only those it documents.
fn profile_fields(text: &str) -> Result<Map<String, Value>, CommandError> {
    let mut kept = Map::new();
    for (key, value) in object("userProfile", text)? {
        let Some((_, field)) = FIELDS.iter().find(|(name, _)| *name == key) else {
            continue;
        };
        let fits = match field {
            Field::Text(max) => value.as_str().is_some_and(|s| s.chars().count() <= *max),
            Field::Number(low, high) => value.as_i64().is_some_and(|n| (*low..=*high).contains(&n)),
        };
        if !fits {
            let rule = match field {
                Field::Text(max) => format!("{key} must be text of at most {max} characters"),
                Field::Number(low, high) => format!("{key} must be a number from {low} to {high}"),
            };
            return Err(CommandError::invalid("userProfile", rule));
        }
        kept.insert(key, value);
    }
    Ok(kept)
}

/// An extension object (`userExtProfile`, `friendExtProfile`): `ext_` keys of at most 32
/// characters, text values of at most 256.
pub(crate) fn ext_fields(field: &str, text: &str) -> Result<Map<String, Value>, CommandError> {
    let fields = object(field, text)?;
    for (key, value) in &fields {
        if !key.starts_with("ext_") || key.chars().count() > MAX_EXT_KEY_CHARS {
            return Err(CommandError::invalid(
                field,
                format!("key {key:?} must start with ext_ and be at most {MAX_EXT_KEY_CHARS} characters"),
            ));
        }
        if value
            .as_str()
            .is_none_or(|s| s.chars().count() > MAX_EXT_VALUE_CHARS)
        {
            return Err(CommandError::invalid(
                field,
                format!("{key} must be text of at most {MAX_EXT_VALUE_CHARS} characters"),
            ));
        }
    }
    Ok(fields)
}

pub(crate) fn get(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<Option<Profile>, CommandError> {
    Ok(state.get(&keys::profile(app_key, user_id))?)
}

/// Every profile of the app, oldest registration first.
pub(crate) fn all(state: &impl StateRead, app_key: &str) -> Result<Vec<Profile>, CommandError> {
    apps::by_key(state, app_key)?;
    let mut profiles: Vec<Profile> = state.scan(&of_app(keys::PROFILE, app_key))?;
    profiles.sort_by(|a, b| (a.registered_ms, &a.user_id).cmp(&(b.registered_ms, &b.user_id)));
    Ok(profiles)
}

/// Sets the given fields of a user's profile; fields not given keep their values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetProfile {
    pub app_key: String,
    pub user_id: String,
    pub profile: Option<String>,
    pub ext: Option<String>,
}

impl Apply for SetProfile {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            user_id,
            profile,
            ext,
        } = self;
        apps::by_key(state, app_key)?;
        users::validate_user_id(user_id)?;
        let existing = get(state, app_key, user_id)?;
        let registered_ms = match &existing {
            Some(p) => p.registered_ms,
            None => state
                .get::<User>(&user_keys::user(app_key, user_id))?
                .map_or(ctx.now_ms, |u| u.created_at_ms),
        };
        let (mut fields, mut extra) = match &existing {
            Some(p) => (
                object("userProfile", &p.profile)?,
                object("userExtProfile", &p.ext)?,
            ),
            None => (Map::new(), Map::new()),
        };
        if let Some(text) = profile {
            fields.extend(profile_fields(text)?);
        }
        if let Some(text) = ext {
            extra.extend(ext_fields("userExtProfile", text)?);
        }
        if extra.len() as u64 > MAX_EXT_KEYS {
            return Err(CommandError::Limit {
                what: "userExtProfile keys".into(),
                limit: MAX_EXT_KEYS,
            });
        }
        let record = Profile {
            user_id: user_id.clone(),
            profile: Value::Object(fields).to_string(),
            ext: Value::Object(extra).to_string(),
            version: ctx.now_ms,
            registered_ms,
        };
        state.put(keys::profile(app_key, user_id), &record)?;
        Ok(())
    }
}

/// Removes users' hosted profiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanProfiles {
    pub app_key: String,
    pub user_ids: Vec<String>,
}

impl Apply for CleanProfiles {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        if self.user_ids.len() > MAX_CLEAN_USERS {
            return Err(CommandError::Limit {
                what: "users per clean".into(),
                limit: MAX_CLEAN_USERS as u64,
            });
        }
        for user_id in &self.user_ids {
            users::validate_user_id(user_id)?;
            state.delete(keys::profile(&self.app_key, user_id));
        }
        Ok(())
    }
}
