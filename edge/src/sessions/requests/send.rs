//! Sending a message (MSG-01): checked, held for the app's moderation when a rule matches
//! (HOOK-02), committed, and acknowledged with its id and sequence.

#[cfg(feature = "planted-bug")]
use std::sync::Arc;

use meridian_cluster::state::messages::MAX_CONTENT_BYTES;
#[cfg(feature = "planted-bug")]
use meridian_cluster::state::Envelope;
use meridian_cluster::state::{
    ClientOrigin, Command, ConversationType, MessageFlags, NewMessage, Output, Publication, Publish,
};
#[cfg(feature = "planted-bug")]
use meridian_cluster::ClusterClient;
use meridian_proto::{ClientFrame, ServerFrame};

use super::{Context, SessionError};
use crate::metrics::DropPriority;
use crate::moderation::{Signer, Verdict};

/// Carries out a [`ClientFrame::Send`] (the session routes only those here).
pub(super) async fn send(
    cx: &Context<'_>,
    frame: ClientFrame,
) -> Result<ServerFrame, SessionError> {
    let ClientFrame::Send {
        client_id,
        conversation_type,
        target_id,
        channel_id,
        object_name,
        content,
        push_content,
        push_data,
        to_user_ids,
    } = frame
    else {
        return Err(SessionError::Internal("a request routed as a send"));
    };
    if client_id.is_empty() || client_id.len() > 64 {
        let why = "clientId is required (at most 64 characters)";
        return Err(SessionError::invalid(why));
    }
    if content.len() > MAX_CONTENT_BYTES {
        return Err(SessionError::ContentTooLarge);
    }
    let conversation = cx.conversation(conversation_type, &target_id, &channel_id)?;
    if conversation.kind == ConversationType::System {
        let why = "system conversations cannot be replied to";
        return Err(SessionError::invalid(why));
    }
    let kind = conversation.kind;
    let private = kind == ConversationType::Private;
    let mut message = NewMessage {
        conversation,
        sender: cx.user_id(),
        recipient: private.then(|| target_id.clone()),
        flags: MessageFlags::builtin(&object_name),
        object_name,
        content,
        push_content,
        push_data,
        verify_blacklist: private,
        visible_to: to_user_ids,
        sender_device: Some(ClientOrigin {
            device_id: cx.handle.device_id.clone(),
            client_id: client_id.clone(),
        }),
    };
    moderate(cx, &mut message, &target_id, &client_id).await?;
    let publish = Command::Publish(Publish {
        app_key: cx.app_key(),
        messages: vec![message],
    });
    #[cfg(feature = "planted-bug")]
    if let Some(once) = planted_client(cx) {
        return Ok(planted_early_ack(
            once,
            cx.identity.area,
            publish,
            client_id,
        ));
    }
    let written = cx.write_deduplicated(publish, Some(kind)).await?;
    let Output::Published(mut published) = written else {
        return Err(SessionError::unexpected_answer());
    };
    let ack = |msg_uid, seq, sent_time, dropped| ServerFrame::Ack {
        client_id: client_id.clone(),
        msg_uid,
        seq,
        sent_time,
        dropped,
    };
    match published.pop() {
        Some(Publication::Stored {
            msg_uid,
            seq,
            sent_time_ms,
        }) => Ok(ack(msg_uid, seq, sent_time_ms, false)),
        Some(Publication::Transient {
            msg_uid,
            sent_time_ms,
        }) => Ok(ack(msg_uid, 0, sent_time_ms, false)),
        Some(Publication::Dropped {
            msg_uid,
            sent_time_ms,
            priority,
        }) => {
            let drops = &cx.shared.metrics.chatroom_drops;
            let priority = priority.label();
            drops.with(&DropPriority { priority }).inc();
            Ok(ack(msg_uid, 0, sent_time_ms, true))
        }
        // Only app servers' messages go unrouted (a client must be in the room).
        Some(Publication::Unrouted { .. }) => Err(SessionError::unexpected_answer()),
        Some(Publication::Sensitive) => Err(SessionError::SensitiveWord),
        Some(Publication::Blocked) => Err(SessionError::Blacklisted),
        None => Err(SessionError::Internal("nothing was published")),
    }
}

/// HOOK-02: holds a message matching one of the app's moderation rules (as of now, not
/// as of the session's start) until the app server decides; a block refuses the send and
/// stores nothing.
async fn moderate(
    cx: &Context<'_>,
    message: &mut NewMessage,
    target_id: &str,
    client_id: &str,
) -> Result<(), SessionError> {
    let Ok(app) = cx.shared.directory.resolve(&cx.identity.app_key).await else {
        return Ok(());
    };
    let Some(rule) = app.settings.callbacks.moderation_rule(
        &message.sender,
        target_id,
        message.conversation.kind,
        &message.object_name,
    ) else {
        return Ok(());
    };
    let signer = Signer {
        app_key: app.app_key(),
        app_secret: app.secret(),
    };
    let platform = cx.handle.platform.as_str();
    let verdict = cx
        .shared
        .moderator
        .check(rule, signer, message, target_id, client_id, platform)
        .await;
    match verdict {
        Verdict::Pass => Ok(()),
        Verdict::Replace {
            content,
            push_content,
        } => {
            message.content = content;
            if push_content.is_some() {
                message.push_content = push_content;
            }
            Ok(())
        }
        Verdict::Block => Err(SessionError::Moderated),
    }
}

/// The client the planted bug ([`crate::PLANTED_BUG_ENV`]) writes through, when it is
/// planted.
#[cfg(feature = "planted-bug")]
fn planted_client(cx: &Context<'_>) -> Option<Arc<ClusterClient>> {
    let clients = cx.shared.ack_before_commit.as_ref()?;
    clients.get(&cx.identity.area).cloned()
}

/// The planted bug: the ack goes out before the write, which gets one try.
#[cfg(feature = "planted-bug")]
fn planted_early_ack(
    once: Arc<ClusterClient>,
    area: meridian_regions::AreaCode,
    command: Command,
    client_id: String,
) -> ServerFrame {
    tokio::spawn(async move { once.write_one(Envelope { area, command }).await });
    ServerFrame::Ack {
        msg_uid: format!("planted-{client_id}"),
        client_id,
        seq: 0,
        sent_time: crate::now_ms(),
        dropped: false,
    }
}
