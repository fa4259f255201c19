//! Keys of uploaded media: each file's record and when it expires, each environment's
//! usage, file limits and file access.

use super::{of_app, scoped, under};

pub(crate) const FILE: &[u8] = b"file/";
pub(crate) const USAGE: &[u8] = b"fileusage/";
pub(crate) const LIMITS: &[u8] = b"filelimits/";
pub(crate) const EXPIRY: &[u8] = b"fileexpiry/";
pub(crate) const ACCESS: &[u8] = b"fileaccess/";
pub(crate) const OWNER: &[u8] = b"fileowner/";
pub(crate) const PER_APP: [&[u8]; 6] = [FILE, USAGE, LIMITS, EXPIRY, ACCESS, OWNER];

/// `file/{appKey}/{fileId}`
pub(crate) fn file(app_key: &str, file_id: &str) -> Vec<u8> {
    under(of_app(FILE, app_key), file_id)
}

/// `fileusage/{appKey}/`
pub(crate) fn usage(app_key: &str) -> Vec<u8> {
    of_app(USAGE, app_key)
}

/// `filelimits/{appKey}/`
pub(crate) fn limits(app_key: &str) -> Vec<u8> {
    of_app(LIMITS, app_key)
}

/// `fileaccess/{appKey}/`
pub(crate) fn access(app_key: &str) -> Vec<u8> {
    of_app(ACCESS, app_key)
}

/// `fileowner/{appKey}/{userId}/`: the files a user uploaded.
pub(crate) fn owned_by(app_key: &str, user_id: &str) -> Vec<u8> {
    scoped(OWNER, app_key, &[user_id])
}

/// `fileowner/{appKey}/{userId}/{fileId}`
pub(crate) fn owned(app_key: &str, user_id: &str, file_id: &str) -> Vec<u8> {
    under(owned_by(app_key, user_id), file_id)
}

/// `fileexpiry/{appKey}/`: an environment's files in the order they expire.
pub(crate) fn expiries(app_key: &str) -> Vec<u8> {
    of_app(EXPIRY, app_key)
}

/// `fileexpiry/{appKey}/{expiresMs:020}/{fileId}`
pub(crate) fn expiry(app_key: &str, expires_ms: u64, file_id: &str) -> Vec<u8> {
    under(
        [expiries(app_key), format!("{expires_ms:020}/").into_bytes()].concat(),
        file_id,
    )
}

/// The App Key a [`file`] key names.
pub(crate) fn app_of(key: &[u8]) -> Option<&str> {
    let path = key.strip_prefix(FILE)?;
    let end = path.iter().position(|b| *b == b'/')?;
    std::str::from_utf8(&path[..end]).ok()
}

/// The App Key a [`usage`] key names.
pub(crate) fn usage_app(key: &[u8]) -> Option<&str> {
    std::str::from_utf8(key.strip_prefix(USAGE)?.strip_suffix(b"/")?).ok()
}
