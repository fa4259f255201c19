//! What can be asked about one ultra group.

use meridian_proto::{Conversation, ConversationType};
use serde::{Deserialize, Serialize};

use crate::state::apply::CommandError;
use crate::state::apps;
use crate::state::conversations;
use crate::state::keys::ultragroups as keys;
use crate::state::messages::{self, Message};
use crate::state::store::StateRead;

use super::{channel, get, in_set, member, set_members, Channel, UltraGroup, UltraGroupSet};

/// A question about one ultra group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UltraGroupQuestion {
    Get,
    IsMember {
        user_id: String,
    },
    Channels,
    SetMembers {
        channel: String,
        set: UltraGroupSet,
    },
    Muted {
        channel: String,
    },
    PushLevel {
        channel: String,
    },
    /// Per channel this user may read: unread count and last message (ULG-03).
    Unread {
        user_id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UltraGroupAnswer {
    Group(UltraGroup),
    Flag(bool),
    Channels(Vec<Channel>),
    Users(Vec<String>),
    Level(i8),
    /// (channel, unread, last message)
    Unread(Vec<(String, u64, Option<Message>)>),
}

pub(in crate::state) fn answer(
    state: &impl StateRead,
    app_key: &str,
    group_id: &str,
    question: &UltraGroupQuestion,
) -> Result<UltraGroupAnswer, CommandError> {
    apps::by_key(state, app_key)?;
    let group = get(state, app_key, group_id)?;
    Ok(match question {
        UltraGroupQuestion::Get => UltraGroupAnswer::Group(group),
        UltraGroupQuestion::IsMember { user_id } => {
            UltraGroupAnswer::Flag(member(state, app_key, group_id, user_id)?.is_some())
        }
        UltraGroupQuestion::Channels => {
            let mut channels: Vec<Channel> =
                state.scan(&keys::of_group(keys::CHANNEL, app_key, group_id))?;
            // Oldest first; same-instant channels by id.
            channels.sort_by(|a, b| {
                (a.created_at_ms, &a.channel_id).cmp(&(b.created_at_ms, &b.channel_id))
            });
            UltraGroupAnswer::Channels(channels)
        }
        UltraGroupQuestion::SetMembers { channel: c, set } => {
            channel(state, app_key, group_id, c)?;
            UltraGroupAnswer::Users(set_members(state, app_key, group_id, c, *set)?)
        }
        UltraGroupQuestion::Muted { channel: c } => {
            channel(state, app_key, group_id, c)?;
            UltraGroupAnswer::Flag(
                state
                    .get(&keys::of_channel(keys::MUTED, app_key, group_id, c))?
                    .unwrap_or(false),
            )
        }
        UltraGroupQuestion::PushLevel { channel: c } => {
            channel(state, app_key, group_id, c)?;
            UltraGroupAnswer::Level(
                state
                    .get(&keys::of_channel(keys::LEVEL, app_key, group_id, c))?
                    .unwrap_or(0),
            )
        }
        UltraGroupQuestion::Unread { user_id } => {
            let joined = member(state, app_key, group_id, user_id)?.ok_or_else(|| {
                CommandError::NotMember {
                    what: format!("ultra group {group_id}"),
                }
            })?;
            let mut channels = vec![String::new()];
            for found in state.scan::<Channel>(&keys::of_group(keys::CHANNEL, app_key, group_id))? {
                let readable = !found.private
                    || in_set(
                        state,
                        app_key,
                        group_id,
                        &found.channel_id,
                        UltraGroupSet::PrivateChannelUsers,
                        user_id,
                    )?;
                if readable {
                    channels.push(found.channel_id);
                }
            }
            let mut out = Vec::with_capacity(channels.len());
            for channel_id in channels {
                let conversation =
                    Conversation::group_like(ConversationType::UltraGroup, group_id, &channel_id);
                let read = conversations::read_mark(state, app_key, user_id, &conversation)?;
                let (last, unread) = messages::last_and_unread(
                    state,
                    app_key,
                    &conversation,
                    user_id,
                    read,
                    joined.joined_at_pos,
                    conversations::MAX_UNREAD,
                )?;
                out.push((channel_id, unread, last));
            }
            UltraGroupAnswer::Unread(out)
        }
    })
}
