//! `/entrust/*`: hosted group information (owner, managers, profile, permissions,
//! extension, member nicknames, follows, remark names) over the groups of `/group/*`, so
//! a hosted group's members get its messages like any group's.

use meridian_access::error::ApiError;
use meridian_access::params::Params;
use meridian_cluster::state::{
    ChangeHostedFollows, ChangeHostedManagers, Command, CreateHostedGroup, DismissHostedGroup,
    GroupInfo, HostedAnswer, HostedGroupView, HostedQuestion, JoinHostedGroup,
    LeaveAllHostedGroups, LeaveHostedGroup, MemberView, Output, Query, QueryOutput,
    SetHostedGroupRemark, TransferHostedOwner, UpdateHostedGroup, UpdateHostedMember,
};
use serde_json::{json, Map, Value};

use super::user_data::{done, next_token, optional, token_window};
use super::{fields, unexpected, Call, Fields};

const MAX_PROFILE_GROUPS: usize = 50;
const MAX_USERS_PER_CALL: usize = 100;
const MAX_MANAGERS_PER_CALL: usize = 10;

async fn ask(call: &Call, question: HostedQuestion) -> Result<HostedAnswer, ApiError> {
    match call
        .read(Query::HostedGroups {
            app_key: call.app_key(),
            question,
        })
        .await?
    {
        QueryOutput::HostedGroups(answer) => Ok(answer),
        other => Err(unexpected(other)),
    }
}

fn group_id(form: &Params) -> Result<String, ApiError> {
    Ok(form.required("groupId")?.to_string())
}

fn info(form: &Params) -> GroupInfo {
    GroupInfo {
        profile: optional(form, "groupProfile"),
        ext: optional(form, "groupExtProfile"),
        permissions: optional(form, "permissions"),
    }
}

/// A 0/1 flag with its documented default.
fn flag(form: &Params, key: &str, default: bool) -> Result<bool, ApiError> {
    match form.int::<u8>(key)? {
        None => Ok(default),
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        Some(_) => Err(ApiError::param(format!("{key} must be 0 or 1"))),
    }
}

/// The flags of a quit, kick or transfer: `isDelBan` and `isDelWhite` are checked, but a
/// member's mute and mute-whitelist entry always go with its membership here.
fn del_followed(form: &Params) -> Result<bool, ApiError> {
    flag(form, "isDelBan", true)?;
    flag(form, "isDelWhite", true)?;
    flag(form, "isDelFollowed", true)
}

/// A group as `/entrust/group/profile/query.json` and `/entrust/group/join.json` answer it
/// (the name is `groupName` in the first, `name` in the second).
fn group_fields(view: &HostedGroupView, name_key: &str) -> Map<String, Value> {
    let mut fields = fields(json!({
        "groupId": view.group.group_id,
        "groupProfile": view.hosted.profile,
        "groupExtProfile": view.hosted.ext,
        "permissions": view.hosted.permissions,
        "owner": view.hosted.owner,
        "createTime": view.group.created_at_ms,
        "memberCount": view.group.members,
    }));
    fields.insert(name_key.into(), json!(view.group.name));
    fields
}

fn member_fields(member: &MemberView) -> Value {
    json!({
        "userId": member.user_id,
        "nickname": member.info.nickname,
        "role": member.role,
        "time": member.joined_at_ms,
        "extra": member.info.extra,
    })
}

// covers: API-06
pub(super) async fn create(call: &Call, import: bool) -> Fields {
    let form = call.form()?;
    let user_ids = match import {
        false if form.get("userIds").is_some_and(|v| !v.is_empty()) => {
            form.required_ids("userIds", usize::MAX)?
        }
        _ => Vec::new(),
    };
    let command = Command::CreateHostedGroup(CreateHostedGroup {
        app_key: call.app_key(),
        group_id: group_id(form)?,
        name: form.required("name")?.to_string(),
        owner: form.required("owner")?.to_string(),
        user_ids,
        info: info(form),
        import,
    });
    done(call, command).await
}

pub(super) async fn update(call: &Call) -> Fields {
    let form = call.form()?;
    let command = Command::UpdateHostedGroup(UpdateHostedGroup {
        app_key: call.app_key(),
        group_id: group_id(form)?,
        info: info(form),
    });
    done(call, command).await
}

pub(super) async fn dismiss(call: &Call) -> Fields {
    let command = Command::DismissHostedGroup(DismissHostedGroup {
        app_key: call.app_key(),
        group_id: group_id(call.form()?)?,
    });
    done(call, command).await
}

