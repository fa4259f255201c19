//! `/user/delusers.json`: users are erased (LIFE-02): the user record (name, portrait,
//! tags, token validity: every token stops working), its ban, its own blacklist and
//! whitelist, its hosted profile, the remarks it gave, its private-chat ban, its quiet
//! hours, its push devices, its friendships (for both sides), friend permission and the
//! friend requests waiting for it, its group, ultra group and chatroom memberships (the
//! other members are told), its conversation list, read marks and settings, and its sync
//! inbox; its live sessions end (its audio/video traces go in the same apply:
//! `rtc::EraseRtcUsers`). The messages it sent stay in their conversations, as
//! the other side's copy, unless the operator's erasure ([`EraseUsers`]) asks for them
//! too: then the user stays pending until the leader's sweep has gone through every
//! message of the app once ([`sent_by_erased`]), removing the ones it sent in bounded
//! batches, and then proposes [`SentMessagesErased`]. Once an erasure is complete, the
//! app server hears of it at its erasure callback URL, if it set one
//! ([`SetErasureCallback`]).

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::raft::wire::from_bytes;
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::cross_domain::retention::{ExpiredRange, RetentionCursor, EXPIRE_BATCH};
use crate::state::feed::{self, FeedEvent};
use crate::state::keys::{apps as app_keys, messages as message_keys, of_app, users as user_keys};
use crate::state::messages::Message;
use crate::state::outbox::{self, HookEvent};
use crate::state::store::{Overlay, StateRead};
use crate::state::{
    apps, chatrooms, conversations, friends, groups, push, ultragroups, user_extras, users,
};

/// Most users one call erases.
pub const MAX_USERS_PER_CALL: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteUsers {
    pub app_key: String,
    pub user_ids: Vec<String>,
}

impl Apply for DeleteUsers {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        erase(ctx, state, &self.app_key, &self.user_ids)?;
        tell_app(ctx, state, &self.app_key, &self.user_ids, false)
    }
}

fn erase(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    user_ids: &[String],
) -> Result<(), CommandError> {
    apps::by_key(state, app_key)?;
    if user_ids.len() > MAX_USERS_PER_CALL {
        return Err(CommandError::Limit {
            what: "users per call".into(),
            limit: MAX_USERS_PER_CALL as u64,
        });
    }
    state.mark_erasure();
    for user_id in user_ids {
        users::validate_user_id(user_id)?;
        users::erase(state, app_key, user_id)?;
        user_extras::erase_user(state, app_key, user_id)?;
        push::erase_user(state, app_key, user_id)?;
        friends::erase_user(state, app_key, user_id)?;
        groups::leave_all(ctx, state, app_key, user_id)?;
        ultragroups::leave_all(ctx, state, app_key, user_id)?;
        chatrooms::leave_all(ctx, state, app_key, user_id)?;
        conversations::erase_user(state, app_key, user_id)?;
        feed::erase_inbox(state, app_key, user_id)?;
    }
    // The edges end banned users' sessions; reconnecting fails, the user is gone.
    feed::append_event(
        state,
        FeedEvent::Banned {
            app_key: app_key.to_string(),
            user_ids: user_ids.to_vec(),
        },
    )?;
    Ok(())
}

/// The operator's erasure (`POST /admin/v1/apps/{appKey}/users/erase`): as
/// [`DeleteUsers`], and with `sent_messages` every message the users sent goes as well,
/// removed by the leader's sweep after this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EraseUsers {
    pub app_key: String,
    pub user_ids: Vec<String>,
    pub sent_messages: bool,
}

impl Apply for EraseUsers {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        erase(ctx, state, &self.app_key, &self.user_ids)?;
        if !self.sent_messages {
            return tell_app(ctx, state, &self.app_key, &self.user_ids, false);
        }
        for user_id in &self.user_ids {
            let pending = user_keys::erasing_sent(&self.app_key, user_id);
            state.put(pending, &ctx.now_ms)?;
        }
        Ok(())
    }
}

/// The sweep went through every message of the app after these users' erasure was asked
/// for: nothing they sent is left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentMessagesErased {
    pub app_key: String,
    pub user_ids: Vec<String>,
}

