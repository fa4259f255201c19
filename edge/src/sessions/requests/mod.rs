//! A session's requests, carried out one at a time by its worker in the order the client
//! sent them (so one sender's messages commit in its order). Each family of client frames
//! has its own file; this one routes a frame to its family and turns a refusal into the
//! error frame that answers it.

mod chatroom;
mod conversation;
mod history;
mod message;
mod push;
mod rtc;
mod send;
mod ultragroup;

use std::sync::Arc;

use meridian_cluster::state::{
    Command, Conversation, ConversationType, Envelope, Output, Query, QueryOutput, RtcChange,
};
use meridian_proto::{ClientFrame, ServerFrame};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::auth::Identity;
use super::error::SessionError;
use super::registry::SessionHandle;
use super::Shared;
use crate::metrics::FrameOp;

/// Carries out the requests queued in `incoming`, sending each answer to `answers`.
pub(super) async fn serve(
    shared: Arc<Shared>,
    identity: Arc<Identity>,
    handle: Arc<SessionHandle>,
    answers: mpsc::Sender<Box<ServerFrame>>,
    mut incoming: mpsc::Receiver<Box<ClientFrame>>,
) {
    let cx = Context {
        shared: &shared,
        identity: &identity,
        handle: &handle,
    };
    while let Some(frame) = incoming.recv().await {
        // Boxed: the worker idles at `recv` in a small future; a request's (large) state
        // lives only while it runs.
        let answer = Box::pin(answer(&cx, *frame)).await;
        if answers.send(Box::new(answer)).await.is_err() {
            return;
        }
    }
}

/// What a request runs with: the edge, and the session's user and device.
pub(super) struct Context<'a> {
    shared: &'a Shared,
    identity: &'a Identity,
    handle: &'a SessionHandle,
}

impl Context<'_> {
    fn app_key(&self) -> String {
        self.identity.app_key.clone()
    }

    fn user_id(&self) -> String {
        self.identity.user_id.clone()
    }

    /// Commits `command` in the user's area; a refusal about a conversation of type
    /// `kind` gets that type's code.
    async fn write(
        &self,
        command: Command,
        kind: Option<ConversationType>,
    ) -> Result<Output, SessionError> {
        let written = self.identity.client.write_one(self.envelope(command)).await;
        written.map_err(|error| SessionError::Cluster { error, kind })
    }

    /// [`write`](Self::write) for a command the state answers once however often it is
    /// written (a client send, by its client id): an outcome left open is settled by
    /// writing it again instead of failing the session over to the client's resend.
    async fn write_deduplicated(
        &self,
        command: Command,
        kind: Option<ConversationType>,
    ) -> Result<Output, SessionError> {
        let written = self
            .identity
            .client
            .write_idempotent(self.envelope(command))
            .await;
        written.map_err(|error| SessionError::Cluster { error, kind })
    }

    fn envelope(&self, command: Command) -> Envelope {
        Envelope {
            area: self.identity.area,
            command,
        }
    }

    /// Reads linearizably in the user's area.
    async fn read(
        &self,
        query: Query,
        kind: Option<ConversationType>,
    ) -> Result<QueryOutput, SessionError> {
        let read = self.identity.client.read(query).await;
        read.map_err(|error| SessionError::Cluster { error, kind })
    }

    /// The conversation a frame names, as this user sees it.
    fn conversation(
        &self,
        conversation_type: u8,
        target_id: &str,
        channel_id: &str,
    ) -> Result<Conversation, SessionError> {
        let kind = ConversationType::from_code(conversation_type)
            .ok_or_else(|| SessionError::invalid("unknown conversationType"))?;
        if target_id.is_empty() {
            return Err(SessionError::invalid("targetId is required"));
        }
        let user = &self.identity.user_id;
        Ok(match kind {
            ConversationType::Private => Conversation::private(user, target_id, channel_id),
            ConversationType::Group | ConversationType::Chatroom | ConversationType::UltraGroup => {
                Conversation::group_like(kind, target_id, channel_id)
            }
            ConversationType::System => Conversation::system(target_id, user),
        })
    }
}

