//! Audio/video rooms (RTC-01, RTC-02, RTC-04): the signalling plane's state. A room exists
//! from its first join to its last leave (one `session_id`); a user is in one room at a
//! time; a member whose session is gone keeps its place and resources until the reconnect
//! timeout drops it. Every change reaches the room's members through the feed, in order,
//! numbered by the room's `version`. Media itself is the media servers' business: the
//! resources here only say where each stream is.

use std::collections::BTreeMap;

use meridian_proto::rtc::{LeaveReason, Role, RoomInfo, RoomKind, RoomMember, RoomNotice};
use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::chatrooms::{MAX_ENTRIES, MAX_ENTRY_KEY_BYTES, MAX_ENTRY_VALUE_BYTES};
use super::feed::{self, FeedEvent};
use super::groups::validate_group_id;
use super::keys::rtc as keys;
use super::store::{Overlay, StateRead};
use super::users::validate_user_id;
use super::{apps, presence};
use callbacks::Seen;

mod blocks;
mod callbacks;
mod erasure;
mod media;
mod mixing;
mod pk;
mod recording;

pub use blocks::{blocked_until, BlockRtcUser, MAX_BLOCK_MINUTES};
pub use callbacks::{url as callback_url, RoomEventKind, RtcRoomEvent, SetRtcCallback};
pub use erasure::EraseRtcUsers;
pub use media::{MAX_AUDIO_HOSTS, MAX_RESOURCES, MAX_VIDEO_HOSTS};
pub use mixing::{
    orders as mix_orders, ChangeMix, LayoutKind, MixChange, MixOrder, MixRegion, MixSettings,
    BITRATE_KBPS, MAX_CANVAS, MAX_FPS, MAX_PUSH_URLS, MIN_CANVAS_SIDE,
};
pub use recording::{
    orders as recording_orders, streams as recorded_streams, ChangeRecording, RecordedStream,
    RecordingChange, RecordingOrder, RecordingReady, StoredStream,
};

/// How long a member whose session is gone keeps its place unless its edge says
/// otherwise (a call survives a reconnect).
pub const RECONNECT_TIMEOUT_MS: u64 = 30_000;

/// A room as stored; its members are records of their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Room {
    kind: RoomKind,
    session_id: String,
    created_at_ms: u64,
    version: u64,
    attributes: BTreeMap<String, String>,
    /// A cross-room PK this live room is in (RTC-04).
    pk: Option<pk::PkLink>,
    /// Another room's host invited this room's host to a PK.
    pk_invite: Option<pk::PkLink>,
}

/// A member as stored: what everyone sees, and the session it is bound to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Member {
    /// Where it is (the area-wide sweep reads members without their keys).
    app_key: String,
    room_id: String,
    view: RoomMember,
    /// The edge and session that joined last: only its end makes the member absent (an
    /// older session ending after a reconnect does not).
    edge_id: u64,
    session: u64,
    /// A host of the room invited this audience member to become a host.
    invited_by: Option<String>,
}

/// One change to a room by one of its (would-be) members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRtcRoom {
    pub app_key: String,
    pub room_id: String,
    pub user_id: String,
    pub change: RtcChange,
}

/// What a member does. Variants are appended, never reordered (bincode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RtcChange {
    /// Joins from a client session (`edge_id`, `session`), creating the room if empty.
    Join {
        kind: RoomKind,
        role: Role,
        edge_id: u64,
        session: u64,
    },
    Leave,
    /// The session ended: the member is dropped `timeout_ms` later unless it rejoins.
    SessionGone {
        edge_id: u64,
        session: u64,
        timeout_ms: u64,
    },
    SetAttributes {
        set: BTreeMap<String, String>,
        remove: Vec<String>,
    },
    Publish {
        publish: Vec<meridian_proto::rtc::Resource>,
        unpublish: Vec<String>,
    },
    SetRole {
        role: Role,
    },
    Invite {
        user_id: String,
    },
    AnswerInvite {
        accept: bool,
    },
    /// The app server removes the member (nothing happens if it is not one).
    Kick,
    /// A host invites a host of another live room (`room_id`, `user_id`) to a PK.
    PkInvite {
        room_id: String,
        user_id: String,
    },
    /// The invited host accepts or declines.
    PkAnswer {
        accept: bool,
    },
    /// Either host ends the PK.
    PkEnd,
}

