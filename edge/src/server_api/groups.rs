//! `/group/*` and `/user/group/query.json`: membership, names, mutes (GRP).

use meridian_cluster::state::{
    ChangeGroupMuteWhitelist, Command, Conversation, ConversationType, DismissGroup, JoinGroup,
    MuteGroupMembers, Query, QueryOutput, QuitGroup, RenameGroup, SetGroupMuted, SetGroupRemark,
};
use serde_json::{json, Map, Value};

use super::messages::{new_message, publish_params, publish_to};
use super::{fields, format_time, owned, unexpected, Call, Fields, Paging};
use meridian_access::error::ApiError;

/// Users one membership call may name.
const MAX_USERS_PER_CALL: usize = 1000;
/// Groups one whole-group mute call may name.
const MAX_GROUPS_PER_CALL: usize = 20;
/// `/group/user/gag/add.json`: 1 minute to 30 days.
const MAX_MUTE_MINUTES: u64 = 43_200;

// covers: GRP-01
pub(super) async fn join(call: &Call) -> Fields {
    let form = call.form()?;
    let user_ids = owned(
        &call
            .form()?
            .required_at_most("userId", MAX_USERS_PER_CALL)?,
    );
    let group_id = form.required("groupId")?.to_string();
    let join = Command::JoinGroup(JoinGroup {
        app_key: call.app_key(),
        group_id: group_id.clone(),
        name: form.bounded("groupName", 128)?.map(str::to_string),
        user_ids,
    });
    with_notification(call, &group_id, Sent::After, join).await
}

/// When a group operation's notification goes (`bindNotifyMsg`): after members join or
/// the group is renamed, before they leave or it is dismissed, so those it concerns get it.
#[derive(Clone, Copy)]
enum Sent {
    Before,
    After,
}

/// Writes a group operation; with `bindNotifyMsg`, the published Go and Java SDKs'
/// option, also a message to the group from `fromUserId` (`objectName`, `content`,
/// `pushContent?`, `pushData?`, and the publish options), named in the answer by its
/// `messageUID`.
async fn with_notification(call: &Call, group_id: &str, sent: Sent, operation: Command) -> Fields {
    let form = call.form()?;
    if !form.bool_flag("bindNotifyMsg", false)? {
        call.write(operation).await?;
        return Ok(Map::new());
    }
    let mut p = publish_params(form)?;
    p.verify_blacklist = false;
    let conversation = Conversation::group_like(ConversationType::Group, group_id, "");
    let message = new_message(&p, conversation, None);
    let answer = match sent {
        Sent::After => {
            call.write(operation).await?;
            publish_to(call, vec![message], "groupId", &[group_id]).await?
        }
        Sent::Before => {
            let answer = publish_to(call, vec![message], "groupId", &[group_id]).await?;
            call.write(operation).await?;
            answer
        }
    };
    let uid = answer["messageUIDs"][0]["messageUID"].clone();
    Ok(fields(json!({ "messageUID": uid })))
}

pub(super) async fn quit(call: &Call) -> Fields {
    let user_ids = owned(
        &call
            .form()?
            .required_at_most("userId", MAX_USERS_PER_CALL)?,
    );
    let group_id = call.form()?.required("groupId")?.to_string();
    let quit = Command::QuitGroup(QuitGroup {
        app_key: call.app_key(),
        group_id: group_id.clone(),
        user_ids,
    });
    with_notification(call, &group_id, Sent::Before, quit).await
}

pub(super) async fn dismiss(call: &Call) -> Fields {
    let form = call.form()?;
    form.required("userId")?;
    let group_id = form.required("groupId")?.to_string();
    let dismiss = Command::DismissGroup(DismissGroup {
        app_key: call.app_key(),
        group_id: group_id.clone(),
    });
    with_notification(call, &group_id, Sent::Before, dismiss).await
}

