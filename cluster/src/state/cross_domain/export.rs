//! An app's export (LIFE-03), read a page at a time in key order: its users, its groups
//! with their members, its ultra groups with members and channels, its users' friends
//! (hosted friend relations, each direction as its owner keeps it), its chatrooms with
//! their settings and attributes (members are online-only and not exported), the
//! app-wide chatroom sets (muted users, whitelisted and low-priority message types), each
//! user's conversation settings (muted, pinned) and per-type push levels, and its
//! history, each conversation's messages in `seq` order (so in time order, as an import
//! wants them).

use serde::{Deserialize, Serialize};

use crate::raft::wire::from_bytes;
use crate::state::apply::CommandError;
use crate::state::apps;
use crate::state::chatrooms::{self, Chatroom, RoomEntry, RoomSet, SetEntry};
use crate::state::conversations::ConversationSettings;
use crate::state::friends::Friend;
use crate::state::groups::{Group, Member};
use crate::state::keys::{
    chatrooms as chatroom_keys, conversations as conversation_keys, friends as friend_keys,
    groups as group_keys, messages as message_keys, of_app, ultragroups as ultragroup_keys,
    users as user_keys,
};
use crate::state::messages::Message;
use crate::state::store::StateRead;
use crate::state::ultragroups::{self, UltraGroupExport};
use crate::state::users::User;

/// Records one page holds at most.
pub const MAX_EXPORT_PAGE: usize = 1_000;

/// Which records a page reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExportPart {
    Users,
    Groups,
    Messages,
    UltraGroups,
    Friends,
    Chatrooms,
    /// The app-wide chatroom sets.
    ChatroomAppSets,
    /// Each user's settings of each conversation.
    ConversationSettings,
    /// Each user's push level of each conversation type.
    ConversationTypeLevels,
}

/// One record of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Exported {
    User(User),
    /// The group and its members' ids.
    Group(Group, Vec<String>),
    Message(Box<Message>),
    UltraGroup(Box<UltraGroupExport>),
    /// One direction of a friendship: its owner and the friend as the owner keeps it.
    Friend(String, Friend),
    /// A chatroom, its attributes in key order, and its sets (gagged, blocked and
    /// whitelisted members, each with its end).
    Chatroom(Box<Chatroom>, Vec<RoomEntry>, Vec<(RoomSet, SetEntry)>),
    /// One entry of an app-wide chatroom set, as stored (an ended one stays ended).
    ChatroomAppSet(RoomSet, SetEntry),
    /// One user's settings of one conversation.
    ConversationSettings(ConversationOf, ConversationSettings),
    /// One user's push level of one conversation type (its code).
    ConversationTypeLevel(String, u8, i8),
}

/// A conversation as one user sees it, for the export of that user's settings of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationOf {
    pub user_id: String,
    /// The conversation type's code.
    pub kind: u8,
    pub target_id: String,
    pub channel_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportPage {
    pub records: Vec<Exported>,
    /// Where the next page starts; `None`: this part is done.
    pub next: Option<Vec<u8>>,
}

