//! Keys of the answers to Server API requests an app marked with an id (`msgRandom`),
//! kept a minute so the same request is applied once (`state/requests.rs`).

use super::{of_app, under, Kept};

/// `once/{appKey}/{requestId}`: the answer to one marked request.
pub(crate) const ANSWER: &[u8] = b"once/";
/// The same by time, to prune them.
pub(crate) const ANSWER_BY_TIME: &[u8] = b"once-t/";
pub(crate) const ANSWERS: Kept = Kept {
    family: ANSWER,
    by_time: ANSWER_BY_TIME,
};
pub(crate) const PER_APP: [&[u8]; 1] = [ANSWER];

/// `once/{appKey}/{requestId}`
pub(crate) fn answer(app_key: &str, request_id: &str) -> Vec<u8> {
    under(of_app(ANSWER, app_key), request_id)
}
