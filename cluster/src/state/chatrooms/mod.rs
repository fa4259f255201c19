//! Chatrooms (CHR): rooms with their flags, the member and type sets that govern who may
//! speak and what is never dropped, key/value attributes, and idle destruction.

use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::apps;
use super::groups::validate_group_id;
use super::keys::{chatrooms as keys, of_app, under};
use super::outbox::{self, RoomCause, RoomChange, RoomEvent};
use super::store::{Overlay, StateRead};

mod entries;
mod membership;
mod sets;
mod shedding;

pub(in crate::state) use entries::entries;
pub use entries::{
    RemoveRoomEntry, RoomEntry, SetRoomEntries, MAX_ENTRIES, MAX_ENTRY_KEY_BYTES,
    MAX_ENTRY_VALUE_BYTES,
};
use membership::{announce, expire_offline};
pub(in crate::state) use membership::{leave_all, may_speak, members, message_accepted};
pub use membership::{
    ChatroomMemberOffline, JoinChatroom, QuitChatroom, AUTO_EXIT_MESSAGES, AUTO_EXIT_MS,
};
pub(in crate::state) use sets::{app_set_of_tag, app_sets_prefix, room_sets, set_members};
pub use sets::{ChangeRoomSet, RoomSet, SetEntry};
pub(in crate::state) use shedding::admit;
pub use shedding::{Priority, SHED_BUDGET, SHED_RESERVED_HIGH, SHED_WINDOW_MS};

