//! `/chatroom/*` (CHR): rooms, keep-alive, mutes, bans, blocks, whitelists, priorities,
//! attributes and distribution. Who is in a room comes from client sessions.

use meridian_cluster::state::{
    ChangeRoomSet, Command, CreateChatrooms, DestroyChatrooms, Query, QueryOutput, RemoveRoomEntry,
    RoomFlag, RoomSet, SetChatroomFlag, SetChatroomIdleDestroy, SetEntry, SetRoomEntries,
};
use meridian_proto::{Conversation, ConversationType};
use serde_json::{json, Map, Value};

use super::chatroom_notices::{announced, Change};
use super::messages::{content_flags, new_message, Publish};
use super::send_options::publish_command;
use super::{fields, format_time, owned, unexpected, Call, Fields, Paging};
use meridian_access::error::ApiError;

/// Ids one call may name.
const MAX_IDS_PER_CALL: usize = 20;
/// `minute` parameters: 1 minute to 30 days.
const MAX_MINUTES: u64 = 43_200;
/// CHR-04: member lists at most 500 per call.
const MAX_MEMBER_PAGE: usize = 500;

fn room(call: &Call) -> Result<String, ApiError> {
    Ok(call.form()?.required("chatroomId")?.to_string())
}

fn until(call: &Call) -> Result<u64, ApiError> {
    let minutes: u64 = call
        .form()?
        .int("minute")?
        .ok_or_else(|| ApiError::missing("minute"))?;
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(ApiError::param(format!(
            "minute must be 1 to {MAX_MINUTES}"
        )));
    }
    Ok(call.now_ms + minutes * 60_000)
}

// covers: CHR-01
pub(super) async fn create(call: &Call) -> Fields {
    let rooms = call.form()?.bracketed("chatroom");
    if rooms.is_empty() {
        return Err(ApiError::missing("chatroom[<id>]"));
    }
    call.write(Command::CreateChatrooms(CreateChatrooms {
        app_key: call.app_key(),
        rooms,
    }))
    .await?;
    Ok(Map::new())
}

/// `create_new`: one room, optionally muted with a whitelist, seeded attributes and its
/// own idle time.
pub(super) async fn create_new(call: &Call) -> Fields {
    let form = call.form()?;
    let room_id = room(call)?;
    let mut commands = vec![Command::CreateChatrooms(CreateChatrooms {
        app_key: call.app_key(),
        rooms: vec![(room_id.clone(), String::new())],
    })];
    // `destroyType`/`destroyTime`, which the Go and Java SDKs send here too.
    if form.get("destroyType").is_some() {
        commands.push(idle_destroy(call, room_id.clone())?);
    }
    if form.bool_flag("isBan", false)? {
        commands.push(Command::SetChatroomFlag(SetChatroomFlag {
            app_key: call.app_key(),
            room_ids: vec![room_id.clone()],
            flag: RoomFlag::Muted,
            on: true,
        }));
    }
    let white = form.all("whiteUserIds");
    if !white.is_empty() {
        commands.push(Command::ChangeRoomSet(ChangeRoomSet {
            app_key: call.app_key(),
            room_id: Some(room_id.clone()),
            set: RoomSet::MuteWhitelist,
            members: owned(&white),
            until_ms: 0,
            present: true,
        }));
    }
    if let Some(info) = form.get("entryInfo") {
        let owner = form.required("entryOwnerId")?.to_string();
        commands.push(Command::SetRoomEntries(SetRoomEntries {
            app_key: call.app_key(),
            room_id,
            owner,
            entries: entry_info(info)?,
            auto_delete: false,
        }));
    }
    call.write_all(commands).await?;
    Ok(Map::new())
}

