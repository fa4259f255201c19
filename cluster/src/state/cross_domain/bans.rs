//! Banning users (MSG-08): the bans, and a feed event so the edges end the users' live
//! sessions.

use serde::{Deserialize, Serialize};

use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::feed::{self, FeedEvent};
use crate::state::store::Overlay;
use crate::state::users;

/// Bans users until `until_ms`: they cannot connect, and live sessions are closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockUsers {
    pub app_key: String,
    pub user_ids: Vec<String>,
    pub until_ms: u64,
}

impl Apply for BlockUsers {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let Self {
            app_key,
            user_ids,
            until_ms,
        } = self;
        users::block(state, app_key, user_ids, *until_ms)?;
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
