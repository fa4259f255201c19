//! Deleting an app: everything both its environments keep, in every domain, then the
//! app itself.

use serde::{Deserialize, Serialize};

use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::store::Overlay;
use crate::state::{
    apps, chatrooms, conversations, feed, files, friends, groups, hosted_groups, messages, outbox,
    push, rtc, sensitive, ultragroups, usage, user_extras, users,
};

/// Removes the app, both keys and everything both environments keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteApp {
    pub app_key: String,
}

impl Apply for DeleteApp {
    /// The key asked for and how many users were removed.
    type Answer = (String, u64);

    fn apply(
        &self,
        _ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<(String, u64), CommandError> {
        let (app, _) = apps::by_key(state, &self.app_key)?;
        state.mark_erasure();
        let mut users_removed = 0;
        for creds in [&app.dev, &app.prod] {
            let app_key = creds.app_key.as_str();
            users_removed += users::delete_all(state, app_key)?;
            messages::delete_all(state, app_key)?;
            groups::delete_all(state, app_key)?;
            chatrooms::delete_all(state, app_key)?;
            conversations::delete_all(state, app_key)?;
            feed::delete_all(state, app_key)?;
            ultragroups::delete_all(state, app_key)?;
            outbox::delete_all(state, app_key)?;
            push::delete_all(state, app_key)?;
            sensitive::delete_all(state, app_key)?;
            user_extras::delete_all(state, app_key)?;
            friends::delete_all(state, app_key)?;
            hosted_groups::delete_all(state, app_key)?;
            files::delete_all(state, app_key)?;
            rtc::delete_all(state, app_key)?;
            super::calls::delete_all(state, app_key)?;
            usage::delete_all(state, app_key)?;
            // The answers to marked requests (`state/requests.rs`, a layer above).
            state.delete_app(&crate::state::keys::requests::PER_APP, app_key)?;
        }
        apps::delete(state, &app);
        Ok((self.app_key.clone(), users_removed))
    }
}