/// Answers the group as it is after the join, as documented.
pub(super) async fn join(call: &Call) -> Fields {
    let form = call.form()?;
    let group_id = group_id(form)?;
    let command = Command::JoinHostedGroup(JoinHostedGroup {
        app_key: call.app_key(),
        group_id: group_id.clone(),
        user_ids: form.required_ids("userIds", MAX_USERS_PER_CALL)?,
    });
    call.write(command).await?;
    let HostedAnswer::Groups { groups, .. } =
        ask(call, HostedQuestion::Profiles(vec![group_id])).await?
    else {
        return Err(ApiError::Internal("expected the group".into()));
    };
    let view = groups
        .first()
        .ok_or_else(|| ApiError::Internal("the joined group is gone".into()))?;
    Ok(group_fields(view, "name"))
}

/// `/entrust/group/quit.json` and `/entrust/group/member/kick.json`.
pub(super) async fn leave(call: &Call) -> Fields {
    let form = call.form()?;
    let command = Command::LeaveHostedGroup(LeaveHostedGroup {
        app_key: call.app_key(),
        group_id: group_id(form)?,
        user_ids: form.required_ids("userIds", MAX_USERS_PER_CALL)?,
        del_followed: del_followed(form)?,
    });
    done(call, command).await
}

pub(super) async fn leave_all(call: &Call) -> Fields {
    let command = Command::LeaveAllHostedGroups(LeaveAllHostedGroups {
        app_key: call.app_key(),
        user_id: call.form()?.required("userId")?.to_string(),
    });
    done(call, command).await
}

pub(super) async fn transfer(call: &Call) -> Fields {
    let form = call.form()?;
    let command = Command::TransferHostedOwner(TransferHostedOwner {
        app_key: call.app_key(),
        group_id: group_id(form)?,
        new_owner: form.required("newOwner")?.to_string(),
        quit: flag(form, "isQuit", false)?,
        del_followed: del_followed(form)?,
    });
    done(call, command).await
}

/// Adding answers `userIds`: the users left out because they are not members.
pub(super) async fn managers(call: &Call, add: bool) -> Fields {
    let form = call.form()?;
    let command = Command::ChangeHostedManagers(ChangeHostedManagers {
        app_key: call.app_key(),
        group_id: group_id(form)?,
        user_ids: form.required_ids("userIds", MAX_MANAGERS_PER_CALL)?,
        add,
    });
    match call.write(command).await? {
        Output::UserIds(left_out) if left_out.is_empty() => Ok(Map::new()),
        Output::UserIds(left_out) => Ok(fields(json!({ "userIds": left_out }))),
        other => Err(unexpected(other)),
    }
}

pub(super) async fn member_set(call: &Call) -> Fields {
    let form = call.form()?;
    // The commercial SDKs send only what the app set: what is left out stays.
    let (nickname, extra) = (optional(form, "nickname"), form.get("extra"));
    if nickname.is_none() && extra.is_none() {
        return Err(ApiError::param("nickname or extra is required"));
    }
    let command = Command::UpdateHostedMember(UpdateHostedMember {
        app_key: call.app_key(),
        group_id: group_id(form)?,
        user_id: form.required("userId")?.to_string(),
        nickname,
        extra: extra.map(str::to_string),
    });
    done(call, command).await
}

pub(super) async fn follow(call: &Call, follow: bool) -> Fields {
    let form = call.form()?;
    let command = Command::ChangeHostedFollows(ChangeHostedFollows {
        app_key: call.app_key(),
        group_id: group_id(form)?,
        user_id: form.required("userId")?.to_string(),
        followed: form.required_ids("followUserIds", MAX_USERS_PER_CALL)?,
        follow,
    });
    done(call, command).await
}

/// Set (`Some`) or delete the name a member gives the group.
pub(super) async fn remark_set(call: &Call, set: bool) -> Fields {
    let form = call.form()?;
    let remark = match set {
        true => Some(form.required("remarkName")?.to_string()),
        false => None,
    };
    let command = Command::SetHostedGroupRemark(SetHostedGroupRemark {
        app_key: call.app_key(),
        group_id: group_id(form)?,
        user_id: form.required("userId")?.to_string(),
        remark,
    });
    done(call, command).await
}

pub(super) async fn remark_query(call: &Call) -> Fields {
    let form = call.form()?;
    let question = HostedQuestion::Remark {
        group_id: group_id(form)?,
        user_id: form.required("userId")?.to_string(),
    };
    let HostedAnswer::Remark(remark) = ask(call, question).await? else {
        return Err(ApiError::Internal("expected a remark".into()));
    };
    Ok(fields(json!({ "remarkName": remark.unwrap_or_default() })))
}

