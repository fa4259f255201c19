//! Callbacks as the commercial service sends them: each event's body, and the URL of the
//! app's settings it goes to.

use serde_json::json;

use crate::state::{AppSettings, ConversationType, HookEvent, Message};

/// A callback's body as the commercial service sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub content_type: &'static str,
    pub body: String,
}

/// The commercial service's `channelType` names.
pub fn channel_type(kind: ConversationType) -> &'static str {
    match kind {
        ConversationType::Private => "PERSON",
        ConversationType::Group => "GROUP",
        ConversationType::Chatroom => "TEMPGROUP",
        ConversationType::System => "NOTIFY",
        ConversationType::UltraGroup => "ULTRAGROUP",
    }
}

/// The id a message was sent to, as its sender sees the conversation.
pub fn target_id(message: &Message) -> &str {
    let conversation = &message.conversation;
    match conversation.kind {
        ConversationType::Private if conversation.first == message.sender => &conversation.second,
        ConversationType::Private => &conversation.first,
        ConversationType::System => &conversation.second,
        _ => &conversation.first,
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `application/x-www-form-urlencoded` escaping.
pub fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The body of a callback to the app server (`None` for a push, which is not one).
pub fn render(event: &HookEvent) -> Option<Rendered> {
    Some(match event {
        HookEvent::Message(message) => {
            let time = message.sent_time_ms.to_string();
            let seq = message.seq.to_string();
            let group_user_ids = message.visible_to.join(",");
            let source = if message.sender_device.is_some() {
                "Websocket"
            } else {
                "Server"
            };
            Rendered {
                content_type: "application/x-www-form-urlencoded",
                body: form(&[
                    ("fromUserId", &message.sender),
                    ("toUserId", target_id(message)),
                    ("objectName", &message.object_name),
                    ("content", &message.content),
                    ("channelType", channel_type(message.conversation.kind)),
                    ("msgTimestamp", &time),
                    ("msgUID", &message.msg_uid),
                    ("sensitiveType", "0"),
                    ("source", source),
                    ("groupUserIds", &group_user_ids),
                    ("busChannel", &message.conversation.channel),
                    ("seq", &seq),
                ]),
            }
        }
        HookEvent::Status(change) => Rendered {
            content_type: "application/json",
            body: json!([{
                "userid": change.user_id,
                "status": (change.status as u8).to_string(),
                "os": change.platform,
                "time": change.time_ms,
                "clientIp": change.client_ip,
                "sessionId": change.session_id,
            }])
            .to_string(),
        },
        HookEvent::Chatroom(change) => Rendered {
            content_type: "application/json",
            body: json!([{
                "chatRoomId": change.room_id,
                "userIds": change.user_ids,
                "status": change.cause as u8,
                "type": change.event as u8,
                "time": change.time_ms,
            }])
            .to_string(),
        },
        HookEvent::Push(_) => return None,
        HookEvent::UsersErased(erased) => Rendered {
            content_type: "application/json",
            body: json!({
                "event": "usersErased",
                "userIds": erased.user_ids,
                "sentMessages": erased.sent_messages,
                "time": erased.time_ms,
            })
            .to_string(),
        },
        HookEvent::RtcRoom(room) => Rendered {
            content_type: "application/json",
            body: json!({
                "channelId": room.room_id,
                "event": room.event as u8,
                "userId": room.user_id,
                "timestamp": room.time_ms,
                "durationTime": room.duration_ms,
                "members": room.members.iter().map(|m| json!({
                    "userId": m.user_id,
                    "data": { "uris": m.resources.iter().map(|r| json!({
                        "mediaType": r.kind.media_type(),
                        "msid": r.stream_id,
                        // Where to watch it: the media server and its WHEP path.
                        "uri": format!("{}{}", r.media_server, r.params),
                        "tag": r.stream_id,
                    })).collect::<Vec<_>>() },
                })).collect::<Vec<_>>(),
            })
            .to_string(),
        },
        HookEvent::Recording(ready) => {
            let stream = &ready.stream;
            Rendered {
                content_type: "application/json",
                body: json!({
                    "event": "recordingReady",
                    "roomId": stream.room_id,
                    "sessionId": stream.session_id,
                    "userId": stream.user_id,
                    "streamId": stream.stream_id,
                    "fileId": stream.file_id,
                    "size": stream.size,
                    "startedAt": stream.started_ms,
                    "durationMs": stream.duration_ms,
                    "tracks": stream.tracks,
                })
                .to_string(),
            }
        }
    })
}

/// Where a job goes under the app's current settings; `None`: nowhere now (the job waits
/// and, if that lasts, becomes a dead letter).
pub(super) fn destination<'a>(settings: &'a AppSettings, event: &'a HookEvent) -> Option<&'a str> {
    let callbacks = &settings.callbacks;
    match event {
        HookEvent::Message(m) if callbacks.routes(m.conversation.kind) => {
            callbacks.routing_url.as_deref()
        }
        HookEvent::Message(_) => None,
        HookEvent::Status(_) => callbacks.online_status_url.as_deref(),
        HookEvent::Chatroom(_) => callbacks.chatroom_state_url.as_deref(),
        HookEvent::Push(_) => None,
        // The recording order named its own URL.
        HookEvent::Recording(ready) => Some(&ready.callback_url),
        // Read from the app's RTC or erasure callback URL by the sender.
        HookEvent::RtcRoom(_) | HookEvent::UsersErased(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Conversation, DeviceStatus, StatusChange};

    fn message(conversation: Conversation, sender: &str) -> Message {
        Message {
            msg_uid: "UID1".into(),
            conversation,
            sender: sender.into(),
            object_name: "RC:TxtMsg".into(),
            content: r#"{"content":"hi & bye"}"#.into(),
            sent_time_ms: 1_700_000_000_000,
            seq: 7,
            counted: true,
            push_content: None,
            push_data: None,
            recalled: false,
            modified: false,
            visible_to: Vec::new(),
            pos: 1,
            sender_device: Some("phone".into()),
        }
    }

    // covers: HOOK-01
    #[test]
    fn a_routed_message_is_the_commercial_form() {
        let routed = render(&HookEvent::Message(Box::new(message(
            Conversation::private("ann", "bob", ""),
            "bob",
        ))))
        .unwrap();
        assert_eq!(routed.content_type, "application/x-www-form-urlencoded");
        assert_eq!(
            routed.body,
            "fromUserId=bob&toUserId=ann&objectName=RC%3ATxtMsg\
             &content=%7B%22content%22%3A%22hi+%26+bye%22%7D&channelType=PERSON\
             &msgTimestamp=1700000000000&msgUID=UID1&sensitiveType=0&source=Websocket\
             &groupUserIds=&busChannel=&seq=7"
        );
    }

    // covers: HOOK-03
    #[test]
    fn a_status_change_is_the_commercial_json() {
        let rendered = render(&HookEvent::Status(StatusChange {
            user_id: "ann".into(),
            status: DeviceStatus::Offline,
            platform: "iOS".into(),
            client_ip: "10.0.0.1:4242".into(),
            session_id: "4-9".into(),
            time_ms: 5,
        }))
        .unwrap();
        let body: serde_json::Value = serde_json::from_str(&rendered.body).unwrap();
        assert_eq!(
            body,
            json!([{"userid": "ann", "status": "1", "os": "iOS", "time": 5,
                    "clientIp": "10.0.0.1:4242", "sessionId": "4-9"}])
        );
    }
}
