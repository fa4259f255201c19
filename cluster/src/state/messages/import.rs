//! History moved in from another provider (API-04).

use meridian_proto::{Conversation, ConversationType};
use serde::{Deserialize, Serialize};

use super::{append, get, last_seq, next_uid, validate, Message, MessageFlags, NewMessage};
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::apps;
use crate::state::keys::messages as keys;
use crate::state::store::{Overlay, StateRead};

/// A message of another provider's history, moved in (API-04).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedMessage {
    pub conversation: Conversation,
    pub sender: String,
    pub object_name: String,
    pub content: String,
    pub sent_time_ms: u64,
    /// The id it had; kept when given (and unique), so references to it still work.
    #[serde(default)]
    pub msg_uid: Option<String>,
}

/// Messages one import call may carry.
pub const MAX_IMPORT: usize = 1000;

/// Moves in another provider's history (API-04).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportMessages {
    pub app_key: String,
    pub messages: Vec<ImportedMessage>,
}

impl Apply for ImportMessages {
    type Answer = u64;

    /// Appends moved-in history to each conversation's log (API-04). History only: imported
    /// messages are not synced or delivered. Per conversation they must come in time order,
    /// after what the log already holds, so history stays in time order.
    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<u64, CommandError> {
        let app_key: &str = &self.app_key;
        let imported: &[ImportedMessage] = &self.messages;
        apps::by_key(state, app_key)?;
        if imported.len() > MAX_IMPORT {
            return Err(CommandError::Limit {
                what: "messages per import".into(),
                limit: MAX_IMPORT as u64,
            });
        }
        for item in imported {
            let as_new = NewMessage {
                conversation: item.conversation.clone(),
                sender: item.sender.clone(),
                recipient: None,
                object_name: item.object_name.clone(),
                content: item.content.clone(),
                flags: MessageFlags::builtin(&item.object_name),
                push_content: None,
                push_data: None,
                verify_blacklist: false,
                visible_to: Vec::new(),
                sender_device: None,
            };
            validate(&as_new)?;
            if item.conversation.kind == ConversationType::Chatroom {
                return Err(CommandError::invalid(
                    "conversationType",
                    "chatroom history is not imported",
                ));
            }
            let newest = last_seq(state, app_key, &item.conversation)?;
            if let Some(last) = get(state, app_key, &item.conversation, newest)? {
                if item.sent_time_ms < last.sent_time_ms {
                    return Err(CommandError::invalid(
                        "sentTime",
                        "history is imported oldest first, after what the conversation holds",
                    ));
                }
            }
            if item.sent_time_ms > ctx.now_ms {
                return Err(CommandError::invalid("sentTime", "is in the future"));
            }
            let msg_uid = match &item.msg_uid {
                Some(uid) => {
                    if uid.is_empty() || uid.len() > 64 {
                        return Err(CommandError::invalid(
                            "msgUID",
                            "must be 1 to 64 characters",
                        ));
                    }
                    if state.get_raw(&keys::uid(app_key, uid))?.is_some() {
                        return Err(CommandError::Conflict {
                            what: format!("message {uid}"),
                        });
                    }
                    uid.clone()
                }
                None => next_uid(ctx, state)?,
            };
            let mut message = Message {
                msg_uid,
                conversation: item.conversation.clone(),
                sender: item.sender.clone(),
                object_name: item.object_name.clone(),
                content: item.content.clone(),
                sent_time_ms: item.sent_time_ms,
                seq: 0,
                counted: false,
                push_content: None,
                push_data: None,
                recalled: false,
                modified: false,
                visible_to: Vec::new(),
                // Not in the feed: 0 sorts before every live message.
                pos: 0,
                sender_device: None,
            };
            append(state, app_key, &mut message)?;
        }
        Ok(imported.len() as u64)
    }
}
