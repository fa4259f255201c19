//! Keys of call records (RTC-03, RTC-10): each call by its id, the call each user is in
//! while it lasts, the callees still to answer (with when they were invited), and the
//! parties whose sessions are gone.

use super::{scoped, under};

pub(crate) const CALL: &[u8] = b"call/";
/// The active call a user is in (ringing or answered): busy for another.
pub(crate) const USER_CALL: &[u8] = b"calluser/";
/// Callees not yet answering, scanned area-wide by the leader's no-answer sweep.
pub(crate) const RINGING: &[u8] = b"callring/";
/// Ended calls by outcome, area-wide (`callcount/{outcome}`): the metrics' counters.
pub(crate) const OUTCOMES: &[u8] = b"callcount/";
pub(crate) const PER_APP: [&[u8]; 4] = [CALL, USER_CALL, RINGING, GONE];

/// `call/{appKey}/{callId}`
pub(crate) fn call(app_key: &str, call_id: &str) -> Vec<u8> {
    under(scoped(CALL, app_key, &[]), call_id)
}

/// `calluser/{appKey}/{userId}`
pub(crate) fn user_call(app_key: &str, user_id: &str) -> Vec<u8> {
    under(scoped(USER_CALL, app_key, &[]), user_id)
}

/// `callring/{appKey}/{callId}/{userId}`
pub(crate) fn ringing(app_key: &str, call_id: &str, user_id: &str) -> Vec<u8> {
    under(scoped(RINGING, app_key, &[call_id]), user_id)
}

/// `callcount/{outcome}`
pub(crate) fn outcome(outcome: &str) -> Vec<u8> {
    [OUTCOMES, outcome.as_bytes()].concat()
}

/// Parties of answered calls whose every session is gone, with since when: the leader's
/// sweep hangs up for them once that lasts (RTC-03, "network").
pub(crate) const GONE: &[u8] = b"callgone/";

/// `callgone/{appKey}/{callId}/{userId}`
pub(crate) fn gone(app_key: &str, call_id: &str, user_id: &str) -> Vec<u8> {
    under(scoped(GONE, app_key, &[call_id]), user_id)
}
