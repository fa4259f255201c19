//! Keys of per-app usage (CON-01, PUSH-09): hourly counters per app and category, the
//! number of each app's users online now, and area-wide message totals (the metrics').

use super::{of_app, padded, parse_padded, scoped};

/// `usage/{appKey}/{category}/{hourStartMs:020}`: one hour's counters of one kind.
pub(crate) const HOUR: &[u8] = b"usage/";
/// `usageonline/{appKey}/`: how many of the app's users have a session now.
pub(crate) const ONLINE: &[u8] = b"usageonline/";
/// `usagetotal/{what}`: area-wide totals that only grow (the metrics' counters).
pub(crate) const TOTAL: &[u8] = b"usagetotal/";
pub(crate) const PER_APP: [&[u8]; 2] = [HOUR, ONLINE];

/// `usage/{appKey}/{category}/`
pub(crate) fn category(app_key: &str, category: &str) -> Vec<u8> {
    scoped(HOUR, app_key, &[category])
}

/// `usage/{appKey}/{category}/{hourStartMs:020}`
pub(crate) fn hour(app_key: &str, category_name: &str, hour_start_ms: u64) -> Vec<u8> {
    padded(&category(app_key, category_name), hour_start_ms)
}

/// The hour a [`hour`] key (under its [`category`] prefix) is for.
pub(crate) fn hour_of(category_prefix: &[u8], key: &[u8]) -> Option<u64> {
    parse_padded(key.strip_prefix(category_prefix)?)
}

/// `usageonline/{appKey}/`
pub(crate) fn online(app_key: &str) -> Vec<u8> {
    of_app(ONLINE, app_key)
}

/// `usagetotal/{what}`
pub(crate) fn total(what: &str) -> Vec<u8> {
    [TOTAL, what.as_bytes()].concat()
}