impl Apply for ChangeRtcRoom {
    /// The room after the change; `None` once its last member left.
    type Answer = Option<RoomInfo>;

    fn apply(
        &self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<Option<RoomInfo>, CommandError> {
        let Self {
            app_key,
            room_id,
            user_id,
            change,
        } = self;
        apps::by_key(state, app_key)?;
        validate_user_id(user_id)?;
        validate_group_id(room_id).map_err(|_| {
            CommandError::invalid("roomId", "must be 1 to 64 of A-Z a-z 0-9 _ = + -")
        })?;
        let mut room = RoomAt::open(state, app_key, room_id)?;
        match change {
            RtcChange::Join {
                kind,
                role,
                edge_id,
                session,
            } => {
                blocks::check(ctx, state, app_key, user_id)?;
                room.join(ctx, state, user_id, *kind, *role, (*edge_id, *session))?
            }
            RtcChange::Leave => {
                room.member(state, user_id)?;
                room.drop_member(state, user_id, LeaveReason::Left)?;
            }
            RtcChange::SessionGone {
                edge_id,
                session,
                timeout_ms,
            } => room.session_gone(ctx, state, user_id, (*edge_id, *session), *timeout_ms)?,
            RtcChange::SetAttributes { set, remove } => {
                room.member(state, user_id)?;
                room.set_attributes(state, user_id, set, remove)?;
            }
            RtcChange::Publish { publish, unpublish } => {
                room.publish(state, user_id, publish, unpublish)?
            }
            RtcChange::SetRole { role } => room.set_role(state, user_id, *role)?,
            RtcChange::Invite { user_id: invitee } => room.invite(state, user_id, invitee)?,
            RtcChange::AnswerInvite { accept } => room.answer_invite(state, user_id, *accept)?,
            RtcChange::Kick => {
                if room.member(state, user_id).is_ok() {
                    room.drop_member(state, user_id, LeaveReason::Kicked)?;
                }
            }
            RtcChange::PkInvite {
                room_id: other,
                user_id: host,
            } => room.pk_invite(state, user_id, other, host)?,
            RtcChange::PkAnswer { accept } => room.pk_answer(state, user_id, *accept)?,
            RtcChange::PkEnd => room.pk_end_by(state, user_id)?,
        }
        let info = room.info(state)?;
        room.report(ctx, state)?;
        Ok(info)
    }
}

/// Drops the members whose session has been gone past their timeout, area-wide; members
/// whose edge died (its lease ran out, so no session end was written) become absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DropAbsentRtcMembers;

impl Apply for DropAbsentRtcMembers {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let stranded: Vec<Member> = state
            .scan::<Member>(keys::MEMBER)?
            .into_iter()
            .filter(|m| m.view.online)
            .collect();
        for member in stranded {
            if !presence::edge_alive(state, member.edge_id, ctx.now_ms)? {
                let (app_key, room_id) = (&member.app_key, &member.room_id);
                let mut room = RoomAt::open(state, app_key, room_id)?;
                let session = (member.edge_id, member.session);
                let user_id = &member.view.user_id;
                room.session_gone(ctx, state, user_id, session, RECONNECT_TIMEOUT_MS)?;
            }
        }
        for (app_key, room_id, user_id) in absent_due(state, ctx.now_ms)? {
            let mut room = RoomAt::open(state, &app_key, &room_id)?;
            room.drop_member(state, &user_id, LeaveReason::TimedOut)?;
            room.report(ctx, state)?;
        }
        Ok(())
    }
}

