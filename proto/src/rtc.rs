//! Audio/video rooms as clients see them (RTC-01, RTC-02, RTC-04): what a room holds and
//! the notices its members get. The area's cluster stores these same types (bincode), so
//! fields are appended, never reordered, and carry no `skip_serializing_if`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a room is for; it decides the roles its members may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RoomKind {
    /// Participants publish, observers only subscribe.
    Meeting,
    /// Hosts publish, the audience only subscribes (RTC-04).
    Live,
    /// A 1:1 or group call's room (RTC-03): everyone participates.
    Call,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    Participant,
    Observer,
    Host,
    Audience,
}

impl Role {
    /// Whether a member of this role may publish resources (RTC-04).
    pub fn publishes(self) -> bool {
        matches!(self, Role::Participant | Role::Host)
    }

    /// Whether a room of `kind` has members of this role.
    pub fn fits(self, kind: RoomKind) -> bool {
        match kind {
            RoomKind::Meeting => matches!(self, Role::Participant | Role::Observer),
            RoomKind::Live => matches!(self, Role::Host | Role::Audience),
            RoomKind::Call => self == Role::Participant,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ResourceKind {
    Audio,
    Video,
    Screen,
    Custom,
}

impl ResourceKind {
    /// The commercial service's media types: 0 audio, 1 video (screen and custom streams
    /// are video-like tracks).
    pub fn media_type(self) -> u8 {
        match self {
            ResourceKind::Audio => 0,
            ResourceKind::Video | ResourceKind::Screen | ResourceKind::Custom => 1,
        }
    }
}

/// One published stream: what the media server ([sfu]) and subscribers need to find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// Unique within the publisher (1–64 characters).
    pub stream_id: String,
    pub kind: ResourceKind,
    /// Simulcast layers the publisher sends, e.g. `["big", "small"]` (at most 3).
    #[serde(default)]
    pub layers: Vec<String>,
    /// Where the stream is published (the media server's address).
    #[serde(default)]
    pub media_server: String,
    /// Opaque to signalling: what the media server needs (at most 4 KiB).
    #[serde(default)]
    pub params: String,
}

/// A member as every member sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomMember {
    pub user_id: String,
    pub role: Role,
    pub joined_at: u64,
    /// False while its session is gone and it may still come back.
    pub online: bool,
    pub resources: Vec<Resource>,
}

/// A room's state at `version`, as `rtcJoined` and `rtcRoom` answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomInfo {
    pub room_id: String,
    pub kind: RoomKind,
    /// One room lifetime, from its first join to its last leave (the seed's SessionID).
    pub session_id: String,
    pub created_at: u64,
    /// Counts the room's changes: each notice carries the version it made, so a client
    /// that sees a gap asks for the room again.
    pub version: u64,
    /// Oldest first.
    pub members: Vec<RoomMember>,
    pub attributes: BTreeMap<String, String>,
    /// The live room this one is in a cross-room PK with (RTC-04), if any: its members
    /// may watch that room's `host`.
    #[serde(default)]
    pub pk: Option<PkPartner>,
}

/// The other side of a cross-room PK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PkPartner {
    pub room_id: String,
    /// The other room's host in the PK.
    pub host: String,
    /// This room's host in the PK.
    pub local_host: String,
}

/// Why a member left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LeaveReason {
    /// It asked to.
    Left,
    /// Its session was gone longer than the reconnect timeout.
    TimedOut,
    /// The app server removed it (`/rtc/user/kick.json`); it is told too.
    Kicked,
}

/// One change of a room, delivered to its members in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RoomNotice {
    #[serde(rename_all = "camelCase")]
    Joined { member: RoomMember },
    #[serde(rename_all = "camelCase")]
    Left {
        user_id: String,
        reason: LeaveReason,
    },
    /// `user_id` published these (a stream id published again replaces its descriptor).
    #[serde(rename_all = "camelCase")]
    Published {
        user_id: String,
        resources: Vec<Resource>,
    },
    #[serde(rename_all = "camelCase")]
    Unpublished {
        user_id: String,
        stream_ids: Vec<String>,
    },
    /// Room attributes set and removed by `user_id`.
    #[serde(rename_all = "camelCase")]
    Attributes {
        user_id: String,
        set: BTreeMap<String, String>,
        removed: Vec<String>,
    },
    /// `user_id` now has `role` (a host that stepped down has unpublished everything).
    #[serde(rename_all = "camelCase")]
    RoleChanged { user_id: String, role: Role },
    /// A host invited an audience member to become a host (RTC-04).
    #[serde(rename_all = "camelCase")]
    Invited { by: String, user_id: String },
    /// The invited member declined (accepting is a `roleChanged`).
    #[serde(rename_all = "camelCase")]
    InviteDeclined { by: String, user_id: String },
    /// Cross-room PK (RTC-04): host `by` of room `room_id` invited host `user_id` of
    /// the other room (both rooms hear it).
    #[serde(rename_all = "camelCase")]
    PkInvited {
        room_id: String,
        by: String,
        user_id: String,
    },
    /// The PK started: this room's members now also hear `host` of `room_id` publish and
    /// unpublish (as that room's `rtcEvent`s); `resources` are what it publishes now.
    #[serde(rename_all = "camelCase")]
    PkStarted {
        room_id: String,
        host: String,
        resources: Vec<Resource>,
    },
    /// Host `user_id` of room `room_id` declined the PK.
    #[serde(rename_all = "camelCase")]
    PkDeclined { room_id: String, user_id: String },
    /// The PK with room `room_id` ended (a host ended it, left or stepped down).
    #[serde(rename_all = "camelCase")]
    PkEnded { room_id: String },
}

#[cfg(test)]
mod media_type_tests {
    use super::ResourceKind;

    #[test]
    fn audio_is_media_type_0_and_every_picture_1() {
        assert_eq!(ResourceKind::Audio.media_type(), 0);
        assert_eq!(ResourceKind::Screen.media_type(), 1);
    }
}
