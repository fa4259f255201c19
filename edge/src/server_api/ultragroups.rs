//! `/ultragroup/*`, `/message/ultragroup/publish.json` and
//! `/v3/message/ultragroup/query.json`: ultra groups, channels, mutes, push levels,
//! history and edits (ULG).

use meridian_cluster::state::messages::MAX_PAGE;
use meridian_cluster::state::{
    ChangeUltraGroup, Channel, Command, Conversation, ConversationType, HistoryPage, Message,
    NewMessage, Query, QueryOutput, UltraGroupAnswer, UltraGroupChange, UltraGroupQuestion,
    UltraGroupSet,
};
use serde_json::{json, Map, Value};

use super::messages::{self, content_flags, message_json};
use super::{fields, unexpected, Call, Fields, Paging};
use meridian_access::error::ApiError;
use meridian_access::params::{json_strings_at_most, Params};

use super::send_options::body_flag;

/// Groups one ultra-group publish may name.
const MAX_PUBLISH_GROUPS: usize = 3;
const DEFAULT_PAGE_SIZE: usize = 20;

fn group_id(form: &Params) -> Result<String, ApiError> {
    Ok(form.required("groupId")?.to_string())
}

fn bus_channel(form: &Params) -> String {
    form.get("busChannel").unwrap_or_default().to_string()
}

/// `userIds` as repeated keys or comma separated (both are seen in the wild).
fn user_ids(form: &Params) -> Result<Vec<String>, ApiError> {
    form.required_ids("userIds", usize::MAX)
}

async fn change(call: &Call, group_id: String, change: UltraGroupChange) -> Fields {
    call.write(Command::UltraGroup(ChangeUltraGroup {
        app_key: call.app_key(),
        group_id,
        change,
    }))
    .await?;
    Ok(Map::new())
}

async fn ask(
    call: &Call,
    group_id: String,
    question: UltraGroupQuestion,
) -> Result<UltraGroupAnswer, ApiError> {
    match call
        .read(Query::UltraGroup {
            app_key: call.app_key(),
            group_id,
            question,
        })
        .await?
    {
        QueryOutput::UltraGroup(answer) => Ok(answer),
        other => Err(unexpected(other)),
    }
}

// covers: ULG-01
pub(super) async fn create(call: &Call) -> Fields {
    let form = call.form()?;
    let name = form
        .bounded("groupName", 128)?
        .unwrap_or_default()
        .to_string();
    let owner = form.required("userId")?.to_string();
    change(
        call,
        group_id(form)?,
        UltraGroupChange::Create { name, owner },
    )
    .await
}

pub(super) async fn dismiss(call: &Call) -> Fields {
    change(call, group_id(call.form()?)?, UltraGroupChange::Dismiss).await
}

pub(super) async fn join(call: &Call, joining: bool) -> Fields {
    let form = call.form()?;
    let user_ids = vec![form.required("userId")?.to_string()];
    let membership = if joining {
        UltraGroupChange::Join { user_ids }
    } else {
        UltraGroupChange::Quit { user_ids }
    };
    change(call, group_id(form)?, membership).await
}

pub(super) async fn refresh(call: &Call) -> Fields {
    let form = call.form()?;
    let name = form
        .bounded("groupName", 128)?
        .ok_or_else(|| ApiError::missing("groupName"))?
        .to_string();
    change(call, group_id(form)?, UltraGroupChange::Rename { name }).await
}

pub(super) async fn member_exists(call: &Call) -> Fields {
    let form = call.form()?;
    let user_id = form.required("userId")?.to_string();
    match ask(
        call,
        group_id(form)?,
        UltraGroupQuestion::IsMember { user_id },
    )
    .await?
    {
        UltraGroupAnswer::Flag(status) => Ok(fields(json!({ "status": status }))),
        other => Err(unexpected(other)),
    }
}

/// `type`: 0 public (default), 1 private.
fn private_type(form: &Params) -> Result<bool, ApiError> {
    match form.int::<u8>("type")? {
        None | Some(0) => Ok(false),
        Some(1) => Ok(true),
        Some(other) => Err(ApiError::param(format!("type {other} must be 0 or 1"))),
    }
}

// covers: ULG-02
pub(super) async fn channel_create(call: &Call) -> Fields {
    let form = call.form()?;
    let channel = form.required("busChannel")?.to_string();
    let private = private_type(form)?;
    change(
        call,
        group_id(form)?,
        UltraGroupChange::CreateChannel { channel, private },
    )
    .await
}

