//! A user removes conversations from its list (MSG-03): each stays out of it until a
//! newer message arrives, and what was unread in it counts as read. Its history and
//! settings stay; a group stays joined.

use meridian_proto::{Conversation, ConversationType};
use serde::{Deserialize, Serialize};

use super::{keys, MAX_UNREAD};
use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::store::{Overlay, StateRead};
use crate::state::users::validate_user_id;
use crate::state::{apps, messages};

/// Most conversations one removal names.
pub const MAX_REMOVED: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoveConversations {
    pub app_key: String,
    pub user_id: String,
    pub conversations: Vec<Conversation>,
}

impl Apply for RemoveConversations {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let (app_key, user) = (self.app_key.as_str(), self.user_id.as_str());
        apps::by_key(state, app_key)?;
        validate_user_id(user)?;
        if self.conversations.len() > MAX_REMOVED {
            return Err(CommandError::Limit {
                what: "conversations per removal".into(),
                limit: MAX_REMOVED as u64,
            });
        }
        for conversation in &self.conversations {
            if matches!(
                conversation.kind,
                ConversationType::Chatroom | ConversationType::UltraGroup
            ) {
                return Err(CommandError::invalid(
                    "conversationType",
                    "chatrooms and ultra groups are never listed",
                ));
            }
            let read_key = keys::of_conversation(keys::READ, app_key, user, conversation);
            let read: u64 = state.get(&read_key)?.unwrap_or(0);
            let (last, _) =
                messages::last_and_unread(state, app_key, conversation, user, read, 0, MAX_UNREAD)?;
            let last_seq = last.map_or(0, |message| message.seq);
            if last_seq > read {
                state.put(read_key, &last_seq)?;
            }
            let removed = keys::of_conversation(keys::REMOVED, app_key, user, conversation);
            state.put(removed, &last_seq)?;
        }
        Ok(())
    }
}

/// Whether `user` removed `conversation` from its list and nothing newer than
/// `last_seq` came since.
pub(super) fn removed(
    state: &impl StateRead,
    app_key: &str,
    user: &str,
    conversation: &Conversation,
    last_seq: u64,
) -> Result<bool, CommandError> {
    let key = keys::of_conversation(keys::REMOVED, app_key, user, conversation);
    Ok(state.get::<u64>(&key)?.is_some_and(|at| last_seq <= at))
}
