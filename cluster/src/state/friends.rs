//! Hosted friend relations (`/friend/*`). A friendship is mutual: it is kept under both
//! users and ends for both. A request to a user who wants to approve (permission 2) waits
//! until that user adds the requester back; permission 1 accepts at once, 3 refuses.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::apply::{Apply, ApplyContext, CommandError};
use super::apps;
use super::keys::friends as keys;
use super::store::{Overlay, StateRead};
use super::user_extras::profiles::{ext_fields, object};
use super::users::validate_user_id;

/// Most users one call names (targets, permissions).
pub const MAX_USERS_PER_CALL: usize = 100;
pub const MAX_REMARK_CHARS: usize = 64;
/// Most `friendExtProfile` keys per friend (as the commercial group extension's default).
pub const MAX_EXT_KEYS: usize = 10;

/// Who may add a user as a friend.
pub const ANYONE: u8 = 1;
pub const APPROVAL: u8 = 2;
pub const NOBODY: u8 = 3;
/// A user who never set one must approve each request.
pub const DEFAULT_PERMISSION: u8 = APPROVAL;

/// One friend of a user, as that user keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Friend {
    pub user_id: String,
    pub remark_name: String,
    /// JSON object text.
    pub ext: String,
    pub since_ms: u64,
}

/// A request waiting for its target's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendRequest {
    pub from: String,
    pub extra: String,
    pub at_ms: u64,
}

/// A user's friends, oldest friendship first.
pub(crate) fn of_user(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<Vec<Friend>, CommandError> {
    apps::by_key(state, app_key)?;
    let mut friends: Vec<Friend> = state.scan(&keys::friends(app_key, user_id))?;
    friends.sort_by(|a, b| (a.since_ms, &a.user_id).cmp(&(b.since_ms, &b.user_id)));
    Ok(friends)
}

pub(crate) fn are_friends(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
    other: &str,
) -> Result<bool, CommandError> {
    Ok(state
        .get::<Friend>(&keys::friend(app_key, user_id, other))?
        .is_some())
}

pub(crate) fn permission(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<u8, CommandError> {
    Ok(state
        .get(&keys::permission(app_key, user_id))?
        .unwrap_or(DEFAULT_PERMISSION))
}

fn befriend(
    state: &mut Overlay<'_>,
    app_key: &str,
    a: &str,
    b: &str,
    now_ms: u64,
) -> Result<(), CommandError> {
    for (user, other) in [(a, b), (b, a)] {
        let friend = Friend {
            user_id: other.to_string(),
            remark_name: String::new(),
            ext: "{}".into(),
            since_ms: now_ms,
        };
        state.put(keys::friend(app_key, user, other), &friend)?;
        state.delete(keys::request(app_key, user, other));
    }
    Ok(())
}

fn unfriend(state: &mut Overlay<'_>, app_key: &str, a: &str, b: &str) {
    state.delete(keys::friend(app_key, a, b));
    state.delete(keys::friend(app_key, b, a));
}

fn check_count(ids: &[String]) -> Result<(), CommandError> {
    if ids.len() > MAX_USERS_PER_CALL {
        return Err(CommandError::Limit {
            what: "users per call".into(),
            limit: MAX_USERS_PER_CALL as u64,
        });
    }
    ids.iter().try_for_each(|id| validate_user_id(id))
}

/// `user_id` asks `target_id` to be friends; `direct` skips the target's approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddFriend {
    pub app_key: String,
    pub user_id: String,
    pub target_id: String,
    pub direct: bool,
    pub extra: String,
}

impl Apply for AddFriend {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            user_id,
            target_id,
            direct,
            extra,
        } = self;
        apps::by_key(state, app_key)?;
        validate_user_id(user_id)?;
        validate_user_id(target_id)?;
        if user_id == target_id {
            return Err(CommandError::invalid(
                "targetId",
                "a user cannot befriend itself",
            ));
        }
        if are_friends(state, app_key, user_id, target_id)? {
            return Ok(());
        }
        // The target asked first: adding it back is the approval.
        let asked_back = state
            .get::<FriendRequest>(&keys::request(app_key, user_id, target_id))?
            .is_some();
        let accepts = match permission(state, app_key, target_id)? {
            _ if *direct || asked_back => true,
            ANYONE => true,
            NOBODY => {
                return Err(CommandError::Forbidden {
                    reason: format!("{target_id} accepts no friend requests"),
                })
            }
            _ => false,
        };
        if accepts {
            return befriend(state, app_key, user_id, target_id, ctx.now_ms);
        }
        let request = FriendRequest {
            from: user_id.clone(),
            extra: extra.clone(),
            at_ms: ctx.now_ms,
        };
        state.put(keys::request(app_key, target_id, user_id), &request)?;
        Ok(())
    }
}

