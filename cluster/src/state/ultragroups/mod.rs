//! Ultra groups (ULG): unlimited membership, at most 100 per user, channels (public, or
//! private with a member list), mutes per channel, push levels, and message edits.
//!
//! A channel is the conversation's `channel`; the default channel is `""` and always
//! exists. Messages live in one log per channel; a private channel's messages carry its
//! members as their audience (`visible_to`), so history and delivery need nothing more.

use meridian_proto::ConversationType;
use serde::{Deserialize, Serialize};

use super::apply::{ApplyContext, CommandError};
use super::apps;
use super::feed;
use super::groups::validate_group_id;
use super::keys::ultragroups as keys;
use super::messages::{self, NewMessage};
use super::store::{Overlay, StateRead};
use super::users::validate_user_id;

mod questions;
mod speaking;
mod transfer;

pub(in crate::state) use questions::answer;
pub use questions::{UltraGroupAnswer, UltraGroupQuestion};
pub(in crate::state) use speaking::{audience, may_speak};
pub(in crate::state) use transfer::describe;
pub use transfer::{rebuild, ChannelExport, UltraGroupExport};

/// ULG-01: a user belongs to at most 100 ultra groups.
pub const MAX_GROUPS_PER_USER: u64 = 100;
/// ULG-02: at most 50 channels per ultra group (the default channel not counted).
pub const MAX_CHANNELS: u64 = 50;
/// Users of one private channel (they become each message's audience).
pub const MAX_PRIVATE_CHANNEL_USERS: u64 = 1000;
/// Users one call may name.
pub const MAX_USERS_PER_CALL: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UltraGroup {
    pub group_id: String,
    pub name: String,
    pub created_at_ms: u64,
    pub members: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub channel_id: String,
    pub private: bool,
    pub created_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct UgMember {
    joined_at_ms: u64,
    joined_at_pos: u64,
}

/// User lists an ultra group keeps per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UltraGroupSet {
    /// Who may read and write a private channel.
    PrivateChannelUsers,
    /// Muted members (`/ultragroup/userbanned/*`; the default channel mutes everywhere).
    Muted,
    /// Who may still speak while the channel (or group) is muted.
    MuteWhitelist,
}

impl UltraGroupSet {
    fn tag(self) -> &'static str {
        match self {
            UltraGroupSet::PrivateChannelUsers => "private",
            UltraGroupSet::Muted => "muted",
            UltraGroupSet::MuteWhitelist => "white",
        }
    }
}

/// A change to one ultra group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UltraGroupChange {
    /// Creates the group with its first member (an existing group is refused).
    Create {
        name: String,
        owner: String,
    },
    Join {
        user_ids: Vec<String>,
    },
    Quit {
        user_ids: Vec<String>,
    },
    Dismiss,
    Rename {
        name: String,
    },
    CreateChannel {
        channel: String,
        private: bool,
    },
    DeleteChannel {
        channel: String,
    },
    SetChannelPrivate {
        channel: String,
        private: bool,
    },
    ChangeSet {
        channel: String,
        set: UltraGroupSet,
        user_ids: Vec<String>,
        present: bool,
    },
    /// Mutes a channel (or, for `""`, the whole group) for everyone not whitelisted.
    SetMuted {
        channel: String,
        muted: bool,
    },
    /// The group's default push level for a channel (the commercial `unpushLevel`).
    SetPushLevel {
        channel: String,
        level: i8,
    },
    /// ULG-07: the sender replaces a message's content; online members get an
    /// `RC:MsgModify` status message.
    Modify {
        msg_uid: String,
        sender: String,
        content: String,
    },
}

fn validate_channel(channel: &str) -> Result<(), CommandError> {
    if channel.chars().count() > messages::MAX_CHANNEL_CHARS
        || !channel
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'=' | b'+' | b'-'))
    {
        return Err(CommandError::invalid(
            "busChannel",
            "at most 20 of A-Z a-z 0-9 _ = + -",
        ));
    }
    Ok(())
}

pub(super) fn get(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
) -> Result<UltraGroup, CommandError> {
    state
        .get(&keys::group(app_key, group_id))?
        .ok_or_else(|| CommandError::not_found(format!("ultra group {group_id}")))
}

