//! Who publishes what in a room: resources (RTC-02), roles and the host invitation of
//! live rooms, and the seed's host limits (RTC-04).

use meridian_proto::rtc::{Resource, ResourceKind, Role, RoomKind, RoomNotice};

use super::callbacks::{RoomEventKind, Seen};
use super::{Member, RoomAt};
use crate::state::apply::CommandError;
use crate::state::groups::validate_group_id;
use crate::state::store::Overlay;

/// The seed: a live room holds at most 32 hosts (an audio-only room) …
pub const MAX_AUDIO_HOSTS: u64 = 32;
/// … and at most 16 of them publish video.
pub const MAX_VIDEO_HOSTS: u64 = 16;
/// Resources one member publishes at once.
pub const MAX_RESOURCES: usize = 16;
const MAX_LAYERS: usize = 3;
const MAX_LAYER_CHARS: usize = 16;
const MAX_MEDIA_SERVER_CHARS: usize = 256;
const MAX_PARAMS_BYTES: usize = 4096;

fn has_video(member: &Member) -> bool {
    member
        .view
        .resources
        .iter()
        .any(|r| matches!(r.kind, ResourceKind::Video | ResourceKind::Screen))
}

fn validate(resource: &Resource) -> Result<(), CommandError> {
    validate_group_id(&resource.stream_id)
        .map_err(|_| CommandError::invalid("streamId", "must be 1 to 64 of A-Z a-z 0-9 _ = + -"))?;
    let layers_ok = resource.layers.len() <= MAX_LAYERS
        && resource
            .layers
            .iter()
            .all(|l| !l.is_empty() && l.chars().count() <= MAX_LAYER_CHARS);
    if !layers_ok {
        return Err(CommandError::invalid(
            "layers",
            "at most 3 simulcast layers of 1 to 16 characters",
        ));
    }
    if resource.media_server.chars().count() > MAX_MEDIA_SERVER_CHARS {
        return Err(CommandError::invalid(
            "mediaServer",
            "must be at most 256 characters",
        ));
    }
    if resource.params.len() > MAX_PARAMS_BYTES {
        return Err(CommandError::invalid(
            "params",
            "must be at most 4096 bytes",
        ));
    }
    Ok(())
}