pub(super) async fn channel_delete(call: &Call) -> Fields {
    let form = call.form()?;
    let channel = form.required("busChannel")?.to_string();
    change(
        call,
        group_id(form)?,
        UltraGroupChange::DeleteChannel { channel },
    )
    .await
}

pub(super) async fn channel_type(call: &Call) -> Fields {
    let form = call.form()?;
    let channel = form.required("busChannel")?.to_string();
    let private = private_type(form)?;
    change(
        call,
        group_id(form)?,
        UltraGroupChange::SetChannelPrivate { channel, private },
    )
    .await
}

/// `page` (from 1) and a page size under `size_key`, at most 100.
fn page_of<T: Clone>(form: &Params, size_key: &'static str, all: &[T]) -> Result<Vec<T>, ApiError> {
    let paging = Paging {
        size_key,
        default: DEFAULT_PAGE_SIZE,
        max: MAX_PAGE,
    };
    paging.page(form, all)
}

pub(super) async fn channels(call: &Call) -> Fields {
    let form = call.form()?;
    let UltraGroupAnswer::Channels(channels) =
        ask(call, group_id(form)?, UltraGroupQuestion::Channels).await?
    else {
        return Err(ApiError::Internal("unexpected answer".into()));
    };
    let list: Vec<Value> = page_of::<Channel>(form, "limit", &channels)?
        .iter()
        .map(|c| {
            json!({
                "channelId": c.channel_id,
                "type": u8::from(c.private),
                "createTime": super::format_time(c.created_at_ms),
            })
        })
        .collect();
    Ok(fields(json!({ "channelList": list })))
}

/// Adds or removes users of one of an ultra group's per-channel lists.
pub(super) async fn change_set(call: &Call, set: UltraGroupSet, present: bool) -> Fields {
    let form = call.form()?;
    let change_set = UltraGroupChange::ChangeSet {
        channel: bus_channel(form),
        set,
        user_ids: user_ids(form)?,
        present,
    };
    change(call, group_id(form)?, change_set).await
}

pub(super) async fn set_query(call: &Call, set: UltraGroupSet) -> Fields {
    let form = call.form()?;
    let question = UltraGroupQuestion::SetMembers {
        channel: bus_channel(form),
        set,
    };
    let UltraGroupAnswer::Users(users) = ask(call, group_id(form)?, question).await? else {
        return Err(ApiError::Internal("unexpected answer".into()));
    };
    let users = page_of(form, "pageSize", &users)?;
    // The published SDKs read a private channel's users as plain ids, and the other
    // lists (banned users, the whitelist) as `{id}` objects.
    let users: Vec<Value> = match set {
        UltraGroupSet::PrivateChannelUsers => users.into_iter().map(|id| json!(id)).collect(),
        _ => users.into_iter().map(|id| json!({ "id": id })).collect(),
    };
    Ok(fields(json!({ "users": users })))
}

// covers: ULG-05
pub(super) async fn global_mute_set(call: &Call) -> Fields {
    let form = call.form()?;
    let muted = form.bool_flag("status", false)?;
    let channel = bus_channel(form);
    change(
        call,
        group_id(form)?,
        UltraGroupChange::SetMuted { channel, muted },
    )
    .await
}

pub(super) async fn global_mute_get(call: &Call) -> Fields {
    let form = call.form()?;
    let question = UltraGroupQuestion::Muted {
        channel: bus_channel(form),
    };
    match ask(call, group_id(form)?, question).await? {
        UltraGroupAnswer::Flag(status) => Ok(fields(json!({ "status": status }))),
        other => Err(unexpected(other)),
    }
}

// covers: ULG-06, ULG-09
pub(super) async fn push_level_set(call: &Call) -> Fields {
    let form = call.form()?;
    let level = form
        .int::<i8>("unpushLevel")?
        .ok_or_else(|| ApiError::missing("unpushLevel"))?;
    let channel = bus_channel(form);
    change(
        call,
        group_id(form)?,
        UltraGroupChange::SetPushLevel { channel, level },
    )
    .await
}