/// `groupIds` as the endpoint table names it, or `groupId` as the docs' example sends it.
pub(super) async fn profiles(call: &Call) -> Fields {
    let form = call.form()?;
    let key = if form.get("groupIds").is_some() {
        "groupIds"
    } else {
        "groupId"
    };
    let group_ids = form.required_ids(key, MAX_PROFILE_GROUPS)?;
    let HostedAnswer::Groups { groups, .. } =
        ask(call, HostedQuestion::Profiles(group_ids)).await?
    else {
        return Err(ApiError::Internal("expected groups".into()));
    };
    let profiles: Vec<Value> = groups
        .iter()
        .map(|view| Value::Object(group_fields(view, "groupName")))
        .collect();
    Ok(fields(json!({ "profiles": profiles })))
}

/// `role`/`type`: 0 all (default), 1 members, 2 managers, 3 the owner.
fn role(form: &Params, key: &str) -> Result<u8, ApiError> {
    match form.int::<u8>(key)?.unwrap_or(0) {
        role @ 0..=3 => Ok(role),
        _ => Err(ApiError::param(format!("{key} must be 0 to 3"))),
    }
}

pub(super) async fn members(call: &Call) -> Fields {
    let form = call.form()?;
    let window = token_window(form, 50, 100, true)?;
    let question = HostedQuestion::Members {
        group_id: group_id(form)?,
        role: role(form, "type")?,
        window,
    };
    let HostedAnswer::Members { total, members } = ask(call, question).await? else {
        return Err(ApiError::Internal("expected members".into()));
    };
    Ok(fields(json!({
        "totalCount": total,
        "pageToken": next_token(&window, members.len(), total),
        "members": members.iter().map(member_fields).collect::<Vec<_>>(),
    })))
}

pub(super) async fn some_members(call: &Call) -> Fields {
    let form = call.form()?;
    let question = HostedQuestion::SomeMembers {
        group_id: group_id(form)?,
        user_ids: form.required_ids("userIds", MAX_USERS_PER_CALL)?,
    };
    let HostedAnswer::Members { members, .. } = ask(call, question).await? else {
        return Err(ApiError::Internal("expected members".into()));
    };
    let members: Vec<Value> = members.iter().map(member_fields).collect();
    Ok(fields(json!({ "members": members })))
}

/// The docs' table names the list `members`, their example `followedMembers`; both are
/// answered.
pub(super) async fn followed(call: &Call) -> Fields {
    let form = call.form()?;
    let (group_id, user_id) = (group_id(form)?, form.required("userId")?.to_string());
    let question = HostedQuestion::Followed {
        group_id: group_id.clone(),
        user_id: user_id.clone(),
    };
    let HostedAnswer::Followed(followed) = ask(call, question).await? else {
        return Err(ApiError::Internal("expected follows".into()));
    };
    let list: Vec<Value> = followed
        .iter()
        .map(|f| json!({ "userId": f.user_id, "timestamp": f.since_ms }))
        .collect();
    Ok(fields(json!({
        "userId": user_id,
        "groupId": group_id,
        "members": list,
        "followedMembers": list,
    })))
}

pub(super) async fn groups(call: &Call) -> Fields {
    let window = token_window(call.form()?, 50, 1000, true)?;
    let HostedAnswer::Groups { total, groups } = ask(call, HostedQuestion::Groups(window)).await?
    else {
        return Err(ApiError::Internal("expected groups".into()));
    };
    let list: Vec<Value> = groups
        .iter()
        .map(|view| {
            let portrait = serde_json::from_str::<Value>(&view.hosted.profile)
                .ok()
                .and_then(|p| p.get("portraitUrl").cloned())
                .unwrap_or_else(|| json!(""));
            json!({
                "groupId": view.group.group_id,
                "name": view.group.name,
                "groupProfile": view.hosted.profile,
                "portraitUrl": portrait,
                "creator": view.hosted.creator,
                "owner": view.hosted.owner,
                "time": view.group.created_at_ms,
            })
        })
        .collect();
    Ok(fields(json!({
        "pageToken": next_token(&window, groups.len(), total),
        "groups": list,
    })))
}

pub(super) async fn joined(call: &Call) -> Fields {
    let form = call.form()?;
    let window = token_window(form, 50, 100, true)?;
    let question = HostedQuestion::Joined {
        user_id: form.required("userId")?.to_string(),
        role: role(form, "role")?,
        window,
    };
    let HostedAnswer::Joined { total, groups } = ask(call, question).await? else {
        return Err(ApiError::Internal("expected groups".into()));
    };
    let list: Vec<Value> = groups
        .iter()
        .map(|(view, member, remark)| {
            let mut entry = group_fields(view, "name");
            entry.remove("memberCount");
            entry.insert("count".into(), json!(view.group.members));
            entry.insert("remarkName".into(), json!(remark));
            entry.insert("joinTime".into(), json!(member.joined_at_ms));
            entry.insert("role".into(), json!(member.role));
            Value::Object(entry)
        })
        .collect();
    Ok(fields(json!({
        "totalCount": total,
        "pageToken": next_token(&window, groups.len(), total),
        "groups": list,
    })))
}
