//! Expansion keys of a sent message (MSG-04): key/values its sender or the app server
//! attach and change later.

use serde::{Deserialize, Serialize};

use super::{by_uid, Message, MessageFlags, NewMessage};
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::keys::messages as keys;
use crate::state::store::{Overlay, StateRead};

/// SPEC MSG-04: at most 300 expansion keys per message.
pub const MAX_EXPANSION_KEYS: u64 = 300;
pub const MAX_EXPANSION_KEY_CHARS: usize = 32;
pub const MAX_EXPANSION_VALUE_CHARS: usize = 4096;

/// One key/value attached to a sent message, with when it was last set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpansionEntry {
    pub key: String,
    pub value: String,
    pub updated_at_ms: u64,
}

pub(in crate::state) fn expansions(
    state: &impl StateRead,
    app_key: &str,
    msg_uid: &str,
) -> Result<Vec<ExpansionEntry>, CommandError> {
    by_uid(state, app_key, msg_uid)?;
    Ok(state.scan(&keys::expansions(app_key, msg_uid))?)
}

/// The `RC:MsgExMsg` status message by which `message`'s conversation hears `sender`'s
/// expansion change `entries` (`None` removes a key): `{msgUID, set, remove}`. A client's
/// change and an app server's send the same.
pub fn change_notice(
    message: &Message,
    sender: &str,
    entries: &[(String, Option<String>)],
) -> NewMessage {
    let set: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .filter_map(|(key, value)| Some((key.clone(), value.clone()?.into())))
        .collect();
    let remove: Vec<&str> = entries
        .iter()
        .filter(|(_, value)| value.is_none())
        .map(|(key, _)| key.as_str())
        .collect();
    let content = serde_json::json!({ "msgUID": message.msg_uid, "set": set, "remove": remove });
    NewMessage {
        conversation: message.conversation.clone(),
        sender: sender.to_string(),
        recipient: None,
        object_name: "RC:MsgExMsg".into(),
        content: content.to_string(),
        flags: MessageFlags::status(),
        push_content: None,
        push_data: None,
        verify_blacklist: false,
        visible_to: message.visible_to.clone(),
        sender_device: None,
    }
}

/// Sets (`Some`) or deletes (`None`) expansion keys of a stored message (MSG-04).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeExpansion {
    pub app_key: String,
    pub msg_uid: String,
    pub entries: Vec<(String, Option<String>)>,
}

impl Apply for ChangeExpansion {
    type Answer = ();

    /// Sets (or, with `values` None, deletes) expansion keys of a stored message.
    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let msg_uid: &str = &self.msg_uid;
        let entries: &[(String, Option<String>)] = &self.entries;
        by_uid(state, app_key, msg_uid)?;
        let prefix = keys::expansions(app_key, msg_uid);
        for (key, value) in entries {
            if key.is_empty() || key.chars().count() > MAX_EXPANSION_KEY_CHARS {
                return Err(CommandError::invalid("key", "must be 1 to 32 characters"));
            }
            let full = keys::expansion(app_key, msg_uid, key);
            match value {
                Some(value) => {
                    if value.chars().count() > MAX_EXPANSION_VALUE_CHARS {
                        return Err(CommandError::invalid(
                            "value",
                            "must be at most 4096 characters",
                        ));
                    }
                    let entry = ExpansionEntry {
                        key: key.clone(),
                        value: value.clone(),
                        updated_at_ms: ctx.now_ms,
                    };
                    state.put(full, &entry)?;
                }
                None => state.delete(full),
            }
        }
        if state.count_prefix(&prefix)? > MAX_EXPANSION_KEYS {
            return Err(CommandError::Limit {
                what: "expansion keys per message".into(),
                limit: MAX_EXPANSION_KEYS,
            });
        }
        Ok(())
    }
}
