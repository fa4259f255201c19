//! The `/entrust/*` reads: profiles, pages of groups, members and joined groups, follows
//! and remark names. Pages are cut here; paging walks the whole list in memory (groups
//! hold at most 3000 members).

use serde::{Deserialize, Serialize};

use super::changes::remark;
use super::{find, get, Followed, HostedGroup, MemberInfo};
use crate::state::apply::CommandError;
use crate::state::groups::{self, Group};
use crate::state::keys::{hosted_groups as keys, scoped};
use crate::state::paging::{page, Window};
use crate::state::store::StateRead;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostedQuestion {
    /// The hosted groups among these ids, in the order asked.
    Profiles(Vec<String>),
    /// Every hosted group of the app, by creation.
    Groups(Window),
    /// Members of a group by join time; `role` 0 all, else only that role.
    Members {
        group_id: String,
        role: u8,
        window: Window,
    },
    /// These members of a group (non-members left out).
    SomeMembers {
        group_id: String,
        user_ids: Vec<String>,
    },
    /// The hosted groups a user is in, by join time; `role` as for members.
    Joined {
        user_id: String,
        role: u8,
        window: Window,
    },
    Followed {
        group_id: String,
        user_id: String,
    },
    Remark {
        group_id: String,
        user_id: String,
    },
}

/// A hosted group with its groups-domain record (name, creation, member count).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostedGroupView {
    pub hosted: HostedGroup,
    pub group: Group,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub user_id: String,
    pub role: u8,
    pub joined_at_ms: u64,
    pub info: MemberInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostedAnswer {
    Groups {
        total: u64,
        groups: Vec<HostedGroupView>,
    },
    Members {
        total: u64,
        members: Vec<MemberView>,
    },
    /// A user's groups: each with the user's membership and the name it gave the group.
    Joined {
        total: u64,
        groups: Vec<(HostedGroupView, MemberView, String)>,
    },
    Followed(Vec<Followed>),
    Remark(Option<String>),
}

fn member_view(
    state: &impl StateRead,
    app_key: &str,
    hosted: &HostedGroup,
    member: groups::Member,
) -> Result<MemberView, CommandError> {
    let key = keys::of_member(keys::MEMBER, app_key, &hosted.group_id, &member.user_id);
    Ok(MemberView {
        role: hosted.role(&member.user_id),
        info: state.get(&key)?.unwrap_or_default(),
        user_id: member.user_id,
        joined_at_ms: member.joined_at_ms,
    })
}

pub fn answer(
    state: &impl StateRead,
    app_key: &str,
    question: &HostedQuestion,
) -> Result<HostedAnswer, CommandError> {
    Ok(match question {
        HostedQuestion::Profiles(group_ids) => {
            let mut found = Vec::new();
            for group_id in group_ids {
                if let Some((hosted, group)) = find(state, app_key, group_id)? {
                    found.push(HostedGroupView { hosted, group });
                }
            }
            HostedAnswer::Groups {
                total: found.len() as u64,
                groups: found,
            }
        }
        HostedQuestion::Groups(window) => {
            let hosted: Vec<HostedGroup> = state.scan(&scoped(keys::GROUP, app_key, &[]))?;
            let mut all = Vec::with_capacity(hosted.len());
            for group in hosted {
                if let Some((hosted, group)) = find(state, app_key, &group.group_id)? {
                    all.push(HostedGroupView { hosted, group });
                }
            }
            all.sort_by(|a, b| {
                (a.group.created_at_ms, &a.group.group_id)
                    .cmp(&(b.group.created_at_ms, &b.group.group_id))
            });
            let (total, groups) = page(all, *window);
            HostedAnswer::Groups { total, groups }
        }
        HostedQuestion::Members {
            group_id,
            role,
            window,
        } => {
            let hosted = get(state, app_key, group_id)?;
            let mut all = Vec::new();
            for member in groups::members(state, app_key, group_id)? {
                let member = member_view(state, app_key, &hosted, member)?;
                if *role == 0 || member.role == *role {
                    all.push(member);
                }
            }
            all.sort_by(|a, b| (a.joined_at_ms, &a.user_id).cmp(&(b.joined_at_ms, &b.user_id)));
            let (total, members) = page(all, *window);
            HostedAnswer::Members { total, members }
        }
        HostedQuestion::SomeMembers { group_id, user_ids } => {
            let hosted = get(state, app_key, group_id)?;
            let mut members = Vec::new();
            for user_id in user_ids {
                if let Some(member) = groups::membership(state, app_key, group_id, user_id)? {
                    members.push(member_view(state, app_key, &hosted, member)?);
                }
            }
            HostedAnswer::Members {
                total: members.len() as u64,
                members,
            }
        }
        HostedQuestion::Joined {
            user_id,
            role,
            window,
        } => {
            let mut all = Vec::new();
            for group in groups::of_user(state, app_key, user_id)? {
                let Some(hosted) =
                    state.get::<HostedGroup>(&keys::group(app_key, &group.group_id))?
                else {
                    continue;
                };
                let Some(member) = groups::membership(state, app_key, &group.group_id, user_id)?
                else {
                    continue;
                };
                let member = member_view(state, app_key, &hosted, member)?;
                if *role == 0 || member.role == *role {
                    let named = remark(state, app_key, &group.group_id, user_id)?;
                    all.push((
                        HostedGroupView { hosted, group },
                        member,
                        named.unwrap_or_default(),
                    ));
                }
            }
            all.sort_by(|a, b| {
                (a.1.joined_at_ms, &a.0.group.group_id)
                    .cmp(&(b.1.joined_at_ms, &b.0.group.group_id))
            });
            let (total, groups) = page(all, *window);
            HostedAnswer::Joined { total, groups }
        }
        HostedQuestion::Followed { group_id, user_id } => {
            get(state, app_key, group_id)?;
            HostedAnswer::Followed(state.scan(&keys::follows(app_key, group_id, user_id))?)
        }
        HostedQuestion::Remark { group_id, user_id } => {
            get(state, app_key, group_id)?;
            HostedAnswer::Remark(remark(state, app_key, group_id, user_id)?)
        }
    })
}
