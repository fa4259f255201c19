//! The user's conversation list (MSG-03): listing it, marking a conversation read,
//! pinning or muting one (PRV-09), and removing one from it.

use meridian_cluster::state::{
    ChangeConversation, Command, Conversation, ConversationSetting, MarkRead, Query, QueryOutput,
    RemoveConversations,
};
use meridian_proto::{ConversationBody, ServerFrame};

use super::{Context, SessionError};
use crate::sessions::delivery::body;

/// The conversations, pinned first, with unread counts and last messages.
pub(super) async fn list(
    cx: &Context<'_>,
    req_id: u64,
    limit: usize,
) -> Result<ServerFrame, SessionError> {
    let query = Query::Conversations {
        app_key: cx.app_key(),
        user_id: cx.user_id(),
        limit,
    };
    let QueryOutput::ConversationList(list) = cx.read(query, None).await? else {
        return Err(SessionError::unexpected_answer());
    };
    let viewer = &cx.identity.user_id;
    let conversations = list
        .iter()
        .map(|summary| ConversationBody {
            conversation_type: summary.conversation.kind.code(),
            target_id: summary.conversation.target_for(viewer).to_string(),
            channel_id: summary.conversation.channel.clone(),
            unread: summary.unread,
            pinned: summary.settings.pinned,
            muted: summary.settings.muted,
            last_message: summary.last.as_ref().map(|m| body(m, viewer, 0)),
        })
        .collect();
    Ok(ServerFrame::ConversationList {
        req_id,
        conversations,
    })
}

/// The user has read `conversation` up to `seq`: its unread count drops.
pub(super) async fn mark_read(
    cx: &Context<'_>,
    req_id: u64,
    conversation: Conversation,
    seq: u64,
) -> Result<ServerFrame, SessionError> {
    let command = Command::MarkRead(MarkRead {
        app_key: cx.app_key(),
        user_id: cx.user_id(),
        conversation,
        seq,
    });
    cx.write(command, None).await?;
    Ok(ServerFrame::Done { req_id })
}

/// Pins and/or mutes `conversation` for this user, both in one commit.
pub(super) async fn set(
    cx: &Context<'_>,
    req_id: u64,
    conversation: Conversation,
    pinned: Option<bool>,
    muted: Option<bool>,
) -> Result<ServerFrame, SessionError> {
    let changes: Vec<Command> = [
        pinned.map(ConversationSetting::Pinned),
        muted.map(ConversationSetting::Muted),
    ]
    .into_iter()
    .flatten()
    .map(|setting| {
        Command::ChangeConversation(ChangeConversation {
            app_key: cx.app_key(),
            user_id: cx.user_id(),
            kind: conversation.kind,
            target_id: conversation.target_for(&cx.identity.user_id).to_string(),
            channel: conversation.channel.clone(),
            setting,
        })
    })
    .collect();
    if changes.is_empty() {
        return Err(SessionError::invalid("name pinned and/or muted"));
    }
    cx.write(Command::All(changes), None).await?;
    Ok(ServerFrame::Done { req_id })
}

/// Takes `conversations` off this user's list until a newer message arrives in each.
pub(super) async fn remove(
    cx: &Context<'_>,
    req_id: u64,
    conversations: Vec<Conversation>,
) -> Result<ServerFrame, SessionError> {
    // The area refuses more than its limit (MAX_REMOVED).
    if conversations.is_empty() {
        return Err(SessionError::invalid("name a conversation"));
    }
    let command = Command::RemoveConversations(RemoveConversations {
        app_key: cx.app_key(),
        user_id: cx.user_id(),
        conversations,
    });
    cx.write(command, None).await?;
    Ok(ServerFrame::Done { req_id })
}
