//! Room state callbacks (RTC-01, RTC-02), as the commercial "room status sync" sends
//! them: a room created or destroyed, a member (not of the audience) joined or left, a
//! member's resources changed, each POSTed as JSON to the app's RTC callback URL,
//! signed and at least once through the outbox, in order per room. A room's changes are
//! collected while a command applies and enqueued at its end, when the entry's time is
//! known; nothing is enqueued while the app has no URL.

use meridian_proto::rtc::RoomMember;
use serde::{Deserialize, Serialize};

use super::super::apply::{Apply, ApplyContext, CommandError};
use super::super::apps;
use super::super::keys::rtc as keys;
use super::super::outbox::{self, HookEvent};
use super::super::store::{Overlay, StateRead};

/// The commercial service's event codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomEventKind {
    Created = 2,
    Destroyed = 3,
    Joined = 11,
    Left = 12,
    Resources = 20,
}

/// One room change reported to the app server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RtcRoomEvent {
    pub room_id: String,
    pub event: RoomEventKind,
    pub user_id: String,
    pub time_ms: u64,
    /// A member's stay when it left; the room's life when it was destroyed.
    pub duration_ms: u64,
    /// The member whose change it is, with its resources (none for created/destroyed).
    pub members: Vec<RoomMember>,
}

/// A change seen while applying, timed when the command ends.
#[derive(Debug)]
pub(super) struct Seen {
    event: RoomEventKind,
    user_id: String,
    /// Since when `duration_ms` counts.
    since_ms: Option<u64>,
    member: Option<RoomMember>,
}

impl Seen {
    pub(super) fn new(event: RoomEventKind, user_id: &str) -> Self {
        Self {
            event,
            user_id: user_id.to_string(),
            since_ms: None,
            member: None,
        }
    }

    pub(super) fn since(mut self, since_ms: u64) -> Self {
        self.since_ms = Some(since_ms);
        self
    }

    pub(super) fn member(mut self, member: RoomMember) -> Self {
        self.member = Some(member);
        self
    }
}

/// Enqueues what a room saw, when its app has an RTC callback URL.
pub(super) fn report(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    (app_key, room_id): (&str, &str),
    seen: Vec<Seen>,
) -> Result<(), CommandError> {
    if seen.is_empty() || url(state, app_key)?.is_none() {
        return Ok(());
    }
    for seen in seen {
        let event = RtcRoomEvent {
            room_id: room_id.to_string(),
            event: seen.event,
            user_id: seen.user_id,
            time_ms: ctx.now_ms,
            duration_ms: seen
                .since_ms
                .map_or(0, |since| ctx.now_ms.saturating_sub(since)),
            members: seen.member.into_iter().collect(),
        };
        let lane = format!("rtcroom/{room_id}");
        outbox::enqueue(ctx, state, app_key, lane, HookEvent::RtcRoom(event))?;
    }
    Ok(())
}

/// Where the app's room callbacks go, if anywhere.
pub fn url(state: &impl StateRead, app_key: &str) -> Result<Option<String>, CommandError> {
    Ok(state.get(&keys::callback(app_key))?)
}

/// Sets (or, with `None`, removes) the app's RTC callback URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetRtcCallback {
    pub app_key: String,
    pub url: Option<String>,
}

impl Apply for SetRtcCallback {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::set_url(
            state,
            &self.app_key,
            keys::callback(&self.app_key),
            &self.url,
        )
    }
}