/// The frame answering `frame`: its result, or the error naming its client or request id.
async fn answer(cx: &Context<'_>, frame: ClientFrame) -> ServerFrame {
    let (client_id, req_id) = reply_ids(&frame);
    let op = op(&frame);
    let started = Instant::now();
    let answer = carry_out(cx, frame).await;
    let seconds = started.elapsed().as_secs_f64();
    if client_id.is_some() {
        cx.shared.metrics.send_seconds.observe(seconds);
    } else if op.starts_with("rtc_") {
        // The signalling latency of audio/video rooms.
        let rtc_seconds = cx.shared.metrics.rtc_seconds.with(&FrameOp { op });
        rtc_seconds.observe(seconds);
    }
    answer.unwrap_or_else(|error| error.into_frame(client_id, req_id))
}

async fn carry_out(cx: &Context<'_>, frame: ClientFrame) -> Result<ServerFrame, SessionError> {
    match frame {
        frame @ ClientFrame::Send { .. } => send::send(cx, frame).await,
        ClientFrame::History {
            req_id,
            conversation_type,
            target_id,
            channel_id,
            before_time,
            after_time,
            limit,
        } => {
            let conversation = cx.conversation(conversation_type, &target_id, &channel_id)?;
            let span = match after_time {
                Some(after) => history::Span::After(after),
                None => history::Span::Before(before_time),
            };
            history::page(cx, req_id, conversation, span, limit).await
        }
        ClientFrame::Search {
            req_id,
            conversation_type,
            target_id,
            channel_id,
            keyword,
            sender_user_id,
            limit,
        } => {
            let conversation = cx.conversation(conversation_type, &target_id, &channel_id)?;
            history::search(cx, req_id, conversation, keyword, sender_user_id, limit).await
        }
        ClientFrame::DeleteMessages {
            req_id,
            conversation_type,
            target_id,
            channel_id,
            msg_uids,
        } => {
            let conversation = cx.conversation(conversation_type, &target_id, &channel_id)?;
            history::delete(cx, req_id, conversation, msg_uids).await
        }
        ClientFrame::ClearHistory {
            req_id,
            conversation_type,
            target_id,
            channel_id,
            before_time,
        } => {
            let conversation = cx.conversation(conversation_type, &target_id, &channel_id)?;
            history::clear(cx, req_id, conversation, before_time).await
        }
        ClientFrame::RegisterPush {
            req_id,
            provider,
            token,
            app_id,
        } => push::register(cx, req_id, &provider, token, app_id).await,
        ClientFrame::PushClicked { req_id, provider } => push::clicked(cx, req_id, &provider),
        ClientFrame::SetPushLanguage { req_id, language } => {
            push::set_language(cx, req_id, language).await
        }
        ClientFrame::Recall { req_id, msg_uid } => message::recall(cx, req_id, msg_uid).await,
        ClientFrame::GroupReceipt {
            req_id,
            group_id,
            msg_uids,
        } => message::group_receipt(cx, req_id, group_id, msg_uids).await,
        ClientFrame::Readers { req_id, msg_uid } => message::readers(cx, req_id, msg_uid).await,
        ClientFrame::SetExpansion {
            req_id,
            msg_uid,
            set,
            remove,
        } => message::set_expansion(cx, req_id, msg_uid, set, remove).await,
        ClientFrame::JoinChatroom {
            req_id,
            chatroom_id,
        } => chatroom::join(cx, req_id, chatroom_id).await,
        ClientFrame::QuitChatroom {
            req_id,
            chatroom_id,
        } => chatroom::quit(cx, req_id, chatroom_id).await,
        ClientFrame::Conversations { req_id, limit } => conversation::list(cx, req_id, limit).await,
        ClientFrame::MarkRead {
            req_id,
            conversation_type,
            target_id,
            channel_id,
            seq,
            read_time,
        } => {
            let conversation = cx.conversation(conversation_type, &target_id, &channel_id)?;
            let seq = match read_time {
                Some(time) => history::last_seq_at(cx, conversation.clone(), time).await?,
                None => seq,
            };
            conversation::mark_read(cx, req_id, conversation, seq).await
        }
        ClientFrame::SetConversation {
            req_id,
            conversation_type,
            target_id,
            channel_id,
            pinned,
            muted,
        } => {
            let conversation = cx.conversation(conversation_type, &target_id, &channel_id)?;
            conversation::set(cx, req_id, conversation, pinned, muted).await
        }
        ClientFrame::RemoveConversation {
            req_id,
            conversation_type,
            target_id,
            channel_id,
        } => {
            let conversation = cx.conversation(conversation_type, &target_id, &channel_id)?;
            conversation::remove(cx, req_id, vec![conversation]).await
        }
        ClientFrame::RemoveConversations {
            req_id,
            conversations,
        } => {
            let conversations = conversations
                .iter()
                .map(|c| cx.conversation(c.conversation_type, &c.target_id, &c.channel_id))
                .collect::<Result<Vec<_>, _>>()?;
            conversation::remove(cx, req_id, conversations).await
        }
        ClientFrame::UltraGroups { req_id } => ultragroup::list(cx, req_id).await,
        ClientFrame::UltraGroupChannels { req_id, group_id } => {
            ultragroup::channels(cx, req_id, group_id).await
        }
        ClientFrame::EditMessage {
            req_id,
            group_id,
            msg_uid,
            content,
        } => ultragroup::edit(cx, req_id, group_id, msg_uid, content).await,
        ClientFrame::RtcJoin {
            req_id,
            room_id,
            kind,
            role,
        } => rtc::join(cx, req_id, room_id, kind, role).await,
        ClientFrame::RtcLeave { req_id, room_id } => rtc::leave(cx, req_id, room_id).await,
        ClientFrame::RtcRoom { req_id, room_id } => rtc::room(cx, req_id, room_id).await,
        ClientFrame::RtcSetAttributes {
            req_id,
            room_id,
            set,
            remove,
        } => {
            rtc::done(
                cx,
                req_id,
                &room_id,
                RtcChange::SetAttributes { set, remove },
            )
            .await
        }
        ClientFrame::RtcPublish {
            req_id,
            room_id,
            publish,
            unpublish,
        } => {
            rtc::done(
                cx,
                req_id,
                &room_id,
                RtcChange::Publish { publish, unpublish },
            )
            .await
        }
        ClientFrame::RtcSetRole {
            req_id,
            room_id,
            role,
        } => rtc::done(cx, req_id, &room_id, RtcChange::SetRole { role }).await,
        ClientFrame::RtcInvite {
            req_id,
            room_id,
            user_id,
        } => rtc::done(cx, req_id, &room_id, RtcChange::Invite { user_id }).await,
        ClientFrame::RtcAnswerInvite {
            req_id,
            room_id,
            accept,
        } => rtc::done(cx, req_id, &room_id, RtcChange::AnswerInvite { accept }).await,
        ClientFrame::RtcPkInvite {
            req_id,
            room_id,
            other_room_id,
            user_id,
        } => {
            let invite = RtcChange::PkInvite {
                room_id: other_room_id,
                user_id,
            };
            rtc::done(cx, req_id, &room_id, invite).await
        }
        ClientFrame::RtcPkAnswer {
            req_id,
            room_id,
            accept,
        } => rtc::done(cx, req_id, &room_id, RtcChange::PkAnswer { accept }).await,
        ClientFrame::RtcPkEnd { req_id, room_id } => {
            rtc::done(cx, req_id, &room_id, RtcChange::PkEnd).await
        }
        ClientFrame::Ping | ClientFrame::Logout | ClientFrame::Sync { .. } => Err(
            SessionError::invalid("handled by the session, not as a request"),
        ),
    }
}