/// Up to `limit` records of `part` from `after` on (empty: the start).
pub fn page(
    state: &impl StateRead,
    app_key: &str,
    part: ExportPart,
    after: &[u8],
    limit: usize,
) -> Result<ExportPage, CommandError> {
    apps::by_key(state, app_key)?;
    let limit = limit.clamp(1, MAX_EXPORT_PAGE);
    let prefix = match part {
        ExportPart::Users => of_app(user_keys::USER, app_key),
        ExportPart::Groups => of_app(group_keys::GROUP, app_key),
        ExportPart::Messages => of_app(message_keys::MESSAGE, app_key),
        ExportPart::UltraGroups => of_app(ultragroup_keys::GROUP, app_key),
        ExportPart::Friends => of_app(friend_keys::FRIEND, app_key),
        ExportPart::Chatrooms => of_app(chatroom_keys::ROOM, app_key),
        ExportPart::ChatroomAppSets => chatrooms::app_sets_prefix(app_key),
        ExportPart::ConversationSettings => of_app(conversation_keys::SETTINGS, app_key),
        ExportPart::ConversationTypeLevels => of_app(conversation_keys::TYPE_LEVEL, app_key),
    };
    let mut raw = Vec::new();
    let mut next = None;
    state.visit_from(&prefix, after, &mut |key, value| {
        if raw.len() == limit {
            next = Some(key.to_vec());
            return false;
        }
        raw.push((key.to_vec(), value.to_vec()));
        true
    })?;
    let mut records = Vec::with_capacity(raw.len());
    for (key, value) in raw {
        records.push(match part {
            ExportPart::Users => Exported::User(from_bytes(&value)?),
            ExportPart::Messages => Exported::Message(Box::new(from_bytes(&value)?)),
            ExportPart::Groups => {
                let group: Group = from_bytes(&value)?;
                let members_prefix =
                    group_keys::of_group(group_keys::MEMBER, app_key, &group.group_id);
                let members: Vec<Member> = state.scan(&members_prefix)?;
                let ids = members.into_iter().map(|m| m.user_id).collect();
                Exported::Group(group, ids)
            }
            ExportPart::UltraGroups => Exported::UltraGroup(Box::new(ultragroups::describe(
                state,
                app_key,
                from_bytes(&value)?,
            )?)),
            ExportPart::Chatrooms => {
                let room: Chatroom = from_bytes(&value)?;
                let entries = chatrooms::entries(state, app_key, &room.room_id, &[])?;
                let sets = chatrooms::room_sets(state, app_key, &room.room_id)?;
                Exported::Chatroom(Box::new(room), entries, sets)
            }
            // `rset/{appKey}/*/{set tag}/{member}`.
            ExportPart::ChatroomAppSets => {
                let rest = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                let tag = rest.split_once('/').map_or(rest.as_str(), |(t, _)| t);
                let set = chatrooms::app_set_of_tag(tag).ok_or_else(|| {
                    CommandError::Storage(format!("an app-wide chatroom set {tag:?}"))
                })?;
                Exported::ChatroomAppSet(set, from_bytes(&value)?)
            }
            // `convset/{appKey}/{user}/{type}/{target}/{channel}`: ids hold no `/`.
            ExportPart::ConversationSettings => {
                let rest = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                let [user_id, kind, target_id, channel_id] = key_parts(&rest)?;
                let conversation = ConversationOf {
                    user_id,
                    kind: kind.parse().map_err(|_| bad_key(&rest))?,
                    target_id,
                    channel_id,
                };
                Exported::ConversationSettings(conversation, from_bytes(&value)?)
            }
            // `convtype/{appKey}/{user}/{type}`.
            ExportPart::ConversationTypeLevels => {
                let rest = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                let [user_id, kind] = key_parts(&rest)?;
                let kind = kind.parse().map_err(|_| bad_key(&rest))?;
                Exported::ConversationTypeLevel(user_id, kind, from_bytes(&value)?)
            }
            // `friend/{appKey}/{owner}/{friendId}`: user ids hold no `/`.
            ExportPart::Friends => {
                let rest = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                let owner = rest.split_once('/').map_or(rest.as_str(), |(o, _)| o);
                Exported::Friend(owner.to_string(), from_bytes(&value)?)
            }
        });
    }
    Ok(ExportPage { records, next })
}

/// The `N` `/`-separated parts of a key's rest (the last may be empty: the default
/// channel).
fn key_parts<const N: usize>(rest: &str) -> Result<[String; N], CommandError> {
    let parts: Vec<String> = rest.splitn(N, '/').map(str::to_string).collect();
    parts.try_into().map_err(|_| bad_key(rest))
}

fn bad_key(rest: &str) -> CommandError {
    CommandError::Storage(format!("an exported record's key {rest:?}"))
}
