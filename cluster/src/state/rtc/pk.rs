//! Cross-room PK (RTC-04): a host of one live room invites a host of another; once the
//! invited host accepts, each room's members also hear the other room's host publish and
//! unpublish. Each room keeps its side of the link; either host ends it, and so does a
//! host leaving or stepping down.

use meridian_proto::rtc::{PkPartner, Role, RoomKind, RoomNotice};
use serde::{Deserialize, Serialize};

use super::{keys, Member, Room, RoomAt};
use crate::state::apply::CommandError;
use crate::state::store::{Overlay, StateRead};

/// One room's side of a PK (or of an invitation to one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct PkLink {
    /// The other room and its host.
    room_id: String,
    host: String,
    /// This room's host in the PK.
    local_host: String,
}

impl PkLink {
    /// The link as the room's members see it.
    pub(super) fn partner(&self) -> PkPartner {
        PkPartner {
            room_id: self.room_id.clone(),
            host: self.host.clone(),
            local_host: self.local_host.clone(),
        }
    }
}

/// Members of the PK peer room that also hear `notice`: the other room's members, when it
/// is this room's PK host publishing or unpublishing.
pub(super) fn mirrored_to(
    state: &impl StateRead,
    app_key: &str,
    room: &Room,
    notice: &RoomNotice,
) -> Result<Vec<String>, CommandError> {
    let Some(pk) = &room.pk else {
        return Ok(Vec::new());
    };
    let by = match notice {
        RoomNotice::Published { user_id, .. } | RoomNotice::Unpublished { user_id, .. } => user_id,
        _ => return Ok(Vec::new()),
    };
    if *by != pk.local_host {
        return Ok(Vec::new());
    }
    let members: Vec<Member> = state.scan(&keys::members(app_key, &pk.room_id))?;
    Ok(members.into_iter().map(|m| m.view.user_id).collect())
}

fn busy(room_id: &str) -> CommandError {
    CommandError::Forbidden {
        reason: format!("live room {room_id} is already in a PK or invited to one"),
    }
}

impl RoomAt<'_> {
    fn live_host(&self, state: &impl StateRead, user_id: &str) -> Result<Member, CommandError> {
        let member = self.member(state, user_id)?;
        let live = self.room.as_ref().map(|r| r.kind) == Some(RoomKind::Live);
        if !live || member.view.role != Role::Host {
            return Err(CommandError::Forbidden {
                reason: format!("{user_id} is not a host of live room {}", self.room_id),
            });
        }
        Ok(member)
    }

    fn room_mut(&mut self) -> Result<&mut Room, CommandError> {
        let not_member = self.not_member();
        self.room.as_mut().ok_or(not_member)
    }

    /// `host` of this room invites `invitee`, a host of live room `other`.
    pub(super) fn pk_invite(
        &mut self,
        state: &mut Overlay<'_>,
        host: &str,
        other: &str,
        invitee: &str,
    ) -> Result<(), CommandError> {
        self.live_host(state, host)?;
        if other == self.room_id {
            return Err(CommandError::invalid("roomId", "a PK is with another room"));
        }
        let here = self.room_mut()?;
        if here.pk.is_some() || here.pk_invite.is_some() {
            return Err(busy(self.room_id));
        }
        let mut there = RoomAt::open(state, self.app_key, other)?;
        there.live_host(state, invitee)?;
        let link = there.room_mut()?;
        if link.pk.is_some() || link.pk_invite.is_some() {
            return Err(busy(other));
        }
        link.pk_invite = Some(PkLink {
            room_id: self.room_id.to_string(),
            host: host.to_string(),
            local_host: invitee.to_string(),
        });
        let invited = RoomNotice::PkInvited {
            room_id: self.room_id.to_string(),
            by: host.to_string(),
            user_id: invitee.to_string(),
        };
        there.notify(state, invited.clone())?;
        self.notify(state, invited)
    }

    /// The invited host of this room accepts or declines.
    pub(super) fn pk_answer(
        &mut self,
        state: &mut Overlay<'_>,
        user_id: &str,
        accept: bool,
    ) -> Result<(), CommandError> {
        let invite = self.room_mut()?.pk_invite.take();
        let Some(invite) = invite.filter(|i| i.local_host == user_id) else {
            return Err(CommandError::Forbidden {
                reason: format!("{user_id} has no PK invitation to answer"),
            });
        };
        let mut there = RoomAt::open(state, self.app_key, &invite.room_id)?;
        if !accept {
            let declined = RoomNotice::PkDeclined {
                room_id: self.room_id.to_string(),
                user_id: user_id.to_string(),
            };
            there.notify(state, declined.clone())?;
            return self.notify(state, declined);
        }
        let inviter = there.live_host(state, &invite.host)?;
        let me = self.live_host(state, user_id)?;
        there.room_mut()?.pk = Some(PkLink {
            room_id: self.room_id.to_string(),
            host: user_id.to_string(),
            local_host: invite.host.clone(),
        });
        self.room_mut()?.pk = Some(invite.clone());
        there.notify(
            state,
            RoomNotice::PkStarted {
                room_id: self.room_id.to_string(),
                host: user_id.to_string(),
                resources: me.view.resources,
            },
        )?;
        self.notify(
            state,
            RoomNotice::PkStarted {
                room_id: invite.room_id,
                host: invite.host,
                resources: inviter.view.resources,
            },
        )
    }

    /// A host ends its room's PK.
    pub(super) fn pk_end_by(
        &mut self,
        state: &mut Overlay<'_>,
        user_id: &str,
    ) -> Result<(), CommandError> {
        self.live_host(state, user_id)?;
        let in_pk = self.room.as_ref().and_then(|r| r.pk.as_ref());
        if in_pk.map(|pk| pk.local_host.as_str()) != Some(user_id) {
            return Err(CommandError::Forbidden {
                reason: format!("{user_id} is not in a PK"),
            });
        }
        self.host_gone(state, user_id)
    }

    /// `user_id` stops being this room's host (it leaves, steps down or ends the PK): the
    /// PK or invitation it is in ends on both sides.
    pub(super) fn host_gone(
        &mut self,
        state: &mut Overlay<'_>,
        user_id: &str,
    ) -> Result<(), CommandError> {
        let Some(room) = self.room.as_mut() else {
            return Ok(());
        };
        if room
            .pk_invite
            .as_ref()
            .is_some_and(|i| i.local_host == user_id)
        {
            room.pk_invite = None;
            state.put(keys::room(self.app_key, self.room_id), &*room)?;
        }
        let Some(pk) = room.pk.take_if(|pk| pk.local_host == user_id) else {
            return Ok(());
        };
        let mut there = RoomAt::open(state, self.app_key, &pk.room_id)?;
        if let Some(other) = there.room.as_mut() {
            other.pk = None;
        }
        let ended_there = RoomNotice::PkEnded {
            room_id: self.room_id.to_string(),
        };
        there.notify(state, ended_there)?;
        self.notify(
            state,
            RoomNotice::PkEnded {
                room_id: pk.room_id,
            },
        )
    }
}
