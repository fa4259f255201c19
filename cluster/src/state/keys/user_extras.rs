//! Keys of what the tier-2 `/user/*` paths keep beside the user record: hosted profiles,
//! push remarks, private-chat bans and quiet hours.

use super::{of_app, scoped, under};

pub(crate) const PROFILE: &[u8] = b"uprofile/";
pub(crate) const REMARK: &[u8] = b"uremark/";
pub(crate) const PRIVATE_BAN: &[u8] = b"privban/";
pub(crate) const QUIET: &[u8] = b"quiet/";
pub(crate) const PER_APP: [&[u8]; 4] = [PROFILE, REMARK, PRIVATE_BAN, QUIET];

/// `uprofile/{appKey}/{userId}`
pub(crate) fn profile(app_key: &str, user_id: &str) -> Vec<u8> {
    under(of_app(PROFILE, app_key), user_id)
}

/// `uremark/{appKey}/{userId}/`: the remarks a user gave others.
pub(crate) fn remarks(app_key: &str, user_id: &str) -> Vec<u8> {
    scoped(REMARK, app_key, &[user_id])
}

/// `uremark/{appKey}/{userId}/{targetId}`
pub(crate) fn remark(app_key: &str, user_id: &str, target_id: &str) -> Vec<u8> {
    under(remarks(app_key, user_id), target_id)
}

/// `privban/{appKey}/{userId}`
pub(crate) fn private_ban(app_key: &str, user_id: &str) -> Vec<u8> {
    under(of_app(PRIVATE_BAN, app_key), user_id)
}

/// `quiet/{appKey}/{userId}`
pub(crate) fn quiet(app_key: &str, user_id: &str) -> Vec<u8> {
    under(of_app(QUIET, app_key), user_id)
}
