//! The tier-2 `/user/*` paths: paging through the app's users, hosted profiles, push
//! remarks, private-chat bans (`/user/chat/fb/*`), quiet hours (`/user/blockPushPeriod/*`)
//! and deleting users.

use meridian_access::error::ApiError;
use meridian_access::params::Params;
use meridian_cluster::state::files::EraseUserFiles;
use meridian_cluster::state::rtc::EraseRtcUsers;
use meridian_cluster::state::user_extras::{private_bans, profiles};
use meridian_cluster::state::{
    CleanProfiles, Command, DeleteQuietHours, DeleteUserRemark, DeleteUsers, Query, QueryOutput,
    QuietHours, Remark, SetPrivateChatBan, SetProfile, SetQuietHours, SetUserRemarks, UserAnswer,
    UserQuestion, Window,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{fields, format_time, unexpected, Call, Fields};

const MAX_PROFILE_QUERY_USERS: usize = 100;
const MAX_DELETED_PER_CALL: usize = 100;

/// How a paged path names its page size, and its bounds.
struct PageSize {
    /// The names SDKs use for it (the docs' examples disagree with their tables).
    keys: &'static [&'static str],
    default: usize,
    max: usize,
}

const USERS_PAGE: PageSize = PageSize {
    keys: &["pageSize"],
    default: 20,
    max: 100,
};
const PROFILES_PAGE: PageSize = PageSize {
    keys: &["size", "count"],
    default: 20,
    max: 100,
};
const REMARKS_PAGE: PageSize = PageSize {
    keys: &["size"],
    default: 50,
    max: 50,
};

/// `page` (from 1), its size and `order`.
fn window(form: &Params, size: &PageSize) -> Result<Window, ApiError> {
    let page = super::page_number(form)?;
    let mut limit = size.default;
    for key in size.keys {
        if let Some(given) = form.int::<usize>(key)? {
            if !(1..=size.max).contains(&given) {
                return Err(ApiError::param(format!("{key} must be 1 to {}", size.max)));
            }
            limit = given;
        }
    }
    Ok(Window {
        offset: (page - 1).saturating_mul(limit),
        limit,
        newest_first: newest_first(form, false)?,
    })
}

/// `order`: 0 oldest first, 1 newest first; `default` when not given.
fn newest_first(form: &Params, default: bool) -> Result<bool, ApiError> {
    match form.int::<u8>("order")? {
        None => Ok(default),
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        Some(_) => Err(ApiError::param("order must be 0 or 1")),
    }
}

/// A page asked with `pageToken` (the position this edge gave out for the next page),
/// `size` (1 to `max`) and `order` (`newest` by default or not).
pub(super) fn token_window(
    form: &Params,
    default_size: usize,
    max: usize,
    newest: bool,
) -> Result<Window, ApiError> {
    let offset = match form.get("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => token
            .parse()
            .map_err(|_| ApiError::param("pageToken is not one this service gave"))?,
    };
    let limit = form.int::<usize>("size")?.unwrap_or(default_size);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::param(format!("size must be 1 to {max}")));
    }
    Ok(Window {
        offset,
        limit,
        newest_first: newest_first(form, newest)?,
    })
}

/// The `pageToken` of the page after `returned` items at `window`: "" after the last.
pub(super) fn next_token(window: &Window, returned: usize, total: u64) -> String {
    let next = window.offset + returned;
    if (next as u64) < total {
        next.to_string()
    } else {
        String::new()
    }
}

pub(super) async fn ask(call: &Call, question: UserQuestion) -> Result<UserAnswer, ApiError> {
    match call
        .read(Query::UserData {
            app_key: call.app_key(),
            question,
        })
        .await?
    {
        QueryOutput::UserData(answer) => Ok(answer),
        other => Err(unexpected(other)),
    }
}

pub(super) async fn done(call: &Call, command: Command) -> Fields {
    call.write(command).await?;
    Ok(Map::new())
}

// covers: API-06
pub(super) async fn user_query(call: &Call) -> Fields {
    let window = window(call.form()?, &USERS_PAGE)?;
    let UserAnswer::Users { total, users } = ask(call, UserQuestion::Users(window)).await? else {
        return Err(ApiError::Internal("expected users".into()));
    };
    let users: Vec<Value> = users
        .into_iter()
        .map(|u| {
            json!({
                "userId": u.user_id,
                "userName": u.name,
                "userPortrait": u.portrait,
                "regTime": format_time(u.created_at_ms),
            })
        })
        .collect();
    Ok(fields(json!({ "total": total, "users": users })))
}

