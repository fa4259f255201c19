//! Keys of chatrooms: rooms, their sets, attributes, members, offline members and load
//! windows.

use super::{scoped, under};

pub(crate) const ROOM: &[u8] = b"room/";
pub(crate) const SET: &[u8] = b"rset/";
pub(crate) const ENTRY: &[u8] = b"rentry/";
pub(crate) const MEMBER: &[u8] = b"rmember/";
/// The rooms a user is in.
pub(crate) const USER_ROOMS: &[u8] = b"ruser/";
pub(crate) const OFFLINE: &[u8] = b"roffline/";
pub(crate) const WINDOW: &[u8] = b"rwindow/";
/// Settings made for a room before it exists, taken over when it is created.
pub(crate) const PRESET: &[u8] = b"rpreset/";
pub(crate) const PER_APP: [&[u8]; 8] = [
    ROOM, SET, ENTRY, MEMBER, USER_ROOMS, WINDOW, OFFLINE, PRESET,
];
/// What a room keeps under its own id (destroying it removes them).
pub(crate) const PER_ROOM: [&[u8]; 4] = [SET, ENTRY, MEMBER, OFFLINE];
/// The scope of app-wide sets.
pub(crate) const APP_SCOPE: &str = "*";

/// `room/{appKey}/{roomId}`
pub(crate) fn room(app_key: &str, room_id: &str) -> Vec<u8> {
    under(scoped(ROOM, app_key, &[]), room_id)
}

/// `rpreset/{appKey}/{roomId}`
pub(crate) fn preset(app_key: &str, room_id: &str) -> Vec<u8> {
    under(scoped(PRESET, app_key, &[]), room_id)
}

/// `{family}{appKey}/{roomId}/`: what a room keeps in one family.
pub(crate) fn of_room(family: &[u8], app_key: &str, room_id: &str) -> Vec<u8> {
    scoped(family, app_key, &[room_id])
}

/// `rset/{appKey}/{roomId or *}/{set tag}/`
pub(crate) fn set(app_key: &str, scope: &str, tag: &str) -> Vec<u8> {
    scoped(SET, app_key, &[scope, tag])
}

/// `rset/{appKey}/{roomId or *}/{set tag}/{member}`
pub(crate) fn set_member(app_key: &str, scope: &str, tag: &str, member: &str) -> Vec<u8> {
    under(set(app_key, scope, tag), member)
}

/// `rentry/{appKey}/{roomId}/{key}`
pub(crate) fn entry(app_key: &str, room_id: &str, key: &str) -> Vec<u8> {
    under(of_room(ENTRY, app_key, room_id), key)
}

/// `rmember/{appKey}/{roomId}/{userId}/`
pub(crate) fn member(app_key: &str, room_id: &str, user_id: &str) -> Vec<u8> {
    scoped(MEMBER, app_key, &[room_id, user_id])
}

/// `ruser/{appKey}/{userId}/`
pub(crate) fn user_rooms(app_key: &str, user_id: &str) -> Vec<u8> {
    scoped(USER_ROOMS, app_key, &[user_id])
}

/// `ruser/{appKey}/{userId}/{roomId}/`
pub(crate) fn user_room(app_key: &str, user_id: &str, room_id: &str) -> Vec<u8> {
    scoped(USER_ROOMS, app_key, &[user_id, room_id])
}

/// `roffline/{appKey}/{roomId}/{userId}/`
pub(crate) fn offline(app_key: &str, room_id: &str, user_id: &str) -> Vec<u8> {
    scoped(OFFLINE, app_key, &[room_id, user_id])
}

/// The user an [`offline`] key (under the room's prefix) is for.
pub(crate) fn offline_user(room_prefix: &[u8], key: &[u8]) -> String {
    String::from_utf8_lossy(&key[room_prefix.len()..])
        .trim_end_matches('/')
        .to_string()
}

/// `rwindow/{appKey}/{roomId}/`
pub(crate) fn window(app_key: &str, room_id: &str) -> Vec<u8> {
    scoped(WINDOW, app_key, &[room_id])
}
