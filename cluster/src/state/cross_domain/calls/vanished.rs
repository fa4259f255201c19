//! Network hang-up (RTC-03): a party of an answered call whose every session has ended
//! and not come back within the grace (a reconnect keeps the call) is hung up for by the
//! server with reason "network", which the others receive; without it, the call would
//! last, and its parties be busy, until someone hung up. The leader looks every second
//! and proposes only when something is due; each replica judges by the entry's time.

use serde::{Deserialize, Serialize};

use super::{hang_up_or_leave, CallRecord, EndReason, PartyState};
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::keys::calls as keys;
use crate::state::presence;
use crate::state::store::{Overlay, StateRead};

/// Ends the part of every answered party whose sessions have been gone at least
/// `grace_ms`, area-wide; marks those just gone, forgets those back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndVanishedParties {
    pub grace_ms: u64,
}

/// A party found gone: (app, call, user, since ms).
type Gone = (String, String, String, u64);

/// What the sweep does to one party.
#[derive(Debug, PartialEq)]
enum Step {
    /// Its sessions just ended: remember since when.
    Mark(Gone),
    /// It came back, or its part ended otherwise.
    Forget(Gone),
    /// Gone for the grace: hang up for it.
    HangUp(Gone),
}

impl Apply for EndVanishedParties {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        for step in steps(state, ctx.now_ms, self.grace_ms)? {
            match step {
                Step::Mark(gone) => {
                    let (app, call, user, _) = &gone;
                    state.put(keys::gone(app, call, user), &gone)?;
                }
                Step::Forget((app, call, user, _)) => state.delete(keys::gone(&app, &call, &user)),
                Step::HangUp((app, call_id, user, _)) => {
                    state.delete(keys::gone(&app, &call_id, &user));
                    let Some(call) = state.get::<CallRecord>(&keys::call(&app, &call_id))? else {
                        continue;
                    };
                    hang_up_or_leave(ctx, state, &app, call, &user, EndReason::Network)?;
                }
            }
        }
        Ok(())
    }
}

/// Whether the leader has parties to mark, forget or hang up for at `now_ms`.
pub fn vanished_parties_due(
    state: &impl StateRead,
    now_ms: u64,
    grace_ms: u64,
) -> Result<bool, CommandError> {
    Ok(!steps(state, now_ms, grace_ms)?.is_empty())
}

fn steps(state: &impl StateRead, now_ms: u64, grace_ms: u64) -> Result<Vec<Step>, CommandError> {
    let mut steps = Vec::new();
    // Marked parties: due, back, or no longer in that call.
    let marked: Vec<Gone> = state.scan(keys::GONE)?;
    for gone in &marked {
        let (app, call, user, since_ms) = gone;
        let still = joined(state, app, call, user)? && !online(state, app, user, now_ms)?;
        if !still {
            steps.push(Step::Forget(gone.clone()));
        } else if since_ms.saturating_add(grace_ms) <= now_ms {
            steps.push(Step::HangUp(gone.clone()));
        }
    }
    // Parties in a call (the mark each user has while its call lasts) just gone.
    let mut in_calls = Vec::new();
    state.visit_from(keys::USER_CALL, keys::USER_CALL, &mut |key, value| {
        in_calls.push((key.to_vec(), value.to_vec()));
        true
    })?;
    for (key, value) in in_calls {
        let Some((app, user)) = app_and_user(&key) else {
            continue;
        };
        let call: String = crate::raft::wire::from_bytes(&value)
            .map_err(|e| CommandError::Storage(e.to_string()))?;
        let already = marked
            .iter()
            .any(|(a, c, u, _)| (a, c, u) == (&app, &call, &user));
        if !already && joined(state, &app, &call, &user)? && !online(state, &app, &user, now_ms)? {
            steps.push(Step::Mark((app, call, user, now_ms)));
        }
    }
    Ok(steps)
}

/// `calluser/{app}/{user}` taken apart (app keys and user ids hold no `/`).
fn app_and_user(key: &[u8]) -> Option<(String, String)> {
    let rest = std::str::from_utf8(key.strip_prefix(keys::USER_CALL)?).ok()?;
    let (app, user) = rest.split_once('/')?;
    Some((app.to_string(), user.to_string()))
}

/// Whether `user` is an answered party of the call, which is still on.
fn joined(
    state: &impl StateRead,
    app: &str,
    call_id: &str,
    user: &str,
) -> Result<bool, CommandError> {
    let Some(call) = state.get::<CallRecord>(&keys::call(app, call_id))? else {
        return Ok(false);
    };
    Ok(call.ended_ms.is_none()
        && call
            .parties
            .iter()
            .any(|p| p.user_id == user && p.state == PartyState::Joined))
}

fn online(
    state: &impl StateRead,
    app: &str,
    user: &str,
    now_ms: u64,
) -> Result<bool, CommandError> {
    match presence::sessions(state, app, user, now_ms) {
        Ok(sessions) => Ok(!sessions.is_empty()),
        // The app was deleted: its calls went with it.
        Err(CommandError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}
