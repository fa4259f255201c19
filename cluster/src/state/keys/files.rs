//! Keys of uploaded media: each file's record, each environment's usage and file limits.

use super::{of_app, under};

pub(crate) const FILE: &[u8] = b"file/";
pub(crate) const USAGE: &[u8] = b"fileusage/";
pub(crate) const LIMITS: &[u8] = b"filelimits/";
pub(crate) const PER_APP: [&[u8]; 3] = [FILE, USAGE, LIMITS];

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