impl Apply for SentMessagesErased {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        state.mark_erasure();
        for user_id in &self.user_ids {
            state.delete(user_keys::erasing_sent(&self.app_key, user_id));
        }
        tell_app(ctx, state, &self.app_key, &self.user_ids, true)
    }
}

/// What the app server hears when an erasure is complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersErased {
    pub user_ids: Vec<String>,
    /// The messages they sent went too.
    pub sent_messages: bool,
    pub time_ms: u64,
}

/// Queues the callback of a complete erasure, if the app set a URL for it.
fn tell_app(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    user_ids: &[String],
    sent_messages: bool,
) -> Result<(), CommandError> {
    if user_ids.is_empty() || erasure_callback(state, app_key)?.is_none() {
        return Ok(());
    }
    let erased = UsersErased {
        user_ids: user_ids.to_vec(),
        sent_messages,
        time_ms: ctx.now_ms,
    };
    let lane = "erasure".to_string();
    outbox::enqueue(ctx, state, app_key, lane, HookEvent::UsersErased(erased))
}

/// Where the app hears of finished erasures, if anywhere.
pub fn erasure_callback(
    state: &impl StateRead,
    app_key: &str,
) -> Result<Option<String>, CommandError> {
    Ok(state.get(&app_keys::erasure_callback(app_key))?)
}

/// Sets (or, with `None`, removes) the app's erasure callback URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetErasureCallback {
    pub app_key: String,
    pub url: Option<String>,
}

impl Apply for SetErasureCallback {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let key = app_keys::erasure_callback(&self.app_key);
        apps::set_url(state, &self.app_key, key, &self.url)
    }
}

/// Users of `app_key` whose sent messages are being erased, with when that was asked
/// for (ms).
pub fn erasing_sent(
    state: &impl StateRead,
    app_key: &str,
) -> Result<BTreeMap<String, u64>, CommandError> {
    let prefix = of_app(user_keys::ERASING_SENT, app_key);
    let mut pending = BTreeMap::new();
    for (key, value) in state.scan_raw(&prefix)? {
        let user_id = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
        pending.insert(user_id, from_bytes::<u64>(&value)?);
    }
    Ok(pending)
}

/// What one search for erased users' messages found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentFound {
    /// At most [`EXPIRE_BATCH`] messages, for an `ExpireHistory`.
    pub ranges: Vec<ExpiredRange>,
    /// Where to look next (empty: the search reached the end of the app's messages).
    pub next: RetentionCursor,
    /// Messages looked at.
    pub looked_at: usize,
}

/// Messages of `app_key` sent by one of `senders`, looking at no more than
/// `max_messages` messages from `cursor` on.
pub fn sent_by_erased(
    state: &impl StateRead,
    app_key: &str,
    senders: &BTreeMap<String, u64>,
    cursor: &[u8],
    max_messages: usize,
) -> Result<SentFound, CommandError> {
    let mut found = SentFound {
        ranges: Vec::new(),
        next: RetentionCursor::new(),
        looked_at: 0,
    };
    let mut taken = 0u64;
    let mut failure = None;
    state.visit_from(
        &of_app(message_keys::MESSAGE, app_key),
        cursor,
        &mut |key, value| {
            if found.looked_at == max_messages || taken == EXPIRE_BATCH {
                found.next = key.to_vec();
                return false;
            }
            found.looked_at += 1;
            let message = match from_bytes::<Message>(value) {
                Ok(message) => message,
                Err(e) => {
                    failure = Some(CommandError::from(e));
                    return false;
                }
            };
            if !senders.contains_key(&message.sender) {
                return true;
            }
            taken += 1;
            match found.ranges.last_mut() {
                Some(range)
                    if range.conversation == message.conversation
                        && range.last_seq + 1 == message.seq =>
                {
                    range.last_seq = message.seq
                }
                _ => found.ranges.push(ExpiredRange {
                    conversation: message.conversation,
                    first_seq: message.seq,
                    last_seq: message.seq,
                }),
            }
            true
        },
    )?;
    match failure {
        Some(e) => Err(e),
        None => Ok(found),
    }
}
