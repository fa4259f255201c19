//! Load shedding (CHR-06): a room accepts a budget of messages per window, dropping
//! low-priority ones first and whitelisted ones never.

use serde::{Deserialize, Serialize};

use crate::state::apply::{ApplyContext, CommandError};
use crate::state::keys::chatrooms as keys;
use crate::state::store::{Overlay, StateRead};

use super::sets::{set_members, RoomSet};

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
pub(in crate::state) fn admit(
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
