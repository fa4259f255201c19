//! Groups (GRP): membership with a per-app cap, names, member mutes, whole-group mute
//! with its whitelist, and each user's group index.

use meridian_proto::ConversationType;
use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::apps;
use super::feed;
use super::keys::groups as keys;
use super::messages;
use super::store::{Overlay, StateRead};
use super::users::validate_user_id;

mod mutes;

pub(in crate::state) use mutes::{may_speak, mute_whitelist, muted_groups, mutes};
pub use mutes::{ChangeGroupMuteWhitelist, MuteGroupMembers, SetGroupMuted};

pub use super::apps::DEFAULT_MEMBER_CAP;
pub const MAX_GROUP_ID_CHARS: usize = 64;
pub const MAX_GROUP_NAME_CHARS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub group_id: String,
    pub name: String,
    pub created_at_ms: u64,
    pub members: u64,
    /// Whole-group mute (GRP-07): nobody but the mute whitelist may send from clients.
    pub muted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: String,
    pub joined_at_ms: u64,
    /// The feed position of the join: a member sees the group's messages after it (GRP-05).
    pub joined_at_pos: u64,
    /// Member mute (GRP-06): until this instant the member cannot send from clients.
    pub muted_until_ms: u64,
}

pub fn validate_group_id(group_id: &str) -> Result<(), CommandError> {
    if group_id.is_empty() || group_id.chars().count() > MAX_GROUP_ID_CHARS {
        return Err(CommandError::invalid(
            "groupId",
            "must be 1 to 64 characters",
        ));
    }
    if !group_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'=' | b'+' | b'-'))
    {
        return Err(CommandError::invalid(
            "groupId",
            "only A-Z a-z 0-9 _ = + - are allowed",
        ));
    }
    Ok(())
}

fn validate_name(name: &str) -> Result<(), CommandError> {
    if name.chars().count() > MAX_GROUP_NAME_CHARS {
        return Err(CommandError::invalid(
            "groupName",
            "must be at most 128 characters",
        ));
    }
    Ok(())
}

pub(super) fn get(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
) -> Result<Group, CommandError> {
    state
        .get(&keys::group(app_key, group_id))?
        .ok_or_else(|| CommandError::not_found(format!("group {group_id}")))
}

/// The group's record, or an empty one (not stored) for a group id the app never used.
/// The commercial service keeps no group directory of record (the app server does), so
/// settings and queries on such a group succeed there; a change that needs a record
/// stores this one.
pub(in crate::state) fn get_or_empty(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
    now_ms: u64,
) -> Result<Group, CommandError> {
    validate_group_id(group_id)?;
    Ok(state
        .get(&keys::group(app_key, group_id))?
        .unwrap_or_else(|| Group::new(group_id, "", now_ms)))
}

impl Group {
    fn new(group_id: &str, name: &str, now_ms: u64) -> Self {
        Group {
            group_id: group_id.to_string(),
            name: name.to_string(),
            created_at_ms: now_ms,
            members: 0,
            muted: false,
        }
    }
}

/// Where a new member's view of the group starts (GRP-05).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinedSince {
    /// Joining now: earlier messages stay out of the member's view.
    Now,
    /// Moved in from another provider (API-04): a member from the start, so imported
    /// history is part of its view.
    Always,
}

/// Adds members, creating the group when it does not exist (create and join are the same
/// call in the commercial API). The name is the new group's; an existing group keeps
/// its name (`/group/refresh.json` renames), as the commercial group sync documents.
pub(super) fn join(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    group_id: &str,
    name: Option<&str>,
    user_ids: &[String],
    since: JoinedSince,
) -> Result<Group, CommandError> {
    apps::by_key(state, app_key)?;
    validate_group_id(group_id)?;
    if let Some(name) = name {
        validate_name(name)?;
    }
    let mut group = match state.get::<Group>(&keys::group(app_key, group_id))? {
        Some(group) => group,
        None => Group::new(group_id, name.unwrap_or_default(), ctx.now_ms),
    };
    let mut joined = Vec::new();
    let joined_at_pos = match since {
        JoinedSince::Now => feed::next_position(state)?,
        JoinedSince::Always => 0,
    };
    for user_id in user_ids {
        validate_user_id(user_id)?;
        let key = keys::member(app_key, group_id, user_id);
        if state.get_raw(&key)?.is_some() {
            continue;
        }
        joined.push(user_id.clone());
        // A mute set before the user joined applies from the join (see `MuteGroupMembers`).
        let pending_key = keys::pending_mute(app_key, group_id, user_id);
        let muted_until_ms = state
            .get::<(String, u64)>(&pending_key)?
            .map_or(0, |(_, until_ms)| until_ms);
        state.delete(pending_key);
        state.put(
            key,
            &Member {
                user_id: user_id.clone(),
                joined_at_ms: ctx.now_ms,
                joined_at_pos,
                muted_until_ms,
            },
        )?;
        state.put(
            keys::user_group(app_key, user_id, group_id),
            &group_id.to_string(),
        )?;
        group.members += 1;
    }
    // GRP-01, API-08: the app's cap (3000 unless its operator set another).
    let cap = apps::limits(state, app_key)?.group_member_cap;
    if group.members > cap {
        return Err(CommandError::MemberCap { limit: cap });
    }
    state.put(keys::group(app_key, group_id), &group)?;
    announce(state, app_key, group_id, joined, Vec::new(), false)?;
    Ok(group)
}

