//! Push remarks (`/user/remarks/*`): the name a user gave each of the others, shown as the
//! title of that sender's pushes to this user.

use serde::{Deserialize, Serialize};

use crate::state::apply::{Apply, ApplyContext, CommandError};
use crate::state::apps;
use crate::state::keys::user_extras as keys;
use crate::state::store::{Overlay, StateRead};
use crate::state::users::validate_user_id;

/// Most remarks one call sets.
pub const MAX_REMARKS_PER_CALL: usize = 100;
/// As group remarks (`groups::SetGroupRemark`).
pub const MAX_REMARK_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remark {
    pub target_id: String,
    pub remark: String,
}

/// The remarks `user_id` gave, in target order.
pub(crate) fn of_user(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<Vec<Remark>, CommandError> {
    apps::by_key(state, app_key)?;
    Ok(state.scan(&keys::remarks(app_key, user_id))?)
}

/// The name `user_id` gave `target_id`, if any.
pub(crate) fn get(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
    target_id: &str,
) -> Result<Option<String>, CommandError> {
    let remark: Option<Remark> = state.get(&keys::remark(app_key, user_id, target_id))?;
    Ok(remark.map(|r| r.remark))
}

/// Sets (or replaces) remarks `user_id` gives other users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetUserRemarks {
    pub app_key: String,
    pub user_id: String,
    pub remarks: Vec<Remark>,
}

impl Apply for SetUserRemarks {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        validate_user_id(&self.user_id)?;
        if self.remarks.is_empty() {
            return Err(CommandError::invalid("remarks", "at least one is required"));
        }
        if self.remarks.len() > MAX_REMARKS_PER_CALL {
            return Err(CommandError::Limit {
                what: "remarks per call".into(),
                limit: MAX_REMARKS_PER_CALL as u64,
            });
        }
        for remark in &self.remarks {
            validate_user_id(&remark.target_id)?;
            let chars = remark.remark.chars().count();
            if chars == 0 || chars > MAX_REMARK_CHARS {
                return Err(CommandError::invalid(
                    "remark",
                    format!("must be 1 to {MAX_REMARK_CHARS} characters"),
                ));
            }
            let key = keys::remark(&self.app_key, &self.user_id, &remark.target_id);
            state.put(key, remark)?;
        }
        Ok(())
    }
}

/// Removes the remark `user_id` gave `target_id` (nothing to remove is not an error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteUserRemark {
    pub app_key: String,
    pub user_id: String,
    pub target_id: String,
}

impl Apply for DeleteUserRemark {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        validate_user_id(&self.user_id)?;
        validate_user_id(&self.target_id)?;
        state.delete(keys::remark(&self.app_key, &self.user_id, &self.target_id));
        Ok(())
    }
}
