//! `/rtc/*`: the app server's view of audio/video rooms (RTC-01): a room's members and
//! their resources, and removing a member; and of calls (RTC-10): a call's record. JSON
//! bodies, as the commercial RTC server API.

use meridian_access::error::unexpected;
use meridian_cluster::state::{
    ChangeRtcRoom, Command, CommandError, Query, QueryOutput, RtcChange,
};
use meridian_cluster::ClusterError;
use meridian_proto::rtc::{ResourceKind, Role, RoomInfo};
use serde_json::{json, Value};

use super::messages::json_str;
use super::{fields, Call, Fields};

/// The commercial service's media types: 0 audio, 1 video (screen and custom streams are
/// video-like tracks).
fn media_type(kind: ResourceKind) -> u8 {
    match kind {
        ResourceKind::Audio => 0,
        ResourceKind::Video | ResourceKind::Screen | ResourceKind::Custom => 1,
    }
}

fn members(room: &RoomInfo) -> Vec<Value> {
    room.members
        .iter()
        // A live room's answer lists its hosts only, as the commercial service's does.
        .filter(|m| m.role != Role::Audience)
        .map(|member| {
            let uris: Vec<Value> = member
                .resources
                .iter()
                .map(|r| {
                    let uri = format!(
                        "{}/{}/{}/{}",
                        r.media_server, room.session_id, member.user_id, r.stream_id
                    );
                    json!({ "mediaType": media_type(r.kind), "msid": r.stream_id, "uri": uri,
                            "tag": r.stream_id })
                })
                .collect();
            json!({ "userId": member.user_id, "joinTime": member.joined_at,
                    "data": { "uris": uris } })
        })
        .collect()
}

// covers: RTC-01, RTC-02
/// `/rtc/room/query.json`: the room's session, members and their resources; a room
/// nobody is in answers no members (API-05).
pub(super) async fn room_query(call: &Call) -> Fields {
    let room_id = json_str(call.json()?, "roomId")?.to_string();
    let query = Query::RtcRoom {
        app_key: call.app_key(),
        room_id: room_id.clone(),
        viewer: None,
    };
    match call.cluster.read(query).await {
        Ok(QueryOutput::RtcRoom(room)) => Ok(fields(json!({
            "roomId": room.room_id,
            "sessionId": room.session_id,
            "createTime": room.created_at,
            "members": members(&room),
        }))),
        Ok(other) => Err(unexpected(other)),
        Err(ClusterError::Refused(CommandError::NotFound { .. })) => {
            Ok(fields(json!({ "roomId": room_id, "members": [] })))
        }
        Err(error) => Err(error.into()),
    }
}

// covers: RTC-01
/// `/rtc/user/kick.json`: removes the user from the room; it and the members are told.
pub(super) async fn user_kick(call: &Call) -> Fields {
    let body = call.json()?;
    let kick = Command::ChangeRtcRoom(ChangeRtcRoom {
        app_key: call.app_key(),
        room_id: json_str(body, "roomId")?.to_string(),
        user_id: json_str(body, "userId")?.to_string(),
        change: RtcChange::Kick,
    });
    call.write(kick).await?;
    Ok(serde_json::Map::new())
}

// covers: RTC-10
/// `/rtc/call/query.json` (Meridian's: the commercial API has no call records): who
/// called whom, when it was answered and ended, its duration and why it ended.
pub(super) async fn call_query(call: &Call) -> Fields {
    let query = Query::Call {
        app_key: call.app_key(),
        call_id: json_str(call.json()?, "callId")?.to_string(),
    };
    match call.cluster.read(query).await? {
        QueryOutput::Call(record) => match record.to_json() {
            Value::Object(fields) => Ok(fields),
            other => Err(unexpected(other)),
        },
        other => Err(unexpected(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_is_media_type_0_and_every_picture_1() {
        assert_eq!(media_type(ResourceKind::Audio), 0);
        assert_eq!(media_type(ResourceKind::Screen), 1);
    }
}