// covers: GRP-04
pub(super) async fn refresh(call: &Call) -> Fields {
    let form = call.form()?;
    let name = form
        .bounded("groupName", 128)?
        .ok_or_else(|| ApiError::missing("groupName"))?;
    let group_id = form.required("groupId")?.to_string();
    let rename = Command::RenameGroup(RenameGroup {
        app_key: call.app_key(),
        group_id: group_id.clone(),
        name: name.to_string(),
    });
    with_notification(call, &group_id, Sent::After, rename).await
}

/// Adds the user to every listed group (`group[<id>]=<name>`), creating groups as needed;
/// groups not listed are left alone. All or nothing.
pub(super) async fn sync(call: &Call) -> Fields {
    let form = call.form()?;
    let user_id = form.required("userId")?.to_string();
    let groups = form.bracketed("group");
    if groups.len() > MAX_USERS_PER_CALL {
        return Err(ApiError::CountOverLimit {
            what: "groups".into(),
            limit: MAX_USERS_PER_CALL as u64,
        });
    }
    let commands = groups
        .into_iter()
        .map(|(group_id, name)| {
            Command::JoinGroup(JoinGroup {
                app_key: call.app_key(),
                group_id,
                name: Some(name),
                user_ids: vec![user_id.clone()],
            })
        })
        .collect();
    call.write_all(commands).await?;
    Ok(Map::new())
}

pub(super) async fn members(call: &Call) -> Fields {
    let group_id = call.form()?.required("groupId")?.to_string();
    match call
        .read(Query::GroupMembers {
            app_key: call.app_key(),
            group_id: group_id.clone(),
        })
        .await?
    {
        QueryOutput::Members(_, members) => {
            let users: Vec<Value> = members.iter().map(|m| json!({ "id": m.user_id })).collect();
            Ok(fields(json!({ "id": group_id, "users": users })))
        }
        other => Err(unexpected(other)),
    }
}

pub(super) async fn of_user(call: &Call) -> Fields {
    let user_id = call.form()?.required("userId")?.to_string();
    match call
        .read(Query::UserGroups {
            app_key: call.app_key(),
            user_id,
        })
        .await?
    {
        QueryOutput::Groups(groups) => {
            let groups: Vec<Value> = groups
                .iter()
                .map(|g| json!({ "id": g.group_id, "name": g.name }))
                .collect();
            Ok(fields(json!({ "groups": groups })))
        }
        other => Err(unexpected(other)),
    }
}

// covers: GRP-06
pub(super) async fn mute_members(call: &Call, mute: bool) -> Fields {
    let form = call.form()?;
    let user_ids = owned(
        &call
            .form()?
            .required_at_most("userId", MAX_USERS_PER_CALL)?,
    );
    let until_ms = if mute {
        let minutes: u64 = form
            .int("minute")?
            .ok_or_else(|| ApiError::missing("minute"))?;
        if !(1..=MAX_MUTE_MINUTES).contains(&minutes) {
            return Err(ApiError::param(format!(
                "minute must be 1 to {MAX_MUTE_MINUTES}"
            )));
        }
        call.now_ms + minutes * 60_000
    } else {
        0
    };
    call.write(Command::MuteGroupMembers(MuteGroupMembers {
        app_key: call.app_key(),
        group_id: form.required("groupId")?.to_string(),
        user_ids,
        until_ms,
    }))
    .await?;
    Ok(Map::new())
}

pub(super) async fn muted_members(call: &Call) -> Fields {
    let group_id = call.form()?.required("groupId")?.to_string();
    match call
        .read(Query::GroupMutes {
            app_key: call.app_key(),
            group_id,
        })
        .await?
    {
        QueryOutput::Mutes(mutes) => {
            let users: Vec<Value> = mutes
                .iter()
                .filter(|(_, until_ms)| *until_ms > call.now_ms)
                .map(|(user_id, until_ms)| json!({ "userId": user_id, "time": format_time(*until_ms) }))
                .collect();
            Ok(fields(json!({ "users": users })))
        }
        other => Err(unexpected(other)),
    }
}

