//! The sets rooms (or the whole app) keep: gagged and banned users, user and mute
//! whitelists, and the app-wide mutes and message-type lists (CHR-05, CHR-06, CHR-07).

use serde::{Deserialize, Serialize};

use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::apps;
use crate::state::keys::chatrooms as keys;
use crate::state::outbox::RoomCause;
use crate::state::store::{Overlay, StateRead};
use crate::state::users::validate_user_id;

use super::membership::leave;
use super::validate_room_id;

/// The sets of users or message types that rooms (or the whole app) keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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

fn set_scope(set: RoomSet, room_id: Option<&str>) -> Result<&str, CommandError> {
    match (set.app_wide(), room_id) {
        (true, _) => Ok(keys::APP_SCOPE),
        (false, Some(room)) => Ok(room),
        (false, None) => Err(CommandError::invalid("chatroomId", "is required")),
    }
}

/// Members of a set still in force at `now_ms`.
pub(in crate::state) fn set_members(
    state: &impl StateRead,
    app_key: &str,
    room_id: Option<&str>,
    set: RoomSet,
    now_ms: u64,
) -> Result<Vec<SetEntry>, CommandError> {
    apps::by_key(state, app_key)?;
    // A room that does not exist (yet) may have sets: see `ChangeRoomSet`.
    let scope = set_scope(set, room_id)?;
    let entries: Vec<SetEntry> = state.scan(&keys::set(app_key, scope, set.tag()))?;
    Ok(entries
        .into_iter()
        .filter(|e| e.until_ms == 0 || e.until_ms > now_ms)
        .collect())
}

/// The sets one room keeps, every entry as stored (an ended one stays ended), for the
/// app's export (LIFE-03).
pub(in crate::state) fn room_sets(
    state: &impl StateRead,
    app_key: &str,
    room_id: &str,
) -> Result<Vec<(RoomSet, SetEntry)>, CommandError> {
    let room_wide = [
        RoomSet::Gagged,
        RoomSet::Blocked,
        RoomSet::UserWhitelist,
        RoomSet::MuteWhitelist,
    ];
    let mut sets = Vec::new();
    for set in room_wide {
        let entries: Vec<SetEntry> = state.scan(&keys::set(app_key, room_id, set.tag()))?;
        sets.extend(entries.into_iter().map(|entry| (set, entry)));
    }
    Ok(sets)
}

/// Where the app-wide sets' entries are: `rset/{appKey}/*/`, then the set's tag and the
/// member, for the app's export (LIFE-03).
pub(in crate::state) fn app_sets_prefix(app_key: &str) -> Vec<u8> {
    crate::state::keys::scoped(keys::SET, app_key, &[keys::APP_SCOPE])
}

/// The app-wide set a tag under [`app_sets_prefix`] names.
pub(in crate::state) fn app_set_of_tag(tag: &str) -> Option<RoomSet> {
    [
        RoomSet::AppMuted,
        RoomSet::MessageWhitelist,
        RoomSet::LowPriority,
    ]
    .into_iter()
    .find(|set| set.tag() == tag)
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

    /// Adds members to a set until `Some(until_ms)` (0: no end), or removes them (`None`).
    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let room_id: Option<&str> = self.room_id.as_deref();
        let set = self.set;
        let members: &[String] = &self.members;
        let until_ms = self.present.then_some(self.until_ms);
        apps::by_key(state, app_key)?;
        // Sets are kept by room id whether or not the room exists yet, as the commercial
        // service does: a user gagged or banned before the room is created stays so in
        // it. Destroying a room clears its sets.
        let scope = set_scope(set, room_id)?;
        let room_exists =
            scope != keys::APP_SCOPE && state.get_raw(&keys::room(app_key, scope))?.is_some();
        if scope != keys::APP_SCOPE {
            validate_room_id(scope)?;
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
            if until_ms.is_some() && set == RoomSet::Blocked && room_exists {
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
}