/// An optional form value, where empty means absent (SDKs send every field).
pub(super) fn optional(form: &Params, key: &str) -> Option<String> {
    form.get(key).filter(|v| !v.is_empty()).map(str::to_string)
}

pub(super) async fn profile_set(call: &Call) -> Fields {
    let form = call.form()?;
    let command = Command::SetProfile(SetProfile {
        app_key: call.app_key(),
        user_id: form.required("userId")?.to_string(),
        profile: optional(form, "userProfile"),
        ext: optional(form, "userExtProfile"),
    });
    done(call, command).await
}

async fn profiles(call: &Call, question: UserQuestion) -> Fields {
    let UserAnswer::Profiles { profiles, .. } = ask(call, question).await? else {
        return Err(ApiError::Internal("expected profiles".into()));
    };
    let list: Vec<Value> = profiles
        .into_iter()
        .map(|p| {
            json!({
                "userId": p.user_id,
                "userProfile": p.profile,
                "userExtProfile": p.ext,
                "version": p.version,
            })
        })
        .collect();
    Ok(fields(json!({ "userList": list })))
}

pub(super) async fn profile_query(call: &Call) -> Fields {
    let window = window(call.form()?, &PROFILES_PAGE)?;
    profiles(call, UserQuestion::ProfilePage(window)).await
}

pub(super) async fn profile_batch_query(call: &Call) -> Fields {
    let users = call
        .form()?
        .required_ids("userId", MAX_PROFILE_QUERY_USERS)?;
    profiles(call, UserQuestion::Profiles(users)).await
}

pub(super) async fn profile_clean(call: &Call) -> Fields {
    let users = call
        .form()?
        .required_ids("userId", profiles::MAX_CLEAN_USERS)?;
    let command = Command::CleanProfiles(CleanProfiles {
        app_key: call.app_key(),
        user_ids: users,
    });
    done(call, command).await
}

pub(super) async fn remarks_set(call: &Call) -> Fields {
    #[derive(Deserialize)]
    struct Given {
        id: String,
        remark: String,
    }
    let form = call.form()?;
    let given: Vec<Given> = serde_json::from_str(form.required("remarks")?).map_err(|_| {
        ApiError::param("remarks must be a JSON array of {\"id\", \"remark\"} objects")
    })?;
    let remarks = given
        .into_iter()
        .map(|g| Remark {
            target_id: g.id,
            remark: g.remark,
        })
        .collect();
    let command = Command::SetUserRemarks(SetUserRemarks {
        app_key: call.app_key(),
        user_id: form.required("userId")?.to_string(),
        remarks,
    });
    done(call, command).await
}

pub(super) async fn remarks_get(call: &Call) -> Fields {
    let form = call.form()?;
    let question = UserQuestion::Remarks {
        user_id: form.required("userId")?.to_string(),
        window: window(form, &REMARKS_PAGE)?,
    };
    let UserAnswer::Remarks { total, remarks } = ask(call, question).await? else {
        return Err(ApiError::Internal("expected remarks".into()));
    };
    let users: Vec<Value> = remarks
        .into_iter()
        .map(|r| json!({ "id": r.target_id, "remark": r.remark }))
        .collect();
    Ok(fields(json!({ "total": total, "users": users })))
}

pub(super) async fn remarks_delete(call: &Call) -> Fields {
    let form = call.form()?;
    let command = Command::DeleteUserRemark(DeleteUserRemark {
        app_key: call.app_key(),
        user_id: form.required("userId")?.to_string(),
        target_id: form.required("targetId")?.to_string(),
    });
    done(call, command).await
}

/// `type`: only private chats (`PERSON`) can be forbidden, as commercially.
fn person_type(form: &Params) -> Result<(), ApiError> {
    match form.required("type")? {
        "PERSON" => Ok(()),
        other => Err(ApiError::param(format!(
            "type {other} is not supported; use PERSON"
        ))),
    }
}

