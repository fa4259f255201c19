//! Records kept for a while after they are written (a [`Kept`] family): each write
//! prunes a few that have outlived their time, oldest first, so every replica prunes the
//! same ones and the family stays as large as the writes of its last period.

use serde::Serialize;

use super::apply::{ApplyContext, CommandError};
use super::keys::Kept;
use super::store::{Overlay, StateRead};

/// Expired records one write prunes: more than it adds, so a backlog drains.
const PRUNED_PER_WRITE: usize = 2;

/// Stores `value` under `key` of `kept`, indexed by now, after pruning records older
/// than `kept_ms`. A key written again must first lose its old index entry
/// ([`forget_index`]), or pruning that entry would take the new record.
pub(super) fn put<T: Serialize>(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    kept: &Kept,
    kept_ms: u64,
    key: Vec<u8>,
    value: &T,
) -> Result<(), CommandError> {
    let mut stale = Vec::new();
    state.visit_from(
        kept.by_time,
        kept.by_time,
        &mut |time_key, _| match kept.indexed(time_key) {
            Some((at, indexed)) if at + kept_ms < ctx.now_ms => {
                stale.push((time_key.to_vec(), indexed));
                stale.len() < PRUNED_PER_WRITE
            }
            _ => false,
        },
    )?;
    for (time_key, indexed) in stale {
        state.delete(time_key);
        state.delete(indexed);
    }
    state.put(kept.by_time(ctx.now_ms, &key), &())?;
    state.put(key, value)?;
    Ok(())
}

/// Drops the index entry of `key` written at `at_ms`, before the key is written again.
pub(super) fn forget_index(state: &mut Overlay<'_>, kept: &Kept, at_ms: u64, key: &[u8]) {
    state.delete(kept.by_time(at_ms, key));
}