/// Absent members due to be dropped at `now_ms`: (app, room, user).
fn absent_due(
    state: &impl StateRead,
    now_ms: u64,
) -> Result<Vec<(String, String, String)>, CommandError> {
    let absent: Vec<(String, String, String, u64)> = state.scan(keys::ABSENT)?;
    Ok(absent
        .into_iter()
        .filter(|(.., drop_at_ms)| *drop_at_ms <= now_ms)
        .map(|(app, room, user, _)| (app, room, user))
        .collect())
}

/// Whether the leader has absent members to drop at `now_ms` (it proposes
/// [`DropAbsentRtcMembers`] only then).
pub fn absent_members_due(state: &impl StateRead, now_ms: u64) -> Result<bool, CommandError> {
    Ok(!absent_due(state, now_ms)?.is_empty())
}

/// The room `user_id` is in, if any (a callee in one is busy for a call).
pub(in crate::state) fn room_of(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<Option<String>, CommandError> {
    Ok(state.get(&keys::user_room(app_key, user_id))?)
}

/// The room as `viewer` (a member, when given) may see it.
pub(in crate::state) fn room_info(
    state: &impl StateRead,
    app_key: &str,
    room_id: &str,
    viewer: Option<&str>,
) -> Result<RoomInfo, CommandError> {
    apps::by_key(state, app_key)?;
    let room = RoomAt::open(state, app_key, room_id)?;
    if let Some(viewer) = viewer {
        room.member(state, viewer)?;
    }
    room.info(state)?
        .ok_or_else(|| CommandError::not_found(format!("rtc room {room_id}")))
}

/// Removes every room of an app environment.
pub(in crate::state) fn delete_all(
    state: &mut Overlay<'_>,
    app_key: &str,
) -> Result<(), CommandError> {
    state.delete_app(&keys::PER_APP, app_key)?;
    Ok(())
}

/// The session of a room someone is in: what a recording or mixing order belongs to.
fn live_session(
    state: &impl StateRead,
    app_key: &str,
    room_id: &str,
) -> Result<String, CommandError> {
    let room: Option<Room> = state.get(&keys::room(app_key, room_id))?;
    room.map(|room| room.session_id)
        .ok_or_else(|| CommandError::not_found(format!("rtc room {room_id}")))
}

/// One room being read and changed; `room` is `None` while nobody is in it.
struct RoomAt<'a> {
    app_key: &'a str,
    room_id: &'a str,
    room: Option<Room>,
    /// Changes the app server is told of when the command ends ([`RoomAt::report`]).
    seen: Vec<Seen>,
}

impl<'a> RoomAt<'a> {
    fn open(
        state: &impl StateRead,
        app_key: &'a str,
        room_id: &'a str,
    ) -> Result<Self, CommandError> {
        Ok(Self {
            app_key,
            room_id,
            room: state.get(&keys::room(app_key, room_id))?,
            seen: Vec::new(),
        })
    }

    /// Tells the app server what changed (room callbacks), at the command's end.
    fn report(self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        callbacks::report(ctx, state, (self.app_key, self.room_id), self.seen)
    }

    fn not_member(&self) -> CommandError {
        CommandError::NotMember {
            what: format!("rtc room {}", self.room_id),
        }
    }

    fn member(&self, state: &impl StateRead, user_id: &str) -> Result<Member, CommandError> {
        state
            .get(&keys::member(self.app_key, self.room_id, user_id))?
            .ok_or_else(|| self.not_member())
    }

    fn put_member(&self, state: &mut Overlay<'_>, member: &Member) -> Result<(), CommandError> {
        let key = keys::member(self.app_key, self.room_id, &member.view.user_id);
        Ok(state.put(key, member)?)
    }

    /// Members, oldest first.
    fn members(&self, state: &impl StateRead) -> Result<Vec<Member>, CommandError> {
        let mut members: Vec<Member> = state.scan(&keys::members(self.app_key, self.room_id))?;
        members.sort_by(|a, b| {
            (a.view.joined_at, &a.view.user_id).cmp(&(b.view.joined_at, &b.view.user_id))
        });
        Ok(members)
    }

