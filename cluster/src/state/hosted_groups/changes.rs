//! The `/entrust/*` commands. Membership changes go through the groups domain (so the
//! members' sessions, sync and messaging follow); the hosted records change with them.

use serde::{Deserialize, Serialize};

use super::{
    find, forget_members, get, members_only, put, Followed, GroupInfo, HostedGroup, MemberInfo,
    MAX_MANAGERS, MAX_NAME_CHARS,
};
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::groups::{self, DismissGroup, JoinGroup, QuitGroup, RenameGroup};
use crate::state::keys::hosted_groups as keys;
use crate::state::store::{Overlay, StateRead};
use crate::state::users::validate_user_id;

/// Most users a create invites, and a join, quit, kick or follow names.
pub const MAX_INVITED: usize = 30;
pub const MAX_USERS_PER_CALL: usize = 100;
const MAX_NICKNAME_CHARS: usize = 64;
const MAX_EXTRA_CHARS: usize = 128;
const MAX_REMARK_CHARS: usize = 64;

fn at_most(what: &str, ids: &[String], limit: usize) -> Result<(), CommandError> {
    if ids.len() > limit {
        return Err(CommandError::Limit {
            what: what.into(),
            limit: limit as u64,
        });
    }
    ids.iter().try_for_each(|id| validate_user_id(id))
}

fn bounded(field: &str, text: &str, max: usize) -> Result<(), CommandError> {
    if text.chars().count() > max {
        return Err(CommandError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// Creates a hosted group (`import`: hosts a group that may already exist) with its
/// owner as first member and, on create, the invited users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateHostedGroup {
    pub app_key: String,
    pub group_id: String,
    pub name: String,
    pub owner: String,
    pub user_ids: Vec<String>,
    pub info: GroupInfo,
    pub import: bool,
}

impl Apply for CreateHostedGroup {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            group_id,
            name,
            owner,
            user_ids,
            info,
            import,
        } = self;
        groups::validate_group_id(group_id)?;
        validate_user_id(owner)?;
        at_most("invited users", user_ids, MAX_INVITED)?;
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(CommandError::invalid("name", "must be 1 to 64 characters"));
        }
        if find(state, app_key, group_id)?.is_some() {
            return Err(CommandError::Conflict {
                what: format!("hosted group {group_id}"),
            });
        }
        if !*import && groups::get(state, app_key, group_id).is_ok() {
            return Err(CommandError::Conflict {
                what: format!("group {group_id}"),
            });
        }
        // What a group dismissed through `/group/dismiss.json` left behind.
        for family in keys::PER_GROUP {
            state.delete_prefix(&keys::of_group(family, app_key, group_id))?;
        }
        let mut members = vec![owner.clone()];
        members.extend(user_ids.iter().filter(|u| *u != owner).cloned());
        let join = JoinGroup {
            app_key: app_key.clone(),
            group_id: group_id.clone(),
            name: Some(name.clone()),
            user_ids: members,
        };
        join.apply(ctx, state)?;
        // An imported group takes the given name too.
        RenameGroup {
            app_key: app_key.clone(),
            group_id: group_id.clone(),
            name: name.clone(),
        }
        .apply(ctx, state)?;
        let mut group = HostedGroup {
            group_id: group_id.clone(),
            owner: owner.clone(),
            creator: owner.clone(),
            managers: Vec::new(),
            profile: "{}".into(),
            ext: "{}".into(),
            permissions: "{}".into(),
        };
        info.apply_to(&mut group)?;
        put(state, app_key, &group)
    }
}

/// Sets the given parts of a group's profile, extension and permissions; a `name` in
/// the profile renames the group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateHostedGroup {
    pub app_key: String,
    pub group_id: String,
    pub info: GroupInfo,
}

impl Apply for UpdateHostedGroup {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let mut group = get(state, &self.app_key, &self.group_id)?;
        self.info.apply_to(&mut group)?;
        let profile: serde_json::Value = serde_json::from_str(&group.profile)
            .map_err(|_| CommandError::invalid("groupProfile", "must be a JSON object"))?;
        if let Some(name) = profile.get("name").and_then(|n| n.as_str()) {
            RenameGroup {
                app_key: self.app_key.clone(),
                group_id: self.group_id.clone(),
                name: name.to_string(),
            }
            .apply(ctx, state)?;
        }
        put(state, &self.app_key, &group)
    }
}

/// Dismisses the group and forgets everything hosted about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DismissHostedGroup {
    pub app_key: String,
    pub group_id: String,
}