fn put(state: &mut Overlay<'_>, app_key: &str, group: &UltraGroup) -> Result<(), CommandError> {
    Ok(state.put(keys::group(app_key, &group.group_id), group)?)
}

fn member(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
    user_id: &str,
) -> Result<Option<UgMember>, CommandError> {
    Ok(state.get(&keys::member(app_key, group_id, user_id))?)
}

/// The channel, if it exists; the default channel always does.
fn channel(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
    channel_id: &str,
) -> Result<Channel, CommandError> {
    if channel_id.is_empty() {
        return Ok(Channel {
            channel_id: String::new(),
            private: false,
            created_at_ms: 0,
        });
    }
    state
        .get(&keys::of_channel(
            keys::CHANNEL,
            app_key,
            group_id,
            channel_id,
        ))?
        .ok_or_else(|| CommandError::not_found(format!("channel {channel_id} of {group_id}")))
}

fn in_set(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
    channel: &str,
    set: UltraGroupSet,
    user_id: &str,
) -> Result<bool, CommandError> {
    let key = keys::set_member(app_key, group_id, channel, set.tag(), user_id);
    Ok(state.get_raw(&key)?.is_some())
}

fn set_members(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
    channel: &str,
    set: UltraGroupSet,
) -> Result<Vec<String>, CommandError> {
    Ok(state.scan(&keys::set(app_key, group_id, channel, set.tag()))?)
}

/// Tells the edges' sessions who joined or left (see `feed`).
fn announce(
    state: &mut Overlay<'_>,
    app_key: &str,
    group_id: &str,
    joined: Vec<String>,
    left: Vec<String>,
    dismissed: bool,
) -> Result<(), CommandError> {
    feed::announce(
        state,
        app_key,
        feed::MembershipChange {
            kind: ConversationType::UltraGroup,
            id: group_id,
            joined,
            left,
            dismissed,
        },
    )
}

fn join(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    group: &mut UltraGroup,
    user_ids: &[String],
) -> Result<(), CommandError> {
    let mut joined = Vec::new();
    let joined_at_pos = feed::next_position(state)?;
    for user_id in user_ids {
        validate_user_id(user_id)?;
        let key = keys::member(app_key, &group.group_id, user_id);
        if state.get_raw(&key)?.is_some() {
            continue;
        }
        let mine = keys::user_groups(app_key, user_id);
        if state.count_prefix(&mine)? >= MAX_GROUPS_PER_USER {
            return Err(CommandError::Limit {
                what: format!("ultra groups of {user_id}"),
                limit: MAX_GROUPS_PER_USER,
            });
        }
        state.put(
            key,
            &UgMember {
                joined_at_ms: ctx.now_ms,
                joined_at_pos,
            },
        )?;
        state.put(
            keys::user_group(app_key, user_id, &group.group_id),
            &group.group_id,
        )?;
        group.members += 1;
        joined.push(user_id.clone());
    }
    put(state, app_key, group)?;
    announce(state, app_key, &group.group_id, joined, Vec::new(), false)
}

fn leave(
    state: &mut Overlay<'_>,
    app_key: &str,
    group: &mut UltraGroup,
    user_ids: &[String],
) -> Result<(), CommandError> {
    let mut left = Vec::new();
    for user_id in user_ids {
        validate_user_id(user_id)?;
        let key = keys::member(app_key, &group.group_id, user_id);
        if state.get_raw(&key)?.is_none() {
            continue;
        }
        state.delete(key);
        state.delete(keys::user_group(app_key, user_id, &group.group_id));
        group.members -= 1;
        left.push(user_id.clone());
    }
    put(state, app_key, group)?;
    announce(state, app_key, &group.group_id, Vec::new(), left, false)
}