    fn info(&self, state: &impl StateRead) -> Result<Option<RoomInfo>, CommandError> {
        let Some(room) = &self.room else {
            return Ok(None);
        };
        Ok(Some(RoomInfo {
            room_id: self.room_id.to_string(),
            kind: room.kind,
            session_id: room.session_id.clone(),
            created_at: room.created_at_ms,
            version: room.version,
            members: self.members(state)?.into_iter().map(|m| m.view).collect(),
            attributes: room.attributes.clone(),
            pk: room.pk.as_ref().map(pk::PkLink::partner),
        }))
    }

    /// Records a change: the room's next version, told to every member in feed order.
    fn notify(&mut self, state: &mut Overlay<'_>, notice: RoomNotice) -> Result<(), CommandError> {
        self.notify_also(state, notice, None)
    }

    /// [`Self::notify`], telling `also` (no longer a member) too.
    fn notify_also(
        &mut self,
        state: &mut Overlay<'_>,
        notice: RoomNotice,
        also: Option<&str>,
    ) -> Result<(), CommandError> {
        let Some(room) = &mut self.room else {
            return Ok(());
        };
        room.version += 1;
        let version = room.version;
        state.put(keys::room(self.app_key, self.room_id), &*room)?;
        let peers = pk::mirrored_to(state, self.app_key, room, &notice)?;
        let to: Vec<String> = self
            .members(state)?
            .into_iter()
            .map(|m| m.view.user_id)
            .chain(also.map(str::to_string))
            .chain(peers)
            .collect();
        if to.is_empty() {
            return Ok(());
        }
        feed::append_event(
            state,
            FeedEvent::Rtc {
                app_key: self.app_key.to_string(),
                room_id: self.room_id.to_string(),
                version,
                to,
                notice,
            },
        )?;
        Ok(())
    }

    fn join(
        &mut self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
        user_id: &str,
        kind: RoomKind,
        role: Role,
        (edge_id, session): (u64, u64),
    ) -> Result<(), CommandError> {
        // RTC-01: one room at a time, until the first is left.
        let current: Option<String> = state.get(&keys::user_room(self.app_key, user_id))?;
        if let Some(other) = current.filter(|other| other != self.room_id) {
            return Err(CommandError::Conflict {
                what: format!("{user_id} in rtc room {other}"),
            });
        }
        if let Ok(mut member) = self.member(state, user_id) {
            // Back within the reconnect timeout: same place, role and resources.
            member.edge_id = edge_id;
            member.session = session;
            member.view.online = true;
            self.put_member(state, &member)?;
            state.delete(keys::absent(self.app_key, self.room_id, user_id));
            return Ok(());
        }
        if !role.fits(kind) {
            return Err(CommandError::invalid(
                "role",
                format!("a {kind:?} room has no {role:?} members"),
            ));
        }
        match &self.room {
            Some(room) if room.kind != kind => {
                return Err(CommandError::invalid(
                    "kind",
                    format!("room {} is a {:?} room", self.room_id, room.kind),
                ))
            }
            Some(_) => {}
            None => {
                self.room = Some(Room {
                    kind,
                    // Unique per lifetime and area: a feed position is never reused.
                    session_id: format!(
                        "{}-{}-{}",
                        ctx.area,
                        feed::next_position(state)?,
                        self.room_id
                    ),
                    created_at_ms: ctx.now_ms,
                    version: 0,
                    attributes: BTreeMap::new(),
                    pk: None,
                    pk_invite: None,
                });
                self.seen.push(Seen::new(RoomEventKind::Created, user_id));
            }
        }
        if role == Role::Host {
            self.admit_host(state)?;
        }
        let member = Member {
            app_key: self.app_key.to_string(),
            room_id: self.room_id.to_string(),
            view: RoomMember {
                user_id: user_id.to_string(),
                role,
                joined_at: ctx.now_ms,
                online: true,
                resources: Vec::new(),
            },
            edge_id,
            session,
            invited_by: None,
        };
        self.put_member(state, &member)?;
        state.put(
            keys::user_room(self.app_key, user_id),
            &self.room_id.to_string(),
        )?;
        // The commercial callbacks leave the audience out.
        if role != Role::Audience {
            let joined = Seen::new(RoomEventKind::Joined, user_id).member(member.view.clone());
            self.seen.push(joined);
        }
        self.notify(
            state,
            RoomNotice::Joined {
                member: member.view,
            },
        )
    }

