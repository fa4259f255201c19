//! Message expansion (MSG-04) as the commercial SDKs carry it: the SDK sends a change as an
//! `RC:MsgExMsg` message `{mid, put}` or `{mid, del}` and reads the same shape when one
//! arrives, where the session core takes `setExpansion` and tells the conversation with
//! an `RC:MsgExMsg` of its own, `{msgUID, set, remove}`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

/// The object name of an expansion change, in both protocols.
pub(super) const OBJECT_NAME: &str = "RC:MsgExMsg";

/// A change the SDK sent.
#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct Change {
    #[serde(rename = "mid")]
    pub msg_uid: String,
    #[serde(default, rename = "put")]
    pub set: BTreeMap<String, String>,
    #[serde(default, rename = "del")]
    pub remove: Vec<String>,
}

/// The change an SDK's `RC:MsgExMsg` content asks for; `None` when it is not one the
/// core can carry out (not this shape, or a `clear`, which only ultra groups have).
pub(super) fn from_sdk(content: &str) -> Option<Change> {
    let value: Value = serde_json::from_str(content).ok()?;
    if value
        .get("clear")
        .is_some_and(|clear| clear != &json!(false))
    {
        return None;
    }
    serde_json::from_value(value).ok()
}

/// The core's `RC:MsgExMsg` content as the SDK reads it: the keys set, or else those
/// removed (the SDK reads one of the two; a change of the JSON protocol that does both
/// reaches it as the keys set).
pub(super) fn for_sdk(content: &str) -> Option<String> {
    let notice: Value = serde_json::from_str(content).ok()?;
    let msg_uid = notice.get("msgUID")?;
    let set = notice["set"].as_object().filter(|set| !set.is_empty());
    Some(
        match set {
            Some(set) => json!({ "mid": msg_uid, "put": set }),
            None => json!({ "mid": msg_uid, "del": notice["remove"] }),
        }
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdks_change_reads_as_the_cores_and_back() {
        let change = from_sdk(r#"{"mid":"M1","put":{"likes":"2"}}"#).unwrap();
        assert_eq!(change.msg_uid, "M1");
        assert_eq!(change.set, BTreeMap::from([("likes".into(), "2".into())]));
        assert!(change.remove.is_empty());
        let removal = from_sdk(r#"{"mid":"M1","del":["likes"]}"#).unwrap();
        assert_eq!(removal.remove, ["likes"]);
        // Not a change the core knows: no message id, a value that is no text, a clear.
        for odd in [
            r#"{"put":{"a":"1"}}"#,
            r#"{"mid":"M1","put":{"a":1}}"#,
            r#"{"mid":"M1","clear":1}"#,
            "not json",
        ] {
            assert_eq!(from_sdk(odd), None, "{odd}");
        }

        let set = for_sdk(r#"{"msgUID":"M1","set":{"likes":"2"},"remove":[]}"#).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&set).unwrap(),
            json!({"mid": "M1", "put": {"likes": "2"}})
        );
        let removed = for_sdk(r#"{"msgUID":"M1","set":{},"remove":["likes"]}"#).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&removed).unwrap(),
            json!({"mid": "M1", "del": ["likes"]})
        );
        assert_eq!(for_sdk(r#"{"set":{}}"#), None);
    }
}
