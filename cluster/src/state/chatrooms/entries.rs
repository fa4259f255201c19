//! A room's attributes (CHR-09): key/values with their owner, removed with it if asked.

use serde::{Deserialize, Serialize};

use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::areas;
use crate::state::keys::chatrooms as keys;
use crate::state::store::{Overlay, StateRead};
use crate::state::users::validate_user_id;

use super::get;

/// SPEC CHR-09: at most 100 attributes per room; COMPAT: key ≤ 128 B, value ≤ 4096 B.
pub const MAX_ENTRIES: u64 = 100;
pub const MAX_ENTRY_KEY_BYTES: usize = 128;
pub const MAX_ENTRY_VALUE_BYTES: usize = 4096;

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

/// Attributes of a room: the asked keys, or all when none is asked.
pub(in crate::state) fn entries(
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

/// The area level from which a member's auto-delete attributes go when the member leaves:
/// replicas of older builds kept them, so the change waits until every voter has it.
const AUTO_DELETE_LEVEL: u32 = 7;

/// `user_id` left `room_id`: the attributes it set with `autoDelete` go (once the whole
/// area applies leaves so, see [`AUTO_DELETE_LEVEL`]).
pub(super) fn forget_auto_deleted(
    state: &mut Overlay<'_>,
    app_key: &str,
    room_id: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    if areas::level(state)? < AUTO_DELETE_LEVEL {
        return Ok(());
    }
    let all: Vec<RoomEntry> = state.scan(&keys::of_room(keys::ENTRY, app_key, room_id))?;
    for entry in all {
        if entry.auto_delete && entry.owner == user_id {
            state.delete(keys::entry(app_key, room_id, &entry.key));
        }
    }
    Ok(())
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

    /// Sets attributes (CHR-09), at most 100 per room.
    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let room_id: &str = &self.room_id;
        let owner: &str = &self.owner;
        let entries: &[(String, String)] = &self.entries;
        let auto_delete = self.auto_delete;
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
        let app_key: &str = &self.app_key;
        let room_id: &str = &self.room_id;
        let key: &str = &self.key;
        get(state, app_key, room_id)?;
        let full = keys::entry(app_key, room_id, key);
        if state.get_raw(&full)?.is_none() {
            return Err(CommandError::not_found(format!("attribute {key}")));
        }
        state.delete(full);
        Ok(())
    }
}
