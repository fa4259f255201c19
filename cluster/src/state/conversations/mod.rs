//! Per-user conversation settings: do-not-disturb (PRV-09) and pinning (MSG-03), and the
//! per-type push level.

mod removal;

pub use removal::{RemoveConversations, MAX_REMOVED};

use meridian_proto::{Conversation, ConversationType};
use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::keys::{conversations as keys, under};
use super::messages::{self, Message};
use super::store::{Overlay, StateRead};
use super::users::validate_user_id;
use super::{apps, groups};

/// Messages one deletion may name.
pub const MAX_DELETE: usize = 100;

/// Unread counts stop at this (clients show "999+").
pub const MAX_UNREAD: u64 = 999;
/// Conversations one list answer holds at most.
pub const MAX_LIST: usize = 500;

/// One user's settings for one conversation (as that user sees it: type, target, channel).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSettings {
    pub muted: bool,
    pub pinned: bool,
}

/// Which setting a command changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConversationSetting {
    Muted(bool),
    Pinned(bool),
}

pub(super) fn settings(
    state: &impl StateRead,
    app_key: &str,
    user: &str,
    kind: ConversationType,
    target: &str,
    channel: &str,
) -> Result<ConversationSettings, CommandError> {
    apps::by_key(state, app_key)?;
    Ok(state
        .get(&keys::settings(app_key, user, kind.code(), target, channel))?
        .unwrap_or_default())
}

pub(super) fn type_level(
    state: &impl StateRead,
    app_key: &str,
    user: &str,
    kind: ConversationType,
) -> Result<i8, CommandError> {
    apps::by_key(state, app_key)?;
    Ok(state
        .get(&keys::type_level(app_key, user, kind.code()))?
        .unwrap_or(0))
}

/// Lists a private or system conversation for `user` (called as messages are stored).
pub(super) fn index(
    state: &mut Overlay<'_>,
    app_key: &str,
    user: &str,
    conversation: &Conversation,
) -> Result<(), CommandError> {
    let key = keys::of_conversation(keys::LIST, app_key, user, conversation);
    if state.get_raw(&key)?.is_none() {
        state.put(key, conversation)?;
    }
    Ok(())
}

/// The newest `seq` `user` has read in `conversation`.
pub(super) fn read_mark(
    state: &impl StateRead,
    app_key: &str,
    user: &str,
    conversation: &Conversation,
) -> Result<u64, CommandError> {
    Ok(state
        .get(&keys::of_conversation(
            keys::READ,
            app_key,
            user,
            conversation,
        ))?
        .unwrap_or(0))
}

/// What `user` deleted from its view of a conversation: (cleared up to ms, hides the
/// message with this id).
pub(super) struct Deletions<'a, S: StateRead> {
    state: &'a S,
    hidden_prefix: Vec<u8>,
    cleared_ms: u64,
}

impl<S: StateRead> Deletions<'_, S> {
    pub(super) fn hides(&self, message: &Message) -> Result<bool, CommandError> {
        if message.sent_time_ms <= self.cleared_ms {
            return Ok(true);
        }
        let key = under(self.hidden_prefix.clone(), &message.msg_uid);
        Ok(self.state.get_raw(&key)?.is_some())
    }
}

pub(super) fn deletions<'a, S: StateRead>(
    state: &'a S,
    app_key: &str,
    user: &str,
    conversation: &Conversation,
) -> Result<Deletions<'a, S>, CommandError> {
    Ok(Deletions {
        state,
        hidden_prefix: keys::of_user(keys::HIDDEN, app_key, user),
        cleared_ms: state
            .get(&keys::of_conversation(
                keys::CLEARED,
                app_key,
                user,
                conversation,
            ))?
            .unwrap_or(0),
    })
}

/// One line of a user's conversation list (MSG-03).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub conversation: Conversation,
    pub last: Option<Message>,
    pub unread: u64,
    pub settings: ConversationSettings,
}

