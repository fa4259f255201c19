//! Chatrooms (CHR): rooms with their flags, the member and type sets that govern who may
//! speak and what is never dropped, key/value attributes, and idle destruction.

use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::apps;
use super::feed;
use super::groups::validate_group_id as validate_room_id;
use super::keys::{chatrooms as keys, of_app};
use super::messages::ConversationType;
use super::outbox::{self, RoomCause, RoomChange, RoomEvent};
use super::store::{Overlay, StateRead};
use super::users::validate_user_id;

/// SPEC CHR-09: at most 100 attributes per room; COMPAT: key ≤ 128 B, value ≤ 4096 B.
pub const MAX_ENTRIES: u64 = 100;
pub const MAX_ENTRY_KEY_BYTES: usize = 128;
pub const MAX_ENTRY_VALUE_BYTES: usize = 4096;
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

/// The sets of users or message types that rooms (or the whole app) keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomSet {
    /// Muted in one room, until a time.
    Gagged,
    /// Kicked and kept out of one room, until a time.
    Blocked,
    /// Never dropped under load and never auto-exited (CHR-06, CHR-07).
    UserWhitelist,
    /// May speak while the whole room is muted.
    MuteWhitelist,
    /// App-wide: muted in every room, until a time.
    AppMuted,
    /// App-wide: message types never dropped under load.
    MessageWhitelist,
    /// App-wide: message types dropped first under load.
    LowPriority,
}

