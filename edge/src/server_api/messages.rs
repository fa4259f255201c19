//! `/message/*` and `/v3/message/*/query.json`: publishing, recall and history.

use meridian_cluster::state;
use meridian_cluster::state::messages::{MAX_CONTENT_BYTES, MAX_PAGE};
use meridian_cluster::state::{
    BroadcastToPlatforms, Command, Conversation, ConversationType, HistoryPage, Message,
    MessageFlags, NewMessage, Output, Publication, Query, QueryOutput, Recall, RecallNotice,
};
use serde_json::{json, Map, Value};

use super::send_options::{publish_command, publish_with_push};
use super::{fields, unexpected, Body, Call, Fields};
use meridian_access::error::ApiError;
use meridian_access::params::Params;

/// Recipients one private publish may name (the commercial service's limit).
pub(super) const MAX_PRIVATE_RECIPIENTS: usize = 1000;
/// Recipients one system publish may name.
pub(super) const MAX_SYSTEM_RECIPIENTS: usize = 100;
const DEFAULT_PAGE: usize = 20;

/// The message parameters every publish path shares.
pub(super) struct Publish {
    pub from: String,
    pub object_name: String,
    pub content: String,
    pub flags: MessageFlags,
    pub channel: String,
    pub push_content: Option<String>,
    pub push_data: Option<String>,
    pub verify_blacklist: bool,
}

pub(super) fn publish_params(form: &Params) -> Result<Publish, ApiError> {
    let from = form.required("fromUserId")?.to_string();
    let object_name = form.required("objectName")?.to_string();
    let content = form.required("content")?;
    let flags = content_flags(
        &object_name,
        content,
        form.bool_flag("isPersisted", true)?,
        form.bool_flag("isCounted", true)?,
    )?;
    Ok(Publish {
        from,
        object_name,
        content: content.to_string(),
        flags,
        channel: form.get("busChannel").unwrap_or_default().to_string(),
        // The Go SDK sends both on every publish, empty when the caller gave none.
        push_content: form
            .get("pushContent")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        push_data: form
            .get("pushData")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        verify_blacklist: form.bool_flag("verifyBlacklist", false)?,
    })
}

/// Checks a message's content (a JSON string, ≤ 128 KiB) and answers its flags: built-in
/// types have fixed flags (SPEC §2), custom types declare theirs.
pub(super) fn content_flags(
    object_name: &str,
    content: &str,
    is_persisted: bool,
    is_counted: bool,
) -> Result<MessageFlags, ApiError> {
    if content.len() > MAX_CONTENT_BYTES {
        return Err(ApiError::TooLong("content".into()));
    }
    if serde_json::from_str::<Value>(content).is_err() {
        return Err(ApiError::param("content must be a JSON string"));
    }
    let mut flags = MessageFlags::builtin(object_name);
    if !object_name.starts_with("RC:") {
        flags.persisted = is_persisted;
        flags.counted = is_counted && flags.persisted;
    }
    Ok(flags)
}

pub(super) fn new_message(
    p: &Publish,
    conversation: Conversation,
    recipient: Option<&str>,
) -> NewMessage {
    directed_message(p, conversation, recipient, Vec::new())
}

fn directed_message(
    p: &Publish,
    conversation: Conversation,
    recipient: Option<&str>,
    visible_to: Vec<String>,
) -> NewMessage {
    NewMessage {
        conversation,
        sender: p.from.clone(),
        recipient: recipient.map(str::to_string),
        object_name: p.object_name.clone(),
        content: p.content.clone(),
        flags: p.flags,
        push_content: p.push_content.clone(),
        push_data: p.push_data.clone(),
        verify_blacklist: p.verify_blacklist,
        visible_to,
        sender_device: None,
    }
}

/// Stores the messages with the call's options (API-07) and answers `messageUIDs`, one
/// per recipient that got one.
pub(super) async fn publish_to(
    call: &Call,
    messages: Vec<NewMessage>,
    id_field: &str,
    ids: &[&str],
) -> Fields {
    publish_with(call, &call.body, messages, id_field, ids).await
}

