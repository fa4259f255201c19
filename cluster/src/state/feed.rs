//! The area's feed and each user's sync (DESIGN §4, "delivery path").
//!
//! Every event a client session may need — a message stored or passed through, a change
//! of group or chatroom membership, a ban — gets the next position of the area's feed,
//! written in the same apply round as the change itself. Edges tail the feed of their
//! areas in position order, so a session that has caught up to position P and then takes
//! every event after P has seen everything, exactly once.
//!
//! A device's sync cursor is a feed position. Catching up reads the user's inbox (private
//! and system messages, two or one index records per message), the app's broadcasts, and
//! the tail of each of the user's groups (read diffusion: a group message is stored once).

use meridian_proto::{Conversation, ConversationType};
use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::interest::{self, InterestKey};
use super::keys::feed as keys;
use super::messages::{self, Message};
use super::store::{Overlay, StateRead};

/// Events kept in the feed at most; an edge further behind than this resyncs its
/// sessions. The leader also trims events older than `storage.feed_max_age_ms` away
/// ([`TrimFeed`]), so a quiet area does not keep them for ever.
pub const FEED_RETAINED: u64 = 50_000;
/// Events one [`TrimFeed`] removes at most, so no apply round grows large.
pub const TRIM_FEED_BATCH: u64 = 5_000;
/// Events one feed page holds at most.
pub const MAX_FEED_PAGE: usize = 1_000;
/// Messages one sync page holds at most.
pub const MAX_SYNC_PAGE: usize = 200;

/// What the feed stores: stored messages by reference, the rest whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum FeedRecord {
    Stored {
        app_key: String,
        conversation: Conversation,
        seq: u64,
    },
    Event(FeedEvent),
}

/// One event as edges receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FeedEvent {
    /// A message: stored (`seq` > 0) or a status message passed through (`seq` 0).
    Message {
        app_key: String,
        message: Box<Message>,
    },
    /// Users joined or left a group or chatroom; `dismissed`: the group is gone.
    Members {
        app_key: String,
        kind: ConversationType,
        id: String,
        joined: Vec<String>,
        left: Vec<String>,
        dismissed: bool,
    },
    /// These users are banned: their live sessions end (MSG-08).
    Banned {
        app_key: String,
        user_ids: Vec<String>,
    },
    /// A change of an audio/video room, for the sessions of its members `to` (RTC-01).
    Rtc {
        app_key: String,
        room_id: String,
        /// The room's version after the change.
        version: u64,
        to: Vec<String>,
        notice: meridian_proto::rtc::RoomNotice,
    },
}

/// Events after a position, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedPage {
    pub events: Vec<(u64, FeedEvent)>,
    /// The newest position at the time of the read.
    pub head: u64,
    /// Events after the asked position were already pruned: the reader missed some and
    /// must resync whoever they concerned (the page starts at the oldest kept).
    pub missed: bool,
}

/// One page of what a user missed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncPage {
    /// In feed order (hence in `seq` order within each conversation).
    pub messages: Vec<Message>,
    /// The feed position this page brings the device to.
    pub cursor: u64,
    /// More messages wait after `cursor`.
    pub more: bool,
    /// The user's groups, as of this read.
    pub groups: Vec<String>,
}

/// Which part of a user's missed messages a sync wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub user_id: String,
    /// The device's cursor: positions up to here were delivered.
    pub after: u64,
    /// Messages sent before this instant are past the offline window.
    pub since_ms: u64,
    pub limit: usize,
}

pub fn head(state: &impl StateRead) -> Result<u64, CommandError> {
    Ok(state.get(keys::HEAD)?.unwrap_or(0))
}

/// The oldest position the feed may still hold, given its `head`: what is older went by
/// count (past [`FEED_RETAINED`]) or by age ([`TrimFeed`]).
pub fn oldest_kept(state: &impl StateRead, head: u64) -> Result<u64, CommandError> {
    let by_count = head.saturating_sub(FEED_RETAINED) + 1;
    let by_age = state.get(keys::FLOOR)?.unwrap_or(0);
    Ok(by_count.max(by_age))
}

/// Removes the feed's events up to position `through` (or the head, if older), oldest
/// first and at most [`TRIM_FEED_BATCH`]: the leader found them older than the feed's age
/// bound. Answers how many positions it passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrimFeed {
    pub through: u64,
}

