//! `/user/delusers.json`: users are erased (LIFE-02): the user record (name, portrait,
//! tags, token validity: every token stops working), its ban, its own blacklist and
//! whitelist, its hosted profile, the remarks it gave, its private-chat ban, its quiet
//! hours, its push devices, its friendships (for both sides), friend permission and the
//! friend requests waiting for it, its group, ultra group and chatroom memberships (the
//! other members are told), its conversation list, read marks and settings, and its sync
//! inbox; its live sessions end. The messages it sent stay in their conversations, as
//! the other side's copy.

use serde::{Deserialize, Serialize};

use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::feed::{self, FeedEvent};
use crate::state::store::Overlay;
use crate::state::{
    apps, chatrooms, conversations, friends, groups, push, ultragroups, user_extras, users,
};

/// Most users one call erases.
pub const MAX_USERS_PER_CALL: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteUsers {
    pub app_key: String,
    pub user_ids: Vec<String>,
}

impl Apply for DeleteUsers {
    type Answer = ();

    fn apply(&self, ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self { app_key, user_ids } = self;
        apps::by_key(state, app_key)?;
        if user_ids.len() > MAX_USERS_PER_CALL {
            return Err(CommandError::Limit {
                what: "users per call".into(),
                limit: MAX_USERS_PER_CALL as u64,
            });
        }
        for user_id in user_ids {
            users::validate_user_id(user_id)?;
            users::erase(state, app_key, user_id)?;
            user_extras::erase_user(state, app_key, user_id)?;
            push::erase_user(state, app_key, user_id)?;
            friends::erase_user(state, app_key, user_id)?;
            groups::leave_all(ctx, state, app_key, user_id)?;
            ultragroups::leave_all(ctx, state, app_key, user_id)?;
            chatrooms::leave_all(ctx, state, app_key, user_id)?;
            conversations::erase_user(state, app_key, user_id)?;
            feed::erase_inbox(state, app_key, user_id)?;
        }
        // The edges end banned users' sessions; reconnecting fails, the user is gone.
        feed::append_event(
            state,
            FeedEvent::Banned {
                app_key: app_key.clone(),
                user_ids: user_ids.clone(),
            },
        )?;
        Ok(())
    }
}
