//! Users of one app environment: id, name, portrait, token validity, tags, bans, and
//! each user's blacklist and whitelist. The service keeps no other profile data.

use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::apps::{self, AppEnv};
use super::keys::{of_app, users as keys};
use super::store::{Overlay, StateRead};

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
    pub created_at_ms: u64,
    /// Tokens issued before this instant are refused (`/user/token/expire.json`).
    pub tokens_valid_after_ms: u64,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A user's two lists: senders they refuse (blacklist) or the only ones they accept
/// (whitelist, when the app runs in whitelist mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserList {
    Black,
    White,
}

impl UserList {
    fn prefix(self) -> &'static [u8] {
        match self {
            UserList::Black => keys::BLACKLIST,
            UserList::White => keys::WHITELIST,
        }
    }
}

/// Most entries one user's blacklist or whitelist holds.
pub const MAX_LIST_ENTRIES: u64 = 3000;
/// Most users one call may add to or remove from a list.
pub const MAX_LIST_CHANGE: usize = 20;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 40;

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

fn update_profile(
    user: &mut User,
    name: Option<&str>,
    portrait: Option<&str>,
) -> Result<(), CommandError> {
    if let Some(name) = name {
        validate_name(name)?;
        user.name = name.to_string();
    }
    if let Some(portrait) = portrait {
        validate_portrait(portrait)?;
        user.portrait = portrait.to_string();
    }
    Ok(())
}

fn validate_name(name: &str) -> Result<(), CommandError> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(CommandError::invalid(
            "name",
            "must be at most 64 characters",
        ));
    }
    Ok(())
}

