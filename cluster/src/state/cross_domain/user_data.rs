//! The reads of the tier-2 `/user/*` paths: pages of the app's users and profiles, and a
//! user's remarks, private-chat bans and quiet hours. Pages are cut here so only one page
//! travels to the edge; the users are read whole to sort them by registration, which
//! costs O(users) per page (fine for the `dev` environment these paths are used with).

use serde::{Deserialize, Serialize};

use crate::state::apply::CommandError;
use crate::state::apps;
use crate::state::keys::{of_app, users as user_keys};
use crate::state::store::StateRead;
use crate::state::user_extras::profiles::{self, Profile};
use crate::state::user_extras::quiet_hours::{self, QuietHours};
use crate::state::user_extras::remarks::{self, Remark};
use crate::state::user_extras::{page, private_bans};
use crate::state::users::User;

/// Which page of a list: `limit` items after the first `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub offset: usize,
    pub limit: usize,
    /// Newest registration first.
    pub newest_first: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserQuestion {
    /// Registered users by registration time.
    Users(Window),
    /// The profiles of these users that exist, in the order asked.
    Profiles(Vec<String>),
    /// Profiles by registration time.
    ProfilePage(Window),
    Remarks {
        user_id: String,
        window: Window,
    },
    PrivateChatBans(Window),
    QuietHours {
        user_id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserAnswer {
    Users { total: u64, users: Vec<User> },
    Profiles { total: u64, profiles: Vec<Profile> },
    Remarks { total: u64, remarks: Vec<Remark> },
    UserIds { total: u64, user_ids: Vec<String> },
    QuietHours(Option<QuietHours>),
}

fn ordered<T>(mut all: Vec<T>, window: Window) -> (u64, Vec<T>) {
    if window.newest_first {
        all.reverse();
    }
    page(all, window.offset, window.limit)
}

pub(in crate::state) fn answer(
    state: &impl StateRead,
    app_key: &str,
    question: &UserQuestion,
) -> Result<UserAnswer, CommandError> {
    apps::by_key(state, app_key)?;
    Ok(match question {
        UserQuestion::Users(window) => {
            let mut users: Vec<User> = state.scan(&of_app(user_keys::USER, app_key))?;
            users.sort_by(|a, b| (a.created_at_ms, &a.user_id).cmp(&(b.created_at_ms, &b.user_id)));
            let (total, users) = ordered(users, *window);
            UserAnswer::Users { total, users }
        }
        UserQuestion::Profiles(user_ids) => {
            let mut found = Vec::new();
            for user_id in user_ids {
                found.extend(profiles::get(state, app_key, user_id)?);
            }
            UserAnswer::Profiles {
                total: found.len() as u64,
                profiles: found,
            }
        }
        UserQuestion::ProfilePage(window) => {
            let (total, profiles) = ordered(profiles::all(state, app_key)?, *window);
            UserAnswer::Profiles { total, profiles }
        }
        UserQuestion::Remarks { user_id, window } => {
            let (total, remarks) = ordered(remarks::of_user(state, app_key, user_id)?, *window);
            UserAnswer::Remarks { total, remarks }
        }
        UserQuestion::PrivateChatBans(window) => {
            let (total, user_ids) = ordered(private_bans::banned(state, app_key)?, *window);
            UserAnswer::UserIds { total, user_ids }
        }
        UserQuestion::QuietHours { user_id } => {
            UserAnswer::QuietHours(quiet_hours::get(state, app_key, user_id)?)
        }
    })
}
