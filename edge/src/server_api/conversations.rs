//! Message expansion (`/message/expansion/*`, MSG-04) and per-user conversation settings
//! (`/conversation/*`: do-not-disturb, push level per type, pinning).

use meridian_cluster::state::messages::change_notice;
use meridian_cluster::state::{
    ChangeConversation, ChangeExpansion, Command, ConversationSetting, ConversationType,
    DeleteForUser, PublishWithOptions, Query, QueryOutput, SendOptions, SetConversationTypeLevel,
};
use serde_json::{json, Map, Value};

use super::{fields, unexpected, Call, Fields};
use meridian_access::error::ApiError;
use meridian_access::params::Params;

/// Expansion keys one call may set or delete.
const MAX_EXPANSION_CHANGE: usize = 100;

pub(super) fn kind(form: &Params) -> Result<ConversationType, ApiError> {
    let code: u8 = form
        .int("conversationType")?
        .ok_or_else(|| ApiError::missing("conversationType"))?;
    ConversationType::from_code(code).ok_or_else(|| {
        ApiError::param(format!(
            "conversationType {code} is not a conversation type"
        ))
    })
}

fn too_many(n: usize) -> Result<(), ApiError> {
    if n > MAX_EXPANSION_CHANGE {
        return Err(ApiError::CountOverLimit {
            what: "expansion keys per call".into(),
            limit: MAX_EXPANSION_CHANGE as u64,
        });
    }
    Ok(())
}

/// Where an expansion call names its message's conversation: `/message/expansion/*` by
/// `conversationType` and `targetId`, `/ultragroup/message/expansion/*` by `groupId`.
#[derive(Clone, Copy)]
pub(super) enum ExpansionScope {
    Conversation,
    UltraGroup,
}

/// Changes a message's expansion and, in the same commit, tells the conversation's online
/// members with an `RC:MsgExMsg` status message from `userId` `{msgUID, set, remove}`, as
/// a client's change does; `userId`'s own devices get it only with `isSyncSender` 1.
async fn change_expansion(
    call: &Call,
    scope: ExpansionScope,
    entries: Vec<(String, Option<String>)>,
) -> Fields {
    let form = call.form()?;
    let operator = form.required("userId")?;
    match scope {
        ExpansionScope::Conversation => {
            form.required("targetId")?;
            kind(form)?;
        }
        ExpansionScope::UltraGroup => {
            form.required("groupId")?;
        }
    }
    let sync_sender = form.bool_flag("isSyncSender", false)?;
    let msg_uid = form.required("msgUID")?.to_string();
    let message = call.message(&msg_uid).await?;
    let notice = change_notice(&message, operator, &entries);
    let change = Command::ChangeExpansion(ChangeExpansion {
        app_key: call.app_key(),
        msg_uid,
        entries,
    });
    let tell = Command::PublishWithOptions(PublishWithOptions {
        app_key: call.app_key(),
        messages: vec![notice],
        options: SendOptions {
            exclude_sender: !sync_sender,
            ..SendOptions::default()
        },
    });
    call.write(Command::All(vec![change, tell])).await?;
    Ok(Map::new())
}

// covers: MSG-04
/// `extraKeyVal`: a JSON object of string values.
pub(super) async fn expansion_set(call: &Call, scope: ExpansionScope) -> Fields {
    let raw = call.form()?.required("extraKeyVal")?;
    let value: Value =
        serde_json::from_str(raw).map_err(|e| ApiError::param(format!("extraKeyVal: {e}")))?;
    let object = value
        .as_object()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| ApiError::param("extraKeyVal must be a non-empty JSON object"))?;
    too_many(object.len())?;
    let entries = object
        .iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            (k.clone(), Some(v))
        })
        .collect();
    change_expansion(call, scope, entries).await
}

/// `extraKey`: a JSON array of keys.
pub(super) async fn expansion_delete(call: &Call, scope: ExpansionScope) -> Fields {
    let raw = call.form()?.required("extraKey")?;
    let keys: Vec<String> =
        serde_json::from_str(raw).map_err(|e| ApiError::param(format!("extraKey: {e}")))?;
    if keys.is_empty() {
        return Err(ApiError::missing("extraKey"));
    }
    too_many(keys.len())?;
    change_expansion(call, scope, keys.into_iter().map(|k| (k, None)).collect()).await
}

/// Expansion entries one `/message/expansion/query.json` page answers (as many as a
/// message holds, so `pageNo` 2 and later are empty).
const EXPANSION_PAGE: usize = 300;