impl Apply for DismissHostedGroup {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self { app_key, group_id } = self;
        get(state, app_key, group_id)?;
        DismissGroup {
            app_key: app_key.clone(),
            group_id: group_id.clone(),
        }
        .apply(ctx, state)?;
        state.delete(keys::group(app_key, group_id));
        for family in keys::PER_GROUP {
            state.delete_prefix(&keys::of_group(family, app_key, group_id))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinHostedGroup {
    pub app_key: String,
    pub group_id: String,
    pub user_ids: Vec<String>,
}

impl Apply for JoinHostedGroup {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        get(state, &self.app_key, &self.group_id)?;
        at_most("users per call", &self.user_ids, MAX_USERS_PER_CALL)?;
        JoinGroup {
            app_key: self.app_key.clone(),
            group_id: self.group_id.clone(),
            name: None,
            user_ids: self.user_ids.clone(),
        }
        .apply(ctx, state)
        .map(|_| ())
    }
}

/// Members quit or are kicked (the same for the app server). The owner must hand the
/// group over first. Their mutes go with their membership; `del_followed` also removes
/// them from what others follow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaveHostedGroup {
    pub app_key: String,
    pub group_id: String,
    pub user_ids: Vec<String>,
    pub del_followed: bool,
}

impl Apply for LeaveHostedGroup {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let mut group = get(state, &self.app_key, &self.group_id)?;
        at_most("users per call", &self.user_ids, MAX_USERS_PER_CALL)?;
        leave(
            ctx,
            state,
            &self.app_key,
            &mut group,
            &self.user_ids,
            self.del_followed,
        )
    }
}

fn leave(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    group: &mut HostedGroup,
    user_ids: &[String],
    del_followed: bool,
) -> Result<(), CommandError> {
    if user_ids.contains(&group.owner) {
        return Err(CommandError::Forbidden {
            reason: format!(
                "{} owns group {}: transfer it first",
                group.owner, group.group_id
            ),
        });
    }
    QuitGroup {
        app_key: app_key.to_string(),
        group_id: group.group_id.clone(),
        user_ids: user_ids.to_vec(),
    }
    .apply(ctx, state)?;
    group.managers.retain(|m| !user_ids.contains(m));
    forget_members(state, app_key, &group.group_id, user_ids, del_followed)?;
    put(state, app_key, group)
}

/// Removes a user from every hosted group it is in but owns (an owned group would be
/// left without an owner).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaveAllHostedGroups {
    pub app_key: String,
    pub user_id: String,
}

impl Apply for LeaveAllHostedGroups {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        validate_user_id(&self.user_id)?;
        for joined in groups::of_user(state, &self.app_key, &self.user_id)? {
            let key = keys::group(&self.app_key, &joined.group_id);
            let Some(mut group) = state.get::<HostedGroup>(&key)? else {
                continue;
            };
            if group.owner != self.user_id {
                let user = [self.user_id.clone()];
                leave(ctx, state, &self.app_key, &mut group, &user, true)?;
            }
        }
        Ok(())
    }
}

/// Hands the group to another member; the old owner stays a member unless `quit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferHostedOwner {
    pub app_key: String,
    pub group_id: String,
    pub new_owner: String,
    pub quit: bool,
    pub del_followed: bool,
}

impl Apply for TransferHostedOwner {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let mut group = get(state, &self.app_key, &self.group_id)?;
        validate_user_id(&self.new_owner)?;
        members_only(
            state,
            &self.app_key,
            &self.group_id,
            std::slice::from_ref(&self.new_owner),
        )?;
        let old = std::mem::replace(&mut group.owner, self.new_owner.clone());
        group.managers.retain(|m| *m != self.new_owner);
        if self.quit && old != self.new_owner {
            leave(
                ctx,
                state,
                &self.app_key,
                &mut group,
                &[old],
                self.del_followed,
            )
        } else {
            put(state, &self.app_key, &group)
        }
    }
}

/// Adds or removes managers (at most 10 per group). Adding answers the users left out
/// because they are not members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeHostedManagers {
    pub app_key: String,
    pub group_id: String,
    pub user_ids: Vec<String>,
    pub add: bool,
}

impl Apply for ChangeHostedManagers {
    type Answer = Vec<String>;

