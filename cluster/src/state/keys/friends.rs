//! Keys of hosted friend relations (`/friend/*`): each user's friends, friend-request
//! permission and the requests waiting for its approval.

use super::{of_app, scoped, under};

pub(crate) const FRIEND: &[u8] = b"friend/";
pub(crate) const PERMISSION: &[u8] = b"friendperm/";
pub(crate) const REQUEST: &[u8] = b"friendreq/";
pub(crate) const PER_APP: [&[u8]; 3] = [FRIEND, PERMISSION, REQUEST];

/// `friend/{appKey}/{userId}/`: a user's friends.
pub(crate) fn friends(app_key: &str, user_id: &str) -> Vec<u8> {
    scoped(FRIEND, app_key, &[user_id])
}

/// `friend/{appKey}/{userId}/{friendId}`
pub(crate) fn friend(app_key: &str, user_id: &str, friend_id: &str) -> Vec<u8> {
    under(friends(app_key, user_id), friend_id)
}

/// `friendperm/{appKey}/{userId}`
pub(crate) fn permission(app_key: &str, user_id: &str) -> Vec<u8> {
    under(of_app(PERMISSION, app_key), user_id)
}

/// `friendreq/{appKey}/{targetId}/`: requests waiting for `targetId`.
pub(crate) fn requests(app_key: &str, target_id: &str) -> Vec<u8> {
    scoped(REQUEST, app_key, &[target_id])
}

/// `friendreq/{appKey}/{targetId}/{fromId}`
pub(crate) fn request(app_key: &str, target_id: &str, from_id: &str) -> Vec<u8> {
    under(requests(app_key, target_id), from_id)
}
