//! Answers to client sends by client id, so a retried send is stored once. Kept a day,
//! pruned a few at a time by later client sends (deterministic on every replica).

use super::publish::Publication;
use crate::state::apply::{ApplyContext, CommandError};
use crate::state::kept;
use crate::state::keys::messages as keys;
use crate::state::messages::{ClientOrigin, NewMessage};
use crate::state::store::{Overlay, StateRead};

const KEPT_MS: u64 = 24 * 60 * 60 * 1000;

pub(super) fn earlier(
    state: &impl StateRead,
    app_key: &str,
    sender: &str,
    origin: &ClientOrigin,
) -> Result<Option<Publication>, CommandError> {
    Ok(state.get(&keys::client_send(app_key, sender, &origin.client_id))?)
}

pub(super) fn remember(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    message: &NewMessage,
    publication: &Publication,
) -> Result<(), CommandError> {
    let Some(origin) = &message.sender_device else {
        return Ok(());
    };
    let key = keys::client_send(app_key, &message.sender, &origin.client_id);
    kept::put(ctx, state, &keys::CLIENT_SENDS, KEPT_MS, key, publication)
}
