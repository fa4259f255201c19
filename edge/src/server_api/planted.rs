//! Test-only (`planted-bug`): with `stale-user-info` planted, each edge answers
//! `/user/info.json` with what it read for that user first, so a name written later
//! reads stale; the chaos harness's linearizability check must catch that.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{Map, Value};

use super::Fields;

type Cache = Mutex<HashMap<(String, String), Map<String, Value>>>;

pub(super) fn stale_user_info(app_key: &str, user_id: &str, answer: Fields) -> Fields {
    if !crate::sessions::planted("stale-user-info") {
        return answer;
    }
    static FIRST_READS: OnceLock<Cache> = OnceLock::new();
    let mut first = FIRST_READS
        .get_or_init(Cache::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let key = (app_key.to_string(), user_id.to_string());
    match (first.get(&key), answer) {
        (Some(cached), _) => Ok(cached.clone()),
        (None, Ok(fresh)) => Ok(first.entry(key).or_insert(fresh).clone()),
        (None, refused) => refused,
    }
}