/// [`publish_to`] with the options of `options`, where a call keeps them apart from its
/// body's top level (`/push.json`'s `message`).
pub(super) async fn publish_with(
    call: &Call,
    options: &Body,
    messages: Vec<NewMessage>,
    id_field: &str,
    ids: &[&str],
) -> Fields {
    // A retried publish names the same kind of conversation from the same sender.
    let what = match messages.first() {
        Some(m) => format!("publish/{}/{}", m.conversation.kind.code(), m.sender),
        None => "publish".to_string(),
    };
    let output = call
        .write_marked(&what, publish_command(call.app_key(), messages, options)?)
        .await?;
    let Output::Published(published) = output else {
        return Err(unexpected(output));
    };
    let uids: Vec<Value> = ids
        .iter()
        .zip(published)
        .filter_map(|(id, publication)| match publication {
            // A message shed under load (CHR-06) was accepted, as the commercial service
            // answers, though nobody receives it.
            Publication::Stored { msg_uid, .. }
            | Publication::Transient { msg_uid, .. }
            | Publication::Dropped { msg_uid, .. }
            | Publication::Unrouted { msg_uid, .. } => {
                Some(json!({ id_field: id, "messageUID": msg_uid }))
            }
            Publication::Blocked | Publication::Sensitive => None,
        })
        .collect();
    Ok(fields(json!({ "messageUIDs": uids })))
}

// covers: PRV-01, PRV-10, PRV-12, MSG-05, MSG-07
/// `/message/private/publish.json`, and with `status_only` the status-message path
/// (`/statusmessage/private/publish.json`: delivered to online devices, never stored).
pub(super) async fn private_publish(call: &Call, status_only: bool) -> Fields {
    let form = call.form()?;
    let mut p = publish_params(form)?;
    if status_only {
        p.flags = MessageFlags::status();
    }
    let to = form.required_at_most("toUserId", MAX_PRIVATE_RECIPIENTS)?;
    let messages = to
        .iter()
        .map(|user| {
            new_message(
                &p,
                Conversation::private(&p.from, user, &p.channel),
                Some(user),
            )
        })
        .collect();
    publish_to(call, messages, "userId", &to).await
}

/// How many recipients a private publish names, for its rate budget.
pub(super) fn private_cost(body: &Body) -> f64 {
    match body {
        Body::Form(form) => form.all("toUserId").len().max(1) as f64,
        // Template publishes name their recipients in a JSON array.
        Body::Json(json) => json
            .get("toUserId")
            .and_then(serde_json::Value::as_array)
            .map_or(1, |to| to.len().max(1)) as f64,
    }
}

// covers: SYS-01
pub(super) async fn system_publish(call: &Call) -> Fields {
    let form = call.form()?;
    let mut p = publish_params(form)?;
    // Recipients cannot reply to a system account, and it has no blacklist to honour.
    p.verify_blacklist = false;
    let to = form.required_at_most("toUserId", MAX_SYSTEM_RECIPIENTS)?;
    let messages = to
        .iter()
        .map(|user| new_message(&p, Conversation::system(&p.from, user), Some(user)))
        .collect();
    publish_to(call, messages, "userId", &to).await
}

pub(super) fn conversation_of(
    kind: ConversationType,
    viewer: &str,
    target: &str,
    channel: &str,
) -> Conversation {
    match kind {
        ConversationType::Private => Conversation::private(viewer, target, channel),
        ConversationType::System => Conversation::system(target, viewer),
        other => Conversation::group_like(other, target, channel),
    }
}

// covers: SYS-02
/// `/message/broadcast/recall.json`: recalls a broadcast; every user gets the `RC:RcCmd`
/// notice the way they got the broadcast (live, or on their next sync).
pub(super) async fn broadcast_recall(call: &Call) -> Fields {
    let form = call.form()?;
    let from = form.required("fromUserId")?.to_string();
    let msg_uid = form.required("messageUID")?.to_string();
    recall_broadcast(call, from, msg_uid).await
}

/// Recalls `from`'s broadcast `msg_uid` (`isAdmin?`, `isDelete?` of the call's form).
async fn recall_broadcast(call: &Call, from: String, msg_uid: String) -> Fields {
    let form = call.form()?;
    let stored = call.message(&msg_uid).await?;
    if stored.conversation != Conversation::system(&from, "") {
        return Err(ApiError::param(format!(
            "{msg_uid} is not a broadcast from {from}"
        )));
    }
    call.write(Command::Recall(Recall {
        app_key: call.app_key(),
        sender: from,
        msg_uid,
        by_admin: form.bool_flag("isAdmin", false)?,
        delete: form.bool_flag("isDelete", false)?,
    }))
    .await?;
    Ok(Map::new())
}