/// Tells the edges' sessions who joined or left (see `feed`).
fn announce(
    state: &mut Overlay<'_>,
    app_key: &str,
    group_id: &str,
    joined: Vec<String>,
    left: Vec<String>,
    dismissed: bool,
) -> Result<(), CommandError> {
    feed::announce(
        state,
        app_key,
        feed::MembershipChange {
            kind: ConversationType::Group,
            id: group_id,
            joined,
            left,
            dismissed,
        },
    )
}

/// A user's membership record, if a member.
pub(super) fn membership(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
    user_id: &str,
) -> Result<Option<Member>, CommandError> {
    Ok(state.get(&keys::member(app_key, group_id, user_id))?)
}

pub(super) fn members(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
) -> Result<Vec<Member>, CommandError> {
    Ok(state.scan(&keys::of_group(keys::MEMBER, app_key, group_id))?)
}

const MAX_REMARK_CHARS: usize = 64;

pub(super) fn remark(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
    user_id: &str,
) -> Result<Option<String>, CommandError> {
    get(state, app_key, group_id)?;
    Ok(state.get(&keys::remark(app_key, group_id, user_id))?)
}
/// Records that `user_id` read a group message at `at_ms`; false if it had already.
pub(super) fn record_reader(
    state: &mut Overlay<'_>,
    app_key: &str,
    msg_uid: &str,
    user_id: &str,
    at_ms: u64,
) -> Result<bool, CommandError> {
    let key = keys::reader(app_key, msg_uid, user_id);
    if state.get_raw(&key)?.is_some() {
        return Ok(false);
    }
    state.put(key, &(user_id.to_string(), at_ms))?;
    Ok(true)
}

/// Who read a group message, and when: (user, ms), oldest first.
pub(super) fn readers(
    state: &impl StateRead,
    app_key: &str,
    msg_uid: &str,
) -> Result<Vec<(String, u64)>, CommandError> {
    messages::by_uid(state, app_key, msg_uid)?;
    let mut readers: Vec<(String, u64)> = state.scan(&keys::readers(app_key, msg_uid))?;
    readers.sort_by_key(|(_, at)| *at);
    Ok(readers)
}

/// The groups `user_id` belongs to.
pub(super) fn of_user(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<Vec<Group>, CommandError> {
    apps::by_key(state, app_key)?;
    let ids: Vec<String> = state.scan(&keys::user_groups(app_key, user_id))?;
    let mut groups = Vec::with_capacity(ids.len());
    for id in ids {
        groups.push(get(state, app_key, &id)?);
    }
    Ok(groups)
}

/// Takes an erased user out of every group it is in (LIFE-02); the others are told.
pub(in crate::state) fn leave_all(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    let group_ids: Vec<String> = state.scan(&keys::user_groups(app_key, user_id))?;
    for group_id in group_ids {
        let quit = QuitGroup {
            app_key: app_key.to_string(),
            group_id,
            user_ids: vec![user_id.to_string()],
        };
        quit.apply(ctx, state)?;
    }
    Ok(())
}

/// Removes every group of an app environment.
pub(super) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<(), CommandError> {
    state.delete_app(&keys::PER_APP, app_key)?;
    Ok(())
}

/// A member's remark in a group (`None` removes it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetGroupRemark {
    pub app_key: String,
    pub group_id: String,
    pub user_id: String,
    pub remark: Option<String>,
}

