//! `/rtc/*`: the app server's view of audio/video rooms (RTC-01): a room's members and
//! their resources, and removing a member; of recording (RTC-07): start, stop, and the
//! streams recorded; of mixing (RTC-09): start or change, and stop; and of calls
//! (RTC-10): a call's record. JSON bodies, as the commercial RTC server API.

use meridian_access::error::unexpected;
use meridian_access::error::ApiError;
use meridian_cluster::state::rtc::{
    BlockRtcUser, ChangeMix, ChangeRecording, MixChange, MixSettings, RecordingChange,
};
use meridian_cluster::state::{
    ChangeRtcRoom, Command, CommandError, Query, QueryOutput, RtcChange,
};
use meridian_cluster::ClusterError;
use meridian_proto::rtc::{Role, RoomInfo};
use serde_json::{json, Value};

use super::messages::json_str;
use super::{fields, Call, Fields};
use crate::files::{Link, Variant};

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
                    json!({ "mediaType": r.kind.media_type(), "msid": r.stream_id, "uri": uri,
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

// covers: RTC-01
/// `/rtc/user/block.json`: the user's joins are refused (53005) for `minute` minutes
/// (1 to 43,200); a member stays in its room until kicked.
pub(super) async fn user_block(call: &Call) -> Fields {
    let body = call.json()?;
    let minutes = match body.get("minute") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .and_then(|m| u32::try_from(m).ok())
    .ok_or_else(|| ApiError::param("minute must be a whole number of minutes"))?;
    block(call, Some(minutes)).await
}

// covers: RTC-01
/// `/rtc/user/unblock.json`: the user joins rooms again; one not blocked stays so.
pub(super) async fn user_unblock(call: &Call) -> Fields {
    block(call, None).await
}

async fn block(call: &Call, minutes: Option<u32>) -> Fields {
    let command = Command::BlockRtcUser(BlockRtcUser {
        app_key: call.app_key(),
        user_id: json_str(call.json()?, "userId")?.to_string(),
        minutes,
    });
    call.write(command).await?;
    Ok(serde_json::Map::new())
}

// covers: RTC-07
/// `/rtc/record/start.json` (Meridian's): records every stream published in the room
/// from now until stopped or the room ends, each to a WebM file among the app's files;
/// `callbackUrl`, when given, is told of each file when it is stored.
pub(super) async fn record_start(call: &Call) -> Fields {
    let body = call.json()?;
    let callback_url = match body.get("callbackUrl") {
        None | Some(Value::Null) => None,
        Some(_) => Some(json_str(body, "callbackUrl")?.to_string()),
    };
    record(call, RecordingChange::Start { callback_url }).await
}

// covers: RTC-07
/// `/rtc/record/stop.json` (Meridian's): streams being recorded are finished and stored.
pub(super) async fn record_stop(call: &Call) -> Fields {
    record(call, RecordingChange::Stop).await
}

async fn record(call: &Call, change: RecordingChange) -> Fields {
    let command = Command::ChangeRecording(ChangeRecording {
        app_key: call.app_key(),
        room_id: json_str(call.json()?, "roomId")?.to_string(),
        change,
    });
    call.write(command).await?;
    Ok(serde_json::Map::new())
}

// covers: RTC-07
/// `/rtc/record/query.json` (Meridian's): the room's recorded streams still kept, each
/// with a signed link to its WebM file valid as long as the file.
pub(super) async fn record_query(call: &Call) -> Fields {
    let room_id = json_str(call.json()?, "roomId")?.to_string();
    let query = Query::RtcRecorded {
        app_key: call.app_key(),
        room_id: room_id.clone(),
    };
    let streams = match call.cluster.read(query).await? {
        QueryOutput::RtcRecorded(streams) => streams,
        other => return Err(unexpected(other)),
    };
    let app_key = call.app_key();
    let recordings: Vec<Value> = streams
        .iter()
        .map(|s| {
            let link = Link {
                app_key: &app_key,
                file_id: &s.file_id,
                variant: Variant::Original,
                expires_ms: s.expires_ms,
                scope: None,
            };
            let url = link.url(&call.base_url, call.app.secret());
            json!({ "userId": s.user_id, "streamId": s.stream_id, "sessionId": s.session_id,
                    "fileId": s.file_id, "size": s.size, "startedAt": s.started_ms,
                    "durationMs": s.duration_ms, "tracks": s.tracks, "url": url,
                    "expiresAt": s.expires_ms })
        })
        .collect();
    Ok(fields(
        json!({ "roomId": room_id, "recordings": recordings }),
    ))
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

// covers: RTC-09
/// `/rtc/mix/start.json` (Meridian's): composes the room's videos on one canvas in the
/// body's layout, mixes its audio, and pushes the result to its `pushUrls` over RTMP
/// until stopped or the room ends; on a mixed room, changes the layout or the URLs.
pub(super) async fn mix_start(call: &Call) -> Fields {
    let mut body = call.json()?.clone();
    let room_id = json_str(&body, "roomId")?.to_string();
    if let Some(fields) = body.as_object_mut() {
        fields.remove("roomId");
    }
    let settings: MixSettings =
        serde_json::from_value(body).map_err(|e| ApiError::param(format!("mix: {e}")))?;
    mix(call, room_id, MixChange::Start(Box::new(settings))).await
}

// covers: RTC-09
/// `/rtc/mix/stop.json` (Meridian's): the mix ends and its pushes close.
pub(super) async fn mix_stop(call: &Call) -> Fields {
    let room_id = json_str(call.json()?, "roomId")?.to_string();
    mix(call, room_id, MixChange::Stop).await
}

async fn mix(call: &Call, room_id: String, change: MixChange) -> Fields {
    let command = Command::ChangeMix(ChangeMix {
        app_key: call.app_key(),
        room_id,
        change,
    });
    call.write(command).await?;
    Ok(serde_json::Map::new())
}
