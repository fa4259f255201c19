//! What the tier-2 `/user/*` paths keep beside the user record (`users`), one domain
//! module each: hosted profiles, push remarks, private-chat bans and quiet hours. They
//! call only `apps` and `users`; what spans them (deleting users, the reads the edge
//! pages through) is in `cross_domain`.

pub mod private_bans;
pub mod profiles;
pub mod quiet_hours;
pub mod remarks;

use super::apply::CommandError;
use super::keys::user_extras as keys;
use super::store::Overlay;

/// Erases what these domains keep about one user (the remarks it gave; remarks others
/// gave it stay with them).
pub(crate) fn erase_user(
    state: &mut Overlay<'_>,
    app_key: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    state.delete(keys::profile(app_key, user_id));
    state.delete_prefix(&keys::remarks(app_key, user_id))?;
    state.delete(keys::private_ban(app_key, user_id));
    state.delete(keys::quiet(app_key, user_id));
    Ok(())
}

/// Removes everything these domains keep for an app environment.
pub(crate) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<(), CommandError> {
    state.delete_app(&keys::PER_APP, app_key)?;
    Ok(())
}