impl Apply for TrimFeed {
    type Answer = u64;

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<u64, CommandError> {
        let head = head(state)?;
        let first = oldest_kept(state, head)?;
        let last = self
            .through
            .min(head)
            .min(first.saturating_add(TRIM_FEED_BATCH - 1));
        if last < first {
            return Ok(0);
        }
        for pos in first..=last {
            state.delete(keys::event(pos));
        }
        state.put(keys::FLOOR.to_vec(), &(last + 1))?;
        Ok(last + 1 - first)
    }
}

/// The position the next event will get.
pub(super) fn next_position(state: &impl StateRead) -> Result<u64, CommandError> {
    Ok(head(state)? + 1)
}

fn append(state: &mut Overlay<'_>, record: &FeedRecord) -> Result<u64, CommandError> {
    let pos = next_position(state)?;
    state.put(keys::HEAD.to_vec(), &pos)?;
    state.put(keys::event(pos), record)?;
    if pos > FEED_RETAINED {
        state.delete(keys::event(pos - FEED_RETAINED));
    }
    Ok(pos)
}

/// Appends a stored message (whose `pos` was taken from [`next_position`]) and indexes it
/// for the sync of the users it is for; answers the users whose inbox it reached (a
/// broadcast and group-like messages reach none).
pub(super) fn append_stored(
    state: &mut Overlay<'_>,
    app_key: &str,
    message: &Message,
) -> Result<Vec<String>, CommandError> {
    let pos = append(
        state,
        &FeedRecord::Stored {
            app_key: app_key.to_string(),
            conversation: message.conversation.clone(),
            seq: message.seq,
        },
    )?;
    debug_assert_eq!(pos, message.pos);
    let pointer = (message.conversation.clone(), message.seq);
    let (indexes, users) = sync_indexes(app_key, &message.conversation, pos);
    for key in indexes {
        state.put(key, &pointer)?;
    }
    Ok(users)
}

/// Forgets an erased user's inbox (LIFE-02): its sync has nothing left to find.
pub(super) fn erase_inbox(
    state: &mut Overlay<'_>,
    app_key: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    Ok(state.delete_prefix(&keys::inbox(app_key, user_id))?)
}

/// Removes what [`append_stored`] indexed for a message that is going (LIFE-01).
pub(super) fn forget_stored(state: &mut Overlay<'_>, app_key: &str, message: &Message) {
    for key in sync_indexes(app_key, &message.conversation, message.pos).0 {
        state.delete(key);
    }
}

/// Where a stored message is indexed for sync: the inboxes of the users it is for, or
/// the app's broadcasts; also answers those users.
fn sync_indexes(
    app_key: &str,
    conversation: &Conversation,
    pos: u64,
) -> (Vec<Vec<u8>>, Vec<String>) {
    let users = match conversation.kind {
        ConversationType::Private => vec![conversation.first.clone(), conversation.second.clone()],
        ConversationType::System if conversation.second.is_empty() => {
            return (
                vec![keys::positioned(&keys::broadcasts(app_key), pos)],
                Vec::new(),
            );
        }
        ConversationType::System => vec![conversation.second.clone()],
        // Read diffusion: sync reads the group's own log; chatrooms are online only.
        ConversationType::Group | ConversationType::UltraGroup | ConversationType::Chatroom => {
            Vec::new()
        }
    };
    let indexes = users
        .iter()
        .map(|user| keys::positioned(&keys::inbox(app_key, user), pos))
        .collect();
    (indexes, users)
}

/// Appends an event that carries everything itself.
pub(super) fn append_event(state: &mut Overlay<'_>, event: FeedEvent) -> Result<u64, CommandError> {
    append(state, &FeedRecord::Event(event))
}

/// A membership change of a group, ultra group or chatroom, for the sessions that route
/// by it; nothing when nothing changed.
pub(super) struct MembershipChange<'a> {
    pub kind: ConversationType,
    pub id: &'a str,
    pub joined: Vec<String>,
    pub left: Vec<String>,
    pub dismissed: bool,
}

pub(super) fn announce(
    state: &mut Overlay<'_>,
    app_key: &str,
    change: MembershipChange<'_>,
) -> Result<(), CommandError> {
    let MembershipChange {
        kind,
        id,
        joined,
        left,
        dismissed,
    } = change;
    if joined.is_empty() && left.is_empty() && !dismissed {
        return Ok(());
    }
    append_event(
        state,
        FeedEvent::Members {
            app_key: app_key.to_string(),
            kind,
            id: id.to_string(),
            joined,
            left,
            dismissed,
        },
    )?;
    Ok(())
}