pub(super) async fn private_ban_set(call: &Call) -> Fields {
    let form = call.form()?;
    person_type(form)?;
    let banned = match form.required("state")? {
        "1" => true,
        "0" => false,
        _ => return Err(ApiError::param("state must be 0 or 1")),
    };
    let users = form.required_ids("userId", private_bans::MAX_USERS_PER_CALL)?;
    let command = Command::SetPrivateChatBan(SetPrivateChatBan {
        app_key: call.app_key(),
        user_ids: users,
        banned,
    });
    done(call, command).await
}

pub(super) async fn private_ban_list(call: &Call) -> Fields {
    const MAX_NUM: usize = 200;
    let form = call.form()?;
    person_type(form)?;
    let limit = form.int::<usize>("num")?.unwrap_or(100);
    if !(1..=MAX_NUM).contains(&limit) {
        return Err(ApiError::param(format!("num must be 1 to {MAX_NUM}")));
    }
    let window = Window {
        offset: form.int::<usize>("offset")?.unwrap_or(0),
        limit,
        newest_first: false,
    };
    let UserAnswer::UserIds { total, user_ids } =
        ask(call, UserQuestion::PrivateChatBans(window)).await?
    else {
        return Err(ApiError::Internal("expected users".into()));
    };
    Ok(fields(json!({ "total": total, "users": user_ids })))
}

/// `HH:MM:SS` as seconds after midnight.
fn time_of_day(text: &str) -> Result<u32, ApiError> {
    let bad = || ApiError::param("startTime must be HH:MM:SS");
    let parts: Vec<u32> = text
        .split(':')
        .map(|p| match p.len() {
            2 => p.parse().map_err(|_| bad()),
            _ => Err(bad()),
        })
        .collect::<Result<_, _>>()?;
    match parts[..] {
        [h, m, s] if h < 24 && m < 60 && s < 60 => Ok(h * 3600 + m * 60 + s),
        _ => Err(bad()),
    }
}

pub(super) async fn quiet_hours_set(call: &Call) -> Fields {
    let form = call.form()?;
    let quiet = QuietHours {
        start_secs: time_of_day(form.required("startTime")?)?,
        period_minutes: form
            .int("period")?
            .ok_or_else(|| ApiError::missing("period"))?,
        // The published Go SDK sends 1 when its caller gives none.
        level: form.int("level")?.unwrap_or(1),
    };
    let command = Command::SetQuietHours(SetQuietHours {
        app_key: call.app_key(),
        user_id: form.required("userId")?.to_string(),
        quiet,
    });
    done(call, command).await
}

pub(super) async fn quiet_hours_get(call: &Call) -> Fields {
    let user_id = call.form()?.required("userId")?.to_string();
    let UserAnswer::QuietHours(quiet) = ask(call, UserQuestion::QuietHours { user_id }).await?
    else {
        return Err(ApiError::Internal("expected quiet hours".into()));
    };
    // None set: period 0 ("not set" in the docs) and level 0 (every push goes out).
    let data = match quiet {
        Some(q) => json!({
            "startTime": format!("{:02}:{:02}:{:02}", q.start_secs / 3600, q.start_secs / 60 % 60, q.start_secs % 60),
            "period": q.period_minutes,
            "unPushLevel": q.level,
            // The Java SDK reads the level as `level`.
            "level": q.level,
        }),
        None => json!({ "startTime": "", "period": 0, "unPushLevel": 0, "level": 0 }),
    };
    Ok(fields(json!({ "data": data })))
}

pub(super) async fn quiet_hours_delete(call: &Call) -> Fields {
    let command = Command::DeleteQuietHours(DeleteQuietHours {
        app_key: call.app_key(),
        user_id: call.form()?.required("userId")?.to_string(),
    });
    done(call, command).await
}

pub(super) async fn delete_users(call: &Call) -> Fields {
    let users = call.form()?.required_ids("userId", MAX_DELETED_PER_CALL)?;
    // Its audio/video traces (room, block, recordings) and its uploads go in the same
    // apply.
    let command = Command::All(vec![
        Command::DeleteUsers(DeleteUsers {
            app_key: call.app_key(),
            user_ids: users.clone(),
        }),
        Command::EraseRtcUsers(EraseRtcUsers {
            app_key: call.app_key(),
            user_ids: users.clone(),
        }),
        Command::EraseUserFiles(EraseUserFiles {
            app_key: call.app_key(),
            user_ids: users,
        }),
    ]);
    done(call, command).await
}