    /// The member leaves; the room ends with its last member.
    fn drop_member(
        &mut self,
        state: &mut Overlay<'_>,
        user_id: &str,
        reason: LeaveReason,
    ) -> Result<(), CommandError> {
        self.host_gone(state, user_id)?;
        if let Ok(member) = self.member(state, user_id) {
            if member.view.role != Role::Audience {
                let since = member.view.joined_at;
                self.seen.push(
                    Seen::new(RoomEventKind::Left, user_id)
                        .since(since)
                        .member(member.view),
                );
            }
        }
        state.delete(keys::member(self.app_key, self.room_id, user_id));
        state.delete(keys::user_room(self.app_key, user_id));
        state.delete(keys::absent(self.app_key, self.room_id, user_id));
        // A member that asked to leave knows; one removed is told.
        let told = (reason == LeaveReason::Kicked).then_some(user_id);
        let notice = RoomNotice::Left {
            user_id: user_id.to_string(),
            reason,
        };
        self.notify_also(state, notice, told)?;
        if self.members(state)?.is_empty() {
            state.delete(keys::room(self.app_key, self.room_id));
            recording::room_ended(state, self.app_key, self.room_id);
            mixing::room_ended(state, self.app_key, self.room_id);
            if let Some(room) = self.room.take() {
                let destroyed = Seen::new(RoomEventKind::Destroyed, user_id);
                self.seen.push(destroyed.since(room.created_at_ms));
            }
        }
        Ok(())
    }

    fn session_gone(
        &mut self,
        ctx: ApplyContext,
        state: &mut Overlay<'_>,
        user_id: &str,
        (edge_id, session): (u64, u64),
        timeout_ms: u64,
    ) -> Result<(), CommandError> {
        let Ok(mut member) = self.member(state, user_id) else {
            // Left or dropped already.
            return Ok(());
        };
        if (member.edge_id, member.session) != (edge_id, session) || !member.view.online {
            // A newer session rejoined since: this end is stale.
            return Ok(());
        }
        member.view.online = false;
        self.put_member(state, &member)?;
        let drop_at_ms = ctx.now_ms.saturating_add(timeout_ms);
        let absent = (self.app_key, self.room_id, user_id, drop_at_ms);
        Ok(state.put(keys::absent(self.app_key, self.room_id, user_id), &absent)?)
    }

    /// Sets and removes room attributes (as many and as large as chatroom attributes).
    fn set_attributes(
        &mut self,
        state: &mut Overlay<'_>,
        user_id: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), CommandError> {
        let Some(room) = &mut self.room else {
            return Err(self.not_member());
        };
        for (key, value) in set {
            if key.is_empty() || key.len() > MAX_ENTRY_KEY_BYTES {
                return Err(CommandError::invalid("key", "must be 1 to 128 bytes"));
            }
            if value.len() > MAX_ENTRY_VALUE_BYTES {
                return Err(CommandError::invalid("value", "must be at most 4096 bytes"));
            }
            room.attributes.insert(key.clone(), value.clone());
        }
        let removed: Vec<String> = remove
            .iter()
            .filter(|key| room.attributes.remove(*key).is_some())
            .cloned()
            .collect();
        if room.attributes.len() as u64 > MAX_ENTRIES {
            return Err(CommandError::Limit {
                what: "attributes per rtc room".into(),
                limit: MAX_ENTRIES,
            });
        }
        self.notify(
            state,
            RoomNotice::Attributes {
                user_id: user_id.to_string(),
                set: set.clone(),
                removed,
            },
        )
    }
}
