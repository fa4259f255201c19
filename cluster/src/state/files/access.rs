//! Private mode (FILE-01): by default a signed link is enough to fetch a file; in private
//! mode only the file's uploader, the app server and the members of the conversation the
//! file was uploaded for may, so a link that leaks from a group is of no use outside it.

use meridian_proto::{Conversation, ConversationType};
use serde::{Deserialize, Serialize};

use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::apps;
use crate::state::keys::chatrooms as room_keys;
use crate::state::keys::files as keys;
use crate::state::store::{Overlay, StateRead};
use crate::state::{groups, ultragroups};

/// Who may fetch an app's files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FileAccess {
    /// Only the uploader, the app server and the conversation's members.
    pub private: bool,
}

/// Replaces an app's file access.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetFileAccess {
    pub app_key: String,
    pub access: FileAccess,
}

impl Apply for SetFileAccess {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        state.put(keys::access(&self.app_key), &self.access)?;
        Ok(())
    }
}

pub(super) fn access(state: &impl StateRead, app_key: &str) -> Result<FileAccess, CommandError> {
    Ok(state.get(&keys::access(app_key))?.unwrap_or_default())
}

/// Whether `user_id` is in `conversation` now: a party of a private or system
/// conversation, a member of a group or ultra group, in a chatroom.
pub(super) fn is_in(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
    conversation: &Conversation,
) -> Result<bool, CommandError> {
    let id = conversation.first.as_str();
    Ok(match conversation.kind {
        ConversationType::Private => {
            conversation.first == user_id || conversation.second == user_id
        }
        ConversationType::System => conversation.second == user_id,
        ConversationType::Group => groups::membership(state, app_key, id, user_id)?.is_some(),
        ConversationType::UltraGroup => {
            ultragroups::joined_at_pos(state, app_key, id, user_id)?.is_some()
        }
        ConversationType::Chatroom => state
            .get_raw(&room_keys::member(app_key, id, user_id))?
            .is_some(),
    })
}
