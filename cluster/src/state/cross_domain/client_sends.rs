//! Answers to client sends by client id, so a retried send is stored once. Kept a day,
//! pruned a few at a time by later client sends (deterministic on every replica).

use super::publish::Publication;
use crate::state::apply::{ApplyContext, CommandError};
use crate::state::keys::messages as keys;
use crate::state::messages::{ClientOrigin, NewMessage};
use crate::state::store::{Overlay, StateRead};

const KEPT_MS: u64 = 24 * 60 * 60 * 1000;
const PRUNED_PER_SEND: usize = 2;

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
    let mut stale = Vec::new();
    let by_time = keys::CLIENT_SEND_BY_TIME;
    state.visit_from(
        by_time,
        by_time,
        &mut |time_key, _| match keys::client_send_of(time_key) {
            Some((at, indexed)) if at + KEPT_MS < ctx.now_ms => {
                stale.push((time_key.to_vec(), indexed));
                stale.len() < PRUNED_PER_SEND
            }
            _ => false,
        },
    )?;
    for (time_key, indexed) in stale {
        state.delete(time_key);
        state.delete(indexed);
    }
    state.put(keys::client_send_by_time(ctx.now_ms, &key), &())?;
    state.put(key, publication)?;
    Ok(())
}
