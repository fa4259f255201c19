//! Users of one app environment: id, name, portrait and token generation. The service
//! keeps no other profile data.

use serde::{Deserialize, Serialize};

use super::apps::{self, AppEnv};
use super::store::{Overlay, StateRead};
use super::{ApplyContext, CommandError};

pub(crate) const USER_PREFIX: &[u8] = b"user/";
/// SPEC §1: a `dev` environment holds at most 100 registered users.
pub const DEV_USER_LIMIT: u64 = 100;
const MAX_USER_ID_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 64;
const MAX_PORTRAIT_CHARS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub user_id: String,
    pub name: String,
    pub portrait: String,
    /// Tokens carry the generation they were issued in; older generations are refused.
    pub token_generation: u64,
    pub created_at_ms: u64,
}

fn user_prefix(app_key: &str) -> Vec<u8> {
    [USER_PREFIX, app_key.as_bytes(), b"/"].concat()
}

fn user_key(app_key: &str, user_id: &str) -> Vec<u8> {
    [user_prefix(app_key).as_slice(), user_id.as_bytes()].concat()
}

/// SPEC §1: user ids are ≤ 64 characters of `[A-Za-z0-9_=+-]`.
pub fn validate_user_id(user_id: &str) -> Result<(), CommandError> {
    if user_id.is_empty() || user_id.len() > MAX_USER_ID_CHARS {
        return Err(CommandError::invalid(
            "userId",
            "must be 1 to 64 characters",
        ));
    }
    if !user_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'=' | b'+' | b'-'))
    {
        return Err(CommandError::invalid(
            "userId",
            "only A-Z a-z 0-9 _ = + - are allowed",
        ));
    }
    Ok(())
}

pub(super) fn put(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    user_id: &str,
    name: &str,
    portrait: &str,
) -> Result<User, CommandError> {
    validate_user_id(user_id)?;
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(CommandError::invalid(
            "name",
            "must be at most 64 characters",
        ));
    }
    if portrait.chars().count() > MAX_PORTRAIT_CHARS {
        return Err(CommandError::invalid(
            "portrait",
            "must be at most 1024 characters",
        ));
    }
    let (_, env) = apps::by_key(state, app_key)?;
    let key = user_key(app_key, user_id);
    let user = match state.get::<User>(&key)? {
        Some(existing) => User {
            name: name.to_string(),
            portrait: portrait.to_string(),
            ..existing
        },
        None => {
            if env == AppEnv::Dev && state.count_prefix(&user_prefix(app_key))? >= DEV_USER_LIMIT {
                return Err(CommandError::Limit {
                    what: "users in a dev environment".into(),
                    limit: DEV_USER_LIMIT,
                });
            }
            User {
                user_id: user_id.to_string(),
                name: name.to_string(),
                portrait: portrait.to_string(),
                token_generation: 1,
                created_at_ms: ctx.now_ms,
            }
        }
    };
    state.put(key, &user)?;
    Ok(user)
}

pub(super) fn renew_token_generation(
    state: &mut Overlay<'_>,
    app_key: &str,
    user_id: &str,
) -> Result<User, CommandError> {
    let mut user = get(state, app_key, user_id)?;
    user.token_generation += 1;
    state.put(user_key(app_key, user_id), &user)?;
    Ok(user)
}

pub(super) fn get(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<User, CommandError> {
    apps::by_key(state, app_key)?;
    state
        .get(&user_key(app_key, user_id))?
        .ok_or_else(|| CommandError::not_found(format!("user {user_id}")))
}

pub(super) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<u64, CommandError> {
    let keys = state.scan_raw(&user_prefix(app_key))?;
    let removed = keys.len() as u64;
    for (key, _) in keys {
        state.delete(key);
    }
    Ok(removed)
}