/// The ids an answer to `frame` names: a send's client id, or a request's id.
pub(in crate::sessions) fn reply_ids(frame: &ClientFrame) -> (Option<String>, Option<u64>) {
    match frame {
        ClientFrame::Send { client_id, .. } => (Some(client_id.clone()), None),
        ClientFrame::History { req_id, .. }
        | ClientFrame::Recall { req_id, .. }
        | ClientFrame::JoinChatroom { req_id, .. }
        | ClientFrame::QuitChatroom { req_id, .. }
        | ClientFrame::Conversations { req_id, .. }
        | ClientFrame::MarkRead { req_id, .. }
        | ClientFrame::SetConversation { req_id, .. }
        | ClientFrame::RemoveConversation { req_id, .. }
        | ClientFrame::RemoveConversations { req_id, .. }
        | ClientFrame::GroupReceipt { req_id, .. }
        | ClientFrame::Readers { req_id, .. }
        | ClientFrame::SetExpansion { req_id, .. }
        | ClientFrame::UltraGroupChannels { req_id, .. }
        | ClientFrame::UltraGroups { req_id }
        | ClientFrame::EditMessage { req_id, .. }
        | ClientFrame::DeleteMessages { req_id, .. }
        | ClientFrame::ClearHistory { req_id, .. }
        | ClientFrame::Search { req_id, .. }
        | ClientFrame::RegisterPush { req_id, .. }
        | ClientFrame::PushClicked { req_id, .. }
        | ClientFrame::SetPushLanguage { req_id, .. }
        | ClientFrame::RtcJoin { req_id, .. }
        | ClientFrame::RtcLeave { req_id, .. }
        | ClientFrame::RtcRoom { req_id, .. }
        | ClientFrame::RtcSetAttributes { req_id, .. }
        | ClientFrame::RtcPublish { req_id, .. }
        | ClientFrame::RtcSetRole { req_id, .. }
        | ClientFrame::RtcInvite { req_id, .. }
        | ClientFrame::RtcAnswerInvite { req_id, .. }
        | ClientFrame::RtcPkInvite { req_id, .. }
        | ClientFrame::RtcPkAnswer { req_id, .. }
        | ClientFrame::RtcPkEnd { req_id, .. } => (None, Some(*req_id)),
        ClientFrame::Ping | ClientFrame::Logout | ClientFrame::Sync { .. } => (None, None),
    }
}

