//! The reads of the tier-2 `/user/*` and `/friend/*` paths: pages of the app's users and
//! profiles, and a user's remarks, private-chat bans, quiet hours and friends. Pages are cut here so only one page
//! travels to the edge; the users are read whole to sort them by registration, which
//! costs O(users) per page (fine for the `dev` environment these paths are used with).

use serde::{Deserialize, Serialize};

use crate::state::apply::CommandError;
use crate::state::apps;
use crate::state::friends::{self, Friend};
use crate::state::keys::{of_app, users as user_keys};
use crate::state::paging::{page, Window};
use crate::state::store::StateRead;
use crate::state::user_extras::private_bans;
use crate::state::user_extras::profiles::{self, Profile};
use crate::state::user_extras::quiet_hours::{self, QuietHours};
use crate::state::user_extras::remarks::{self, Remark};
use crate::state::users::User;

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
    /// A user's friends by friendship age.
    Friends {
        user_id: String,
        window: Window,
    },
    /// Whether each of `target_ids` is a friend of `user_id`.
    FriendCheck {
        user_id: String,
        target_ids: Vec<String>,
    },
    FriendPermissions(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserAnswer {
    Users {
        total: u64,
        users: Vec<User>,
    },
    Profiles {
        total: u64,
        profiles: Vec<Profile>,
    },
    Remarks {
        total: u64,
        remarks: Vec<Remark>,
    },
    UserIds {
        total: u64,
        user_ids: Vec<String>,
    },
    QuietHours(Option<QuietHours>),
    /// Friends with their registered names.
    Friends {
        total: u64,
        friends: Vec<(Friend, String)>,
    },
    FriendChecks(Vec<(String, bool)>),
    FriendPermissions(Vec<(String, u8)>),
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
            let (total, users) = page(users, *window);
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
            let (total, profiles) = page(profiles::all(state, app_key)?, *window);
            UserAnswer::Profiles { total, profiles }
        }
        UserQuestion::Remarks { user_id, window } => {
            let (total, remarks) = page(remarks::of_user(state, app_key, user_id)?, *window);
            UserAnswer::Remarks { total, remarks }
        }
        UserQuestion::PrivateChatBans(window) => {
            let (total, user_ids) = page(private_bans::banned(state, app_key)?, *window);
            UserAnswer::UserIds { total, user_ids }
        }
        UserQuestion::QuietHours { user_id } => {
            UserAnswer::QuietHours(quiet_hours::get(state, app_key, user_id)?)
        }
        UserQuestion::Friends { user_id, window } => {
            let (total, page) = page(friends::of_user(state, app_key, user_id)?, *window);
            let mut named = Vec::with_capacity(page.len());
            for friend in page {
                let user: Option<User> = state.get(&user_keys::user(app_key, &friend.user_id))?;
                named.push((friend, user.map(|u| u.name).unwrap_or_default()));
            }
            UserAnswer::Friends {
                total,
                friends: named,
            }
        }
        UserQuestion::FriendCheck {
            user_id,
            target_ids,
        } => {
            let mut checks = Vec::with_capacity(target_ids.len());
            for target in target_ids {
                checks.push((
                    target.clone(),
                    friends::are_friends(state, app_key, user_id, target)?,
                ));
            }
            UserAnswer::FriendChecks(checks)
        }
        UserQuestion::FriendPermissions(user_ids) => {
            let mut permissions = Vec::with_capacity(user_ids.len());
            for user_id in user_ids {
                permissions.push((
                    user_id.clone(),
                    friends::permission(state, app_key, user_id)?,
                ));
            }
            UserAnswer::FriendPermissions(permissions)
        }
    })
}
