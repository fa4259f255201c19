//! Joining and quitting chatrooms: online-only rooms whose join answer carries the latest
//! messages (CHR-03).

use meridian_cluster::state::{
    Command, Conversation, ConversationType, HistoryPage, JoinChatroom, Query, QueryOutput,
    QuitChatroom,
};
use meridian_proto::ServerFrame;

use super::{Context, SessionError};
use crate::sessions::delivery::body;

/// Chatroom join answers carry this many latest messages (CHR-03).
const JOIN_LATEST: usize = 50;

const ROOM: Option<ConversationType> = Some(ConversationType::Chatroom);

pub(super) async fn join(
    cx: &Context<'_>,
    req_id: u64,
    chatroom_id: String,
) -> Result<ServerFrame, SessionError> {
    let registry = &cx.shared.registry;
    // In the room's index before the join commits, so no message after it is missed.
    registry.enter_room(cx.handle.id, &chatroom_id);
    // Chatroom messages are not synced: the leader must pass this room's on before the
    // join commits.
    if !registry.interest_settled(cx.identity.area).await {
        registry.leave_room(cx.handle.id, &chatroom_id);
        return Err(SessionError::Unavailable(
            "the feed is not followed; try again".into(),
        ));
    }
    let join = Command::JoinChatroom(JoinChatroom {
        app_key: cx.app_key(),
        room_id: chatroom_id.clone(),
        user_id: cx.user_id(),
    });
    if let Err(refused) = cx.write(join, ROOM).await {
        registry.leave_room(cx.handle.id, &chatroom_id);
        return Err(refused);
    }
    let latest = Query::History {
        app_key: cx.app_key(),
        page: HistoryPage {
            conversation: Conversation::group_like(ConversationType::Chatroom, &chatroom_id, ""),
            viewer: Some(cx.user_id()),
            from_ms: 0,
            to_ms: u64::MAX,
            newest_first: true,
            limit: JOIN_LATEST,
            members_only: false,
            keyword: None,
            sender: None,
        },
    };
    let QueryOutput::Messages(mut latest) = cx.read(latest, ROOM).await? else {
        return Err(SessionError::unexpected_answer());
    };
    latest.reverse();
    let viewer = &cx.identity.user_id;
    Ok(ServerFrame::ChatroomJoined {
        req_id,
        chatroom_id,
        messages: latest.iter().map(|m| body(m, viewer, 0)).collect(),
    })
}

pub(super) async fn quit(
    cx: &Context<'_>,
    req_id: u64,
    chatroom_id: String,
) -> Result<ServerFrame, SessionError> {
    cx.shared.registry.leave_room(cx.handle.id, &chatroom_id);
    let quit = Command::QuitChatroom(QuitChatroom {
        app_key: cx.app_key(),
        room_id: chatroom_id,
        user_ids: vec![cx.user_id()],
    });
    cx.write(quit, ROOM).await?;
    Ok(ServerFrame::Done { req_id })
}
