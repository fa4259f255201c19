//! Audio/video rooms (RTC-01, RTC-02, RTC-04): every request is one change the cluster
//! applies and tells the room's members about through the feed (`rtcEvent`). The session
//! remembers the room it joined, so its end starts the member's reconnect timeout.

use meridian_cluster::state::RtcChange;
use meridian_cluster::state::{ChangeRtcRoom, Command, Envelope, Output, Query, QueryOutput};
use meridian_proto::rtc::{Role, RoomInfo, RoomKind};
use meridian_proto::ServerFrame;

use super::{Context, SessionError};

/// Applies `change` by this user to `room_id`; answers the room after it.
async fn change(
    cx: &Context<'_>,
    room_id: &str,
    change: RtcChange,
) -> Result<Option<RoomInfo>, SessionError> {
    let envelope = Envelope {
        area: cx.identity.area,
        command: Command::ChangeRtcRoom(ChangeRtcRoom {
            app_key: cx.app_key(),
            room_id: room_id.to_string(),
            user_id: cx.user_id(),
            change,
        }),
    };
    match cx.identity.client.write_one(envelope).await {
        Ok(Output::RtcRoom(room)) => Ok(room),
        Ok(_) => Err(SessionError::unexpected_answer()),
        Err(error) => Err(SessionError::Rtc(error)),
    }
}

/// Applies a change that answers `done`.
pub(super) async fn done(
    cx: &Context<'_>,
    req_id: u64,
    room_id: &str,
    rtc_change: RtcChange,
) -> Result<ServerFrame, SessionError> {
    change(cx, room_id, rtc_change).await?;
    Ok(ServerFrame::Done { req_id })
}

pub(super) async fn join(
    cx: &Context<'_>,
    req_id: u64,
    room_id: String,
    kind: RoomKind,
    role: Role,
) -> Result<ServerFrame, SessionError> {
    let join = RtcChange::Join {
        kind,
        role,
        edge_id: cx.shared.edge_id,
        session: cx.handle.id,
    };
    let room = change(cx, &room_id, join)
        .await?
        .ok_or_else(SessionError::unexpected_answer)?;
    cx.handle.set_rtc_room(Some(room_id));
    let media_server = cx
        .shared
        .media
        .get(&cx.identity.area)
        .cloned()
        .unwrap_or_default();
    Ok(ServerFrame::RtcJoined {
        req_id,
        room,
        media_server,
    })
}

pub(super) async fn leave(
    cx: &Context<'_>,
    req_id: u64,
    room_id: String,
) -> Result<ServerFrame, SessionError> {
    change(cx, &room_id, RtcChange::Leave).await?;
    cx.handle.set_rtc_room(None);
    Ok(ServerFrame::Done { req_id })
}

pub(super) async fn room(
    cx: &Context<'_>,
    req_id: u64,
    room_id: String,
) -> Result<ServerFrame, SessionError> {
    let query = Query::RtcRoom {
        app_key: cx.app_key(),
        room_id,
        viewer: Some(cx.user_id()),
    };
    match cx.identity.client.read(query).await {
        Ok(QueryOutput::RtcRoom(room)) => Ok(ServerFrame::RtcRoom { req_id, room }),
        Ok(_) => Err(SessionError::unexpected_answer()),
        Err(error) => Err(SessionError::Rtc(error)),
    }
}
