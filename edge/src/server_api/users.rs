//! `/user/*`: registration and tokens, profile refresh, bans, blacklists, whitelists, tags.

use meridian_cluster::state::{
    BlockUsers, ChangeUserList, Command, ExpireTokens, Output, PutUser, Query, QueryOutput,
    RefreshUser, SetTags, UnblockUsers, UserList,
};
use serde_json::{json, Map, Value};

use super::{fields, format_time, owned, unexpected, Call, Fields};
use meridian_access::error::ApiError;
use meridian_access::params::{json_strings, json_strings_at_most};
use meridian_access::token::{self, TokenClaims};

/// A list endpoint family: which list, and the name of its "other user" parameter.
pub(super) struct ListKind {
    list: UserList,
    param: &'static str,
}

pub(super) const BLACKLIST: ListKind = ListKind {
    list: UserList::Black,
    param: "blackUserId",
};
pub(super) const WHITELIST: ListKind = ListKind {
    list: UserList::White,
    param: "whiteUserId",
};

/// Users one call may name (`userId` repeated), as the commercial service allows.
const MAX_USERS_PER_CALL: usize = 20;
/// `/user/block.json`: 1 minute to 30 days.
const MAX_BLOCK_MINUTES: u64 = 43_200;
const MAX_TAG_BATCH_USERS: usize = 1000;
const MAX_TAGS_GET_USERS: usize = 50;

// covers: API-02
pub(super) async fn get_token(call: &Call) -> Fields {
    let form = call.form()?;
    let user_id = form.required("userId")?.to_string();
    let name = form.bounded("name", 64)?.map(str::to_string);
    let portrait = form.bounded("portraitUri", 1024)?.map(str::to_string);
    call.write(Command::PutUser(PutUser {
        app_key: call.app_key(),
        user_id: user_id.clone(),
        name,
        portrait,
    }))
    .await?;
    let token = token::issue(
        call.app.secret(),
        &TokenClaims {
            app_key: call.app_key(),
            user_id: user_id.clone(),
            issued_at_ms: call.now_ms,
        },
    );
    Ok(fields(json!({ "userId": user_id, "token": token })))
}

pub(super) async fn refresh(call: &Call) -> Fields {
    let form = call.form()?;
    let user_id = form.required("userId")?.to_string();
    // An empty value changes nothing: the Go SDK sends both, empty when not asked.
    let given = |value: Option<&str>| value.filter(|v| !v.is_empty()).map(str::to_string);
    let name = given(form.bounded("name", 64)?);
    let portrait = given(form.bounded("portraitUri", 1024)?);
    call.write(Command::RefreshUser(RefreshUser {
        app_key: call.app_key(),
        user_id,
        name,
        portrait,
    }))
    .await?;
    Ok(Map::new())
}

pub(super) async fn info(call: &Call) -> Fields {
    let user_id = call.form()?.required("userId")?.to_string();
    let answer = match call
        .read(Query::GetUser {
            app_key: call.app_key(),
            user_id: user_id.clone(),
        })
        .await?
    {
        QueryOutput::User(user) => Ok(fields(json!({
            "userName": user.name,
            "userPortrait": user.portrait,
            "createTime": format_time(user.created_at_ms),
        }))),
        other => Err(unexpected(other)),
    };
    #[cfg(feature = "planted-bug")]
    let answer = super::planted::stale_user_info(&call.app_key(), &user_id, answer);
    answer
}

pub(super) async fn token_expire(call: &Call) -> Fields {
    let users = call
        .form()?
        .required_at_most("userId", MAX_USERS_PER_CALL)?;
    let before_ms: u64 = call
        .form()?
        .int("time")?
        .ok_or_else(|| ApiError::missing("time"))?;
    let commands = users
        .iter()
        .map(|user_id| {
            Command::ExpireTokens(ExpireTokens {
                app_key: call.app_key(),
                user_id: user_id.to_string(),
                before_ms,
            })
        })
        .collect();
    call.write_all(commands).await?;
    Ok(Map::new())
}

// covers: MSG-08
pub(super) async fn block(call: &Call) -> Fields {
    let users = call
        .form()?
        .required_at_most("userId", MAX_USERS_PER_CALL)?;
    let minutes: u64 = call
        .form()?
        .int("minute")?
        .ok_or_else(|| ApiError::missing("minute"))?;
    if !(1..=MAX_BLOCK_MINUTES).contains(&minutes) {
        return Err(ApiError::param(format!(
            "minute must be 1 to {MAX_BLOCK_MINUTES}"
        )));
    }
    call.write(Command::BlockUsers(BlockUsers {
        app_key: call.app_key(),
        user_ids: owned(&users),
        until_ms: call.now_ms + minutes * 60_000,
    }))
    .await?;
    Ok(Map::new())
}

