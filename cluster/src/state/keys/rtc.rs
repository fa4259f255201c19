//! Keys of audio/video rooms: rooms, their members, the room each user is in, and the
//! members whose session is gone (with when they are dropped), recording and mixing.

use super::{scoped, under};

pub(crate) const ROOM: &[u8] = b"rtcroom/";
pub(crate) const MEMBER: &[u8] = b"rtcmember/";
pub(crate) const USER_ROOM: &[u8] = b"rtcuser/";
/// Members whose session is gone, scanned area-wide by the leader's sweep.
pub(crate) const ABSENT: &[u8] = b"rtcabsent/";
pub(crate) const PER_APP: [&[u8]; 9] = [
    ROOM, MEMBER, USER_ROOM, ABSENT, RECORDING, RECORDED, CALLBACK, MIXING, BLOCK,
];

/// `rtcroom/{appKey}/{roomId}`
pub(crate) fn room(app_key: &str, room_id: &str) -> Vec<u8> {
    under(scoped(ROOM, app_key, &[]), room_id)
}

/// `rtcmember/{appKey}/{roomId}/`
pub(crate) fn members(app_key: &str, room_id: &str) -> Vec<u8> {
    scoped(MEMBER, app_key, &[room_id])
}

/// `rtcmember/{appKey}/{roomId}/{userId}`
pub(crate) fn member(app_key: &str, room_id: &str, user_id: &str) -> Vec<u8> {
    under(members(app_key, room_id), user_id)
}

/// `rtcuser/{appKey}/{userId}`
pub(crate) fn user_room(app_key: &str, user_id: &str) -> Vec<u8> {
    under(scoped(USER_ROOM, app_key, &[]), user_id)
}

/// `rtcabsent/{appKey}/{roomId}/{userId}`
pub(crate) fn absent(app_key: &str, room_id: &str, user_id: &str) -> Vec<u8> {
    under(scoped(ABSENT, app_key, &[room_id]), user_id)
}

/// Rooms being recorded, scanned area-wide by the media servers (RTC-07).
pub(crate) const RECORDING: &[u8] = b"rtcrec/";
/// What recording stored, per room.
pub(crate) const RECORDED: &[u8] = b"rtcrecorded/";

/// `rtcrec/{appKey}/{roomId}`
pub(crate) fn recording(app_key: &str, room_id: &str) -> Vec<u8> {
    under(scoped(RECORDING, app_key, &[]), room_id)
}

/// `rtcrecorded/{appKey}/{roomId}/`
pub(crate) fn recorded_streams(app_key: &str, room_id: &str) -> Vec<u8> {
    scoped(RECORDED, app_key, &[room_id])
}

/// `rtcrecorded/{appKey}/{roomId}/{fileId}`
pub(crate) fn recorded(app_key: &str, room_id: &str, file_id: &str) -> Vec<u8> {
    under(recorded_streams(app_key, room_id), file_id)
}

/// Each app's RTC room callback URL.
pub(crate) const CALLBACK: &[u8] = b"rtccallback/";

/// `rtccallback/{appKey}/` (one key; the slash lets deleting the app find it)
pub(crate) fn callback(app_key: &str) -> Vec<u8> {
    scoped(CALLBACK, app_key, &[])
}

/// Rooms mixed and pushed to a CDN, scanned area-wide by the media servers (RTC-09).
pub(crate) const MIXING: &[u8] = b"rtcmix/";

/// `rtcmix/{appKey}/{roomId}`
pub(crate) fn mixing(app_key: &str, room_id: &str) -> Vec<u8> {
    under(scoped(MIXING, app_key, &[]), room_id)
}

/// Users kept out of rooms until a time (`/rtc/user/block.json`).
pub(crate) const BLOCK: &[u8] = b"rtcblock/";

/// `rtcblock/{appKey}/{userId}`
pub(crate) fn block(app_key: &str, user_id: &str) -> Vec<u8> {
    under(scoped(BLOCK, app_key, &[]), user_id)
}
