//! Who sees and who may send in a channel (ULG-05): private channels' users, mutes and
//! their whitelists.

use crate::state::apply::CommandError;
use crate::state::keys::ultragroups as keys;
use crate::state::store::StateRead;

use super::{channel, get, in_set, member, set_members, UltraGroupSet};

/// Who may see a channel's messages: nobody in particular (every member) for public
/// channels, the channel's users for private ones.
pub(in crate::state) fn audience(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
    channel_id: &str,
) -> Result<Vec<String>, CommandError> {
    get(state, app_key, group_id)?;
    if !channel(state, app_key, group_id, channel_id)?.private {
        return Ok(Vec::new());
    }
    let users = set_members(
        state,
        app_key,
        group_id,
        channel_id,
        UltraGroupSet::PrivateChannelUsers,
    )?;
    if users.is_empty() {
        return Err(CommandError::invalid(
            "busChannel",
            "the private channel has no users",
        ));
    }
    Ok(users)
}

/// A member may send from a client unless muted in the channel or the group, or the
/// channel or group is muted and it is not whitelisted there; a private channel takes
/// its users only (ULG-05).
pub(in crate::state) fn may_speak(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
    channel_id: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    let not_member = || CommandError::NotMember {
        what: format!("ultra group {group_id}"),
    };
    member(state, app_key, group_id, user_id)?.ok_or_else(not_member)?;
    let found = channel(state, app_key, group_id, channel_id)?;
    if found.private
        && !in_set(
            state,
            app_key,
            group_id,
            channel_id,
            UltraGroupSet::PrivateChannelUsers,
            user_id,
        )?
    {
        return Err(not_member());
    }
    for scope in [channel_id, ""] {
        let muted_here: bool = state
            .get(&keys::of_channel(keys::MUTED, app_key, group_id, scope))?
            .unwrap_or(false);
        let whitelisted = in_set(
            state,
            app_key,
            group_id,
            scope,
            UltraGroupSet::MuteWhitelist,
            user_id,
        )?;
        if in_set(
            state,
            app_key,
            group_id,
            scope,
            UltraGroupSet::Muted,
            user_id,
        )? || (muted_here && !whitelisted)
        {
            return Err(CommandError::Muted {
                what: format!("ultra group {group_id}"),
            });
        }
    }
    Ok(())
}