/// Ends `user_id`'s friendships with `target_ids` (for both sides).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteFriends {
    pub app_key: String,
    pub user_id: String,
    pub target_ids: Vec<String>,
}

impl Apply for DeleteFriends {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        validate_user_id(&self.user_id)?;
        check_count(&self.target_ids)?;
        for target in &self.target_ids {
            unfriend(state, &self.app_key, &self.user_id, target);
        }
        Ok(())
    }
}

/// Ends every friendship of `user_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanFriends {
    pub app_key: String,
    pub user_id: String,
}

impl Apply for CleanFriends {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        validate_user_id(&self.user_id)?;
        clean(state, &self.app_key, &self.user_id)
    }
}

fn clean(state: &mut Overlay<'_>, app_key: &str, user_id: &str) -> Result<(), CommandError> {
    for friend in of_user(state, app_key, user_id)? {
        unfriend(state, app_key, user_id, &friend.user_id);
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetFriendPermission {
    pub app_key: String,
    pub user_ids: Vec<String>,
    pub permission: u8,
}

impl Apply for SetFriendPermission {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        check_count(&self.user_ids)?;
        if !(ANYONE..=NOBODY).contains(&self.permission) {
            return Err(CommandError::invalid("permissionType", "must be 1, 2 or 3"));
        }
        for user_id in &self.user_ids {
            state.put(keys::permission(&self.app_key, user_id), &self.permission)?;
        }
        Ok(())
    }
}

/// The remark name and extension `user_id` keeps for its friend `target_id`; a field not
/// given keeps its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetFriendProfile {
    pub app_key: String,
    pub user_id: String,
    pub target_id: String,
    pub remark_name: Option<String>,
    pub ext: Option<String>,
}

impl Apply for SetFriendProfile {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        validate_user_id(&self.user_id)?;
        validate_user_id(&self.target_id)?;
        let key = keys::friend(&self.app_key, &self.user_id, &self.target_id);
        let mut friend: Friend = state
            .get(&key)?
            .ok_or_else(|| CommandError::not_found(format!("friend {}", self.target_id)))?;
        if let Some(remark) = &self.remark_name {
            if remark.chars().count() > MAX_REMARK_CHARS {
                return Err(CommandError::invalid(
                    "remarkName",
                    format!("must be at most {MAX_REMARK_CHARS} characters"),
                ));
            }
            friend.remark_name = remark.clone();
        }
        if let Some(text) = &self.ext {
            let mut fields = object("friendExtProfile", &friend.ext)?;
            fields.extend(ext_fields("friendExtProfile", text)?);
            if fields.len() > MAX_EXT_KEYS {
                return Err(CommandError::Limit {
                    what: "friendExtProfile keys".into(),
                    limit: MAX_EXT_KEYS as u64,
                });
            }
            friend.ext = Value::Object(fields).to_string();
        }
        state.put(key, &friend)?;
        Ok(())
    }
}

/// Friendships an import may carry at once (each direction counts).
pub const MAX_IMPORTED_FRIENDS: usize = 1000;

/// Friend records as an export holds them (LIFE-03): `(owner, friend)`, one direction
/// each, written as they were (remark, extension, since when).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportFriends {
    pub app_key: String,
    pub friends: Vec<(String, Friend)>,
}

impl Apply for ImportFriends {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        if self.friends.len() > MAX_IMPORTED_FRIENDS {
            return Err(CommandError::Limit {
                what: "friends per import".into(),
                limit: MAX_IMPORTED_FRIENDS as u64,
            });
        }
        for (owner, friend) in &self.friends {
            validate_user_id(owner)?;
            validate_user_id(&friend.user_id)?;
            if friend.remark_name.chars().count() > MAX_REMARK_CHARS {
                return Err(CommandError::invalid(
                    "remarkName",
                    format!("must be at most {MAX_REMARK_CHARS} characters"),
                ));
            }
            if object("ext", &friend.ext)?.len() > MAX_EXT_KEYS {
                return Err(CommandError::Limit {
                    what: "friendExtProfile keys".into(),
                    limit: MAX_EXT_KEYS as u64,
                });
            }
            state.put(keys::friend(&self.app_key, owner, &friend.user_id), friend)?;
        }
        Ok(())
    }
}

/// Erases a user's friendships (for both sides), its permission and the requests to it.
pub(crate) fn erase_user(
    state: &mut Overlay<'_>,
    app_key: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    clean(state, app_key, user_id)?;
    state.delete(keys::permission(app_key, user_id));
    Ok(state.delete_prefix(&keys::requests(app_key, user_id))?)
}

pub(crate) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<(), CommandError> {
    state.delete_app(&keys::PER_APP, app_key)?;
    Ok(())
}
