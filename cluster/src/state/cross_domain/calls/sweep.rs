//! No answer (RTC-03): a callee that has not accepted (or hung up) within the timeout is
//! hung up for by the server with reason "no response", which both sides receive. The
//! leader looks every second and proposes only when a callee is due; the timeout is its
//! node's setting, carried in the command, and each replica judges by the entry's time.

use serde::{Deserialize, Serialize};

use super::{hang_up_or_leave, CallRecord, EndReason, PartyState};
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::keys::calls as keys;
use crate::state::store::{Overlay, StateRead};

/// How long a callee has to answer unless the node says otherwise (the CallLib's 60 s).
pub const ANSWER_TIMEOUT_MS: u64 = 60_000;

/// Ends the part of every callee invited at least `timeout_ms` ago and still not
/// answering, area-wide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndUnansweredCalls {
    pub timeout_ms: u64,
}

impl Apply for EndUnansweredCalls {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        for (app_key, call_id, user_id) in due(state, ctx.now_ms, self.timeout_ms)? {
            state.delete(keys::ringing(&app_key, &call_id, &user_id));
            let Some(call) = state.get::<CallRecord>(&keys::call(&app_key, &call_id))? else {
                continue;
            };
            let waiting = call.parties.iter().any(|p| {
                p.user_id == user_id && matches!(p.state, PartyState::Invited | PartyState::Ringing)
            });
            if call.ended_ms.is_some() || !waiting {
                continue;
            }
            hang_up_or_leave(ctx, state, &app_key, call, &user_id, EndReason::NoAnswer)?;
        }
        Ok(())
    }
}

/// Callees due at `now_ms`: (app, call, user).
fn due(
    state: &impl StateRead,
    now_ms: u64,
    timeout_ms: u64,
) -> Result<Vec<(String, String, String)>, CommandError> {
    let ringing: Vec<(String, String, String, u64)> = state.scan(keys::RINGING)?;
    Ok(ringing
        .into_iter()
        .filter(|(.., invited_ms)| invited_ms.saturating_add(timeout_ms) <= now_ms)
        .map(|(app, call, user, _)| (app, call, user))
        .collect())
}

/// Whether the leader has unanswered callees to end at `now_ms` (it proposes
/// [`EndUnansweredCalls`] only then).
pub fn unanswered_calls_due(
    state: &impl StateRead,
    now_ms: u64,
    timeout_ms: u64,
) -> Result<bool, CommandError> {
    Ok(!due(state, now_ms, timeout_ms)?.is_empty())
}
