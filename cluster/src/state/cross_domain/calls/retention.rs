//! Call records past retention (RTC-10, LIFE-01): a call's signalling messages expire
//! with its conversation's history, and its record goes with them, once the call has
//! ended and as many days as the conversation type keeps messages have passed. As with
//! messages, the leader finds them ([`expired_calls`], a bounded search from a cursor) and
//! proposes [`ForgetCalls`] with their ids, so every replica removes the same records.

use serde::{Deserialize, Serialize};

use super::CallRecord;
use crate::raft::wire::from_bytes;
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::apps;
use crate::state::cross_domain::retention::RetentionCursor;
use crate::state::keys::{calls as keys, of_app};
use crate::state::store::{Overlay, StateRead};

/// Records one [`ForgetCalls`] removes at most.
pub const MAX_FORGOTTEN_CALLS: usize = 1_000;

/// What one search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredCalls {
    pub call_ids: Vec<String>,
    /// Where to look next (empty: from the start again).
    pub next: RetentionCursor,
    /// Records looked at.
    pub looked_at: usize,
}

/// Up to [`MAX_FORGOTTEN_CALLS`] ended calls of `app_key` past their conversation's
/// retention at `now_ms` (in days of `day_ms`), looking at no more than `max_records`
/// records from `cursor` on.
pub fn expired_calls(
    state: &impl StateRead,
    app_key: &str,
    now_ms: u64,
    day_ms: u64,
    cursor: &[u8],
    max_records: usize,
) -> Result<ExpiredCalls, CommandError> {
    let retention = apps::limits(state, app_key)?.retention_days;
    let mut found = ExpiredCalls {
        call_ids: Vec::new(),
        next: RetentionCursor::new(),
        looked_at: 0,
    };
    let mut failure = None;
    let mut last_key = Vec::new();
    state.visit_from(&of_app(keys::CALL, app_key), cursor, &mut |key, value| {
        found.looked_at += 1;
        last_key = key.to_vec();
        match from_bytes::<CallRecord>(value) {
            Ok(call) => {
                let days = u64::from(retention.days_for(call.conversation.kind));
                let expired = call
                    .ended_ms
                    .is_some_and(|ended| ended.saturating_add(days * day_ms) <= now_ms);
                if expired {
                    found.call_ids.push(call.call_id);
                }
            }
            Err(e) => failure = Some(CommandError::from(e)),
        }
        failure.is_none()
            && found.looked_at < max_records
            && found.call_ids.len() < MAX_FORGOTTEN_CALLS
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let stopped_early =
        found.looked_at == max_records || found.call_ids.len() == MAX_FORGOTTEN_CALLS;
    if stopped_early {
        found.next = [last_key.as_slice(), b"\0"].concat();
    }
    Ok(found)
}

/// Removes the records of calls the leader found past retention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForgetCalls {
    pub app_key: String,
    pub call_ids: Vec<String>,
}

impl Apply for ForgetCalls {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        if self.call_ids.len() > MAX_FORGOTTEN_CALLS {
            return Err(CommandError::Limit {
                what: "call records forgotten per command".into(),
                limit: MAX_FORGOTTEN_CALLS as u64,
            });
        }
        for call_id in &self.call_ids {
            let key = keys::call(&self.app_key, call_id);
            // A call still going on is never forgotten (nor one already gone).
            let ended = state
                .get::<CallRecord>(&key)?
                .is_some_and(|call| call.ended_ms.is_some());
            if ended {
                state.delete(key);
            }
        }
        Ok(())
    }
}