// covers: PRV-08, CHR-13
pub(super) async fn recall(call: &Call) -> Fields {
    let form = call.form()?;
    let from = form.required("fromUserId")?.to_string();
    let kind = super::conversations::kind(form)?;
    let target = form.required("targetId")?;
    let msg_uid = form.required("messageUID")?.to_string();
    let channel = form.get("busChannel").unwrap_or_default();
    let by_admin = form.bool_flag("isAdmin", false)?;
    let delete = form.bool_flag("isDelete", false)?;
    let conversation = conversation_of(kind, &from, target, channel);
    let stored = match call.find_message(&msg_uid).await? {
        Some(stored) => stored,
        // A message this area does not keep (sent before the app moved here, or past its
        // retention) may still be on devices: they get the recall notice, as the
        // commercial service, which never checks the UID, sends it.
        None => {
            let notice = RecallNotice {
                msg_uid: &msg_uid,
                original_sender: &from,
                by_admin,
                delete,
            };
            let message = notice.message(&conversation, &from, Vec::new());
            call.write(Command::Publish(state::Publish {
                app_key: call.app_key(),
                messages: vec![message],
            }))
            .await?;
            return Ok(Map::new());
        }
    };
    if stored.conversation != conversation && !by_admin {
        return Err(ApiError::param(format!(
            "message {msg_uid} is not in that conversation"
        )));
    }
    call.write(Command::Recall(Recall {
        app_key: call.app_key(),
        sender: from,
        msg_uid,
        by_admin,
        delete,
    }))
    .await?;
    Ok(Map::new())
}

/// A stored message as the history answers give it, under both the names of the v3
/// query documentation (`msgUID`, `sentTime`) and the ones the published Go and Java SDKs
/// read (`messageUID`, `msgTime`, `groupId` for group-like conversations, `expansion`:
/// any Meridian message may be expanded).
pub(super) fn message_json(message: &Message, viewer: &str) -> Value {
    let target = message.conversation.target_for(viewer);
    let group_like = !matches!(
        message.conversation.kind,
        ConversationType::Private | ConversationType::System
    );
    json!({
        "msgUID": message.msg_uid,
        "messageUID": message.msg_uid,
        "conversationType": message.conversation.kind.code(),
        "targetId": target,
        "groupId": if group_like { target } else { "" },
        "msgTime": message.sent_time_ms,
        "expansion": true,
        "busChannel": message.conversation.channel,
        "fromUserId": message.sender,
        "objectName": message.object_name,
        "content": message.content,
        "sentTime": message.sent_time_ms,
        "seq": message.seq,
        "recalled": message.recalled,
        "modified": message.modified,
    })
}

pub(super) fn json_str<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::missing(name))
}

/// A whole number of a JSON body, as a number or (as the Go SDK sends every value) a
/// string of digits.
fn json_u64(body: &Value, name: &str) -> Result<Option<u64>, ApiError> {
    let refused = || ApiError::param(format!("{name} must be a non-negative integer"));
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => text.trim().parse().map(Some).map_err(|_| refused()),
        Some(value) => value.as_u64().map(Some).ok_or_else(refused),
    }
}

/// The conversation's id: the documented name, or `targetId`, which the published Go and
/// Java SDKs send on every v3 query.
pub(super) fn target_id<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    json_str(body, name).or_else(|_| json_str(body, "targetId"))
}

/// Groups one group publish may name.
const MAX_PUBLISH_GROUPS: usize = 3;

// covers: GRP-02, GRP-08, GRP-10
pub(super) async fn group_publish(call: &Call, status_only: bool) -> Fields {
    let form = call.form()?;
    let mut p = publish_params(form)?;
    p.verify_blacklist = false;
    if status_only {
        p.flags = MessageFlags::status();
    }
    let groups = form.required_at_most("toGroupId", MAX_PUBLISH_GROUPS)?;
    // toUserId makes it a directed message: only those members see it.
    let directed: Vec<String> = form
        .all("toUserId")
        .into_iter()
        .map(str::to_string)
        .collect();
    if directed.len() > MAX_PRIVATE_RECIPIENTS {
        return Err(ApiError::CountOverLimit {
            what: "toUserId values".into(),
            limit: MAX_PRIVATE_RECIPIENTS as u64,
        });
    }
    if form.bool_flag("isMentioned", false)? {
        check_mentions(&p.content, &directed)?;
    }
    let messages = groups
        .iter()
        .map(|group| {
            let conversation = Conversation::group_like(ConversationType::Group, group, &p.channel);
            directed_message(&p, conversation, None, directed.clone())
        })
        .collect();
    publish_to(call, messages, "groupId", &groups).await
}