/// Events after `after`, at most `limit`.
pub fn page(state: &impl StateRead, after: u64, limit: usize) -> Result<FeedPage, CommandError> {
    page_for(state, after, limit, limit, &|_| true).map(|(page, _)| page)
}

/// Like [`page`], but only the events that concern a key `wanted` holds, looking at
/// `scan` positions at most; also answers the last position looked at, where the reader
/// goes on from (its events may all have been left out).
pub fn page_for(
    state: &impl StateRead,
    after: u64,
    limit: usize,
    scan: usize,
    wanted: &impl Fn(InterestKey) -> bool,
) -> Result<(FeedPage, u64), CommandError> {
    let head = head(state)?;
    let oldest_kept = oldest_kept(state, head)?;
    let missed = after.saturating_add(1) < oldest_kept;
    let start = keys::event(after.saturating_add(1).max(oldest_kept));
    let limit = limit.clamp(1, MAX_FEED_PAGE);
    let mut records = Vec::new();
    let mut scanned = 0;
    let mut through = after;
    let mut failure = None;
    state.visit_from(keys::EVENT, &start, &mut |key, value| {
        scanned += 1;
        match (
            keys::event_position(key),
            crate::raft::wire::from_bytes::<FeedRecord>(value),
        ) {
            (Some(pos), Ok(record)) => {
                through = pos;
                if record.concerns(wanted) {
                    records.push((pos, record));
                }
            }
            (_, Err(e)) => failure = Some(CommandError::from(e)),
            (None, _) => failure = Some(CommandError::Storage("bad feed key".into())),
        }
        failure.is_none() && records.len() < limit && scanned < scan
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let mut events = Vec::with_capacity(records.len());
    for (pos, record) in records {
        let event = match record {
            FeedRecord::Event(event) => event,
            FeedRecord::Stored {
                app_key,
                conversation,
                seq,
            } => match messages::get(state, &app_key, &conversation, seq)? {
                Some(message) => FeedEvent::Message {
                    app_key,
                    message: Box::new(message),
                },
                // Deleted since (its app was removed): nothing left to deliver.
                None => continue,
            },
        };
        events.push((pos, event));
    }
    let page = FeedPage {
        events,
        head,
        missed,
    };
    Ok((page, through))
}

impl FeedRecord {
    /// Judged without reading a stored message: its conversation says who it goes to.
    fn concerns(&self, wanted: &impl Fn(InterestKey) -> bool) -> bool {
        match self {
            FeedRecord::Stored {
                app_key,
                conversation,
                ..
            } => interest::message_concerns(app_key, conversation, wanted),
            FeedRecord::Event(event) => event.concerns(wanted),
        }
    }
}

/// The messages `user_id`'s inbox and the app's broadcasts point to after position
/// `after` and up to `head`, in position order: each source gives its oldest `limit + 1`
/// (filtered before they are counted), so together with a sync's other sources they hold
/// the oldest `limit + 1` candidates, which tells whether more remain.
pub(super) fn inbox_after(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
    after: u64,
    head: u64,
    limit: usize,
) -> Result<Vec<Message>, CommandError> {
    let in_view = |m: &Message| m.pos <= head;
    let start_after = |prefix: &[u8]| keys::positioned(prefix, after + 1);
    let mut found = Vec::new();
    for prefix in [keys::inbox(app_key, user_id), keys::broadcasts(app_key)] {
        let mut kept = 0;
        let mut failure: Option<CommandError> = None;
        state.visit_from(&prefix, &start_after(&prefix), &mut |_, value| {
            let message = crate::raft::wire::from_bytes::<(Conversation, u64)>(value)
                .map_err(CommandError::from)
                .and_then(|(conversation, seq)| messages::get(state, app_key, &conversation, seq));
            match message {
                // Newer than the head: so is everything after it in this source.
                Ok(Some(message)) if !in_view(&message) => return false,
                Ok(Some(message)) => {
                    found.push(message);
                    kept += 1;
                }
                // Its message is gone (deleted with its app): nothing to hand out.
                Ok(None) => {}
                Err(e) => failure = Some(e),
            }
            failure.is_none() && kept <= limit
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(found)
}

/// Removes an app environment's sync indexes (its feed records go as they age out).
pub(super) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<(), CommandError> {
    state.delete_app(&keys::PER_APP, app_key)?;
    Ok(())
}