impl RoomAt<'_> {
    fn kind(&self) -> Option<RoomKind> {
        self.room.as_ref().map(|room| room.kind)
    }

    /// RTC-04: one more host for a live room, within [`MAX_AUDIO_HOSTS`].
    pub(super) fn admit_host(&self, state: &Overlay<'_>) -> Result<(), CommandError> {
        let hosts = self
            .members(state)?
            .iter()
            .filter(|m| m.view.role == Role::Host)
            .count() as u64;
        if hosts >= MAX_AUDIO_HOSTS {
            return Err(CommandError::Limit {
                what: "hosts per live room".into(),
                limit: MAX_AUDIO_HOSTS,
            });
        }
        Ok(())
    }

    pub(super) fn publish(
        &mut self,
        state: &mut Overlay<'_>,
        user_id: &str,
        publish: &[Resource],
        unpublish: &[String],
    ) -> Result<(), CommandError> {
        let mut member = self.member(state, user_id)?;
        if !member.view.role.publishes() {
            return Err(CommandError::Forbidden {
                reason: format!("a {:?} does not publish", member.view.role),
            });
        }
        if publish.is_empty() && unpublish.is_empty() {
            return Err(CommandError::invalid(
                "publish",
                "nothing to publish or unpublish",
            ));
        }
        publish.iter().try_for_each(validate)?;
        let had_video = has_video(&member);
        let resources = &mut member.view.resources;
        let before = resources.len();
        resources.retain(|r| !unpublish.contains(&r.stream_id));
        let unpublished = before > resources.len();
        for resource in publish {
            // The same stream id published again replaces its descriptor.
            resources.retain(|r| r.stream_id != resource.stream_id);
            resources.push(resource.clone());
        }
        if resources.len() > MAX_RESOURCES {
            return Err(CommandError::Limit {
                what: "resources per member".into(),
                limit: MAX_RESOURCES as u64,
            });
        }
        if self.kind() == Some(RoomKind::Live) && has_video(&member) && !had_video {
            let video_hosts = self.members(state)?.iter().filter(|m| has_video(m)).count();
            if video_hosts as u64 >= MAX_VIDEO_HOSTS {
                return Err(CommandError::Limit {
                    what: "video hosts per live room".into(),
                    limit: MAX_VIDEO_HOSTS,
                });
            }
        }
        self.put_member(state, &member)?;
        if unpublished {
            let stream_ids = unpublish.to_vec();
            let user_id = user_id.to_string();
            self.notify(
                state,
                RoomNotice::Unpublished {
                    user_id,
                    stream_ids,
                },
            )?;
        }
        if !publish.is_empty() {
            let user_id = user_id.to_string();
            let resources = publish.to_vec();
            self.notify(state, RoomNotice::Published { user_id, resources })?;
        }
        let changed = Seen::new(RoomEventKind::Resources, user_id).member(member.view);
        self.seen.push(changed);
        Ok(())
    }

    /// A member changes its own role; audience members become hosts only by accepting a
    /// host's invitation.
    pub(super) fn set_role(
        &mut self,
        state: &mut Overlay<'_>,
        user_id: &str,
        role: Role,
    ) -> Result<(), CommandError> {
        let member = self.member(state, user_id)?;
        let kind = self.kind().ok_or_else(|| self.not_member())?;
        if !role.fits(kind) {
            return Err(CommandError::invalid(
                "role",
                format!("a {kind:?} room has no {role:?} members"),
            ));
        }
        if role == member.view.role {
            return Ok(());
        }
        if role == Role::Host {
            return Err(CommandError::Forbidden {
                reason: "an audience member becomes a host by a host's invitation".into(),
            });
        }
        self.change_role(state, member, role)
    }

    fn change_role(
        &mut self,
        state: &mut Overlay<'_>,
        mut member: Member,
        role: Role,
    ) -> Result<(), CommandError> {
        if role != Role::Host {
            self.host_gone(state, &member.view.user_id)?;
        }
        member.view.role = role;
        member.invited_by = None;
        if !role.publishes() {
            member.view.resources.clear();
        }
        self.put_member(state, &member)?;
        let user_id = member.view.user_id;
        self.notify(state, RoomNotice::RoleChanged { user_id, role })
    }

    /// A host of a live room invites one of its audience members to become a host.
    pub(super) fn invite(
        &mut self,
        state: &mut Overlay<'_>,
        host: &str,
        invitee: &str,
    ) -> Result<(), CommandError> {
        if self.member(state, host)?.view.role != Role::Host {
            return Err(CommandError::Forbidden {
                reason: "only a host of a live room invites".into(),
            });
        }
        let mut member = self.member(state, invitee)?;
        if member.view.role != Role::Audience {
            return Err(CommandError::invalid(
                "userId",
                format!("{invitee} is not in the audience"),
            ));
        }
        member.invited_by = Some(host.to_string());
        self.put_member(state, &member)?;
        let (by, user_id) = (host.to_string(), invitee.to_string());
        self.notify(state, RoomNotice::Invited { by, user_id })
    }

    pub(super) fn answer_invite(
        &mut self,
        state: &mut Overlay<'_>,
        user_id: &str,
        accept: bool,
    ) -> Result<(), CommandError> {
        let mut member = self.member(state, user_id)?;
        let Some(by) = member.invited_by.take() else {
            return Err(CommandError::Forbidden {
                reason: format!("{user_id} has no invitation to answer"),
            });
        };
        if accept {
            self.admit_host(state)?;
            return self.change_role(state, member, Role::Host);
        }
        self.put_member(state, &member)?;
        let user_id = user_id.to_string();
        self.notify(state, RoomNotice::InviteDeclined { by, user_id })
    }
}