pub(super) async fn push_level_get(call: &Call) -> Fields {
    let form = call.form()?;
    let group = group_id(form)?;
    let channel = bus_channel(form);
    let question = UltraGroupQuestion::PushLevel {
        channel: channel.clone(),
    };
    match ask(call, group.clone(), question).await? {
        UltraGroupAnswer::Level(level) => Ok(fields(
            json!({ "groupId": group, "busChannel": channel, "unpushLevel": level }),
        )),
        other => Err(unexpected(other)),
    }
}

// covers: ULG-07
pub(super) async fn modify(call: &Call) -> Fields {
    let form = call.form()?;
    let content = form.required("content")?;
    if serde_json::from_str::<Value>(content).is_err() {
        return Err(ApiError::param("content must be a JSON string"));
    }
    let sender = form.required("fromUserId")?.to_string();
    let msg_uid = form.required("msgUID")?.to_string();
    // `busChannel`, when given, must be the message's channel (a message never moves).
    if let Some(channel) = form.get("busChannel").filter(|c| !c.is_empty()) {
        let message = call.message(&msg_uid).await?;
        if message.conversation.channel != channel {
            return Err(ApiError::param(format!(
                "message {msg_uid} is not in channel {channel}"
            )));
        }
    }
    let what = format!("ugmodify/{sender}");
    let edit = UltraGroupChange::Modify {
        msg_uid,
        sender,
        content: content.to_string(),
    };
    let command = Command::UltraGroup(ChangeUltraGroup {
        app_key: call.app_key(),
        group_id: group_id(form)?,
        change: edit,
    });
    call.write_marked(&what, command).await?;
    Ok(Map::new())
}

/// `/message/ultragroup/publish.json` (JSON): `fromUserId`, `toGroupIds` (≤ 3),
/// `objectName`, `content`, `busChannel?`, `pushContent?`, `pushData?`,
/// `isPersisted?`, `isCounted?` (booleans, numbers or strings, as the SDKs differ),
/// `toUserIds?` (only those members see it).
pub(super) async fn publish(call: &Call) -> Fields {
    let body = call.json()?;
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let from = text("fromUserId").ok_or_else(|| ApiError::missing("fromUserId"))?;
    let object_name = text("objectName").ok_or_else(|| ApiError::missing("objectName"))?;
    let content = match body.get("content") {
        Some(Value::String(content)) => content.clone(),
        Some(Value::Object(object)) => Value::Object(object.clone()).to_string(),
        _ => return Err(ApiError::missing("content")),
    };
    let flags = content_flags(
        &object_name,
        &content,
        body_flag(&call.body, "isPersisted", true)?,
        body_flag(&call.body, "isCounted", true)?,
    )?;
    let visible_to = match body.get("toUserIds") {
        None | Some(Value::Null) => Vec::new(),
        Some(_) => json_strings_at_most(body, "toUserIds", messages::MAX_PRIVATE_RECIPIENTS)?,
    };
    let groups: Vec<String> = body
        .get("toGroupIds")
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if groups.is_empty() {
        return Err(ApiError::missing("toGroupIds"));
    }
    if groups.len() > MAX_PUBLISH_GROUPS {
        return Err(ApiError::CountOverLimit {
            what: "toGroupIds".into(),
            limit: MAX_PUBLISH_GROUPS as u64,
        });
    }
    let channel = text("busChannel").unwrap_or_default();
    let messages = groups
        .iter()
        .map(|group| NewMessage {
            conversation: Conversation::group_like(ConversationType::UltraGroup, group, &channel),
            sender: from.clone(),
            recipient: None,
            object_name: object_name.clone(),
            content: content.clone(),
            flags,
            push_content: text("pushContent").filter(|s| !s.is_empty()),
            push_data: text("pushData").filter(|s| !s.is_empty()),
            verify_blacklist: false,
            visible_to: visible_to.clone(),
            sender_device: None,
        })
        .collect();
    let ids: Vec<&str> = groups.iter().map(String::as_str).collect();
    messages::publish_to(call, messages, "groupId", &ids).await
}

/// `/v3/message/ultragroup/query.json`: `{groupId, busChannel?}` and the window.
// covers: ULG-04
pub(super) async fn query(call: &Call) -> Fields {
    let body = call.json()?;
    let group = messages::target_id(body, "groupId")?;
    let conversation =
        Conversation::group_like(ConversationType::UltraGroup, group, messages::channel(body));
    messages::history(call, conversation, None).await
}

