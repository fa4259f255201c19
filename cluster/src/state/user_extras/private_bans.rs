//! Users forbidden to send in private chats (`/user/chat/fb/*`, `type=PERSON`): their
//! client sends to a private conversation are refused; the Server API may still send for
//! them, as commercially.

use serde::{Deserialize, Serialize};

use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::apps;
use crate::state::keys::{of_app, user_extras as keys};
use crate::state::store::{Overlay, StateRead};
use crate::state::users::validate_user_id;

/// Most users one call names.
pub const MAX_USERS_PER_CALL: usize = 1000;

/// Every banned user of the app, in id order.
pub(crate) fn banned(state: &impl StateRead, app_key: &str) -> Result<Vec<String>, CommandError> {
    apps::by_key(state, app_key)?;
    Ok(state.scan(&of_app(keys::PRIVATE_BAN, app_key))?)
}

/// Refuses a client's private send from a banned user.
pub(crate) fn may_send(
    state: &impl StateRead,
    app_key: &str,
    sender: &str,
) -> Result<(), CommandError> {
    match state.get::<String>(&keys::private_ban(app_key, sender))? {
        Some(_) => Err(CommandError::Muted {
            what: "private chats".into(),
        }),
        None => Ok(()),
    }
}

/// Bans (`banned`) or lifts the ban of users in private chats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetPrivateChatBan {
    pub app_key: String,
    pub user_ids: Vec<String>,
    pub banned: bool,
}

impl Apply for SetPrivateChatBan {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        if self.user_ids.len() > MAX_USERS_PER_CALL {
            return Err(CommandError::Limit {
                what: "users per call".into(),
                limit: MAX_USERS_PER_CALL as u64,
            });
        }
        for user_id in &self.user_ids {
            validate_user_id(user_id)?;
            let key = keys::private_ban(&self.app_key, user_id);
            if self.banned {
                state.put(key, user_id)?;
            } else {
                state.delete(key);
            }
        }
        Ok(())
    }
}