/// Applies one change; a message edit (ULG-07) answers the notice its caller publishes.
pub(super) fn change(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    group_id: &str,
    change: &UltraGroupChange,
) -> Result<Option<NewMessage>, CommandError> {
    apps::by_key(state, app_key)?;
    validate_group_id(group_id)?;
    if let UltraGroupChange::Create { name, owner } = change {
        if state.get_raw(&keys::group(app_key, group_id))?.is_some() {
            return Err(CommandError::Conflict {
                what: format!("ultra group {group_id}"),
            });
        }
        if name.chars().count() > 128 {
            return Err(CommandError::invalid("groupName", "at most 128 characters"));
        }
        let mut group = UltraGroup {
            group_id: group_id.to_string(),
            name: name.clone(),
            created_at_ms: ctx.now_ms,
            members: 0,
        };
        join(ctx, state, app_key, &mut group, std::slice::from_ref(owner))?;
        return Ok(None);
    }
    let mut group = get(state, app_key, group_id)?;
    match change {
        UltraGroupChange::Create { .. } => unreachable!("handled above"),
        UltraGroupChange::Join { user_ids } => join(ctx, state, app_key, &mut group, user_ids)?,
        UltraGroupChange::Quit { user_ids } => leave(state, app_key, &mut group, user_ids)?,
        UltraGroupChange::Dismiss => {
            let members = member_ids(state, app_key, group_id)?;
            for user in &members {
                state.delete(keys::user_group(app_key, user, group_id));
            }
            for family in keys::PER_GROUP {
                state.delete_prefix(&keys::of_group(family, app_key, group_id))?;
            }
            state.delete(keys::group(app_key, group_id));
            announce(state, app_key, group_id, Vec::new(), Vec::new(), true)?;
        }
        UltraGroupChange::Rename { name } => {
            if name.chars().count() > 128 {
                return Err(CommandError::invalid("groupName", "at most 128 characters"));
            }
            group.name = name.clone();
            put(state, app_key, &group)?;
        }
        UltraGroupChange::CreateChannel { channel, private } => {
            validate_channel(channel)?;
            if channel.is_empty() {
                return Err(CommandError::invalid("busChannel", "is required"));
            }
            let key = keys::of_channel(keys::CHANNEL, app_key, group_id, channel);
            if state.get_raw(&key)?.is_some() {
                return Err(CommandError::Conflict {
                    what: format!("channel {channel}"),
                });
            }
            state.put(
                key,
                &Channel {
                    channel_id: channel.clone(),
                    private: *private,
                    created_at_ms: ctx.now_ms,
                },
            )?;
            if state.count_prefix(&keys::of_group(keys::CHANNEL, app_key, group_id))? > MAX_CHANNELS
            {
                return Err(CommandError::Limit {
                    what: "channels per ultra group".into(),
                    limit: MAX_CHANNELS,
                });
            }
        }
        UltraGroupChange::DeleteChannel {
            channel: channel_id,
        } => {
            channel(state, app_key, group_id, channel_id)?;
            if channel_id.is_empty() {
                return Err(CommandError::invalid(
                    "busChannel",
                    "the default channel stays",
                ));
            }
            state.delete(keys::of_channel(
                keys::CHANNEL,
                app_key,
                group_id,
                channel_id,
            ));
            state.delete_prefix(&keys::of_channel(keys::SET, app_key, group_id, channel_id))?;
            state.delete(keys::of_channel(keys::MUTED, app_key, group_id, channel_id));
            state.delete(keys::of_channel(keys::LEVEL, app_key, group_id, channel_id));
        }
        UltraGroupChange::SetChannelPrivate {
            channel: channel_id,
            private,
        } => {
            let mut found = channel(state, app_key, group_id, channel_id)?;
            if channel_id.is_empty() {
                return Err(CommandError::invalid(
                    "busChannel",
                    "the default channel is public",
                ));
            }
            found.private = *private;
            state.put(
                keys::of_channel(keys::CHANNEL, app_key, group_id, channel_id),
                &found,
            )?;
        }
        UltraGroupChange::ChangeSet {
            channel: channel_id,
            set,
            user_ids,
            present,
        } => {
            channel(state, app_key, group_id, channel_id)?;
            if user_ids.is_empty() || user_ids.len() > MAX_USERS_PER_CALL {
                return Err(CommandError::invalid(
                    "userIds",
                    format!("1 to {MAX_USERS_PER_CALL} users"),
                ));
            }
            let prefix = keys::set(app_key, group_id, channel_id, set.tag());
            for user_id in user_ids {
                validate_user_id(user_id)?;
                let key = keys::set_member(app_key, group_id, channel_id, set.tag(), user_id);
                if *present {
                    state.put(key, user_id)?;
                } else {
                    state.delete(key);
                }
            }
            if *set == UltraGroupSet::PrivateChannelUsers
                && state.count_prefix(&prefix)? > MAX_PRIVATE_CHANNEL_USERS
            {
                return Err(CommandError::Limit {
                    what: "users of a private channel".into(),
                    limit: MAX_PRIVATE_CHANNEL_USERS,
                });
            }
        }
        UltraGroupChange::SetMuted {
            channel: channel_id,
            muted,
        } => {
            channel(state, app_key, group_id, channel_id)?;
            state.put(
                keys::of_channel(keys::MUTED, app_key, group_id, channel_id),
                muted,
            )?;
        }
        UltraGroupChange::SetPushLevel {
            channel: channel_id,
            level,
        } => {
            channel(state, app_key, group_id, channel_id)?;
            if ![-1, 0, 1, 2, 4, 5].contains(level) {
                return Err(CommandError::invalid(
                    "unpushLevel",
                    "must be -1, 0, 1, 2, 4 or 5",
                ));
            }
            state.put(
                keys::of_channel(keys::LEVEL, app_key, group_id, channel_id),
                level,
            )?;
        }
        UltraGroupChange::Modify {
            msg_uid,
            sender,
            content,
        } => return edit(state, app_key, group_id, msg_uid, sender, content).map(Some),
    }
    Ok(None)
}