/// A user's conversations: pinned first, then by last message time; chatrooms and ultra
/// groups are never listed (MSG-03, ULG-08). Unread counts take counted messages from
/// others after the user's read mark, capped at [`MAX_UNREAD`].
pub(super) fn list(
    state: &impl StateRead,
    app_key: &str,
    user: &str,
    limit: usize,
) -> Result<Vec<ConversationSummary>, CommandError> {
    apps::by_key(state, app_key)?;
    let mut conversations: Vec<(Conversation, u64)> = state
        .scan::<Conversation>(&keys::of_user(keys::LIST, app_key, user))?
        .into_iter()
        .map(|c| (c, 0))
        .collect();
    for group in groups::of_user(state, app_key, user)? {
        let joined_at_pos = groups::membership(state, app_key, &group.group_id, user)?
            .map_or(0, |m| m.joined_at_pos);
        conversations.push((
            Conversation::group_like(ConversationType::Group, &group.group_id, ""),
            joined_at_pos,
        ));
    }
    let mut out = Vec::with_capacity(conversations.len());
    for (conversation, joined_at_pos) in conversations {
        let read: u64 = state
            .get(&keys::of_conversation(
                keys::READ,
                app_key,
                user,
                &conversation,
            ))?
            .unwrap_or(0);
        let (last, unread) = messages::last_and_unread(
            state,
            app_key,
            &conversation,
            user,
            read,
            joined_at_pos,
            MAX_UNREAD,
        )?;
        let last_seq = last.as_ref().map_or(0, |message| message.seq);
        if removal::removed(state, app_key, user, &conversation, last_seq)? {
            continue;
        }
        let settings = settings(
            state,
            app_key,
            user,
            conversation.kind,
            conversation.target_for(user),
            &conversation.channel,
        )?;
        out.push(ConversationSummary {
            conversation,
            last,
            unread,
            settings,
        });
    }
    out.sort_by_key(|summary| {
        (
            std::cmp::Reverse(summary.settings.pinned),
            std::cmp::Reverse(summary.last.as_ref().map_or(0, |m| m.sent_time_ms)),
        )
    });
    out.truncate(limit.clamp(1, MAX_LIST));
    Ok(out)
}

/// What a push shows as the app icon's badge (PUSH-07): the unread counts of the user's
/// conversation list, summed (each capped at [`MAX_UNREAD`]).
pub fn unread_total(
    state: &impl StateRead,
    app_key: &str,
    user: &str,
) -> Result<u64, CommandError> {
    Ok(list(state, app_key, user, MAX_LIST)?
        .iter()
        .map(|summary| summary.unread)
        .sum())
}

/// Removes every setting of an app environment.
/// Forgets how an erased user sees its conversations (LIFE-02): settings, levels, its
/// list, read marks, cleared and hidden messages.
pub(super) fn erase_user(
    state: &mut Overlay<'_>,
    app_key: &str,
    user_id: &str,
) -> Result<(), CommandError> {
    for family in keys::PER_APP {
        state.delete_prefix(&keys::of_user(family, app_key, user_id))?;
    }
    Ok(())
}

pub(super) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<(), CommandError> {
    state.delete_app(&keys::PER_APP, app_key)?;
    Ok(())
}

/// A user deletes messages from its own view of a conversation, or clears it up to an
/// instant (PRV-05).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteForUser {
    pub app_key: String,
    pub user_id: String,
    pub conversation: Conversation,
    pub before_ms: Option<u64>,
    pub msg_uids: Vec<String>,
}

impl Apply for DeleteForUser {
    type Answer = ();