fn validate_portrait(portrait: &str) -> Result<(), CommandError> {
    if portrait.chars().count() > MAX_PORTRAIT_CHARS {
        return Err(CommandError::invalid(
            "portrait",
            "must be at most 1024 characters",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Block {
    pub user_id: String,
    pub until_ms: u64,
}

/// Records bans until `until_ms` (see `cross_domain::bans`).
pub(super) fn block(
    state: &mut Overlay<'_>,
    app_key: &str,
    user_ids: &[String],
    until_ms: u64,
) -> Result<(), CommandError> {
    apps::by_key(state, app_key)?;
    for user_id in user_ids {
        validate_user_id(user_id)?;
        let block = Block {
            user_id: user_id.clone(),
            until_ms,
        };
        state.put(keys::block(app_key, user_id), &block)?;
    }
    Ok(())
}

/// What a connecting client is checked against: the user (for token expiry) and its ban,
/// if any (the caller compares its end with the clock).
pub(super) fn access(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<(User, Option<Block>), CommandError> {
    let user = get(state, app_key, user_id)?;
    Ok((user, state.get(&keys::block(app_key, user_id))?))
}

/// Bans still in force at `now_ms`.
pub(super) fn blocked(
    state: &impl StateRead,
    app_key: &str,
    now_ms: u64,
) -> Result<Vec<Block>, CommandError> {
    apps::by_key(state, app_key)?;
    let blocks: Vec<Block> = state.scan(&of_app(keys::BLOCK, app_key))?;
    Ok(blocks.into_iter().filter(|b| b.until_ms > now_ms).collect())
}

pub(super) fn list_members(
    state: &impl StateRead,
    app_key: &str,
    list: UserList,
    user_id: &str,
) -> Result<Vec<String>, CommandError> {
    apps::by_key(state, app_key)?;
    Ok(state.scan(&keys::list(list.prefix(), app_key, user_id))?)
}

pub(super) fn get(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<User, CommandError> {
    apps::by_key(state, app_key)?;
    state
        .get(&keys::user(app_key, user_id))?
        .ok_or_else(|| CommandError::not_found(format!("user {user_id}")))
}

/// Removes every user of an app environment and everything kept about them; answers how
/// many users there were.
pub(super) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<u64, CommandError> {
    let removed = state.count_prefix(&of_app(keys::USER, app_key))?;
    state.delete_app(&keys::PER_APP, app_key)?;
    Ok(removed)
}

/// Users with every tag of `all` (when given) or any tag of `any`, by id.
pub(super) fn with_tags(
    state: &impl StateRead,
    app_key: &str,
    all: &[String],
    any: &[String],
) -> Result<Vec<String>, CommandError> {
    apps::by_key(state, app_key)?;
    let users: Vec<User> = state.scan(&of_app(keys::USER, app_key))?;
    Ok(users
        .into_iter()
        .filter(|user| {
            (!all.is_empty() && all.iter().all(|tag| user.tags.contains(tag)))
                || any.iter().any(|tag| user.tags.contains(tag))
        })
        .map(|user| user.user_id)
        .collect())
}

/// The users among `user_ids` that exist, in the order asked.
pub(super) fn existing(
    state: &impl StateRead,
    app_key: &str,
    user_ids: &[String],
) -> Result<Vec<User>, CommandError> {
    apps::by_key(state, app_key)?;
    let mut found = Vec::new();
    for user_id in user_ids {
        if let Some(user) = state.get::<User>(&keys::user(app_key, user_id))? {
            found.push(user);
        }
    }
    Ok(found)
}

/// Creates the user or updates it; a name or portrait not given stays as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PutUser {
    pub app_key: String,
    pub user_id: String,
    pub name: Option<String>,
    pub portrait: Option<String>,
}

impl Apply for PutUser {
    type Answer = User;

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<User, CommandError> {
        let app_key: &str = &self.app_key;
        let user_id: &str = &self.user_id;
        let name: Option<&str> = self.name.as_deref();
        let portrait: Option<&str> = self.portrait.as_deref();
        let mut user = get_or_register(ctx, state, app_key, user_id)?;
        update_profile(&mut user, name, portrait)?;
        state.put(keys::user(app_key, user_id), &user)?;
        Ok(user)
    }
}

/// The user's record, or a new one (not stored yet) for a user id the app has not
/// registered: the app server is the directory of record, so the commercial service
/// accepts profile, tag and token calls for any user id, and so do we.
fn get_or_register(
    ctx: ApplyContext,
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<User, CommandError> {
    validate_user_id(user_id)?;
    let (_, env) = apps::by_key(state, app_key)?;
    if let Some(existing) = state.get::<User>(&keys::user(app_key, user_id))? {
        return Ok(existing);
    }
    if env == AppEnv::Dev && state.count_prefix(&of_app(keys::USER, app_key))? >= DEV_USER_LIMIT {
        return Err(CommandError::DevUserLimit {
            limit: DEV_USER_LIMIT,
        });
    }
    Ok(User {
        user_id: user_id.to_string(),
        name: String::new(),
        portrait: String::new(),
        created_at_ms: ctx.now_ms,
        tokens_valid_after_ms: 0,
        tags: Vec::new(),
    })
}

/// Updates a user's name and/or portrait (registering a user id not seen yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshUser {
    pub app_key: String,
    pub user_id: String,
    pub name: Option<String>,
    pub portrait: Option<String>,
}

impl Apply for RefreshUser {
    type Answer = User;

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<User, CommandError> {
        let app_key: &str = &self.app_key;
        let user_id: &str = &self.user_id;
        let name: Option<&str> = self.name.as_deref();
        let portrait: Option<&str> = self.portrait.as_deref();
        let mut user = get_or_register(ctx, state, app_key, user_id)?;
        update_profile(&mut user, name, portrait)?;
        state.put(keys::user(app_key, user_id), &user)?;
        Ok(user)
    }
}

/// Tokens issued before `before_ms` stop being valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpireTokens {
    pub app_key: String,
    pub user_id: String,
    pub before_ms: u64,
}

impl Apply for ExpireTokens {
    type Answer = User;

    /// Refuses every token issued before `before_ms`.
    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<User, CommandError> {
        let app_key: &str = &self.app_key;
        let user_id: &str = &self.user_id;
        let before_ms = self.before_ms;
        let mut user = get_or_register(ctx, state, app_key, user_id)?;
        user.tokens_valid_after_ms = user.tokens_valid_after_ms.max(before_ms);
        state.put(keys::user(app_key, user_id), &user)?;
        Ok(user)
    }
}

/// Replaces the user's tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetTags {
    pub app_key: String,
    pub user_id: String,
    pub tags: Vec<String>,
}

impl Apply for SetTags {
    type Answer = User;

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<User, CommandError> {
        let app_key: &str = &self.app_key;
        let user_id: &str = &self.user_id;
        let tags: &[String] = &self.tags;
        if tags.len() > MAX_TAGS {
            return Err(CommandError::Limit {
                what: "tags per user".into(),
                limit: MAX_TAGS as u64,
            });
        }
        if let Some(tag) = tags
            .iter()
            .find(|t| t.is_empty() || t.chars().count() > MAX_TAG_CHARS)
        {
            return Err(CommandError::invalid(
                "tags",
                format!("tag {tag:?} must be 1 to 40 characters"),
            ));
        }
        let mut user = get_or_register(ctx, state, app_key, user_id)?;
        user.tags = tags.to_vec();
        state.put(keys::user(app_key, user_id), &user)?;
        Ok(user)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnblockUsers {
    pub app_key: String,
    pub user_ids: Vec<String>,
}

impl Apply for UnblockUsers {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let user_ids: &[String] = &self.user_ids;
        apps::by_key(state, app_key)?;
        for user_id in user_ids {
            validate_user_id(user_id)?;
            state.delete(keys::block(app_key, user_id));
        }
        Ok(())
    }
}

/// Adds (`present`) or removes users on one user's blacklist or whitelist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeUserList {
    pub app_key: String,
    pub list: UserList,
    pub user_id: String,
    pub others: Vec<String>,
    pub present: bool,
}

impl Apply for ChangeUserList {
    type Answer = ();

    /// Adds (`present`) or removes `others` on `user_id`'s list.
    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let list = self.list;
        let user_id: &str = &self.user_id;
        let others: &[String] = &self.others;
        let present = self.present;
        apps::by_key(state, app_key)?;
        validate_user_id(user_id)?;
        if others.is_empty() {
            return Err(CommandError::invalid(
                "users",
                "at least one user is required",
            ));
        }
        if others.len() > MAX_LIST_CHANGE {
            return Err(CommandError::Limit {
                what: "users per list change".into(),
                limit: MAX_LIST_CHANGE as u64,
            });
        }
        let prefix = keys::list(list.prefix(), app_key, user_id);
        for other in others {
            validate_user_id(other)?;
            let key = keys::listed(list.prefix(), app_key, user_id, other);
            if present {
                state.put(key, other)?;
            } else {
                state.delete(key);
            }
        }
        if present && state.count_prefix(&prefix)? > MAX_LIST_ENTRIES {
            return Err(CommandError::Limit {
                what: "entries in one user's list".into(),
                limit: MAX_LIST_ENTRIES,
            });
        }
        Ok(())
    }
}

/// Erases one user: the record (with its tags and token validity), its ban and its own
/// blacklist and whitelist. Entries naming it in others' lists stay (finding them means
/// reading every list of the app).
pub(super) fn erase(
    state: &mut Overlay<'_>,
    app_key: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    state.delete(keys::user(app_key, user_id));
    state.delete(keys::block(app_key, user_id));
    for list in [UserList::Black, UserList::White] {
        state.delete_prefix(&keys::list(list.prefix(), app_key, user_id))?;
    }
    Ok(())
}
