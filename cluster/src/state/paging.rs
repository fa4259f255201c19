//! Pages of the tier-2 reads (`/user/*`, `/friend/*`, `/entrust/*`): a list in its natural
//! order, maybe reversed, cut to the page asked; the answer tells how many there are.

use serde::{Deserialize, Serialize};

/// Which page of a list: `limit` items after the first `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub offset: usize,
    pub limit: usize,
    /// The list's order reversed (newest first).
    pub newest_first: bool,
}

/// The page of `all` (oldest first) that `window` asks for, and how many there are.
pub(crate) fn page<T>(mut all: Vec<T>, window: Window) -> (u64, Vec<T>) {
    let total = all.len() as u64;
    if window.newest_first {
        all.reverse();
    }
    let page = all
        .into_iter()
        .skip(window.offset)
        .take(window.limit)
        .collect();
    (total, page)
}