    /// PRV-05: `user` no longer sees `conversation`'s messages sent up to `before_ms`, nor
    /// the listed ones. Others keep theirs.
    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let user: &str = &self.user_id;
        let conversation: &Conversation = &self.conversation;
        let before_ms = self.before_ms;
        let msg_uids: &[String] = &self.msg_uids;
        apps::by_key(state, app_key)?;
        validate_user_id(user)?;
        if msg_uids.len() > MAX_DELETE {
            return Err(CommandError::invalid(
                "msgUIDs",
                format!("at most {MAX_DELETE} per call"),
            ));
        }
        if let Some(before_ms) = before_ms {
            let key = keys::of_conversation(keys::CLEARED, app_key, user, conversation);
            let cleared: u64 = state.get(&key)?.unwrap_or(0);
            state.put(key, &cleared.max(before_ms))?;
        }
        for msg_uid in msg_uids {
            let message = messages::by_uid(state, app_key, msg_uid)?;
            if &message.conversation != conversation {
                return Err(CommandError::invalid(
                    "msgUIDs",
                    format!("{msg_uid} is not in this conversation"),
                ));
            }
            state.put(keys::hidden(app_key, user, msg_uid), &())?;
        }
        Ok(())
    }
}

/// A user has read a conversation up to `seq` (clears its unread count).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkRead {
    pub app_key: String,
    pub user_id: String,
    pub conversation: Conversation,
    pub seq: u64,
}

impl Apply for MarkRead {
    type Answer = ();

    /// `user` has read `conversation` up to `seq` (never moves back).
    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let user: &str = &self.user_id;
        let conversation: &Conversation = &self.conversation;
        let seq = self.seq;
        apps::by_key(state, app_key)?;
        validate_user_id(user)?;
        let key = keys::of_conversation(keys::READ, app_key, user, conversation);
        let read: u64 = state.get(&key)?.unwrap_or(0);
        if seq > read {
            state.put(key, &seq)?;
        }
        Ok(())
    }
}

/// Mutes or pins a conversation for one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeConversation {
    pub app_key: String,
    pub user_id: String,
    pub kind: ConversationType,
    pub target_id: String,
    pub channel: String,
    pub setting: ConversationSetting,
}

impl Apply for ChangeConversation {
    type Answer = ConversationSettings;

    fn apply(
        &self,
        _ctx: ApplyContext,
        state: &mut Overlay<'_>,
    ) -> Result<ConversationSettings, CommandError> {
        let app_key: &str = &self.app_key;
        let user: &str = &self.user_id;
        let kind = self.kind;
        let target: &str = &self.target_id;
        let channel: &str = &self.channel;
        let setting = self.setting;
        validate_user_id(user)?;
        if target.is_empty() {
            return Err(CommandError::invalid("targetId", "is required"));
        }
        let mut current = settings(state, app_key, user, kind, target, channel)?;
        match setting {
            ConversationSetting::Muted(on) => current.muted = on,
            ConversationSetting::Pinned(on) => current.pinned = on,
        }
        state.put(
            keys::settings(app_key, user, kind.code(), target, channel),
            &current,
        )?;
        Ok(current)
    }
}

/// Push level of a whole conversation type for one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetConversationTypeLevel {
    pub app_key: String,
    pub user_id: String,
    pub kind: ConversationType,
    pub level: i8,
}

impl Apply for SetConversationTypeLevel {
    type Answer = ();

    /// Push level for a whole conversation type: -1 everything, 0 default, 1 @mentions only,
    /// 2 @mentions of me only, 4 @all only, 5 nothing (the commercial `unpushLevel`).
    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let app_key: &str = &self.app_key;
        let user: &str = &self.user_id;
        let kind = self.kind;
        let level = self.level;
        apps::by_key(state, app_key)?;
        validate_user_id(user)?;
        if ![-1, 0, 1, 2, 4, 5].contains(&level) {
            return Err(CommandError::invalid(
                "unpushLevel",
                "must be -1, 0, 1, 2, 4 or 5",
            ));
        }
        state.put(keys::type_level(app_key, user, kind.code()), &level)?;
        Ok(())
    }
}
