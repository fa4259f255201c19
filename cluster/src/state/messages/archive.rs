//! The hourly archive (`/message/history.json`): every stored message is also indexed by
//! the UTC hour it was sent in, so an hour's archive reads only that hour.

use meridian_proto::Conversation;
use serde::{Deserialize, Serialize};

use super::{get, Message};
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::apps;
use crate::state::keys::messages as keys;
use crate::state::store::{Overlay, StateRead};
const HOUR_MS: u64 = 3_600_000;

pub(in crate::state) fn index(
    state: &mut Overlay<'_>,
    app_key: &str,
    message: &Message,
) -> Result<(), CommandError> {
    let key = keys::archived(app_key, message.sent_time_ms / HOUR_MS, message.pos);
    Ok(state.put(key, &(message.conversation.clone(), message.seq))?)
}

/// Removes a message from the archive (it is going, LIFE-01).
pub(in crate::state) fn unindex(state: &mut Overlay<'_>, app_key: &str, message: &Message) {
    state.delete(keys::archived(
        app_key,
        message.sent_time_ms / HOUR_MS,
        message.pos,
    ));
}

/// The messages sent in the hour starting at `hour_start_ms` (UTC), oldest first.
pub(in crate::state) fn hour(
    state: &impl StateRead,
    app_key: &str,
    hour_start_ms: u64,
) -> Result<Vec<Message>, CommandError> {
    apps::by_key(state, app_key)?;
    let pointers: Vec<(Conversation, u64)> =
        state.scan(&keys::archive_hour(app_key, hour_start_ms / HOUR_MS))?;
    let mut messages = Vec::with_capacity(pointers.len());
    for (conversation, seq) in pointers {
        if let Some(message) = get(state, app_key, &conversation, seq)? {
            messages.push(message);
        }
    }
    Ok(messages)
}

/// Deletes the hourly archive of the hour starting at `hour_start_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteArchiveHour {
    pub app_key: String,
    pub hour_start_ms: u64,
}

impl Apply for DeleteArchiveHour {
    type Answer = ();

    /// `/message/history/delete.json`: the hour's archive is gone (the conversations keep
    /// their history).
    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let hour_start_ms = self.hour_start_ms;
        apps::by_key(state, app_key)?;
        Ok(state.delete_prefix(&keys::archive_hour(app_key, hour_start_ms / HOUR_MS))?)
    }
}