// covers: GRP-07
pub(super) async fn set_muted(call: &Call, muted: bool) -> Fields {
    let group_ids = call
        .form()?
        .required_at_most("groupId", MAX_GROUPS_PER_CALL)?;
    call.write(Command::SetGroupMuted(SetGroupMuted {
        app_key: call.app_key(),
        group_ids: owned(&group_ids),
        muted,
    }))
    .await?;
    Ok(Map::new())
}

/// `/group/ban/query.json`'s pages: `size` 1 to 200, 50 by default.
const MUTED_GROUPS: Paging = Paging {
    size_key: "size",
    default: 50,
    max: 200,
};
/// Most groups one `/group/ban/query.json` names.
const MAX_MUTE_CHECKED: usize = 20;

/// The muted groups a page at a time or, for named groups (when no page is asked),
/// each one's state: `stat` 1 muted, 0 not.
pub(super) async fn muted_groups(call: &Call) -> Fields {
    let form = call.form()?;
    let muted = match call
        .read(Query::MutedGroups {
            app_key: call.app_key(),
        })
        .await?
    {
        QueryOutput::Groups(groups) => groups,
        other => return Err(unexpected(other)),
    };
    let paged = ["page", "size"].iter().any(|key| form.get(key).is_some());
    let asked = form.all("groupId");
    let info: Vec<Value> = if asked.is_empty() || paged {
        MUTED_GROUPS
            .page(form, &muted)?
            .iter()
            .map(|g| json!({ "groupId": g.group_id, "stat": 1 }))
            .collect()
    } else {
        let asked = form.required_at_most("groupId", MAX_MUTE_CHECKED)?;
        asked
            .iter()
            .map(|id| {
                let stat = u8::from(muted.iter().any(|g| g.group_id == *id));
                json!({ "groupId": id, "stat": stat })
            })
            .collect()
    };
    Ok(fields(json!({ "groupinfo": info })))
}

pub(super) async fn change_mute_whitelist(call: &Call, present: bool) -> Fields {
    let user_ids = owned(
        &call
            .form()?
            .required_at_most("userId", MAX_USERS_PER_CALL)?,
    );
    call.write(Command::ChangeGroupMuteWhitelist(
        ChangeGroupMuteWhitelist {
            app_key: call.app_key(),
            group_id: call.form()?.required("groupId")?.to_string(),
            user_ids,
            present,
        },
    ))
    .await?;
    Ok(Map::new())
}

pub(super) async fn mute_whitelist(call: &Call) -> Fields {
    let group_id = call.form()?.required("groupId")?.to_string();
    match call
        .read(Query::GroupMuteWhitelist {
            app_key: call.app_key(),
            group_id,
        })
        .await?
    {
        QueryOutput::UserIds(users) => Ok(fields(json!({ "userIds": users }))),
        other => Err(unexpected(other)),
    }
}

/// `/group/remarks/set.json` (with `remark`) and `/group/remarks/del.json`.
pub(super) async fn remark(call: &Call, set: bool) -> Fields {
    let form = call.form()?;
    let remark = if set {
        Some(form.required("remark")?.to_string())
    } else {
        None
    };
    call.write(Command::SetGroupRemark(SetGroupRemark {
        app_key: call.app_key(),
        group_id: form.required("groupId")?.to_string(),
        user_id: form.required("userId")?.to_string(),
        remark,
    }))
    .await?;
    Ok(Map::new())
}

/// `/group/remarks/get.json`: `remark`, empty when none is set.
pub(super) async fn remark_get(call: &Call) -> Fields {
    let form = call.form()?;
    match call
        .read(Query::GroupRemark {
            app_key: call.app_key(),
            group_id: form.required("groupId")?.to_string(),
            user_id: form.required("userId")?.to_string(),
        })
        .await?
    {
        QueryOutput::Remark(remark) => Ok(fields(json!({ "remark": remark.unwrap_or_default() }))),
        other => Err(unexpected(other)),
    }
}
