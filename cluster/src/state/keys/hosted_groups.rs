//! Keys of hosted group information (`/entrust/*`), kept beside the groups' own records
//! (`groups`): each hosted group's profile, owner and managers, its members' nicknames,
//! whom each member follows, and the names members give the group.

use super::{scoped, under};

pub(crate) const GROUP: &[u8] = b"egroup/";
pub(crate) const MEMBER: &[u8] = b"egmember/";
pub(crate) const FOLLOW: &[u8] = b"egfollow/";
pub(crate) const REMARK: &[u8] = b"egremark/";
pub(crate) const PER_APP: [&[u8]; 4] = [GROUP, MEMBER, FOLLOW, REMARK];
/// What a hosted group keeps under its id besides its record.
pub(crate) const PER_GROUP: [&[u8]; 3] = [MEMBER, FOLLOW, REMARK];

/// `egroup/{appKey}/{groupId}`
pub(crate) fn group(app_key: &str, group_id: &str) -> Vec<u8> {
    under(scoped(GROUP, app_key, &[]), group_id)
}

/// `{family}{appKey}/{groupId}/`
pub(crate) fn of_group(family: &[u8], app_key: &str, group_id: &str) -> Vec<u8> {
    scoped(family, app_key, &[group_id])
}

/// `{family}{appKey}/{groupId}/{userId}` (MEMBER, REMARK)
pub(crate) fn of_member(family: &[u8], app_key: &str, group_id: &str, user_id: &str) -> Vec<u8> {
    under(of_group(family, app_key, group_id), user_id)
}

/// `egfollow/{appKey}/{groupId}/{userId}/`: whom a member follows.
pub(crate) fn follows(app_key: &str, group_id: &str, user_id: &str) -> Vec<u8> {
    scoped(FOLLOW, app_key, &[group_id, user_id])
}

/// `egfollow/{appKey}/{groupId}/{userId}/{followedId}`
pub(crate) fn follow(app_key: &str, group_id: &str, user_id: &str, followed: &str) -> Vec<u8> {
    under(follows(app_key, group_id, user_id), followed)
}