impl Apply for SetGroupRemark {
    type Answer = ();

    /// A member's remark (display name) in a group: set with `Some`, removed with `None`.
    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let group_id: &str = &self.group_id;
        let user_id: &str = &self.user_id;
        let remark: Option<&str> = self.remark.as_deref();
        get(state, app_key, group_id)?;
        if membership(state, app_key, group_id, user_id)?.is_none() {
            return Err(CommandError::NotMember {
                what: format!("group {group_id}"),
            });
        }
        let key = keys::remark(app_key, group_id, user_id);
        match remark {
            Some(remark) if remark.chars().count() > MAX_REMARK_CHARS => Err(
                CommandError::invalid("remark", "must be at most 64 characters"),
            ),
            Some(remark) => Ok(state.put(key, &remark.to_string())?),
            None => {
                state.delete(key);
                Ok(())
            }
        }
    }
}

/// Adds members, creating the group (with this name) if needed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinGroup {
    pub app_key: String,
    pub group_id: String,
    pub name: Option<String>,
    pub user_ids: Vec<String>,
}

impl Apply for JoinGroup {
    type Answer = Group;

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<Group, CommandError> {
        let Self {
            app_key,
            group_id,
            name,
            user_ids,
        } = self;
        join(
            ctx,
            state,
            app_key,
            group_id,
            name.as_deref(),
            user_ids,
            JoinedSince::Now,
        )
    }
}

/// Adds members moved in from another provider: members since the start (API-04).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportGroupMembers {
    pub app_key: String,
    pub group_id: String,
    pub name: Option<String>,
    pub user_ids: Vec<String>,
}

impl Apply for ImportGroupMembers {
    type Answer = Group;

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<Group, CommandError> {
        let Self {
            app_key,
            group_id,
            name,
            user_ids,
        } = self;
        join(
            ctx,
            state,
            app_key,
            group_id,
            name.as_deref(),
            user_ids,
            JoinedSince::Always,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuitGroup {
    pub app_key: String,
    pub group_id: String,
    pub user_ids: Vec<String>,
}

impl Apply for QuitGroup {
    type Answer = Group;

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<Group, CommandError> {
        let app_key: &str = &self.app_key;
        let group_id: &str = &self.group_id;
        let user_ids: &[String] = &self.user_ids;
        let mut group = get_or_empty(state, app_key, group_id, ctx.now_ms)?;
        if group.members == 0 {
            // Nobody to remove (a group the app never used is not created by quitting).
            return Ok(group);
        }
        let mut left = Vec::new();
        for user_id in user_ids {
            validate_user_id(user_id)?;
            let key = keys::member(app_key, group_id, user_id);
            if state.get_raw(&key)?.is_none() {
                continue;
            }
            left.push(user_id.clone());
            state.delete(key);
            state.delete(keys::user_group(app_key, user_id, group_id));
            state.delete(keys::whitelisted(app_key, group_id, user_id));
            group.members -= 1;
        }
        state.put(keys::group(app_key, group_id), &group)?;
        announce(state, app_key, group_id, Vec::new(), left, false)?;
        Ok(group)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DismissGroup {
    pub app_key: String,
    pub group_id: String,
}

impl Apply for DismissGroup {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let group_id: &str = &self.group_id;
        // Dismissing a group that does not exist is done already.
        if state.get_raw(&keys::group(app_key, group_id))?.is_none() {
            return Ok(());
        }
        for member in members(state, app_key, group_id)? {
            state.delete(keys::user_group(app_key, &member.user_id, group_id));
        }
        for family in keys::PER_GROUP {
            state.delete_prefix(&keys::of_group(family, app_key, group_id))?;
        }
        state.delete(keys::group(app_key, group_id));
        announce(state, app_key, group_id, Vec::new(), Vec::new(), true)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenameGroup {
    pub app_key: String,
    pub group_id: String,
    pub name: String,
}

impl Apply for RenameGroup {
    type Answer = Group;

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<Group, CommandError> {
        let app_key: &str = &self.app_key;
        let group_id: &str = &self.group_id;
        let name: &str = &self.name;
        validate_name(name)?;
        let mut group = get_or_empty(state, app_key, group_id, ctx.now_ms)?;
        group.name = name.to_string();
        state.put(keys::group(app_key, group_id), &group)?;
        Ok(group)
    }
}
