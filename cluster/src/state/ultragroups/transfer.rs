//! An ultra group as an export carries it (LIFE-03), and the changes that build it again
//! in another app: one description serves both directions, so they cannot drift.

use serde::{Deserialize, Serialize};

use super::{
    channel, keys, member_ids, set_members, Channel, UltraGroup, UltraGroupChange, UltraGroupSet,
};
use crate::state::apply::CommandError;
use crate::state::store::StateRead;

/// Every set, in the order they are rebuilt (a private channel's users before its mutes).
const SETS: [UltraGroupSet; 3] = [
    UltraGroupSet::PrivateChannelUsers,
    UltraGroupSet::Muted,
    UltraGroupSet::MuteWhitelist,
];

/// An ultra group: its record, members, and per channel (the default `""` first) what
/// its settings are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UltraGroupExport {
    pub group_id: String,
    pub name: String,
    pub members: Vec<String>,
    pub channels: Vec<ChannelExport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelExport {
    pub channel_id: String,
    pub private: bool,
    pub private_users: Vec<String>,
    pub muted_users: Vec<String>,
    pub mute_whitelist: Vec<String>,
    /// The channel is muted for everyone not whitelisted.
    pub muted: bool,
    /// The group's default push level for the channel, if one was set.
    pub push_level: Option<i8>,
}

impl ChannelExport {
    fn set(&self, set: UltraGroupSet) -> &[String] {
        match set {
            UltraGroupSet::PrivateChannelUsers => &self.private_users,
            UltraGroupSet::Muted => &self.muted_users,
            UltraGroupSet::MuteWhitelist => &self.mute_whitelist,
        }
    }
}

pub(in crate::state) fn describe(
    state: &impl StateRead,
    app_key: &str,
    group: UltraGroup,
) -> Result<UltraGroupExport, CommandError> {
    let group_id = group.group_id.as_str();
    let mut channels = vec![channel(state, app_key, group_id, "")?];
    channels.extend(state.scan::<Channel>(&keys::of_group(keys::CHANNEL, app_key, group_id))?);
    let channels = channels
        .into_iter()
        .map(|c| {
            let id = c.channel_id.as_str();
            let sets = |set| set_members(state, app_key, group_id, id, set);
            Ok(ChannelExport {
                private_users: sets(UltraGroupSet::PrivateChannelUsers)?,
                muted_users: sets(UltraGroupSet::Muted)?,
                mute_whitelist: sets(UltraGroupSet::MuteWhitelist)?,
                muted: state
                    .get(&keys::of_channel(keys::MUTED, app_key, group_id, id))?
                    .unwrap_or(false),
                push_level: state.get(&keys::of_channel(keys::LEVEL, app_key, group_id, id))?,
                private: c.private,
                channel_id: c.channel_id,
            })
        })
        .collect::<Result<_, CommandError>>()?;
    Ok(UltraGroupExport {
        members: member_ids(state, app_key, group_id)?,
        group_id: group.group_id,
        name: group.name,
        channels,
    })
}

/// The changes that build `export` in an app where the group does not exist yet, in
/// order; `None` when it has no member to create it with.
pub fn rebuild(export: &UltraGroupExport) -> Option<Vec<UltraGroupChange>> {
    let (owner, others) = export.members.split_first()?;
    let mut changes = vec![UltraGroupChange::Create {
        name: export.name.clone(),
        owner: owner.clone(),
    }];
    for joining in others.chunks(super::MAX_USERS_PER_CALL) {
        changes.push(UltraGroupChange::Join {
            user_ids: joining.to_vec(),
        });
    }
    for c in &export.channels {
        let channel = c.channel_id.clone();
        if !channel.is_empty() {
            changes.push(UltraGroupChange::CreateChannel {
                channel: channel.clone(),
                private: c.private,
            });
        }
        for set in SETS {
            for users in c.set(set).chunks(super::MAX_USERS_PER_CALL) {
                changes.push(UltraGroupChange::ChangeSet {
                    channel: channel.clone(),
                    set,
                    user_ids: users.to_vec(),
                    present: true,
                });
            }
        }
        if c.muted {
            changes.push(UltraGroupChange::SetMuted {
                channel: channel.clone(),
                muted: true,
            });
        }
        if let Some(level) = c.push_level {
            changes.push(UltraGroupChange::SetPushLevel { channel, level });
        }
    }
    Some(changes)
}