impl RoomSet {
    fn tag(self) -> &'static str {
        match self {
            RoomSet::Gagged => "gag",
            RoomSet::Blocked => "block",
            RoomSet::UserWhitelist => "userwhite",
            RoomSet::MuteWhitelist => "mutewhite",
            RoomSet::AppMuted => "appmute",
            RoomSet::MessageWhitelist => "msgwhite",
            RoomSet::LowPriority => "lowprio",
        }
    }

    /// App-wide sets have no room.
    pub fn app_wide(self) -> bool {
        matches!(
            self,
            RoomSet::AppMuted | RoomSet::MessageWhitelist | RoomSet::LowPriority
        )
    }

    fn holds_users(self) -> bool {
        !matches!(self, RoomSet::MessageWhitelist | RoomSet::LowPriority)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetEntry {
    pub member: String,
    /// 0: no end.
    pub until_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomEntry {
    pub key: String,
    pub value: String,
    pub owner: String,
    /// Removed when its owner leaves the room.
    pub auto_delete: bool,
    pub updated_at_ms: u64,
}

fn set_scope(set: RoomSet, room_id: Option<&str>) -> Result<&str, CommandError> {
    match (set.app_wide(), room_id) {
        (true, _) => Ok(keys::APP_SCOPE),
        (false, Some(room)) => Ok(room),
        (false, None) => Err(CommandError::invalid("chatroomId", "is required")),
    }
}

pub(super) fn get(
    state: &impl StateRead,
    app_key: &str,
    room_id: &str,
) -> Result<Chatroom, CommandError> {
    state
        .get(&keys::room(app_key, room_id))?
        .ok_or_else(|| CommandError::not_found(format!("chatroom {room_id}")))
}

/// Creates rooms that do not exist yet; existing ones are left as they are.
pub(super) fn create(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    rooms: &[(String, String)],
) -> Result<(), CommandError> {
    apps::by_key(state, app_key)?;
    for (room_id, name) in rooms {
        validate_room_id(room_id).map_err(|_| {
            CommandError::invalid("chatroomId", "must be 1 to 64 of A-Z a-z 0-9 _ = + -")
        })?;
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
        let room = Chatroom {
            room_id: room_id.clone(),
            name: name.clone(),
            created_at_ms: ctx.now_ms,
            last_activity_ms: ctx.now_ms,
            muted: false,
            distribution_stopped: false,
            keep_alive: false,
            idle_destroy_ms: IDLE_DESTROY_MS,
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
pub(super) fn destroy(
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

pub(super) fn set_flag(
    state: &mut Overlay<'_>,
    app_key: &str,
    room_ids: &[String],
    flag: RoomFlag,
    on: bool,
) -> Result<(), CommandError> {
    for room_id in room_ids {
        let mut room = get(state, app_key, room_id)?;
        match flag {
            RoomFlag::Muted => room.muted = on,
            RoomFlag::DistributionStopped => room.distribution_stopped = on,
            RoomFlag::KeepAlive => room.keep_alive = on,
        }
        state.put(keys::room(app_key, room_id), &room)?;
    }
    Ok(())
}

/// `/chatroom/destroy/set.json`: how long a room may stay idle before it is destroyed
/// (at most a week).
pub(super) fn set_idle_destroy(
    state: &mut Overlay<'_>,
    app_key: &str,
    room_id: &str,
    idle_ms: u64,
) -> Result<(), CommandError> {
    const MAX_IDLE_MS: u64 = 7 * 24 * 60 * 60 * 1000;
    if !(60_000..=MAX_IDLE_MS).contains(&idle_ms) {
        return Err(CommandError::invalid(
            "destroyTime",
            "must be 1 minute to 7 days",
        ));
    }
    let mut room = get(state, app_key, room_id)?;
    room.idle_destroy_ms = idle_ms;
    Ok(state.put(keys::room(app_key, room_id), &room)?)
}

/// Counts as activity: a message or a join keeps the room from idle destruction.
pub(super) fn touch(
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

/// Adds members to a set until `Some(until_ms)` (0: no end), or removes them (`None`).
pub(super) fn change_set(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    room_id: Option<&str>,
    set: RoomSet,
    members: &[String],
    until_ms: Option<u64>,
) -> Result<(), CommandError> {
    apps::by_key(state, app_key)?;
    let scope = set_scope(set, room_id)?;
    if scope != keys::APP_SCOPE {
        get(state, app_key, scope)?;
    }
    if members.is_empty() {
        return Err(CommandError::invalid("members", "at least one is required"));
    }
    for member in members {
        if set.holds_users() {
            validate_user_id(member)?;
        } else if member.is_empty() || member.chars().count() > 32 {
            return Err(CommandError::invalid(
                "objectName",
                "must be 1 to 32 characters",
            ));
        }
        let key = keys::set_member(app_key, scope, set.tag(), member);
        if until_ms.is_some() && set == RoomSet::Blocked {
            // A ban kicks the user out as well as keeping them out.
            leave(
                ctx,
                state,
                app_key,
                scope,
                std::slice::from_ref(member),
                RoomCause::Banned,
            )?;
        }
        match until_ms {
            Some(until_ms) => state.put(
                key,
                &SetEntry {
                    member: member.clone(),
                    until_ms,
                },
            )?,
            None => state.delete(key),
        }
    }
    Ok(())
}

/// Members of a set still in force at `now_ms`.
pub(super) fn set_members(
    state: &impl StateRead,
    app_key: &str,
    room_id: Option<&str>,
    set: RoomSet,
    now_ms: u64,
) -> Result<Vec<SetEntry>, CommandError> {
    apps::by_key(state, app_key)?;
    let scope = set_scope(set, room_id)?;
    if scope != keys::APP_SCOPE {
        get(state, app_key, scope)?;
    }
    let entries: Vec<SetEntry> = state.scan(&keys::set(app_key, scope, set.tag()))?;
    Ok(entries
        .into_iter()
        .filter(|e| e.until_ms == 0 || e.until_ms > now_ms)
        .collect())
}

/// Sets attributes (CHR-09), at most 100 per room.
pub(super) fn set_entries(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    room_id: &str,
    owner: &str,
    entries: &[(String, String)],
    auto_delete: bool,
) -> Result<(), CommandError> {
    get(state, app_key, room_id)?;
    validate_user_id(owner)?;
    let prefix = keys::of_room(keys::ENTRY, app_key, room_id);
    for (key, value) in entries {
        if key.is_empty() || key.len() > MAX_ENTRY_KEY_BYTES {
            return Err(CommandError::invalid("key", "must be 1 to 128 bytes"));
        }
        if value.len() > MAX_ENTRY_VALUE_BYTES {
            return Err(CommandError::invalid("value", "must be at most 4096 bytes"));
        }
        let entry = RoomEntry {
            key: key.clone(),
            value: value.clone(),
            owner: owner.to_string(),
            auto_delete,
            updated_at_ms: ctx.now_ms,
        };
        state.put(keys::entry(app_key, room_id, key), &entry)?;
    }
    if state.count_prefix(&prefix)? > MAX_ENTRIES {
        return Err(CommandError::Limit {
            what: "attributes per chatroom".into(),
            limit: MAX_ENTRIES,
        });
    }
    Ok(())
}

pub(super) fn remove_entry(
    state: &mut Overlay<'_>,
    app_key: &str,
    room_id: &str,
    key: &str,
) -> Result<(), CommandError> {
    get(state, app_key, room_id)?;
    let full = keys::entry(app_key, room_id, key);
    if state.get_raw(&full)?.is_none() {
        return Err(CommandError::not_found(format!("attribute {key}")));
    }
    state.delete(full);
    Ok(())
}

/// Attributes of a room: the asked keys, or all when none is asked.
pub(super) fn entries(
    state: &impl StateRead,
    app_key: &str,
    room_id: &str,
    keys: &[String],
) -> Result<Vec<RoomEntry>, CommandError> {
    get(state, app_key, room_id)?;
    let all: Vec<RoomEntry> = state.scan(&keys::of_room(keys::ENTRY, app_key, room_id))?;
    Ok(all
        .into_iter()
        .filter(|e| keys.is_empty() || keys.contains(&e.key))
        .collect())
}

/// Rooms by id (unknown ids are left out), or every room of the app when none is asked.
pub(super) fn rooms(
    state: &impl StateRead,
    app_key: &str,
    ids: &[String],
) -> Result<Vec<Chatroom>, CommandError> {
    apps::by_key(state, app_key)?;
    if ids.is_empty() {
        return Ok(state.scan(&of_app(keys::ROOM, app_key))?);
    }
    let mut found = Vec::new();
    for id in ids {
        if let Some(room) = state.get::<Chatroom>(&keys::room(app_key, id))? {
            found.push(room);
        }
    }
    Ok(found)
}

/// Members currently in a room (joins come from client sessions), oldest first.
pub(super) fn members(
    state: &impl StateRead,
    app_key: &str,
    room_id: &str,
) -> Result<Vec<(String, u64)>, CommandError> {
    get(state, app_key, room_id)?;
    let mut members: Vec<(String, u64)> =
        state.scan(&keys::of_room(keys::MEMBER, app_key, room_id))?;
    members.sort_by_key(|(_, joined)| *joined);
    Ok(members)
}

/// Destroys rooms idle since before `now_ms - IDLE_DESTROY_MS`, keep-alive rooms excepted;
/// answers which.
pub(super) fn destroy_idle(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
) -> Result<Vec<String>, CommandError> {
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

/// CHR-07: an offline member leaves after this many new messages …
pub const AUTO_EXIT_MESSAGES: u32 = 30;
/// … or this long after the first new message, whichever comes first.
pub const AUTO_EXIT_MS: u64 = 30_000;

/// A member whose session ended, and what it has missed since.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Offline {
    first_missed_ms: u64,
    missed: u32,
}

/// A member's session ended: it stays a member until it misses too much (CHR-07), unless
/// it is on the room's user whitelist (never auto-exited).
pub(super) fn member_offline(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    room_id: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    get(state, app_key, room_id)?;
    let member = keys::member(app_key, room_id, user_id);
    let exempt = set_members(
        state,
        app_key,
        Some(room_id),
        RoomSet::UserWhitelist,
        ctx.now_ms,
    )?
    .iter()
    .any(|entry| entry.member == user_id);
    if state.get_raw(&member)?.is_some() && !exempt {
        state.put(
            keys::offline(app_key, room_id, user_id),
            &Offline::default(),
        )?;
    }
    Ok(())
}

/// Counts a new message against the room's offline members (`counted`) and removes those
/// past either limit.
fn expire_offline(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    room_id: &str,
    counted: bool,
) -> Result<(), CommandError> {
    let prefix = keys::of_room(keys::OFFLINE, app_key, room_id);
    let mut leaving = Vec::new();
    for (key, value) in state.scan_raw(&prefix)? {
        let mut offline: Offline = crate::raft::wire::from_bytes(&value)?;
        if counted {
            offline.missed += 1;
            if offline.first_missed_ms == 0 {
                offline.first_missed_ms = ctx.now_ms;
            }
        }
        let past_time =
            offline.first_missed_ms != 0 && offline.first_missed_ms + AUTO_EXIT_MS <= ctx.now_ms;
        if offline.missed >= AUTO_EXIT_MESSAGES || past_time {
            leaving.push(keys::offline_user(&prefix, &key));
        } else if counted {
            state.put(key, &offline)?;
        }
    }
    leave(ctx, state, app_key, room_id, &leaving, RoomCause::AutoExit)
}

/// A message was accepted into the room: offline members count it (CHR-07).
pub(super) fn message_accepted(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    room_id: &str,
) -> Result<(), CommandError> {
    expire_offline(ctx, state, app_key, room_id, true)
}

/// Tells the edges' sessions who joined or left (see `feed`).
fn announce(
    state: &mut Overlay<'_>,
    app_key: &str,
    room_id: &str,
    joined: Vec<String>,
    left: Vec<String>,
    dismissed: bool,
) -> Result<(), CommandError> {
    feed::announce(
        state,
        app_key,
        feed::MembershipChange {
            kind: ConversationType::Chatroom,
            id: room_id,
            joined,
            left,
            dismissed,
        },
    )
}

/// A client joins a room (CHR-02): refused while banned from it; a user is in one room
/// at a time, so joining leaves the others. Counts as activity (CHR-08).
pub(super) fn join(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    room_id: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    validate_user_id(user_id)?;
    get(state, app_key, room_id)?;
    let banned = set_members(state, app_key, Some(room_id), RoomSet::Blocked, ctx.now_ms)?
        .iter()
        .any(|entry| entry.member == user_id);
    if banned {
        return Err(CommandError::Forbidden {
            reason: format!("{user_id} is banned from chatroom {room_id}"),
        });
    }
    let elsewhere: Vec<String> = state
        .scan::<String>(&keys::user_rooms(app_key, user_id))?
        .into_iter()
        .filter(|room| room != room_id)
        .collect();
    for other in elsewhere {
        leave(
            ctx,
            state,
            app_key,
            &other,
            &[user_id.to_string()],
            RoomCause::Requested,
        )?;
    }
    state.delete(keys::offline(app_key, room_id, user_id));
    let member = keys::member(app_key, room_id, user_id);
    if state.get_raw(&member)?.is_none() {
        state.put(member, &(user_id.to_string(), ctx.now_ms))?;
        state.put(
            keys::user_room(app_key, user_id, room_id),
            &room_id.to_string(),
        )?;
        announce(
            state,
            app_key,
            room_id,
            vec![user_id.to_string()],
            Vec::new(),
            false,
        )?;
        let joined = vec![user_id.to_string()];
        report(
            ctx,
            state,
            app_key,
            room_id,
            joined,
            RoomEvent::Joined,
            RoomCause::Requested,
        )?;
    }
    touch(ctx, state, app_key, room_id)
}

/// A member may send from a client unless gagged in the room, muted app-wide, or the room
/// is muted and the member is not on its mute whitelist (CHR-05).
pub(super) fn may_speak(
    ctx: ApplyContext,
    state: &impl StateRead,
    app_key: &str,
    room_id: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    let room = get(state, app_key, room_id)?;
    let member = keys::member(app_key, room_id, user_id);
    if state.get_raw(&member)?.is_none() {
        return Err(CommandError::NotMember {
            what: format!("chatroom {room_id}"),
        });
    }
    let in_set = |room: Option<&str>, set: RoomSet| -> Result<bool, CommandError> {
        Ok(set_members(state, app_key, room, set, ctx.now_ms)?
            .iter()
            .any(|entry| entry.member == user_id))
    };
    let muted = in_set(Some(room_id), RoomSet::Gagged)?
        || in_set(None, RoomSet::AppMuted)?
        || (room.muted && !in_set(Some(room_id), RoomSet::MuteWhitelist)?);
    if muted {
        return Err(CommandError::Muted {
            what: format!("chatroom {room_id}"),
        });
    }
    Ok(())
}

/// CHR-06: a room accepts at most this many messages per window, …
pub const SHED_BUDGET: u32 = 40;
/// … of which low-priority messages may take only the part not reserved for the rest.
pub const SHED_RESERVED_HIGH: u32 = 20;
pub const SHED_WINDOW_MS: u64 = 200;

/// How a chatroom message fares under load (CHR-06): every message is high priority
/// unless its type is on the app's low-priority list; whitelisted senders and types are
/// never dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Priority {
    Protected,
    High,
    Low,
}

impl Priority {
    pub fn label(self) -> &'static str {
        match self {
            Priority::Protected => "protected",
            Priority::High => "high",
            Priority::Low => "low",
        }
    }
}

/// Messages a room has accepted in the current window.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Window {
    index: u64,
    total: u32,
}

/// Admits a message into a room's budget, or answers the priority it was dropped at.
/// The window is the entry's time, so every replica decides the same.
pub(super) fn admit(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    room_id: &str,
    sender: &str,
    object_name: &str,
) -> Result<Result<Priority, Priority>, CommandError> {
    let listed = |state: &Overlay<'_>, room: Option<&str>, set: RoomSet, member: &str| {
        set_members(state, app_key, room, set, ctx.now_ms)
            .map(|entries| entries.iter().any(|entry| entry.member == member))
    };
    let priority = if listed(state, Some(room_id), RoomSet::UserWhitelist, sender)?
        || listed(state, None, RoomSet::MessageWhitelist, object_name)?
    {
        Priority::Protected
    } else if listed(state, None, RoomSet::LowPriority, object_name)? {
        Priority::Low
    } else {
        Priority::High
    };
    let key = keys::window(app_key, room_id);
    let index = ctx.now_ms / SHED_WINDOW_MS;
    let mut window: Window = state
        .get(&key)?
        .filter(|w: &Window| w.index == index)
        .unwrap_or(Window { index, total: 0 });
    let limit = match priority {
        Priority::Protected => u32::MAX,
        Priority::High => SHED_BUDGET,
        Priority::Low => SHED_BUDGET - SHED_RESERVED_HIGH,
    };
    if window.total >= limit {
        return Ok(Err(priority));
    }
    window.total += 1;
    state.put(key, &window)?;
    Ok(Ok(priority))
}

/// Members leave a room (a client quit, a kick, a ban, auto-exit); non-members are skipped.
pub(super) fn leave(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    room_id: &str,
    user_ids: &[String],
    cause: RoomCause,
) -> Result<(), CommandError> {
    get(state, app_key, room_id)?;
    let mut left = Vec::new();
    for user_id in user_ids {
        validate_user_id(user_id)?;
        let member = keys::member(app_key, room_id, user_id);
        if state.get_raw(&member)?.is_some() {
            state.delete(member);
            state.delete(keys::user_room(app_key, user_id, room_id));
            state.delete(keys::offline(app_key, room_id, user_id));
            left.push(user_id.clone());
        }
    }
    report(
        ctx,
        state,
        app_key,
        room_id,
        left.clone(),
        RoomEvent::Quit,
        cause,
    )?;
    announce(state, app_key, room_id, Vec::new(), left, false)
}

/// Removes every chatroom of an app environment.
pub(super) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<(), CommandError> {
    for family in keys::PER_APP {
        state.delete_prefix(&of_app(family, app_key))?;
    }
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

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            room_id,
            idle_ms,
        } = self;
        set_idle_destroy(state, app_key, room_id, *idle_ms)
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

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self { app_key, rooms } = self;
        create(ctx, state, app_key, rooms)
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
        let Self {
            app_key,
            room_ids,
            flag,
            on,
        } = self;
        set_flag(state, app_key, room_ids, *flag, *on)
    }
}

/// Adds or removes members of a room's (or the app's) set; `until_ms` 0: no end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRoomSet {
    pub app_key: String,
    pub room_id: Option<String>,
    pub set: RoomSet,
    pub members: Vec<String>,
    pub until_ms: u64,
    pub present: bool,
}

