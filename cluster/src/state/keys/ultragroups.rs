//! Keys of ultra groups: groups, members, each user's groups, channels and their sets,
//! mutes and push levels.

use super::scoped;

pub(crate) const GROUP: &[u8] = b"ug/";
pub(crate) const MEMBER: &[u8] = b"ugmember/";
pub(crate) const USER: &[u8] = b"uguser/";
pub(crate) const CHANNEL: &[u8] = b"ugchannel/";
pub(crate) const SET: &[u8] = b"ugset/";
pub(crate) const MUTED: &[u8] = b"ugmuted/";
pub(crate) const LEVEL: &[u8] = b"uglevel/";
pub(crate) const PER_APP: [&[u8]; 7] = [GROUP, MEMBER, USER, CHANNEL, SET, MUTED, LEVEL];
/// What a group keeps under its own id (dismissing it removes them).
pub(crate) const PER_GROUP: [&[u8]; 5] = [MEMBER, CHANNEL, SET, MUTED, LEVEL];

/// `ug/{appKey}/{groupId}/`
pub(crate) fn group(app_key: &str, group_id: &str) -> Vec<u8> {
    scoped(GROUP, app_key, &[group_id])
}

/// `{family}{appKey}/{groupId}/`: what a group keeps in one family.
pub(crate) fn of_group(family: &[u8], app_key: &str, group_id: &str) -> Vec<u8> {
    scoped(family, app_key, &[group_id])
}

/// `ugmember/{appKey}/{groupId}/{userId}/`
pub(crate) fn member(app_key: &str, group_id: &str, user_id: &str) -> Vec<u8> {
    scoped(MEMBER, app_key, &[group_id, user_id])
}

/// The member a [`member`] key (under the group's prefix) names.
pub(crate) fn member_id(group_prefix: &[u8], key: &[u8]) -> String {
    String::from_utf8_lossy(&key[group_prefix.len()..])
        .trim_end_matches('/')
        .to_string()
}

/// `uguser/{appKey}/{userId}/`
pub(crate) fn user_groups(app_key: &str, user_id: &str) -> Vec<u8> {
    scoped(USER, app_key, &[user_id])
}

/// `uguser/{appKey}/{userId}/{groupId}/`
pub(crate) fn user_group(app_key: &str, user_id: &str, group_id: &str) -> Vec<u8> {
    scoped(USER, app_key, &[user_id, group_id])
}

/// `{family}{appKey}/{groupId}/{channel}/`: a channel's record, mute or push level
/// (CHANNEL, MUTED, LEVEL), or its sets (SET).
pub(crate) fn of_channel(family: &[u8], app_key: &str, group_id: &str, channel: &str) -> Vec<u8> {
    scoped(family, app_key, &[group_id, channel])
}

/// `ugset/{appKey}/{groupId}/{channel}/{set tag}/`
pub(crate) fn set(app_key: &str, group_id: &str, channel: &str, tag: &str) -> Vec<u8> {
    scoped(SET, app_key, &[group_id, channel, tag])
}

/// `ugset/{appKey}/{groupId}/{channel}/{set tag}/{userId}`
pub(crate) fn set_member(
    app_key: &str,
    group_id: &str,
    channel: &str,
    tag: &str,
    user_id: &str,
) -> Vec<u8> {
    super::under(set(app_key, group_id, channel, tag), user_id)
}