/// SPEC CHR-08: a room with no messages and no joins for an hour is destroyed.
pub const IDLE_DESTROY_MS: u64 = 60 * 60 * 1000;
const MAX_NAME_CHARS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chatroom {
    pub room_id: String,
    pub name: String,
    pub created_at_ms: u64,
    pub last_activity_ms: u64,
    /// Whole-room mute (CHR-05).
    pub muted: bool,
    /// Messages are accepted but not distributed to members.
    pub distribution_stopped: bool,
    /// Exempt from idle destruction (CHR-08).
    pub keep_alive: bool,
    /// Destroyed after this long without messages or joins (CHR-08: an hour unless the
    /// app sets another with `/chatroom/destroy/set.json`).
    pub idle_destroy_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomFlag {
    Muted,
    DistributionStopped,
    KeepAlive,
}

pub(in crate::state) fn get(
    state: &impl StateRead,
    app_key: &str,
    room_id: &str,
) -> Result<Chatroom, CommandError> {
    state
        .get(&keys::room(app_key, room_id))?
        .ok_or_else(|| CommandError::not_found(format!("chatroom {room_id}")))
}

/// Whether the app has this room now.
pub(in crate::state) fn exists(
    state: &impl StateRead,
    app_key: &str,
    room_id: &str,
) -> Result<bool, CommandError> {
    Ok(state.get_raw(&keys::room(app_key, room_id))?.is_some())
}

pub(super) fn validate_room_id(room_id: &str) -> Result<(), CommandError> {
    validate_group_id(room_id)
        .map_err(|_| CommandError::invalid("chatroomId", "must be 1 to 64 of A-Z a-z 0-9 _ = + -"))
}

/// A room's record to change a setting on, and the key to store it under. The commercial
/// service keeps no room directory of record, so an app may set a flag before the room
/// exists: it is kept as the room's preset and taken over when the room is created.
fn settable(
    state: &impl StateRead,
    app_key: &str,
    room_id: &str,
) -> Result<(Chatroom, Vec<u8>), CommandError> {
    let key = keys::room(app_key, room_id);
    if let Some(room) = state.get(&key)? {
        return Ok((room, key));
    }
    validate_room_id(room_id)?;
    let key = keys::preset(app_key, room_id);
    let preset = state
        .get(&key)?
        .unwrap_or_else(|| Chatroom::new(room_id, "", 0));
    Ok((preset, key))
}

impl Chatroom {
    fn new(room_id: &str, name: &str, now_ms: u64) -> Self {
        Chatroom {
            room_id: room_id.to_string(),
            name: name.to_string(),
            created_at_ms: now_ms,
            last_activity_ms: now_ms,
            muted: false,
            distribution_stopped: false,
            keep_alive: false,
            idle_destroy_ms: IDLE_DESTROY_MS,
        }
    }
}

/// HOOK-04: tells the app server about a room's change.
fn report(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    room_id: &str,
    user_ids: Vec<String>,
    event: RoomEvent,
    cause: RoomCause,
) -> Result<(), CommandError> {
    let change = RoomChange {
        room_id: room_id.to_string(),
        user_ids,
        event,
        cause,
        time_ms: ctx.now_ms,
    };
    outbox::room_changed(ctx, state, app_key, change)
}

/// Destroys rooms with everything they keep (members, sets, attributes).
pub(in crate::state) fn destroy(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    room_ids: &[String],
    cause: RoomCause,
) -> Result<(), CommandError> {
    apps::by_key(state, app_key)?;
    for room_id in room_ids {
        get(state, app_key, room_id)?;
        report(
            ctx,
            state,
            app_key,
            room_id,
            Vec::new(),
            RoomEvent::Destroyed,
            cause,
        )?;
        for (user, _) in members(state, app_key, room_id)? {
            state.delete(keys::user_room(app_key, &user, room_id));
        }
        announce(state, app_key, room_id, Vec::new(), Vec::new(), true)?;
        state.delete(keys::window(app_key, room_id));
        for family in keys::PER_ROOM {
            state.delete_prefix(&keys::of_room(family, app_key, room_id))?;
        }
        state.delete(keys::room(app_key, room_id));
    }
    Ok(())
}

/// Counts as activity: a message or a join keeps the room from idle destruction.
pub(in crate::state) fn touch(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    room_id: &str,
) -> Result<(), CommandError> {
    let mut room = get(state, app_key, room_id)?;
    room.last_activity_ms = ctx.now_ms;
    state
        .put(keys::room(app_key, room_id), &room)
        .map_err(CommandError::from)
}

/// Rooms by id (unknown ids are left out), or every room of the app when none is asked.
pub(in crate::state) fn rooms(
    state: &impl StateRead,
    app_key: &str,
    ids: &[String],
) -> Result<Vec<Chatroom>, CommandError> {
    rooms_in(state, app_key, ids, &[keys::ROOM])
}

/// [`rooms`], with the presets of rooms not created yet ([`settable`]) in their place.
pub(in crate::state) fn settings(
    state: &impl StateRead,
    app_key: &str,
    ids: &[String],
) -> Result<Vec<Chatroom>, CommandError> {
    let mut found = rooms_in(state, app_key, ids, &[keys::ROOM, keys::PRESET])?;
    if ids.is_empty() {
        found.sort_by(|a, b| a.room_id.cmp(&b.room_id));
    }
    Ok(found)
}

/// Room records kept under `families` (a room and its preset never both exist), by id
/// in the first family that has one, or all of them.
fn rooms_in(
    state: &impl StateRead,
    app_key: &str,
    ids: &[String],
    families: &[&[u8]],
) -> Result<Vec<Chatroom>, CommandError> {
    apps::by_key(state, app_key)?;
    let mut found = Vec::new();
    if ids.is_empty() {
        for family in families {
            found.extend(state.scan::<Chatroom>(&of_app(family, app_key))?);
        }
        return Ok(found);
    }
    for id in ids {
        for family in families {
            let key = under(of_app(family, app_key), id);
            if let Some(room) = state.get::<Chatroom>(&key)? {
                found.push(room);
                break;
            }
        }
    }
    Ok(found)
}

/// Removes every chatroom of an app environment.
pub(in crate::state) fn delete_all(
    state: &mut Overlay<'_>,
    app_key: &str,
) -> Result<(), CommandError> {
    state.delete_app(&keys::PER_APP, app_key)?;
    Ok(())
}

/// How long a room may stay idle before it is destroyed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetChatroomIdleDestroy {
    pub app_key: String,
    pub room_id: String,
    pub idle_ms: u64,
}

impl Apply for SetChatroomIdleDestroy {
    type Answer = ();