/// A page of a conversation's history as the app server sees it (everything).
async fn read_page(
    call: &Call,
    conversation: Conversation,
    (from_ms, to_ms): (u64, u64),
    newest_first: bool,
    limit: usize,
    sender: Option<&str>,
) -> Result<Vec<Message>, ApiError> {
    let page = HistoryPage {
        conversation,
        viewer: None,
        from_ms,
        to_ms,
        newest_first,
        limit,
        members_only: false,
        keyword: None,
        sender: sender.map(str::to_string),
    };
    match call
        .read(Query::History {
            app_key: call.app_key(),
            page,
        })
        .await?
    {
        QueryOutput::Messages(messages) => Ok(messages),
        other => Err(unexpected(other)),
    }
}

/// `/ultragroup/hismsg/query.json`: a channel's history between `startTime` and `endTime`
/// (ms), oldest first, optionally from one sender.
pub(super) async fn history_by_time(call: &Call) -> Fields {
    let form = call.form()?;
    let conversation = Conversation::group_like(
        ConversationType::UltraGroup,
        &group_id(form)?,
        &bus_channel(form),
    );
    let size = form.int::<usize>("pageSize")?.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE).contains(&size) {
        return Err(ApiError::param(format!("pageSize must be 1 to {MAX_PAGE}")));
    }
    let from_ms = form.int::<u64>("startTime")?.unwrap_or(0);
    let to_ms = form.int::<u64>("endTime")?.unwrap_or(call.now_ms);
    let sender = form.get("fromUserId").filter(|s| !s.is_empty());
    let found = read_page(call, conversation, (from_ms, to_ms), false, size, sender).await?;
    let data: Vec<Value> = found.iter().map(|m| message_json(m, &m.sender)).collect();
    Ok(fields(json!({ "data": data })))
}

/// `/ultragroup/hismsg/msgid/query.json`: up to `prevNum` messages before `msgUID` and
/// `lastNum` after it, with it, oldest first.
pub(super) async fn history_around(call: &Call) -> Fields {
    let form = call.form()?;
    let msg_uid = form.required("msgUID")?.to_string();
    let count = |name: &str| -> Result<usize, ApiError> {
        let n = form.int::<usize>(name)?.unwrap_or(10);
        if n > MAX_PAGE {
            return Err(ApiError::param(format!(
                "{name} must be at most {MAX_PAGE}"
            )));
        }
        Ok(n)
    };
    let (before, after) = (count("prevNum")?, count("lastNum")?);
    let center = call.message(&msg_uid).await?;
    let conversation = center.conversation.clone();
    if conversation.kind != ConversationType::UltraGroup || conversation.first != group_id(form)? {
        return Err(ApiError::param(format!(
            "{msg_uid} is not a message of this ultra group"
        )));
    }
    let at = center.sent_time_ms;
    let mut earlier =
        read_page(call, conversation.clone(), (0, at), true, before + 1, None).await?;
    earlier.retain(|m| m.seq < center.seq);
    earlier.truncate(before);
    earlier.reverse();
    let mut later = read_page(call, conversation, (at, u64::MAX), false, after + 1, None).await?;
    later.retain(|m| m.seq > center.seq);
    later.truncate(after);
    let data: Vec<Value> = earlier
        .iter()
        .chain(std::iter::once(&center))
        .chain(later.iter())
        .map(|m| message_json(m, &m.sender))
        .collect();
    Ok(fields(json!({ "data": data })))
}

/// `/ultragroup/msg/get.json`: `msgs` is a JSON array of `{msgUID, busChannel}`.
pub(super) async fn messages_by_id(call: &Call) -> Fields {
    let form = call.form()?;
    let group = group_id(form)?;
    let raw = form.required("msgs")?;
    let wanted: Vec<Value> =
        serde_json::from_str(raw).map_err(|e| ApiError::param(format!("msgs: {e}")))?;
    if wanted.len() > MAX_PAGE {
        return Err(ApiError::CountOverLimit {
            what: "msgs".into(),
            limit: MAX_PAGE as u64,
        });
    }
    let mut data = Vec::new();
    for entry in wanted {
        let msg_uid = entry
            .get("msgUID")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::param("each of msgs needs a msgUID"))?;
        // Unknown ids are left out, as are messages of other conversations.
        if let Ok(m) = call.message(msg_uid).await {
            if m.conversation.kind == ConversationType::UltraGroup && m.conversation.first == group
            {
                data.push(message_json(&m, &m.sender));
            }
        }
    }
    Ok(fields(json!({ "data": data })))
}