pub(super) async fn expansion_query(call: &Call) -> Fields {
    let form = call.form()?;
    let msg_uid = form.required("msgUID")?.to_string();
    let page = form.int::<usize>("pageNo")?.unwrap_or(1).max(1);
    match call
        .read(Query::Expansion {
            app_key: call.app_key(),
            msg_uid,
        })
        .await?
    {
        QueryOutput::Expansion(entries) => {
            let content: Map<String, Value> = entries
                .into_iter()
                .skip((page - 1).saturating_mul(EXPANSION_PAGE))
                .take(EXPANSION_PAGE)
                .map(|e| (e.key, json!({ "v": e.value, "ts": e.updated_at_ms })))
                .collect();
            Ok(fields(json!({ "extraContent": content })))
        }
        other => Err(unexpected(other)),
    }
}

async fn change_conversation(
    call: &Call,
    user_param: &str,
    setting: ConversationSetting,
) -> Fields {
    let form = call.form()?;
    call.write(Command::ChangeConversation(ChangeConversation {
        app_key: call.app_key(),
        user_id: form.required(user_param)?.to_string(),
        kind: kind(form)?,
        target_id: form.required("targetId")?.to_string(),
        channel: form.get("busChannel").unwrap_or_default().to_string(),
        setting,
    }))
    .await?;
    Ok(Map::new())
}

// covers: PRV-09
/// `isMuted`, or the `unpushLevel` the published Go and Java SDKs send beside it: a
/// conversation keeps one switch, so -1 and 0 (every message) unmute it and the other
/// levels (mentions only, none) mute it, mentions still getting through.
pub(super) async fn notification_set(call: &Call) -> Fields {
    let form = call.form()?;
    let muted = match (form.get("isMuted"), form.int::<i8>("unpushLevel")?) {
        (None, Some(level)) => !matches!(level, -1 | 0),
        _ => form.bool_flag("isMuted", false)?,
    };
    change_conversation(call, "requestId", ConversationSetting::Muted(muted)).await
}

pub(super) async fn notification_get(call: &Call) -> Fields {
    let form = call.form()?;
    let query = Query::ConversationSettings {
        app_key: call.app_key(),
        user_id: form.required("requestId")?.to_string(),
        kind: kind(form)?,
        target_id: form.required("targetId")?.to_string(),
        channel: form.get("busChannel").unwrap_or_default().to_string(),
    };
    match call.read(query).await? {
        QueryOutput::Conversation(settings) => {
            Ok(fields(json!({ "isMuted": u8::from(settings.muted) })))
        }
        other => Err(unexpected(other)),
    }
}

// covers: MSG-03
pub(super) async fn top_set(call: &Call) -> Fields {
    let pinned = call.form()?.bool_flag("setTop", false)?;
    change_conversation(call, "userId", ConversationSetting::Pinned(pinned)).await
}

pub(super) async fn type_notification_set(call: &Call) -> Fields {
    let form = call.form()?;
    let level: i8 = form
        .int("unpushLevel")?
        .ok_or_else(|| ApiError::missing("unpushLevel"))?;
    call.write(Command::SetConversationTypeLevel(
        SetConversationTypeLevel {
            app_key: call.app_key(),
            user_id: form.required("requestId")?.to_string(),
            kind: kind(form)?,
            level,
        },
    ))
    .await?;
    Ok(Map::new())
}

pub(super) async fn type_notification_get(call: &Call) -> Fields {
    let form = call.form()?;
    let query = Query::ConversationTypeLevel {
        app_key: call.app_key(),
        user_id: form.required("requestId")?.to_string(),
        kind: kind(form)?,
    };
    match call.read(query).await? {
        // The Go SDK reads the level as `isMuted`.
        QueryOutput::Level(level) => Ok(fields(json!({ "unpushLevel": level, "isMuted": level }))),
        other => Err(unexpected(other)),
    }
}

// covers: PRV-05
/// `/conversation/message/history/clean.json`: `fromUserId` no longer sees the
/// conversation's messages sent up to `msgTimestamp` (ms; 0 or absent: all of them).
/// The other side keeps its history.
pub(super) async fn history_clean(call: &Call) -> Fields {
    let form = call.form()?;
    let user = form.required("fromUserId")?;
    let target = form.required("targetId")?;
    let conversation = super::messages::conversation_of(
        kind(form)?,
        user,
        target,
        form.get("busChannel").unwrap_or_default(),
    );
    let before = match form.int::<u64>("msgTimestamp")? {
        None | Some(0) => call.now_ms,
        Some(ms) => ms,
    };
    call.write(Command::DeleteForUser(DeleteForUser {
        app_key: call.app_key(),
        user_id: user.to_string(),
        conversation,
        before_ms: Some(before),
        msg_uids: Vec::new(),
    }))
    .await?;
    Ok(Map::new())
}