    /// `/chatroom/destroy/set.json`: how long a room may stay idle before it is destroyed
    /// (at most a week).
    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let room_id: &str = &self.room_id;
        let idle_ms = self.idle_ms;
        const MAX_IDLE_MS: u64 = 7 * 24 * 60 * 60 * 1000;
        if !(60_000..=MAX_IDLE_MS).contains(&idle_ms) {
            return Err(CommandError::invalid(
                "destroyTime",
                "must be 1 minute to 7 days",
            ));
        }
        let (mut room, key) = settable(state, app_key, room_id)?;
        room.idle_destroy_ms = idle_ms;
        Ok(state.put(key, &room)?)
    }
}

/// Creates the chatrooms that do not exist yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateChatrooms {
    pub app_key: String,
    pub rooms: Vec<(String, String)>,
}

impl Apply for CreateChatrooms {
    type Answer = ();

    /// Creates rooms that do not exist yet; existing ones are left as they are.
    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let rooms: &[(String, String)] = &self.rooms;
        apps::by_key(state, app_key)?;
        for (room_id, name) in rooms {
            validate_room_id(room_id)?;
            if name.chars().count() > MAX_NAME_CHARS {
                return Err(CommandError::invalid(
                    "name",
                    "must be at most 128 characters",
                ));
            }
            let key = keys::room(app_key, room_id);
            if state.get_raw(&key)?.is_some() {
                continue;
            }
            // Flags the app set before the room existed apply from its creation.
            let preset_key = keys::preset(app_key, room_id);
            let preset: Option<Chatroom> = state.get(&preset_key)?;
            state.delete(preset_key);
            let room = Chatroom {
                room_id: room_id.clone(),
                name: name.clone(),
                created_at_ms: ctx.now_ms,
                last_activity_ms: ctx.now_ms,
                ..preset.unwrap_or_else(|| Chatroom::new(room_id, name, ctx.now_ms))
            };
            state.put(key, &room)?;
            report(
                ctx,
                state,
                app_key,
                room_id,
                Vec::new(),
                RoomEvent::Created,
                RoomCause::Requested,
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestroyChatrooms {
    pub app_key: String,
    pub room_ids: Vec<String>,
}

impl Apply for DestroyChatrooms {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self { app_key, room_ids } = self;
        destroy(ctx, state, app_key, room_ids, outbox::RoomCause::Requested)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetChatroomFlag {
    pub app_key: String,
    pub room_ids: Vec<String>,
    pub flag: RoomFlag,
    pub on: bool,
}

impl Apply for SetChatroomFlag {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let room_ids: &[String] = &self.room_ids;
        let flag = self.flag;
        let on = self.on;
        apps::by_key(state, app_key)?;
        for room_id in room_ids {
            let (mut room, key) = settable(state, app_key, room_id)?;
            match flag {
                RoomFlag::Muted => room.muted = on,
                RoomFlag::DistributionStopped => room.distribution_stopped = on,
                RoomFlag::KeepAlive => room.keep_alive = on,
            }
            state.put(key, &room)?;
        }
        Ok(())
    }
}

/// Destroys the app's rooms idle for an hour (CHR-08) and auto-exits offline members
/// 30 s after the first message they missed (CHR-07), as of the entry's time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestroyIdleChatrooms {
    pub app_key: String,
}

impl Apply for DestroyIdleChatrooms {
    type Answer = Vec<String>;

    /// Destroys rooms idle since before `now_ms - IDLE_DESTROY_MS`, keep-alive rooms excepted;
    /// answers which.
    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<Vec<String>, CommandError> {
        let app_key: &str = &self.app_key;
        let idle: Vec<String> = rooms(state, app_key, &[])?
            .into_iter()
            .filter(|r| !r.keep_alive && r.last_activity_ms + r.idle_destroy_ms <= ctx.now_ms)
            .map(|r| r.room_id)
            .collect();
        destroy(ctx, state, app_key, &idle, RoomCause::AutoDestroy)?;
        for room in rooms(state, app_key, &[])? {
            expire_offline(ctx, state, app_key, &room.room_id, false)?;
        }
        Ok(idle)
    }
}