    fn apply(
        &self,
        _ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<Vec<String>, CommandError> {
        let mut group = get(state, &self.app_key, &self.group_id)?;
        at_most("managers per call", &self.user_ids, MAX_MANAGERS)?;
        let mut not_members = Vec::new();
        for user_id in &self.user_ids {
            if !self.add {
                group.managers.retain(|m| m != user_id);
            } else if groups::membership(state, &self.app_key, &self.group_id, user_id)?.is_none() {
                not_members.push(user_id.clone());
            } else if *user_id == group.owner {
                return Err(CommandError::invalid(
                    "userIds",
                    "the owner cannot be a manager",
                ));
            } else if !group.managers.contains(user_id) {
                group.managers.push(user_id.clone());
            }
        }
        if group.managers.len() > MAX_MANAGERS {
            return Err(CommandError::Limit {
                what: "managers per group".into(),
                limit: MAX_MANAGERS as u64,
            });
        }
        put(state, &self.app_key, &group)?;
        Ok(not_members)
    }
}

/// A member's nickname and extra in the group, as first written: both given (the
/// nickname always). Kept for the log's older entries; edges now send
/// [`UpdateHostedMember`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetHostedMember {
    pub app_key: String,
    pub group_id: String,
    pub user_id: String,
    pub nickname: String,
    pub extra: Option<String>,
}

impl Apply for SetHostedMember {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let update = UpdateHostedMember {
            app_key: self.app_key.clone(),
            group_id: self.group_id.clone(),
            user_id: self.user_id.clone(),
            nickname: Some(self.nickname.clone()),
            extra: self.extra.clone(),
        };
        update.apply(ctx, state)
    }
}

/// A member's nickname or extra in the group, or both: what is left out stays as it was
/// (the commercial SDKs send only what the app set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateHostedMember {
    pub app_key: String,
    pub group_id: String,
    pub user_id: String,
    pub nickname: Option<String>,
    pub extra: Option<String>,
}

impl Apply for UpdateHostedMember {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        get(state, &self.app_key, &self.group_id)?;
        members_only(
            state,
            &self.app_key,
            &self.group_id,
            std::slice::from_ref(&self.user_id),
        )?;
        let key = keys::of_member(keys::MEMBER, &self.app_key, &self.group_id, &self.user_id);
        let mut info: MemberInfo = state.get(&key)?.unwrap_or_default();
        if let Some(nickname) = &self.nickname {
            bounded("nickname", nickname, MAX_NICKNAME_CHARS)?;
            info.nickname = nickname.clone();
        }
        if let Some(extra) = &self.extra {
            bounded("extra", extra, MAX_EXTRA_CHARS)?;
            info.extra = extra.clone();
        }
        Ok(state.put(key, &info)?)
    }
}

/// A member follows (or stops following) other members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeHostedFollows {
    pub app_key: String,
    pub group_id: String,
    pub user_id: String,
    pub followed: Vec<String>,
    pub follow: bool,
}

impl Apply for ChangeHostedFollows {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            group_id,
            user_id,
            followed,
            follow,
        } = self;
        get(state, app_key, group_id)?;
        at_most("followed users per call", followed, MAX_USERS_PER_CALL)?;
        members_only(state, app_key, group_id, std::slice::from_ref(user_id))?;
        if *follow {
            members_only(state, app_key, group_id, followed)?;
        }
        for other in followed {
            let key = keys::follow(app_key, group_id, user_id, other);
            if !*follow {
                state.delete(key);
            } else if state.get_raw(&key)?.is_none() {
                let record = Followed {
                    user_id: other.clone(),
                    since_ms: ctx.now_ms,
                };
                state.put(key, &record)?;
            }
        }
        Ok(())
    }
}

/// The name a member gives the group for itself (`None` removes it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetHostedGroupRemark {
    pub app_key: String,
    pub group_id: String,
    pub user_id: String,
    pub remark: Option<String>,
}

impl Apply for SetHostedGroupRemark {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        get(state, &self.app_key, &self.group_id)?;
        validate_user_id(&self.user_id)?;
        let key = keys::of_member(keys::REMARK, &self.app_key, &self.group_id, &self.user_id);
        match &self.remark {
            Some(remark) => {
                members_only(
                    state,
                    &self.app_key,
                    &self.group_id,
                    std::slice::from_ref(&self.user_id),
                )?;
                if remark.is_empty() {
                    return Err(CommandError::invalid("remarkName", "is required"));
                }
                bounded("remarkName", remark, MAX_REMARK_CHARS)?;
                state.put(key, remark)?;
            }
            None => state.delete(key),
        }
        Ok(())
    }
}

/// The remark `user_id` gave the group, if any.
pub(super) fn remark(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
    user_id: &str,
) -> Result<Option<String>, CommandError> {
    Ok(state.get(&keys::of_member(keys::REMARK, app_key, group_id, user_id))?)
}
