//! `/friend/*`: hosted friend relations (requests by permission, mutual friendships,
//! remark names and extensions), paged with an opaque `pageToken`.

use meridian_access::error::ApiError;
use meridian_access::params::Params;
use meridian_cluster::state::friends;
use meridian_cluster::state::{
    AddFriend, CleanFriends, Command, DeleteFriends, SetFriendPermission, SetFriendProfile,
    UserAnswer, UserQuestion,
};
use serde_json::{json, Value};

use super::user_data::{ask, done, next_token, optional, token_window};
use super::{fields, Body, Call, Fields};

const MAX_EXTRA_CHARS: usize = 128;
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 100;

/// What a batch call costs against the rate limit: one per user named, as the commercial
/// service counts `/friend/check.json` and `/friend/permission/*`. A call its handler
/// refuses (no users, too many) costs one.
pub(super) fn batch_cost(body: &Body, key: &str) -> f64 {
    match body {
        Body::Form(form) => ids(form, key).map_or(1.0, |ids| ids.len() as f64),
        Body::Json(_) => 1.0,
    }
}

fn ids(form: &Params, key: &str) -> Result<Vec<String>, ApiError> {
    form.required_ids(key, friends::MAX_USERS_PER_CALL)
}

// covers: API-06
pub(super) async fn add(call: &Call) -> Fields {
    let form = call.form()?;
    let direct = match form.int::<u8>("optType")? {
        None | Some(1) => false,
        Some(2) => true,
        Some(_) => return Err(ApiError::param("optType must be 1 or 2")),
    };
    let command = Command::AddFriend(AddFriend {
        app_key: call.app_key(),
        user_id: form.required("userId")?.to_string(),
        target_id: form.required("targetId")?.to_string(),
        direct,
        extra: form
            .bounded("extra", MAX_EXTRA_CHARS)?
            .unwrap_or_default()
            .to_string(),
    });
    done(call, command).await
}

pub(super) async fn delete(call: &Call) -> Fields {
    let form = call.form()?;
    let command = Command::DeleteFriends(DeleteFriends {
        app_key: call.app_key(),
        user_id: form.required("userId")?.to_string(),
        target_ids: ids(form, "targetIds")?,
    });
    done(call, command).await
}

pub(super) async fn clean(call: &Call) -> Fields {
    let command = Command::CleanFriends(CleanFriends {
        app_key: call.app_key(),
        user_id: call.form()?.required("userId")?.to_string(),
    });
    done(call, command).await
}

pub(super) async fn get(call: &Call) -> Fields {
    let form = call.form()?;
    let window = token_window(form, DEFAULT_PAGE, MAX_PAGE, false)?;
    let question = UserQuestion::Friends {
        user_id: form.required("userId")?.to_string(),
        window,
    };
    let UserAnswer::Friends { total, friends } = ask(call, question).await? else {
        return Err(ApiError::Internal("expected friends".into()));
    };
    let page_token = next_token(&window, friends.len(), total);
    let list: Vec<Value> = friends
        .into_iter()
        .map(|(friend, name)| {
            json!({
                "userId": friend.user_id,
                "name": name,
                "remarkName": friend.remark_name,
                "friendExtProfile": friend.ext,
                "time": friend.since_ms,
            })
        })
        .collect();
    Ok(fields(json!({
        "pageToken": page_token,
        "totalCount": total,
        "friendList": list,
    })))
}

/// `result` 4: friends (both ways, as friendships are mutual), 1: not.
pub(super) async fn check(call: &Call) -> Fields {
    let form = call.form()?;
    let question = UserQuestion::FriendCheck {
        user_id: form.required("userId")?.to_string(),
        target_ids: ids(form, "targetIds")?,
    };
    let UserAnswer::FriendChecks(checks) = ask(call, question).await? else {
        return Err(ApiError::Internal("expected checks".into()));
    };
    let results: Vec<Value> = checks
        .into_iter()
        .map(|(user_id, friends)| json!({ "userId": user_id, "result": if friends { 4 } else { 1 } }))
        .collect();
    Ok(fields(json!({ "results": results })))
}

pub(super) async fn permission_get(call: &Call) -> Fields {
    let question = UserQuestion::FriendPermissions(ids(call.form()?, "userIds")?);
    let UserAnswer::FriendPermissions(permissions) = ask(call, question).await? else {
        return Err(ApiError::Internal("expected permissions".into()));
    };
    let settings: Vec<Value> = permissions
        .into_iter()
        .map(|(user_id, kind)| json!({ "userId": user_id, "type": kind }))
        .collect();
    Ok(fields(json!({ "permissionSettings": settings })))
}

pub(super) async fn permission_set(call: &Call) -> Fields {
    let form = call.form()?;
    let permission = form
        .int::<u8>("permissionType")?
        .ok_or_else(|| ApiError::missing("permissionType"))?;
    let command = Command::SetFriendPermission(SetFriendPermission {
        app_key: call.app_key(),
        user_ids: ids(form, "userIds")?,
        permission,
    });
    done(call, command).await
}

pub(super) async fn profile_set(call: &Call) -> Fields {
    let form = call.form()?;
    let command = Command::SetFriendProfile(SetFriendProfile {
        app_key: call.app_key(),
        user_id: form.required("userId")?.to_string(),
        target_id: form.required("targetId")?.to_string(),
        remark_name: form.get("remarkName").map(str::to_string),
        ext: optional(form, "friendExtProfile"),
    });
    done(call, command).await
}