/// `entryInfo`: a JSON object of string values.
fn entry_info(info: &str) -> Result<Vec<(String, String)>, ApiError> {
    let value: Value =
        serde_json::from_str(info).map_err(|e| ApiError::param(format!("entryInfo: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::param("entryInfo must be a JSON object"))?;
    object
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            other => Ok((k.clone(), other.to_string())),
        })
        .collect()
}

/// Destroys the rooms that exist. One the area does not know is already as the call
/// wants it: 200, as the commercial service answers (API-05). Deciding at the edge keeps
/// `DestroyChatrooms` applying as it always did, so replicas of two builds agree.
pub(super) async fn destroy(call: &Call) -> Fields {
    let asked = owned(
        &call
            .form()?
            .required_at_most("chatroomId", MAX_IDS_PER_CALL)?,
    );
    let existing: Vec<String> = match call
        .read(Query::Chatrooms {
            app_key: call.app_key(),
            room_ids: asked,
        })
        .await?
    {
        QueryOutput::Chatrooms(rooms) => rooms.into_iter().map(|room| room.room_id).collect(),
        other => return Err(unexpected(other)),
    };
    if !existing.is_empty() {
        call.write(Command::DestroyChatrooms(DestroyChatrooms {
            app_key: call.app_key(),
            room_ids: existing,
        }))
        .await?;
    }
    Ok(Map::new())
}

pub(super) async fn query(call: &Call) -> Fields {
    let room_ids = owned(
        &call
            .form()?
            .required_at_most("chatroomId", MAX_IDS_PER_CALL)?,
    );
    match call
        .read(Query::Chatrooms {
            app_key: call.app_key(),
            room_ids,
        })
        .await?
    {
        QueryOutput::Chatrooms(rooms) => {
            let rooms: Vec<Value> = rooms
                .iter()
                .map(|r| json!({ "chrmId": r.room_id, "name": r.name, "time": format_time(r.created_at_ms) }))
                .collect();
            Ok(fields(json!({ "chatRooms": rooms })))
        }
        other => Err(unexpected(other)),
    }
}

async fn members(call: &Call, room_id: String) -> Result<Vec<(String, u64)>, ApiError> {
    match call
        .read(Query::RoomMembers {
            app_key: call.app_key(),
            room_id,
        })
        .await?
    {
        QueryOutput::RoomMembers(members) => Ok(members),
        other => Err(unexpected(other)),
    }
}

// covers: CHR-04
/// `get` / `user/query`: `count` (1–500) members by join time, `order` 1 oldest first
/// (default) or 2 newest first.
pub(super) async fn member_page(call: &Call) -> Fields {
    let form = call.form()?;
    let count: usize = form.int("count")?.unwrap_or(MAX_MEMBER_PAGE);
    if !(1..=MAX_MEMBER_PAGE).contains(&count) {
        return Err(ApiError::param(format!(
            "count must be 1 to {MAX_MEMBER_PAGE}"
        )));
    }
    let order: u8 = form.int("order")?.unwrap_or(1);
    let mut all = members(call, room(call)?).await?;
    match order {
        1 => {}
        2 => all.reverse(),
        other => return Err(ApiError::param(format!("order {other} must be 1 or 2"))),
    }
    let total = all.len();
    let users: Vec<Value> = all
        .iter()
        .take(count)
        .map(|(id, joined)| json!({ "id": id, "time": format_time(*joined) }))
        .collect();
    Ok(fields(json!({ "total": total, "users": users })))
}

/// `/chatroom/get.json`: the member page, and the room's information as the newer
/// documentation and the published Go and Java SDKs read it: `chatroomId`,
/// `createTime` (ms), `memberCount`, `destroyType` (0 idle, 1 timed), `destroyTime`
/// (minutes), `ban` (the whole room muted). A room the area does not know has no members.
pub(super) async fn info(call: &Call) -> Fields {
    let mut answer = member_page(call).await?;
    let room_id = room(call)?;
    let rooms = match call
        .read(Query::Chatrooms {
            app_key: call.app_key(),
            room_ids: vec![room_id.clone()],
        })
        .await?
    {
        QueryOutput::Chatrooms(rooms) => rooms,
        other => return Err(unexpected(other)),
    };
    let member_count = answer.get("total").cloned().unwrap_or(json!(0));
    let (created, destroy_minutes, timed, muted) = match rooms.first() {
        Some(r) => (
            r.created_at_ms,
            r.idle_destroy_ms / 60_000,
            r.idle_destroy_ms != meridian_cluster::state::chatrooms::IDLE_DESTROY_MS,
            r.muted,
        ),
        None => (0, 0, false, false),
    };
    let info = json!({
        "chatroomId": room_id,
        "createTime": created,
        "memberCount": member_count,
        "destroyType": u8::from(timed),
        "destroyTime": destroy_minutes,
        "ban": muted,
    });
    if let Value::Object(info) = info {
        answer.extend(info);
    }
    Ok(answer)
}

pub(super) async fn user_exists(call: &Call) -> Fields {
    let user = call.form()?.required("userId")?.to_string();
    let all = members(call, room(call)?).await?;
    Ok(fields(
        json!({ "isInChrm": all.iter().any(|(id, _)| *id == user) }),
    ))
}

pub(super) async fn users_exist(call: &Call) -> Fields {
    let users = owned(&call.form()?.required_at_most("userId", MAX_IDS_PER_CALL)?);
    let all = members(call, room(call)?).await?;
    let result: Vec<Value> = users
        .iter()
        // A number here (the single-user check answers a boolean): the published Go and
        // Java SDKs decode it as an int.
        .map(|u| json!({ "userId": u, "isInChrm": u8::from(all.iter().any(|(id, _)| id == u)) }))
        .collect();
    Ok(fields(json!({ "result": result })))
}

/// Turns a room flag on or off for the named rooms.
pub(super) async fn flag(call: &Call, flag: RoomFlag, on: bool) -> Fields {
    let room_ids = owned(
        &call
            .form()?
            .required_at_most("chatroomId", MAX_IDS_PER_CALL)?,
    );
    let mut command = Command::SetChatroomFlag(SetChatroomFlag {
        app_key: call.app_key(),
        room_ids: room_ids.clone(),
        flag,
        on,
    });
    if flag == RoomFlag::Muted {
        command = announced(call, command, Change::room_muted(on, &room_ids))?;
    }
    call.write(command).await?;
    Ok(Map::new())
}

/// The settings of the rooms named (all when none are), with those kept for rooms not
/// created yet: what the room flags' queries list.
async fn room_settings(
    call: &Call,
    room_ids: Vec<String>,
) -> Result<Vec<meridian_cluster::state::Chatroom>, ApiError> {
    match call
        .read(Query::ChatroomSettings {
            app_key: call.app_key(),
            room_ids,
        })
        .await?
    {
        QueryOutput::Chatrooms(rooms) => Ok(rooms),
        other => Err(unexpected(other)),
    }
}

// covers: CHR-08
pub(super) async fn keep_alive_query(call: &Call) -> Fields {
    let rooms: Vec<String> = room_settings(call, Vec::new())
        .await?
        .into_iter()
        .filter(|r| r.keep_alive)
        .map(|r| r.room_id)
        .collect();
    // `chatroomIds` is what the published Go and Java SDKs read.
    Ok(fields(json!({ "chatrooms": rooms, "chatroomIds": rooms })))
}

/// `/chatroom/ban/query.json`'s pages: `size` 1 to 1,000, 50 by default.
const MUTED_ROOMS: Paging = Paging {
    size_key: "size",
    default: 50,
    max: 1000,
};

// covers: CHR-05
pub(super) async fn muted_rooms(call: &Call) -> Fields {
    let muted: Vec<_> = room_settings(call, Vec::new())
        .await?
        .into_iter()
        .filter(|r| r.muted)
        .collect();
    let total = muted.len();
    let rooms = MUTED_ROOMS.page(call.form()?, &muted)?;
    let ids: Vec<&str> = rooms.iter().map(|r| r.room_id.as_str()).collect();
    let rooms: Vec<Value> = rooms
        .iter()
        .map(|r| {
            // A room muted before it was created has no time yet.
            let time = if r.created_at_ms == 0 {
                String::new()
            } else {
                format_time(r.created_at_ms)
            };
            json!({ "chatroomId": r.room_id, "time": time })
        })
        .collect();
    // `chatroomIds` is what the published Go and Java SDKs read.
    Ok(fields(
        json!({ "total": total, "chatrooms": rooms, "chatroomIds": ids }),
    ))
}

/// A room's mute, or the one set for it before it was created (API-05); a room never
/// seen is not muted.
pub(super) async fn mute_check(call: &Call) -> Fields {
    let rooms = room_settings(call, vec![room(call)?]).await?;
    let muted = rooms.first().is_some_and(|room| room.muted);
    Ok(fields(json!({ "status": u8::from(muted) })))
}

/// Where a set's members come from in a request.
pub(super) struct SetCall {
    pub set: RoomSet,
    /// The parameter naming the members (`userId`, `objectnames`, `objectName`).
    pub members: &'static str,
    /// Whether adding takes a `minute` duration.
    pub timed: bool,
}

pub(super) async fn change_set(call: &Call, spec: SetCall, present: bool) -> Fields {
    let room_id = if spec.set.app_wide() {
        None
    } else {
        Some(room(call)?)
    };
    let members = owned(
        &call
            .form()?
            .required_at_most(spec.members, MAX_IDS_PER_CALL)?,
    );
    let until_ms = if present && spec.timed {
        until(call)?
    } else {
        0
    };
    let rooms: Vec<String> = room_id.iter().cloned().collect();
    let mut command = Command::ChangeRoomSet(ChangeRoomSet {
        app_key: call.app_key(),
        room_id,
        set: spec.set,
        members: members.clone(),
        until_ms,
        present,
    });
    if let Some(mut change) = Change::of_set(spec.set, present, &rooms, &members) {
        change.duration_ms = (until_ms > 0).then(|| until_ms - call.now_ms);
        command = announced(call, command, change)?;
    }
    call.write(command).await?;
    Ok(Map::new())
}

async fn set_members(call: &Call, set: RoomSet) -> Result<Vec<SetEntry>, ApiError> {
    let room_id = if set.app_wide() {
        None
    } else {
        Some(room(call)?)
    };
    match call
        .read(Query::RoomSetMembers {
            app_key: call.app_key(),
            room_id,
            set,
            now_ms: call.now_ms,
        })
        .await?
    {
        QueryOutput::SetEntries(entries) => Ok(entries),
        other => Err(unexpected(other)),
    }
}

/// Timed sets answer `users: [{userId, time}]`.
pub(super) async fn timed_set_query(call: &Call, set: RoomSet) -> Fields {
    let users: Vec<Value> = set_members(call, set)
        .await?
        .iter()
        .map(|e| json!({ "userId": e.member, "time": format_time(e.until_ms) }))
        .collect();
    Ok(fields(json!({ "users": users })))
}

/// Plain sets answer a list of ids under `field`.
pub(super) async fn set_query(call: &Call, set: RoomSet, field: &str) -> Fields {
    let members: Vec<String> = set_members(call, set)
        .await?
        .into_iter()
        .map(|e| e.member)
        .collect();
    Ok(fields(json!({ field: members })))
}

/// The `RC:chrmKVNotiMsg` type of a set entry (2: removed).
const ENTRY_SET: u8 = 1;
const ENTRY_REMOVED: u8 = 2;

/// The message an entry change sends to its room when the call names one (`objectName`,
/// `content`), from the entry's user, in the same Raft entry as the change. Without a
/// `content`, an `RC:chrmKVNotiMsg` gets the one the client SDKs read: `{type, key,
/// value}`.
fn with_entry_notice(
    call: &Call,
    change: Command,
    (room_id, user, kind, key, value): (&str, &str, u8, &str, &str),
) -> Result<Command, ApiError> {
    let form = call.form()?;
    let Some(object_name) = form.get("objectName").filter(|s| !s.is_empty()) else {
        return Ok(change);
    };
    let content = match form.get("content").filter(|s| !s.is_empty()) {
        Some(content) => content.to_string(),
        None if object_name == "RC:chrmKVNotiMsg" => {
            json!({ "type": kind, "key": key, "value": value }).to_string()
        }
        None => return Err(ApiError::missing("content")),
    };
    let notice = Publish {
        from: user.to_string(),
        object_name: object_name.to_string(),
        flags: content_flags(object_name, &content, true, true)?,
        content,
        channel: String::new(),
        push_content: None,
        push_data: None,
        verify_blacklist: false,
    };
    let room = Conversation::group_like(ConversationType::Chatroom, room_id, "");
    let message = new_message(&notice, room, None);
    let publish = publish_command(call.app_key(), vec![message], &call.body)?;
    Ok(Command::All(vec![change, publish]))
}

// covers: CHR-09
pub(super) async fn entry_set(call: &Call) -> Fields {
    let form = call.form()?;
    let (key, value) = (form.required("key")?, form.required("value")?);
    let (room_id, owner) = (room(call)?, form.required("userId")?);
    let set = Command::SetRoomEntries(SetRoomEntries {
        app_key: call.app_key(),
        room_id: room_id.clone(),
        owner: owner.to_string(),
        entries: vec![(key.to_string(), value.to_string())],
        auto_delete: form.bool_flag("autoDelete", false)?,
    });
    let notice = (room_id.as_str(), owner, ENTRY_SET, key, value);
    call.write(with_entry_notice(call, set, notice)?).await?;
    Ok(Map::new())
}

pub(super) async fn entry_batch_set(call: &Call) -> Fields {
    let form = call.form()?;
    call.write(Command::SetRoomEntries(SetRoomEntries {
        app_key: call.app_key(),
        room_id: room(call)?,
        owner: form.required("entryOwnerId")?.to_string(),
        entries: entry_info(form.required("entryInfo")?)?,
        auto_delete: form.bool_flag("autoDelete", false)?,
    }))
    .await?;
    Ok(Map::new())
}

pub(super) async fn entry_remove(call: &Call) -> Fields {
    let form = call.form()?;
    let (room_id, user, key) = (room(call)?, form.required("userId")?, form.required("key")?);
    let remove = Command::RemoveRoomEntry(RemoveRoomEntry {
        app_key: call.app_key(),
        room_id: room_id.clone(),
        key: key.to_string(),
    });
    let notice = (room_id.as_str(), user, ENTRY_REMOVED, key, "");
    call.write(with_entry_notice(call, remove, notice)?).await?;
    Ok(Map::new())
}

pub(super) async fn entry_query(call: &Call) -> Fields {
    let keys = owned(&call.form()?.all("keys"));
    match call
        .read(Query::RoomEntries {
            app_key: call.app_key(),
            room_id: room(call)?,
            keys,
        })
        .await?
    {
        QueryOutput::RoomEntries(entries) => {
            let keys: Vec<Value> = entries
                .iter()
                .map(|e| {
                    json!({
                        "key": e.key,
                        "value": e.value,
                        "userId": e.owner,
                        // A string of 0 or 1: the Go SDK decodes a string, Java's an int.
                        "autoDelete": u8::from(e.auto_delete).to_string(),
                        "lastSetTime": format_time(e.updated_at_ms),
                    })
                })
                .collect();
            Ok(fields(json!({ "keys": keys })))
        }
        other => Err(unexpected(other)),
    }
}

/// `/chatroom/destroy/set.json`: `destroyType` 0 restores the one-hour idle rule, 1 sets
/// `destroyTime` minutes of idleness (1 to 10080) before the room is destroyed.
pub(super) async fn destroy_set(call: &Call) -> Fields {
    let form = call.form()?;
    let room_id = form.required("chatroomId")?.to_string();
    call.write(idle_destroy(call, room_id)?).await?;
    Ok(Map::new())
}

/// The call's `destroyType` (0: the one-hour rule; 1: `destroyTime` minutes) for a room.
fn idle_destroy(call: &Call, room_id: String) -> Result<Command, ApiError> {
    let form = call.form()?;
    let minutes = match form.int::<u8>("destroyType")?.unwrap_or(0) {
        0 => 60,
        1 => form
            .int::<u64>("destroyTime")?
            .ok_or_else(|| ApiError::missing("destroyTime"))?,
        other => {
            return Err(ApiError::param(format!(
                "destroyType {other} must be 0 or 1"
            )))
        }
    };
    Ok(Command::SetChatroomIdleDestroy(SetChatroomIdleDestroy {
        app_key: call.app_key(),
        room_id,
        idle_ms: minutes.saturating_mul(60_000),
    }))
}
