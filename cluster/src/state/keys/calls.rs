//! Keys of call records (RTC-03, RTC-10): each call by its id, the call each user is in
//! while it lasts, and the callees still to answer (with when they were invited).

use super::{scoped, under};

pub(crate) const CALL: &[u8] = b"call/";
/// The active call a user is in (ringing or answered): busy for another.
pub(crate) const USER_CALL: &[u8] = b"calluser/";
/// Callees not yet answering, scanned area-wide by the leader's no-answer sweep.
pub(crate) const RINGING: &[u8] = b"callring/";
/// Ended calls by outcome, area-wide (`callcount/{outcome}`): the metrics' counters.
pub(crate) const OUTCOMES: &[u8] = b"callcount/";
pub(crate) const PER_APP: [&[u8]; 3] = [CALL, USER_CALL, RINGING];

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