/// `isMentioned` 1 makes a group message an @ message, as commercially: its content must
/// say whom it mentions (`mentionedInfo`: `type` 1 everyone, or 2 and a `userIdList`), and
/// a directed message may mention only the members it is directed to.
fn check_mentions(content: &str, directed: &[String]) -> Result<(), ApiError> {
    let content: Value = serde_json::from_str(content).unwrap_or_default();
    let info = &content["mentionedInfo"];
    let listed: Option<Vec<&str>> = info["userIdList"]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_str).collect());
    match (info["type"].as_u64(), listed) {
        (Some(1), _) => Ok(()),
        (Some(2), Some(ids)) if !ids.is_empty() => {
            match ids
                .iter()
                .find(|id| !directed.is_empty() && !directed.contains(&id.to_string()))
            {
                Some(id) => Err(ApiError::param(format!(
                    "mentionedInfo names {id}, who is not among toUserId"
                ))),
                None => Ok(()),
            }
        }
        _ => Err(ApiError::param(
            "isMentioned needs a content with mentionedInfo {type: 1} or {type: 2, userIdList}",
        )),
    }
}

// covers: SYS-02
/// A message to every user of the app: stored once in the sender's broadcast conversation
/// (SYSTEM, no single recipient), which every user's sync reads; the online-only kind is
/// never stored. Answers the message's id.
/// Whether a `/message/broadcast.json` body is the Go SDK's recall of a broadcast (its
/// `RC:RcCmd` notice), which `broadcast` turns into the recall.
pub(super) fn recalls_a_broadcast(body: &Body) -> bool {
    matches!(body, Body::Form(form) if form.get("objectName") == Some("RC:RcCmd"))
}

