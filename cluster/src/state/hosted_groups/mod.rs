//! Hosted group information (`/entrust/*`): an owner, up to 10 managers, a profile,
//! permissions and extension for a group of `groups`, whose membership (and so messaging,
//! mutes and sync) stays the groups domain's. Members get nicknames, follow each other and
//! name the group for themselves. The permissions are kept and answered for the client
//! SDKs; the Server API acts as the app, which they do not restrict.

mod changes;
mod reads;

pub use changes::{
    ChangeHostedFollows, ChangeHostedManagers, CreateHostedGroup, DismissHostedGroup,
    JoinHostedGroup, LeaveAllHostedGroups, LeaveHostedGroup, SetHostedGroupRemark, SetHostedMember,
    TransferHostedOwner, UpdateHostedGroup, UpdateHostedMember,
};
pub use reads::{answer, HostedAnswer, HostedGroupView, HostedQuestion, MemberView};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::apply::CommandError;
use super::keys::hosted_groups as keys;
use super::store::{Overlay, StateRead};
use super::user_extras::profiles::{ext_fields, object};
use super::{apps, groups};

/// Most managers a group has.
pub const MAX_MANAGERS: usize = 10;
/// Most `groupExtProfile` keys (the commercial default).
pub const MAX_EXT_KEYS: usize = 10;
pub const MAX_NAME_CHARS: usize = 64;

/// Member roles as the API numbers them.
pub const MEMBER: u8 = 1;
pub const MANAGER: u8 = 2;
pub const OWNER: u8 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostedGroup {
    pub group_id: String,
    pub owner: String,
    pub creator: String,
    pub managers: Vec<String>,
    /// JSON object texts.
    pub profile: String,
    pub ext: String,
    pub permissions: String,
}

/// A member's nickname and extra, once set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub nickname: String,
    pub extra: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Followed {
    pub user_id: String,
    pub since_ms: u64,
}

impl HostedGroup {
    pub fn role(&self, user_id: &str) -> u8 {
        if self.owner == user_id {
            OWNER
        } else if self.managers.iter().any(|m| m == user_id) {
            MANAGER
        } else {
            MEMBER
        }
    }
}

/// A documented field: text up to a length, or a number in a range.
enum Field {
    Text(usize),
    Number(i64),
}

const PROFILE_FIELDS: [(&str, Field); 4] = [
    ("name", Field::Text(MAX_NAME_CHARS)),
    ("introduction", Field::Text(512)),
    ("announcement", Field::Text(1024)),
    ("portraitUrl", Field::Text(128)),
];

/// Each permission's highest value (0 is every one's default).
const PERMISSION_FIELDS: [(&str, Field); 6] = [
    ("joinPerm", Field::Number(3)),
    ("removePerm", Field::Number(2)),
    ("memInvitePerm", Field::Number(2)),
    ("invitePerm", Field::Number(1)),
    ("profilePerm", Field::Number(2)),
    ("memProfilePerm", Field::Number(2)),
];

/// `existing` with the documented fields of `given` set over it; other keys are dropped.
fn merge_fields(
    what: &str,
    fields: &[(&str, Field)],
    existing: &str,
    given: &str,
) -> Result<String, CommandError> {
    let mut kept = object(what, existing)?;
    for (key, value) in object(what, given)? {
        let Some((_, field)) = fields.iter().find(|(name, _)| *name == key) else {
            continue;
        };
        let fits = match field {
            Field::Text(max) => value.as_str().is_some_and(|s| s.chars().count() <= *max),
            Field::Number(high) => value.as_i64().is_some_and(|n| (0..=*high).contains(&n)),
        };
        if !fits {
            let rule = match field {
                Field::Text(max) => format!("{key} must be text of at most {max} characters"),
                Field::Number(high) => format!("{key} must be a number from 0 to {high}"),
            };
            return Err(CommandError::invalid(what, rule));
        }
        kept.insert(key, value);
    }
    Ok(Value::Object(kept).to_string())
}

/// What a create, import or update gives: each part replaces the fields it names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    pub profile: Option<String>,
    pub ext: Option<String>,
    pub permissions: Option<String>,
}

impl GroupInfo {
    fn apply_to(&self, group: &mut HostedGroup) -> Result<(), CommandError> {
        if let Some(given) = &self.profile {
            group.profile = merge_fields("groupProfile", &PROFILE_FIELDS, &group.profile, given)?;
        }
        if let Some(given) = &self.permissions {
            group.permissions =
                merge_fields("permissions", &PERMISSION_FIELDS, &group.permissions, given)?;
        }
        if let Some(given) = &self.ext {
            let mut fields: Map<String, Value> = object("groupExtProfile", &group.ext)?;
            fields.extend(ext_fields("groupExtProfile", given)?);
            if fields.len() > MAX_EXT_KEYS {
                return Err(CommandError::Limit {
                    what: "groupExtProfile keys".into(),
                    limit: MAX_EXT_KEYS as u64,
                });
            }
            group.ext = Value::Object(fields).to_string();
        }
        Ok(())
    }
}

/// The hosted group, if its group still exists (`/group/dismiss.json` may have ended it).
pub(crate) fn find(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
) -> Result<Option<(HostedGroup, groups::Group)>, CommandError> {
    apps::by_key(state, app_key)?;
    let Some(hosted) = state.get::<HostedGroup>(&keys::group(app_key, group_id))? else {
        return Ok(None);
    };
    match groups::get(state, app_key, group_id) {
        Ok(group) => Ok(Some((hosted, group))),
        Err(CommandError::NotFound { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

pub(crate) fn get(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
) -> Result<HostedGroup, CommandError> {
    find(state, app_key, group_id)?
        .map(|(hosted, _)| hosted)
        .ok_or_else(|| CommandError::not_found(format!("hosted group {group_id}")))
}

fn put(state: &mut Overlay<'_>, app_key: &str, group: &HostedGroup) -> Result<(), CommandError> {
    Ok(state.put(keys::group(app_key, &group.group_id), group)?)
}

/// Refuses users who are not members of the group.
fn members_only(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
    user_ids: &[String],
) -> Result<(), CommandError> {
    for user_id in user_ids {
        if groups::membership(state, app_key, group_id, user_id)?.is_none() {
            return Err(CommandError::NotMember {
                what: format!("group {group_id} ({user_id})"),
            });
        }
    }
    Ok(())
}

/// Forgets what the group keeps about members who left: nickname, the names they gave
/// the group, whom they follow and (with `followed`) that others follow them.
fn forget_members(
    state: &mut Overlay<'_>,
    app_key: &str,
    group_id: &str,
    user_ids: &[String],
    followed: bool,
) -> Result<(), CommandError> {
    for user_id in user_ids {
        state.delete(keys::of_member(keys::MEMBER, app_key, group_id, user_id));
        state.delete(keys::of_member(keys::REMARK, app_key, group_id, user_id));
        state.delete_prefix(&keys::follows(app_key, group_id, user_id))?;
    }
    if followed {
        let prefix = keys::of_group(keys::FOLLOW, app_key, group_id);
        for (key, value) in state.scan_raw(&prefix)? {
            let followed: Followed = crate::raft::wire::from_bytes(&value)?;
            if user_ids.contains(&followed.user_id) {
                state.delete(key);
            }
        }
    }
    Ok(())
}

pub(crate) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<(), CommandError> {
    state.delete_app(&keys::PER_APP, app_key)?;
    Ok(())
}
