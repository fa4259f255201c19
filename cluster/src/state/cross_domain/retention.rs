//! History retention (LIFE-01, PRV-04, ULG-04, CHR-11): messages older than their app's
//! `retentionDays` for the conversation type are removed, with everything that points
//! at them (the `msgUID` index, expansions, the hourly archive, sync inboxes); and sync
//! inbox entries older than the app's offline window (PRV-02), which no sync hands out
//! any more, go long before their messages.
//!
//! The leader looks for them in its committed state ([`expired_history`],
//! [`stale_inbox_entries`]: a bounded search per call, from a cursor) and proposes what
//! it found as [`ExpireHistory`] / [`TrimInboxes`]: explicit `seq` ranges or entries, at
//! most [`EXPIRE_BATCH`], so every replica removes exactly the same records and no apply
//! round grows large.

use meridian_proto::Conversation;
use serde::{Deserialize, Serialize};

use crate::raft::wire::from_bytes;
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::keys::{feed as feed_keys, messages as keys, of_app};
use crate::state::messages::{self, Message};
use crate::state::store::{Overlay, StateRead};
use crate::state::{apps, feed};

/// Messages one [`ExpireHistory`] removes at most.
pub const EXPIRE_BATCH: u64 = 1_000;
/// A day, as retention counts it ([`expired_history`] and [`stale_inbox_entries`] take
/// it, so a soak test can watch retention work in minutes).
pub const DAY_MS: u64 = 24 * 3600 * 1000;

/// Messages `first_seq..=last_seq` of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiredRange {
    pub conversation: Conversation,
    pub first_seq: u64,
    pub last_seq: u64,
}

impl ExpiredRange {
    fn len(&self) -> u64 {
        (self.last_seq + 1).saturating_sub(self.first_seq)
    }
}

/// Removes expired messages, as the leader found them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpireHistory {
    pub app_key: String,
    pub ranges: Vec<ExpiredRange>,
}

