//! Who is in a room: joins (one room at a time per user), quits, kicks and bans, and the
//! auto-exit of members whose session ended (CHR-02, CHR-05, CHR-07).

use meridian_proto::ConversationType;
use serde::{Deserialize, Serialize};

use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::keys::chatrooms as keys;
use crate::state::outbox::{RoomCause, RoomEvent};
use crate::state::store::{Overlay, StateRead};
use crate::state::users::validate_user_id;
use crate::state::{apps, feed};

use super::sets::{set_members, RoomSet};
use super::{get, report, touch};

/// Members currently in a room (joins come from client sessions), oldest first. A room
/// that does not exist has none (the commercial service answers so too).
pub(in crate::state) fn members(
    state: &impl StateRead,
    app_key: &str,
    room_id: &str,
) -> Result<Vec<(String, u64)>, CommandError> {
    let mut members: Vec<(String, u64)> =
        state.scan(&keys::of_room(keys::MEMBER, app_key, room_id))?;
    members.sort_by_key(|(_, joined)| *joined);
    Ok(members)
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

/// Counts a new message against the room's offline members (`counted`) and removes those
/// past either limit.
pub(super) fn expire_offline(
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
pub(in crate::state) fn message_accepted(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    room_id: &str,
) -> Result<(), CommandError> {
    expire_offline(ctx, state, app_key, room_id, true)
}

/// Tells the edges' sessions who joined or left (see `feed`).
pub(super) fn announce(
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

/// A member may send from a client unless gagged in the room, muted app-wide, or the room
/// is muted and the member is not on its mute whitelist (CHR-05).
pub(in crate::state) fn may_speak(
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

/// Members leave a room (a client quit, a kick, a ban, auto-exit); non-members are skipped.
pub(in crate::state) fn leave(
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
            super::entries::forget_auto_deleted(state, app_key, room_id, user_id)?;
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

/// Takes an erased user out of every room it is in (LIFE-02).
pub(in crate::state) fn leave_all(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    let room_ids: Vec<String> = state.scan(&keys::user_rooms(app_key, user_id))?;
    let user = [user_id.to_string()];
    for room_id in room_ids {
        leave(ctx, state, app_key, &room_id, &user, RoomCause::Requested)?;
    }
    Ok(())
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

    /// A client joins a room (CHR-02): refused while banned from it; a user is in one room
    /// at a time, so joining leaves the others, unless the app allows several. Counts as
    /// activity (CHR-08).
    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let room_id: &str = &self.room_id;
        let user_id: &str = &self.user_id;
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
        // CHR-02: one room at a time unless the app allows several (API-08).
        let elsewhere: Vec<String> = if apps::limits(state, app_key)?.multi_room_chatrooms {
            Vec::new()
        } else {
            state
                .scan::<String>(&keys::user_rooms(app_key, user_id))?
                .into_iter()
                .filter(|room| room != room_id)
                .collect()
        };
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

    /// A member's session ended: it stays a member until it misses too much (CHR-07), unless
    /// it is on the room's user whitelist (never auto-exited).
    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let room_id: &str = &self.room_id;
        let user_id: &str = &self.user_id;
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
        leave(ctx, state, app_key, room_id, user_ids, RoomCause::Requested)
    }
}