/// ULG-07: replaces a message's content; answers the `RC:MsgModify` notice for its
/// online members.
fn edit(
    state: &mut Overlay<'_>,
    app_key: &str,
    group_id: &str,
    msg_uid: &str,
    sender: &str,
    content: &str,
) -> Result<NewMessage, CommandError> {
    let mut message = messages::by_uid(state, app_key, msg_uid)?;
    let conversation = message.conversation.clone();
    if conversation.kind != ConversationType::UltraGroup || conversation.first != group_id {
        return Err(CommandError::invalid(
            "msgUID",
            format!("not a message of ultra group {group_id}"),
        ));
    }
    if message.sender != sender {
        return Err(CommandError::invalid(
            "fromUserId",
            "only the sender may modify a message",
        ));
    }
    if content.len() > messages::MAX_CONTENT_BYTES {
        return Err(CommandError::Limit {
            what: "content bytes".into(),
            limit: messages::MAX_CONTENT_BYTES as u64,
        });
    }
    message.content = content.to_string();
    message.modified = true;
    messages::replace(state, app_key, &message)?;
    Ok(NewMessage {
        conversation,
        sender: sender.to_string(),
        recipient: None,
        object_name: "RC:MsgModify".into(),
        content: serde_json::json!({ "msgUID": msg_uid, "content": content }).to_string(),
        flags: messages::MessageFlags::status(),
        push_content: None,
        push_data: None,
        verify_blacklist: false,
        visible_to: message.visible_to.clone(),
        sender_device: None,
    })
}

/// Takes an erased user out of every ultra group it is in (LIFE-02).
pub(in crate::state) fn leave_all(
    ctx: ApplyContext,
    state: &mut Overlay<'_>,
    app_key: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    let quit = UltraGroupChange::Quit {
        user_ids: vec![user_id.to_string()],
    };
    for group_id in of_user(state, app_key, user_id)? {
        change(ctx, state, app_key, &group_id, &quit)?;
    }
    Ok(())
}

/// The ultra groups `user_id` belongs to.
pub(super) fn of_user(
    state: &impl StateRead,
    app_key: &str,
    user_id: &str,
) -> Result<Vec<String>, CommandError> {
    Ok(state.scan(&keys::user_groups(app_key, user_id))?)
}

/// Where a member's view of the group starts (ULG-04: without the app's pre-join history
/// option, at its join).
pub(super) fn joined_at_pos(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
    user_id: &str,
) -> Result<Option<u64>, CommandError> {
    Ok(member(state, app_key, group_id, user_id)?.map(|m| m.joined_at_pos))
}

/// Removes every ultra group of an app environment.
pub(super) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<(), CommandError> {
    state.delete_app(&keys::PER_APP, app_key)?;
    Ok(())
}

/// The ids of an ultra group's members.
pub(super) fn member_ids(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
) -> Result<Vec<String>, CommandError> {
    let prefix = keys::of_group(keys::MEMBER, app_key, group_id);
    Ok(state
        .scan_raw(&prefix)?
        .into_iter()
        .map(|(key, _)| keys::member_id(&prefix, &key))
        .collect())
}