impl Apply for ExpireHistory {
    /// How many messages were removed.
    type Answer = u64;

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<u64, CommandError> {
        let app_key = self.app_key.as_str();
        apps::by_key(state, app_key)?;
        if self.ranges.iter().map(ExpiredRange::len).sum::<u64>() > EXPIRE_BATCH {
            return Err(CommandError::Limit {
                what: "expired messages per command".into(),
                limit: EXPIRE_BATCH,
            });
        }
        let mut removed = 0;
        for range in &self.ranges {
            for seq in range.first_seq..=range.last_seq {
                // Already gone (recalled and deleted, or a repeated proposal): skipped.
                let Some(message) = messages::get(state, app_key, &range.conversation, seq)? else {
                    continue;
                };
                messages::forget(state, app_key, &message)?;
                feed::forget_stored(state, app_key, &message);
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Where a search for expired messages stopped: the next call starts there.
pub type RetentionCursor = Vec<u8>;

/// What one search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredFound {
    pub ranges: Vec<ExpiredRange>,
    /// Where to look next (empty: from the start again).
    pub next: RetentionCursor,
    /// Conversations looked at.
    pub conversations: usize,
}

/// Up to [`EXPIRE_BATCH`] messages of `app_key` past its retention at `now_ms` (in days
/// of `day_ms`), looking at no more than `max_conversations` conversations from `cursor`
/// on.
pub fn expired_history(
    state: &impl StateRead,
    app_key: &str,
    now_ms: u64,
    day_ms: u64,
    cursor: &[u8],
    max_conversations: usize,
) -> Result<ExpiredFound, CommandError> {
    let retention = apps::limits(state, app_key)?.retention_days;
    let mut conversations = Vec::new();
    state.visit_from(&of_app(keys::LAST_SEQ, app_key), cursor, &mut |key, _| {
        conversations.push(key.to_vec());
        conversations.len() < max_conversations
    })?;
    let mut next = match conversations.last() {
        Some(last) if conversations.len() == max_conversations => [last.as_slice(), b"\0"].concat(),
        _ => RetentionCursor::new(),
    };
    let mut ranges = Vec::new();
    let mut budget = EXPIRE_BATCH;
    for conversation_key in &conversations {
        let Some(log) = keys::log_of_last_seq(conversation_key) else {
            continue;
        };
        let mut found: Option<ExpiredRange> = None;
        let mut failure = None;
        state.visit_from(&log, &log, &mut |_, value| {
            let message = match from_bytes::<Message>(value) {
                Ok(message) => message,
                Err(e) => {
                    failure = Some(CommandError::from(e));
                    return false;
                }
            };
            let days = u64::from(retention.days_for(message.conversation.kind));
            if message.sent_time_ms.saturating_add(days * day_ms) > now_ms {
                return false;
            }
            // A range costs its length, gaps included (that is what the apply checks).
            let cost = found
                .as_ref()
                .map_or(1, |range| message.seq - range.last_seq);
            if cost > budget {
                return false;
            }
            budget -= cost;
            match &mut found {
                Some(range) => range.last_seq = message.seq,
                None => {
                    found = Some(ExpiredRange {
                        conversation: message.conversation,
                        first_seq: message.seq,
                        last_seq: message.seq,
                    })
                }
            }
            true
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        ranges.extend(found);
        if budget < EXPIRE_BATCH / 10 {
            // Nearly full, and this conversation may hold more: the next call starts
            // with it.
            next = conversation_key.clone();
            break;
        }
    }
    Ok(ExpiredFound {
        ranges,
        next,
        conversations: conversations.len(),
    })
}

/// Removes sync inbox entries past the offline window, as the leader found them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrimInboxes {
    pub app_key: String,
    /// (user, feed position)
    pub entries: Vec<(String, u64)>,
}

impl Apply for TrimInboxes {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        if self.entries.len() as u64 > EXPIRE_BATCH {
            return Err(CommandError::Limit {
                what: "inbox entries per command".into(),
                limit: EXPIRE_BATCH,
            });
        }
        for (user, pos) in &self.entries {
            let inbox = feed_keys::inbox(&self.app_key, user);
            state.delete(feed_keys::positioned(&inbox, *pos));
        }
        Ok(())
    }
}

/// What one search of the inboxes found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleFound {
    /// (user, feed position), at most [`EXPIRE_BATCH`].
    pub entries: Vec<(String, u64)>,
    /// Where to look next (empty: from the start again).
    pub next: RetentionCursor,
    /// Entries looked at.
    pub looked_at: usize,
}

/// Inbox entries of `app_key` whose message was sent before the app's offline window at
/// `now_ms` (or is gone), looking at no more than `max_entries` entries from `cursor`
/// on. Each inbox is in position order, so the search moves to the next user at the
/// first entry still in the window.
pub fn stale_inbox_entries(
    state: &impl StateRead,
    app_key: &str,
    now_ms: u64,
    day_ms: u64,
    cursor: &[u8],
    max_entries: usize,
) -> Result<StaleFound, CommandError> {
    let window_ms = u64::from(apps::settings(state, app_key)?.offline_window_days) * day_ms;
    let cutoff = now_ms.saturating_sub(window_ms);
    let prefix = of_app(feed_keys::INBOX, app_key);
    let mut found = StaleFound {
        entries: Vec::new(),
        next: RetentionCursor::new(),
        looked_at: 0,
    };
    let mut start = cursor.to_vec();
    let mut failure = None;
    loop {
        let mut resume = None;
        state.visit_from(&prefix, &start, &mut |key, value| {
            let Some((user, pos)) = feed_keys::inbox_entry(app_key, key) else {
                return true;
            };
            if found.looked_at == max_entries || found.entries.len() as u64 == EXPIRE_BATCH {
                found.next = key.to_vec();
                return false;
            }
            found.looked_at += 1;
            let sent = from_bytes::<(Conversation, u64)>(value)
                .map_err(CommandError::from)
                .and_then(|(conversation, seq)| messages::get(state, app_key, &conversation, seq));
            match sent {
                Ok(Some(message)) if message.sent_time_ms >= cutoff => {
                    // The rest of this inbox is newer still: on to the next user.
                    resume = Some([feed_keys::inbox(app_key, &user).as_slice(), b"\xff"].concat());
                    false
                }
                Ok(_) => {
                    found.entries.push((user, pos));
                    true
                }
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        match resume {
            Some(next_user) => start = next_user,
            None => return Ok(found),
        }
    }
}