impl Apply for ChangeRoomSet {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            room_id,
            set,
            members,
            until_ms,
            present,
        } = self;
        change_set(
            ctx,
            state,
            app_key,
            room_id.as_deref(),
            *set,
            members,
            present.then_some(*until_ms),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetRoomEntries {
    pub app_key: String,
    pub room_id: String,
    pub owner: String,
    pub entries: Vec<(String, String)>,
    pub auto_delete: bool,
}

impl Apply for SetRoomEntries {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            room_id,
            owner,
            entries,
            auto_delete,
        } = self;
        set_entries(ctx, state, app_key, room_id, owner, entries, *auto_delete)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoveRoomEntry {
    pub app_key: String,
    pub room_id: String,
    pub key: String,
}

impl Apply for RemoveRoomEntry {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            room_id,
            key,
        } = self;
        remove_entry(state, app_key, room_id, key)
    }
}

/// A client session joins a room (leaving any other).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinChatroom {
    pub app_key: String,
    pub room_id: String,
    pub user_id: String,
}

impl Apply for JoinChatroom {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            room_id,
            user_id,
        } = self;
        join(ctx, state, app_key, room_id, user_id)
    }
}

/// A member's session ended: it is auto-exited once it misses too much (CHR-07).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatroomMemberOffline {
    pub app_key: String,
    pub room_id: String,
    pub user_id: String,
}

impl Apply for ChatroomMemberOffline {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            room_id,
            user_id,
        } = self;
        member_offline(ctx, state, app_key, room_id, user_id)
    }
}

/// Members leave a room; non-members are skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuitChatroom {
    pub app_key: String,
    pub room_id: String,
    pub user_ids: Vec<String>,
}

impl Apply for QuitChatroom {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            room_id,
            user_ids,
        } = self;
        leave(
            ctx,
            state,
            app_key,
            room_id,
            user_ids,
            outbox::RoomCause::Requested,
        )
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

    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<Vec<String>, CommandError> {
        let Self { app_key } = self;
        destroy_idle(ctx, state, app_key)
    }
}
