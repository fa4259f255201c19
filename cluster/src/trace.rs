//! Request ids: an edge names every request it serves (or keeps the caller's
//! `X-Request-Id`), and the id travels with every cluster call made while serving it, to
//! the node's logs. Within a process it rides a task-local; between processes it rides
//! the internal API's request envelope.

use std::future::Future;

use serde::{Deserialize, Serialize};

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `work` as part of request `id`: cluster calls it makes carry the id.
pub async fn with_request_id<F: Future>(id: String, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// The id of the request this task is serving, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// A fresh id: 16 hex digits.
pub fn new_request_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// A caller's id, kept when it is at most 64 letters, digits, `-`, `_` or `.`.
pub fn accept_request_id(raw: &str) -> Option<String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    (!raw.is_empty() && raw.len() <= 64 && raw.chars().all(plain)).then(|| raw.to_string())
}

/// An internal API request with the ids of the edge requests it serves (a coalesced
/// write serves several).
#[derive(Debug, Serialize, Deserialize)]
pub struct Traced<I, R> {
    pub request_ids: I,
    pub request: R,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_id_is_visible_inside_its_request_only() {
        assert_eq!(current_request_id(), None);
        let inside = with_request_id("r-1".into(), async { current_request_id() }).await;
        assert_eq!(inside.as_deref(), Some("r-1"));
        assert_eq!(current_request_id(), None);
    }

    #[test]
    fn only_short_plain_ids_are_kept() {
        assert_eq!(
            accept_request_id("abc-123_x.y").as_deref(),
            Some("abc-123_x.y")
        );
        assert_eq!(accept_request_id(""), None);
        assert_eq!(accept_request_id("a b"), None);
        assert_eq!(accept_request_id(&"x".repeat(65)), None);
        assert_eq!(new_request_id().len(), 16);
    }
}