/// A client frame's name in the `frames_in` metric.
pub(super) fn op(frame: &ClientFrame) -> &'static str {
    match frame {
        ClientFrame::Send { .. } => "send",
        ClientFrame::Sync { .. } => "sync",
        ClientFrame::History { .. } => "history",
        ClientFrame::Recall { .. } => "recall",
        ClientFrame::JoinChatroom { .. } => "join_chatroom",
        ClientFrame::QuitChatroom { .. } => "quit_chatroom",
        ClientFrame::Conversations { .. } => "conversations",
        ClientFrame::MarkRead { .. } => "mark_read",
        ClientFrame::SetConversation { .. } => "set_conversation",
        ClientFrame::RemoveConversation { .. } => "remove_conversation",
        ClientFrame::RemoveConversations { .. } => "remove_conversations",
        ClientFrame::GroupReceipt { .. } => "group_receipt",
        ClientFrame::Readers { .. } => "readers",
        ClientFrame::SetExpansion { .. } => "set_expansion",
        ClientFrame::UltraGroupChannels { .. } => "ultra_group_channels",
        ClientFrame::UltraGroups { .. } => "ultra_groups",
        ClientFrame::EditMessage { .. } => "edit_message",
        ClientFrame::DeleteMessages { .. } => "delete_messages",
        ClientFrame::ClearHistory { .. } => "clear_history",
        ClientFrame::Search { .. } => "search",
        ClientFrame::Ping => "ping",
        ClientFrame::Logout => "logout",
        ClientFrame::RegisterPush { .. } => "register_push",
        ClientFrame::PushClicked { .. } => "push_clicked",
        ClientFrame::SetPushLanguage { .. } => "set_push_language",
        ClientFrame::RtcJoin { .. } => "rtc_join",
        ClientFrame::RtcLeave { .. } => "rtc_leave",
        ClientFrame::RtcRoom { .. } => "rtc_room",
        ClientFrame::RtcSetAttributes { .. } => "rtc_set_attributes",
        ClientFrame::RtcPublish { .. } => "rtc_publish",
        ClientFrame::RtcSetRole { .. } => "rtc_set_role",
        ClientFrame::RtcInvite { .. } => "rtc_invite",
        ClientFrame::RtcAnswerInvite { .. } => "rtc_answer_invite",
        ClientFrame::RtcPkInvite { .. } => "rtc_pk_invite",
        ClientFrame::RtcPkAnswer { .. } => "rtc_pk_answer",
        ClientFrame::RtcPkEnd { .. } => "rtc_pk_end",
    }
}