pub(super) async fn unblock(call: &Call) -> Fields {
    let users = call
        .form()?
        .required_at_most("userId", MAX_USERS_PER_CALL)?;
    call.write(Command::UnblockUsers(UnblockUsers {
        app_key: call.app_key(),
        user_ids: owned(&users),
    }))
    .await?;
    Ok(Map::new())
}

pub(super) async fn block_query(call: &Call) -> Fields {
    match call
        .read(Query::BlockedUsers {
            app_key: call.app_key(),
            now_ms: call.now_ms,
        })
        .await?
    {
        QueryOutput::Blocked(blocks) => {
            let users: Vec<Value> = blocks
                .iter()
                .map(|b| json!({ "userId": b.user_id, "blockEndTime": format_time(b.until_ms) }))
                .collect();
            Ok(fields(json!({ "users": users })))
        }
        other => Err(unexpected(other)),
    }
}

// covers: PRV-10, PRV-11
pub(super) async fn change_list(call: &Call, kind: ListKind, present: bool) -> Fields {
    let user_id = call.form()?.required("userId")?.to_string();
    let others = call
        .form()?
        .required_at_most(kind.param, MAX_USERS_PER_CALL)?;
    let output = call
        .write(Command::ChangeUserList(ChangeUserList {
            app_key: call.app_key(),
            list: kind.list,
            user_id,
            others: owned(&others),
            present,
        }))
        .await?;
    match output {
        Output::Done => Ok(Map::new()),
        other => Err(unexpected(other)),
    }
}

pub(super) async fn list_query(call: &Call, kind: ListKind) -> Fields {
    let user_id = call.form()?.required("userId")?.to_string();
    match call
        .read(Query::UserList {
            app_key: call.app_key(),
            list: kind.list,
            user_id,
        })
        .await?
    {
        QueryOutput::UserIds(users) => Ok(fields(json!({ "users": users }))),
        other => Err(unexpected(other)),
    }
}

pub(super) async fn tag_set(call: &Call) -> Fields {
    let body = call.json()?;
    let user_id = body
        .get("userId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::missing("userId"))?
        .to_string();
    let tags = json_strings(body, "tags")?;
    call.write(Command::SetTags(SetTags {
        app_key: call.app_key(),
        user_id,
        tags,
    }))
    .await?;
    Ok(Map::new())
}

pub(super) async fn tag_batch_set(call: &Call) -> Fields {
    let body = call.json()?;
    let users = json_strings_at_most(body, "userIds", MAX_TAG_BATCH_USERS)?;
    let tags = json_strings(body, "tags")?;
    let commands = users
        .into_iter()
        .map(|user_id| {
            Command::SetTags(SetTags {
                app_key: call.app_key(),
                user_id,
                tags: tags.clone(),
            })
        })
        .collect();
    call.write_all(commands).await?;
    Ok(Map::new())
}

pub(super) async fn tags_get(call: &Call) -> Fields {
    let users = call.form()?.required_all("userIds")?;
    if users.len() > MAX_TAGS_GET_USERS {
        return Err(ApiError::CountOverLimit {
            what: "userIds".into(),
            limit: MAX_TAGS_GET_USERS as u64,
        });
    }
    match call
        .read(Query::Users {
            app_key: call.app_key(),
            user_ids: owned(&users),
        })
        .await?
    {
        QueryOutput::Users(found) => {
            let result: Map<String, Value> = found
                .into_iter()
                .map(|u| (u.user_id, json!(u.tags)))
                .collect();
            Ok(fields(json!({ "result": result })))
        }
        other => Err(unexpected(other)),
    }
}

/// `/user/checkOnline.json`: `status` "1" while the user has a live client session on any
/// edge of the area (records of an edge that stopped renewing its lease do not count).
pub(super) async fn check_online(call: &Call) -> Fields {
    let user_id = call.form()?.required("userId")?.to_string();
    match call
        .read(Query::Online {
            app_key: call.app_key(),
            user_id,
            now_ms: call.now_ms,
        })
        .await?
    {
        QueryOutput::Sessions(sessions) => {
            let status = if sessions.is_empty() { "0" } else { "1" };
            Ok(fields(json!({ "status": status })))
        }
        other => Err(unexpected(other)),
    }
}
