//! Mutes in a group: members muted until a time (GRP-06), whole-group mute and its
//! whitelist (GRP-07), and what they allow a client to send.

use serde::{Deserialize, Serialize};

use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::apps;
use crate::state::keys::{groups as keys, of_app};
use crate::state::store::{Overlay, StateRead};
use crate::state::users::validate_user_id;

use super::{get, get_or_empty, membership, validate_group_id, Group, Member};

pub(in crate::state) fn set_muted(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    group_id: &str,
    muted: bool,
) -> Result<(), CommandError> {
    // A group the app never used gets a record holding the mute, which its first
    // members find (the commercial service accepts the call before the group exists).
    let mut group = get_or_empty(state, app_key, group_id, ctx.now_ms)?;
    group.muted = muted;
    state.put(keys::group(app_key, group_id), &group)?;
    Ok(())
}

/// A member may send from a client unless muted (GRP-06) or the whole group is muted and
/// the member is not on its whitelist (GRP-07).
pub(in crate::state) fn may_speak(
    ctx: ApplyContext,
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    let group = get(state, app_key, group_id)?;
    let Some(member) = membership(state, app_key, group_id, user_id)? else {
        return Err(CommandError::NotMember {
            what: format!("group {group_id}"),
        });
    };
    let whitelisted = || -> Result<bool, CommandError> {
        Ok(state
            .get_raw(&keys::whitelisted(app_key, group_id, user_id))?
            .is_some())
    };
    if member.muted_until_ms > ctx.now_ms || (group.muted && !whitelisted()?) {
        return Err(CommandError::Muted {
            what: format!("group {group_id}"),
        });
    }
    Ok(())
}

pub(in crate::state) fn mute_whitelist(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
) -> Result<Vec<String>, CommandError> {
    validate_group_id(group_id)?;
    Ok(state.scan(&keys::of_group(keys::MUTE_WHITELIST, app_key, group_id))?)
}

/// Who is muted in a group, until when: members, and users muted before they joined.
pub(in crate::state) fn mutes(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
) -> Result<Vec<(String, u64)>, CommandError> {
    validate_group_id(group_id)?;
    let mut mutes: Vec<(String, u64)> = super::members(state, app_key, group_id)?
        .into_iter()
        .filter(|member| member.muted_until_ms > 0)
        .map(|member| (member.user_id, member.muted_until_ms))
        .collect();
    mutes.extend(state.scan::<(String, u64)>(&keys::of_group(
        keys::PENDING_MUTE,
        app_key,
        group_id,
    ))?);
    Ok(mutes)
}

/// Groups whose whole-group mute is on.
pub(in crate::state) fn muted_groups(
    state: &impl StateRead,
    app_key: &str,
) -> Result<Vec<Group>, CommandError> {
    apps::by_key(state, app_key)?;
    let groups: Vec<Group> = state.scan(&of_app(keys::GROUP, app_key))?;
    Ok(groups.into_iter().filter(|g| g.muted).collect())
}

/// Mutes members of a group until `until_ms` (0 lifts it). Users who are not members
/// (of a group that may not exist yet) are muted from when they join, as the commercial
/// service, which keeps no membership of record, accepts such a mute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MuteGroupMembers {
    pub app_key: String,
    pub group_id: String,
    pub user_ids: Vec<String>,
    pub until_ms: u64,
}

impl Apply for MuteGroupMembers {
    type Answer = ();

    /// Mutes members until `until_ms` (0 lifts the mute).
    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let group_id: &str = &self.group_id;
        let until_ms = self.until_ms;
        validate_group_id(group_id)?;
        for user_id in &self.user_ids {
            validate_user_id(user_id)?;
            let key = keys::member(app_key, group_id, user_id);
            let pending = keys::pending_mute(app_key, group_id, user_id);
            match state.get::<Member>(&key)? {
                Some(mut member) => {
                    member.muted_until_ms = until_ms;
                    state.put(key, &member)?;
                }
                None if until_ms == 0 => state.delete(pending),
                None => state.put(pending, &(user_id.clone(), until_ms))?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeGroupMuteWhitelist {
    pub app_key: String,
    pub group_id: String,
    pub user_ids: Vec<String>,
    pub present: bool,
}

impl Apply for ChangeGroupMuteWhitelist {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let group_id: &str = &self.group_id;
        let user_ids: &[String] = &self.user_ids;
        let present = self.present;
        validate_group_id(group_id)?;
        for user_id in user_ids {
            validate_user_id(user_id)?;
            let key = keys::whitelisted(app_key, group_id, user_id);
            if present {
                state.put(key, user_id)?;
            } else {
                state.delete(key);
            }
        }
        Ok(())
    }
}

/// Turns whole-group mute on or off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetGroupMuted {
    pub app_key: String,
    pub group_ids: Vec<String>,
    pub muted: bool,
}

impl Apply for SetGroupMuted {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        for group_id in &self.group_ids {
            set_muted(ctx, state, &self.app_key, group_id, self.muted)?;
        }
        Ok(())
    }
}