pub(super) async fn broadcast(call: &Call, stored: bool) -> Fields {
    let form = call.form()?;
    let mut p = publish_params(form)?;
    // The Go SDK recalls a broadcast by broadcasting its `RC:RcCmd` notice.
    if stored && recalls_a_broadcast(&call.body) {
        let recalled = serde_json::from_str::<Value>(&p.content)
            .ok()
            .and_then(|c| {
                c.get("messageUId")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .ok_or_else(|| ApiError::param("an RC:RcCmd broadcast names its messageUId"))?;
        return recall_broadcast(call, p.from, recalled).await;
    }
    p.verify_blacklist = false;
    if !stored {
        p.flags = MessageFlags::status();
    }
    let messages = vec![new_message(&p, Conversation::system(&p.from, ""), None)];
    // `os` (iOS or Android): only that platform's devices are pushed; everyone keeps it.
    let command = match form.get("os").filter(|os| !os.is_empty()) {
        Some(os) => Command::BroadcastToPlatforms(BroadcastToPlatforms {
            providers: super::push::providers_of(os)?,
            publish: publish_with_push(call.app_key(), messages, &call.body)?,
        }),
        None => publish_command(call.app_key(), messages, &call.body)?,
    };
    let output = call
        .write_marked(&format!("broadcast/{stored}/{}", p.from), command)
        .await?;
    match output {
        Output::Published(published) => match published.first() {
            Some(Publication::Stored { msg_uid, .. } | Publication::Transient { msg_uid, .. }) => {
                // `id` as documented; `messageUID` is what the Go and Java SDKs read.
                Ok(fields(json!({ "id": msg_uid, "messageUID": msg_uid })))
            }
            _ => Err(ApiError::Internal("broadcast was not published".into())),
        },
        other => Err(unexpected(other)),
    }
}

/// Rooms one chatroom publish may name.
const MAX_PUBLISH_ROOMS: usize = 10;

// covers: CHR-03, CHR-11
pub(super) async fn chatroom_publish(call: &Call) -> Fields {
    let form = call.form()?;
    let mut p = publish_params(form)?;
    p.verify_blacklist = false;
    let rooms = form.required_at_most("toChatroomId", MAX_PUBLISH_ROOMS)?;
    publish_to_rooms(call, &p, &rooms).await
}

/// One message of `p` to each room.
async fn publish_to_rooms(call: &Call, p: &Publish, rooms: &[&str]) -> Fields {
    let messages = rooms
        .iter()
        .map(|room| {
            new_message(
                p,
                Conversation::group_like(ConversationType::Chatroom, room, ""),
                None,
            )
        })
        .collect();
    publish_to(call, messages, "chatroomId", rooms).await
}

// covers: CHR-12
/// One message to every chatroom of the app.
pub(super) async fn chatroom_broadcast(call: &Call) -> Fields {
    let form = call.form()?;
    let mut p = publish_params(form)?;
    p.verify_blacklist = false;
    let rooms = match call
        .read(Query::Chatrooms {
            app_key: call.app_key(),
            room_ids: Vec::new(),
        })
        .await?
    {
        QueryOutput::Chatrooms(rooms) => rooms,
        other => return Err(unexpected(other)),
    };
    let ids: Vec<&str> = rooms.iter().map(|r| r.room_id.as_str()).collect();
    publish_to_rooms(call, &p, &ids).await
}

/// `/v3/message/chatroom/query.json`: `{chatroomId}` and the window.
pub(super) async fn chatroom_query(call: &Call) -> Fields {
    let body = call.json()?;
    let room = target_id(body, "chatroomId")?;
    let conversation = Conversation::group_like(ConversationType::Chatroom, room, "");
    history(call, conversation, None).await
}

/// The window and order of a history query (`startTime?`, `endTime?`, `pageSize?`,
/// `order?`, times in ms), shared by every conversation type.
struct Window {
    from_ms: u64,
    to_ms: u64,
    page: usize,
    newest_first: bool,
}

fn window(call: &Call, body: &Value) -> Result<Window, ApiError> {
    let page = json_u64(body, "pageSize")?.unwrap_or(DEFAULT_PAGE as u64) as usize;
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(ApiError::param(format!("pageSize must be 1 to {MAX_PAGE}")));
    }
    let newest_first = match body.get("order").and_then(Value::as_str) {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            return Err(ApiError::param(format!(
                "order {other:?} must be asc or desc"
            )))
        }
    };
    Ok(Window {
        from_ms: json_u64(body, "startTime")?.unwrap_or(0),
        to_ms: json_u64(body, "endTime")?.unwrap_or(call.now_ms),
        page,
        newest_first,
    })
}

pub(super) async fn history(
    call: &Call,
    conversation: Conversation,
    viewer: Option<&str>,
) -> Fields {
    let body = call.json()?;
    let window = window(call, body)?;
    match call
        .read(Query::History {
            app_key: call.app_key(),
            page: HistoryPage {
                conversation,
                viewer: viewer.map(str::to_string),
                from_ms: window.from_ms,
                to_ms: window.to_ms,
                newest_first: window.newest_first,
                limit: window.page,
                // The app server sees everything.
                members_only: false,
                keyword: None,
                sender: None,
            },
        })
        .await?
    {
        QueryOutput::Messages(messages) => {
            let data: Vec<Value> = messages
                .iter()
                .map(|m| message_json(m, viewer.unwrap_or(&m.sender)))
                .collect();
            Ok(fields(json!({ "data": data })))
        }
        other => Err(unexpected(other)),
    }
}

pub(super) fn channel(body: &Value) -> &str {
    body.get("busChannel")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `/v3/message/private/query.json`: `{userId, targetId, busChannel?}` and the window.
// covers: PRV-04
pub(super) async fn private_query(call: &Call) -> Fields {
    let body = call.json()?;
    let user = json_str(body, "userId")?;
    let target = json_str(body, "targetId")?;
    let conversation = Conversation::private(user, target, channel(body));
    history(call, conversation, Some(user)).await
}

/// `/v3/message/group/query.json`: `{groupId, userId?, busChannel?}` and the window; with
/// `userId`, directed messages to others are left out.
pub(super) async fn group_query(call: &Call) -> Fields {
    let body = call.json()?;
    let group = target_id(body, "groupId")?;
    let viewer = body
        .get("userId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let conversation = Conversation::group_like(ConversationType::Group, group, channel(body));
    history(call, conversation, viewer).await
}
