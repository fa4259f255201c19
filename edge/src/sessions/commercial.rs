//! The commercial Web SDKs' protocol on a session (`edge/COMMERCIAL-PROTOCOL.md`): their
//! binary frames are turned into the JSON protocol's client frames, and the session core's
//! answers back into binary frames, so both protocols share one session core and its
//! delivery guarantees. Live messages become a "pull now" notice (`s_ntf`) carrying the
//! feed position; the SDK's pull (`pullMsg`, from its `syncTime`) is a sync from that
//! cursor, exactly as a JSON client's.

use std::collections::HashMap;

use meridian_proto::{codes, ClientFrame, ConversationBody, MessageBody, ServerFrame};
use meridian_rmtp::body::{self, DownStreamMessage, DownStreamMessages, NotifyMsg};
use meridian_rmtp::body::{ChrmDownStreamMessages, ChrmOutput, HistoryMsgOuput, RelationsOutput};
use meridian_rmtp::{Accepted, ClientFrame as Rmtp, ConnAck, ConnAckLayout, Flags, Request};
use meridian_rmtp::{FrameError, ServerFrame as RmtpOut};
use prost::Message;

use crate::now_ms;

/// A pull's answer carries messages up to this size (at least one), then says "pull again"
/// from the last one's position: the socket's write buffer holds 288 KiB at most.
const PULL_ANSWER_BYTES: usize = 128 * 1024;

/// DISCONNECT statuses (the SDK's table).
const DISCONNECT_OTHER_LOGIN: u8 = 1;
const DISCONNECT_EXCEPTION: u8 = 2;

/// What a client frame asks of the session.
pub(super) enum Incoming {
    /// A request for the session core, in the JSON protocol's terms.
    Frame(ClientFrame),
    /// Answered here at once (a topic Meridian does not serve).
    Answer(Vec<u8>),
    /// Nothing to do (the client's acknowledgements).
    Nothing,
    /// The client disconnects.
    Close,
}

/// Bytes that are not a request this session can read.
#[derive(Debug, thiserror::Error)]
pub(super) enum Malformed {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Body(#[from] body::BodyError),
}

/// One commercial session's translation state.
pub(super) struct Commercial {
    layout: ConnAckLayout,
    /// The session's user, once connected (its own messages are marked as sent).
    user_id: Option<String>,
    /// Sends under way: the client id the core answers with → the PUBLISH's message id.
    sends: HashMap<String, u16>,
    pull: Option<Pull>,
    /// Requests under way: the request id the core answers with → how they were asked.
    requests: HashMap<u64, Asked>,
    next_request: u64,
    /// Each joined room's latest messages, for the SDK's first pull of the room.
    rooms: HashMap<String, Vec<DownStreamMessage>>,
    /// Make client ids unique to this session when the SDK gives none.
    nonce: u64,
    sent: u64,
}

impl Commercial {
    pub(super) fn new(layout: ConnAckLayout) -> Self {
        Self {
            layout,
            user_id: None,
            sends: HashMap::new(),
            pull: None,
            requests: HashMap::new(),
            next_request: 0,
            rooms: HashMap::new(),
            nonce: rand::random(),
            sent: 0,
        }
    }

    /// Reads one binary frame from the client.
    pub(super) fn read(&mut self, bytes: &[u8]) -> Result<Incoming, Malformed> {
        Ok(match Rmtp::decode(bytes)? {
            Rmtp::PingReq => Incoming::Frame(ClientFrame::Ping),
            Rmtp::PubAck { .. } | Rmtp::QueryCon { .. } => Incoming::Nothing,
            Rmtp::Disconnect { .. } => Incoming::Close,
            Rmtp::Publish(request) if request.topic == "recallMsg" => self.recall(&request)?,
            Rmtp::Publish(request) => match conversation_type(&request.topic) {
                Some(kind) => Incoming::Frame(self.send(kind, request)?),
                None => unserved(&request, Kind::Publish),
            },
            Rmtp::Query(request) => self.query(request)?,
        })
    }

    fn query(&mut self, request: Request) -> Result<Incoming, Malformed> {
        let (topic, id) = (request.topic.as_str(), request.message_id);
        Ok(match topic {
            "pullMsg" => {
                let pull: body::SyncRequestMsg = body::decode(topic, &request.body)?;
                self.pull = Some(Pull {
                    message_id: id,
                    list: Vec::new(),
                    bytes: 0,
                    last: None,
                });
                Incoming::Frame(ClientFrame::Sync {
                    cursor: u64::try_from(pull.sync_time).unwrap_or(0),
                })
            }
            "qryPMsg" | "qryGMsg" | "qryCHMsg" | "qrySMsg" => {
                let asked: body::HistoryMsgInput = body::decode(topic, &request.body)?;
                // Meridian pages history backwards only (PROTOCOL.md `history`).
                if asked.order.unwrap_or(0) != 0 {
                    return Ok(unserved(&request, Kind::Query));
                }
                let limit = usize::try_from(asked.count.unwrap_or(20).clamp(1, 100)).unwrap_or(20);
                let req_id = self.asked(Asked::History { id, limit });
                Incoming::Frame(ClientFrame::History {
                    req_id,
                    conversation_type: match topic {
                        "qryPMsg" => 1,
                        "qryGMsg" => 3,
                        "qryCHMsg" => 4,
                        _ => 6,
                    },
                    target_id: asked.target_id.unwrap_or_default(),
                    channel_id: asked.bus_channel.unwrap_or_default(),
                    before_time: u64::try_from(asked.time.unwrap_or(0)).unwrap_or(0),
                    limit,
                })
            }
            "qryRelationR" | "qryRelation" => {
                let asked: body::RelationQryInput = body::decode(topic, &request.body)?;
                let limit = asked.count.unwrap_or(100).clamp(1, 500);
                Incoming::Frame(ClientFrame::Conversations {
                    req_id: self.asked(Asked::Query(id)),
                    limit: usize::try_from(limit).unwrap_or(100),
                })
            }
            "joinChrm" | "joinChrmR" | "exitChrm" => {
                body::decode::<body::ChrmInput>(topic, &request.body)?;
                let req_id = self.asked(Asked::Chatroom(id));
                let chatroom_id = request.target_id;
                Incoming::Frame(match topic {
                    "exitChrm" => {
                        self.rooms.remove(&chatroom_id);
                        ClientFrame::QuitChatroom {
                            req_id,
                            chatroom_id,
                        }
                    }
                    _ => ClientFrame::JoinChatroom {
                        req_id,
                        chatroom_id,
                    },
                })
            }
            // A room's messages are pushed live (`s_msg`); its pull gets what the join
            // brought, once.
            "chrmPull" => {
                let asked: body::ChrmPullMsg = body::decode(topic, &request.body)?;
                let list = self.rooms.remove(&request.target_id).unwrap_or_default();
                let newest = list.iter().map(|m| m.data_time).max();
                let pulled = ChrmDownStreamMessages {
                    list: list.iter().map(Message::encode_to_vec).collect(),
                    sync_time: newest.unwrap_or(asked.sync_time),
                };
                encode(&RmtpOut::QueryAck {
                    message_id: id,
                    status: 0,
                    time_ms: now_ms(),
                    body: pulled.encode_to_vec(),
                })
                .map_or(Incoming::Nothing, Incoming::Answer)
            }
            _ => unserved(&request, Kind::Query),
        })
    }

    /// A PUBLISH `recallMsg`: its content names the message.
    fn recall(&mut self, request: &Request) -> Result<Incoming, Malformed> {
        let up: body::UpStreamMessage = body::decode(&request.topic, &request.body)?;
        let named = serde_json::from_str::<serde_json::Value>(&up.content)
            .ok()
            .and_then(|c| c["messageUId"].as_str().map(str::to_string));
        let Some(msg_uid) = named else {
            return Ok(unserved(request, Kind::Publish));
        };
        Ok(Incoming::Frame(ClientFrame::Recall {
            req_id: self.asked(Asked::Publish(request.message_id)),
            msg_uid,
        }))
    }

    /// Remembers how a request was asked; its id for the core.
    fn asked(&mut self, asked: Asked) -> u64 {
        self.next_request += 1;
        self.requests.insert(self.next_request, asked);
        self.next_request
    }

    /// The answer to request `req_id`: `status`, and a QUERYACK's body.
    fn answer(&mut self, req_id: u64, status: u16, body: Vec<u8>) -> Option<RmtpOut> {
        let asked = self.requests.remove(&req_id)?;
        let (message_id, time_ms) = (asked.message_id(), now_ms());
        Some(match asked {
            Asked::Publish(_) => RmtpOut::PubAck {
                message_id,
                status,
                time_ms,
                msg_uid: String::new(),
            },
            _ => RmtpOut::QueryAck {
                message_id,
                status,
                time_ms,
                body,
            },
        })
    }

    fn send(&mut self, kind: u8, request: Request) -> Result<ClientFrame, Malformed> {
        let up: body::UpStreamMessage = body::decode(&request.topic, &request.body)?;
        // The SDK's own id for the message makes a resend idempotent; without one the id
        // is this session's, never matching an earlier send.
        self.sent += 1;
        let client_id = match up.client_unique_id {
            Some(id) => format!("rc-{id}"),
            None => format!("rc-{:x}-{}", self.nonce, self.sent),
        };
        self.sends.insert(client_id.clone(), request.message_id);
        Ok(ClientFrame::Send {
            client_id,
            conversation_type: kind,
            target_id: request.target_id,
            channel_id: up.bus_channel.unwrap_or_default(),
            object_name: up.classname,
            content: up.content,
            push_content: up.push_text,
            push_data: up.app_data,
            to_user_ids: up.to_user_ids,
        })
    }

    /// The binary frame for a frame of the session core, if the SDK has one for it.
    pub(super) fn write(&mut self, frame: &ServerFrame) -> Option<Vec<u8>> {
        let out = match frame {
            ServerFrame::Connected {
                user_id,
                server_time,
                ..
            } => {
                self.user_id = Some(user_id.clone());
                RmtpOut::ConnAck(ConnAck {
                    layout: self.layout,
                    status: 0,
                    accepted: Some(Accepted {
                        user_id: user_id.clone(),
                        session_id: String::new(),
                        timestamp_ms: *server_time,
                    }),
                })
            }
            ServerFrame::Message(message) => {
                // Only a pull's answer carries messages; a resync's come with the notice
                // its `synced` sends.
                let pull = self.pull.as_mut()?;
                let user_id = self.user_id.as_deref().unwrap_or_default();
                pull.gather(down_stream(message, user_id), message.cursor);
                return None;
            }
            ServerFrame::Synced { cursor } => match self.pull.take() {
                Some(pull) => {
                    // A full answer ends at its last message; the SDK pulls on from there.
                    let (sync_time, finished) = match pull.last {
                        Some(last) => (last, false),
                        None => (*cursor, true),
                    };
                    RmtpOut::QueryAck {
                        message_id: pull.message_id,
                        status: 0,
                        time_ms: now_ms(),
                        body: DownStreamMessages {
                            list: pull.list,
                            sync_time: i64::try_from(sync_time).unwrap_or(i64::MAX),
                            finished: Some(finished),
                        }
                        .encode_to_vec(),
                    }
                }
                None => return self.notify(*cursor),
            },
            ServerFrame::Ack {
                client_id,
                msg_uid,
                sent_time,
                ..
            } => RmtpOut::PubAck {
                message_id: self.sends.remove(client_id)?,
                status: 0,
                time_ms: *sent_time,
                msg_uid: msg_uid.clone(),
            },
            ServerFrame::Error {
                code,
                client_id: Some(client_id),
                ..
            } => RmtpOut::PubAck {
                message_id: self.sends.remove(client_id)?,
                status: status16(*code),
                time_ms: now_ms(),
                msg_uid: String::new(),
            },
            ServerFrame::Error {
                code,
                req_id: Some(req_id),
                ..
            } => self.answer(*req_id, status16(*code), Vec::new())?,
            ServerFrame::Done { req_id } => {
                let body = match self.requests.get(req_id) {
                    Some(Asked::Chatroom(_)) => chrm_output(),
                    _ => Vec::new(),
                };
                self.answer(*req_id, 0, body)?
            }
            ServerFrame::HistoryPage { req_id, messages } => {
                let limit = match self.requests.get(req_id) {
                    Some(Asked::History { limit, .. }) => *limit,
                    _ => return None,
                };
                let user_id = self.user_id.as_deref().unwrap_or_default();
                let page = HistoryMsgOuput {
                    list: messages.iter().map(|m| down_stream(m, user_id)).collect(),
                    // The oldest message's time: where the SDK's next page starts.
                    sync_time: messages
                        .last()
                        .map_or(0, |m| i64::try_from(m.sent_time).unwrap_or(0)),
                    has_msg: i32::from(messages.len() >= limit),
                };
                self.answer(*req_id, 0, page.encode_to_vec())?
            }
            ServerFrame::ConversationList {
                req_id,
                conversations,
            } => {
                let user_id = self.user_id.as_deref().unwrap_or_default();
                let list = relations(conversations, user_id);
                self.answer(*req_id, 0, list)?
            }
            ServerFrame::ChatroomJoined {
                req_id,
                chatroom_id,
                messages,
            } => {
                let user_id = self.user_id.as_deref().unwrap_or_default();
                let latest = messages.iter().map(|m| down_stream(m, user_id)).collect();
                self.rooms.insert(chatroom_id.clone(), latest);
                self.answer(*req_id, 0, chrm_output())?
            }
            ServerFrame::Error { code, .. } => match self.user_id {
                // Refused at connect: the CONNACK says why.
                None => RmtpOut::ConnAck(ConnAck {
                    layout: self.layout,
                    status: connack_status(*code),
                    accepted: None,
                }),
                // The session cannot go on (its area is unreachable, …): the SDK
                // reconnects after an exception.
                Some(_) => RmtpOut::Disconnect {
                    status: DISCONNECT_EXCEPTION,
                },
            },
            ServerFrame::Pong { .. } => RmtpOut::PingResp,
            ServerFrame::Kicked { code, .. } => RmtpOut::Disconnect {
                status: match *code {
                    codes::KICKED_OTHER_LOGIN => DISCONNECT_OTHER_LOGIN,
                    _ => DISCONNECT_EXCEPTION,
                },
            },
            // A draining edge just closes: the SDK reconnects through nav by itself.
            _ => return None,
        };
        encode(&out)
    }

    /// "New messages up to `cursor`: pull" (`s_ntf`).
    pub(super) fn notify(&self, cursor: u64) -> Option<Vec<u8>> {
        let notice = NotifyMsg {
            r#type: body::NOTIFY_NEW_MESSAGES,
            time: Some(i64::try_from(cursor).unwrap_or(i64::MAX)),
        };
        self.publish("s_ntf", notice.encode_to_vec())
    }

    /// A message pushed whole (`s_msg`): one a pull cannot give.
    pub(super) fn message(&self, message: &MessageBody) -> Option<Vec<u8>> {
        let user_id = self.user_id.as_deref().unwrap_or_default();
        self.publish("s_msg", down_stream(message, user_id).encode_to_vec())
    }

    fn publish(&self, topic: &str, body: Vec<u8>) -> Option<Vec<u8>> {
        encode(&RmtpOut::Publish {
            flags: Flags::default(),
            date: u32::try_from(now_ms() / 1000).unwrap_or(u32::MAX),
            topic: topic.into(),
            target_id: self.user_id.clone().unwrap_or_default(),
            message_id: 0,
            body,
        })
    }
}

/// The DISCONNECT that ends a session after a frame it could not read.
pub(super) fn bad_frame() -> Vec<u8> {
    let bye = RmtpOut::Disconnect {
        status: DISCONNECT_EXCEPTION,
    };
    encode(&bye).unwrap_or_default()
}

/// A frame this side makes is always writable: its strings are a client frame's (read
/// with a 2-byte length) or the cluster's bounded ids.
fn encode(frame: &RmtpOut) -> Option<Vec<u8>> {
    match frame.encode() {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            tracing::error!(error = %e, "a commercial frame could not be written");
            None
        }
    }
}

/// The conversation type a PUBLISH topic sends to (`ppMsgS`/`pgMsgS` are the status
/// variants: the core tells status messages by their objectName, as for JSON clients).
fn conversation_type(topic: &str) -> Option<u8> {
    Some(match topic {
        "ppMsgP" | "ppMsgS" => 1,
        "pgMsgP" | "pgMsgS" => 3,
        "chatMsg" | "chatMsgS" => 4,
        "pbMsgP" => 6,
        "ugMsg" => 10,
        _ => return None,
    })
}

/// A pull under way: the messages its sync hands out, gathered for one answer.
struct Pull {
    /// Its QUERY's message id.
    message_id: u16,
    list: Vec<DownStreamMessage>,
    bytes: usize,
    /// Once the answer is full: the feed position of its last message.
    last: Option<u64>,
}

impl Pull {
    fn gather(&mut self, message: DownStreamMessage, position: u64) {
        if self.last.is_some() {
            return;
        }
        self.bytes += message.encoded_len();
        self.list.push(message);
        if self.bytes >= PULL_ANSWER_BYTES {
            self.last = Some(position);
        }
    }
}

/// How a request the core answers by request id was asked, to answer it in kind.
enum Asked {
    /// A PUBLISH (recall): a PUBACK.
    Publish(u16),
    /// A QUERY: a QUERYACK.
    Query(u16),
    /// A history QUERY, and the page size asked (a full page says there may be more).
    History { id: u16, limit: usize },
    /// A chatroom join or quit: a QUERYACK with the room's answer.
    Chatroom(u16),
}

impl Asked {
    fn message_id(&self) -> u16 {
        match *self {
            Asked::Publish(id) | Asked::Query(id) | Asked::Chatroom(id) => id,
            Asked::History { id, .. } => id,
        }
    }
}

fn chrm_output() -> Vec<u8> {
    ChrmOutput {
        nothing: 1,
        join_time: i64::try_from(now_ms()).ok(),
    }
    .encode_to_vec()
}

/// The conversation list as the SDK reads it.
fn relations(conversations: &[ConversationBody], viewer: &str) -> Vec<u8> {
    RelationsOutput {
        info: conversations
            .iter()
            .map(|c| body::RelationInfo {
                r#type: i32::from(c.conversation_type),
                user_id: c.target_id.clone(),
                msg: c.last_message.as_ref().map(|m| down_stream(m, viewer)),
                unread_count: i64::try_from(c.unread).ok(),
                bus_channel: (!c.channel_id.is_empty()).then(|| c.channel_id.clone()),
            })
            .collect(),
        is_finished: Some(true),
    }
    .encode_to_vec()
}

#[derive(Clone, Copy)]
enum Kind {
    Publish,
    Query,
}

/// The answer to a topic Meridian does not serve: a refusal the SDK reports at once,
/// rather than its 30 s timeout.
fn unserved(request: &Request, kind: Kind) -> Incoming {
    tracing::debug!(topic = %request.topic, "commercial topic not served");
    let status = status16(codes::BAD_REQUEST);
    let out = match kind {
        Kind::Publish => RmtpOut::PubAck {
            message_id: request.message_id,
            status,
            time_ms: now_ms(),
            msg_uid: String::new(),
        },
        Kind::Query => RmtpOut::QueryAck {
            message_id: request.message_id,
            status,
            time_ms: now_ms(),
            body: Vec::new(),
        },
    };
    encode(&out).map_or(Incoming::Nothing, Incoming::Answer)
}

/// Every code of PROTOCOL.md fits the frames' 2 bytes.
fn status16(code: u32) -> u16 {
    u16::try_from(code).unwrap_or(u16::MAX)
}

/// The CONNACK status for a refusal at connect (the SDK's table).
fn connack_status(code: u32) -> u8 {
    match code {
        codes::TOKEN_INCORRECT => 4,
        codes::USER_BLOCKED => 9,
        // A connect the SDK cannot have meant (no deviceId, unknown platform).
        codes::BAD_REQUEST => 2,
        // The area is unreachable: the SDK tries again.
        _ => 3,
    }
}

/// A message as the SDK reads it, for `viewer`.
fn down_stream(message: &MessageBody, viewer: &str) -> DownStreamMessage {
    let own = message.sender_user_id == viewer;
    let group_like = matches!(message.conversation_type, 3 | 4 | 10);
    // The SDK takes a private or system conversation's target from fromUserId: for the
    // user's own message that is the peer.
    let from_user_id = match (own, group_like) {
        (true, false) => message.target_id.clone(),
        _ => message.sender_user_id.clone(),
    };
    let stored = message.seq > 0;
    DownStreamMessage {
        from_user_id,
        channel_type: i32::from(message.conversation_type),
        group_id: group_like.then(|| message.target_id.clone()),
        classname: message.object_name.clone(),
        content: message.content.clone(),
        data_time: i64::try_from(message.sent_time).unwrap_or(i64::MAX),
        status: match stored {
            true => body::down_flags::PERSISTED | body::down_flags::COUNTED,
            false => 0,
        },
        ext_status: (!stored).then_some(body::ext_flags::STATUS_MESSAGE),
        msg_id: Some(message.msg_uid.clone()),
        direction: Some(match own {
            true => body::DIRECTION_SENT,
            false => body::DIRECTION_RECEIVED,
        }),
        push_content: message.push_content.clone(),
        bus_channel: (!message.channel_id.is_empty()).then(|| message.channel_id.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meridian_rmtp::ServerFrame as Out;

    fn publish(topic: &str, body: Vec<u8>) -> Vec<u8> {
        Rmtp::Publish(Request {
            flags: Flags {
                qos: 1,
                ..Flags::default()
            },
            topic: topic.into(),
            target_id: "bob".into(),
            message_id: 9,
            body,
        })
        .encode()
        .unwrap()
    }

    fn text(client_unique_id: Option<i64>) -> Vec<u8> {
        body::UpStreamMessage {
            session_id: body::up_flags::PERSISTED | body::up_flags::COUNTED,
            classname: "RC:TxtMsg".into(),
            content: r#"{"content":"hi"}"#.into(),
            push_text: None,
            app_data: None,
            to_user_ids: vec![],
            client_unique_id,
            bus_channel: None,
        }
        .encode_to_vec()
    }

    fn connected(wire: &mut Commercial) {
        let frame = ServerFrame::Connected {
            user_id: "alice".into(),
            server_time: 1,
            cursor: 0,
            heartbeat_ms: 1,
        };
        wire.write(&frame).unwrap();
    }

    #[test]
    fn a_private_send_is_acknowledged_with_its_message_id() {
        let mut wire = Commercial::new(ConnAckLayout::Plain);
        connected(&mut wire);
        let Ok(Incoming::Frame(ClientFrame::Send {
            client_id,
            conversation_type,
            target_id,
            ..
        })) = wire.read(&publish("ppMsgP", text(Some(77))))
        else {
            panic!("not a send");
        };
        assert_eq!(
            (client_id.as_str(), conversation_type, target_id.as_str()),
            ("rc-77", 1, "bob")
        );
        let ack = wire
            .write(&ServerFrame::Ack {
                client_id,
                msg_uid: "M1".into(),
                seq: 1,
                sent_time: 1_764_000_000_250,
                dropped: false,
            })
            .unwrap();
        assert_eq!(
            Out::decode(&ack, ConnAckLayout::Plain).unwrap(),
            Out::PubAck {
                message_id: 9,
                status: 0,
                time_ms: 1_764_000_000_250,
                msg_uid: "M1".into(),
            }
        );
    }

    #[test]
    fn a_pull_gathers_the_sync_into_one_answer_with_the_cursor_as_sync_time() {
        let mut wire = Commercial::new(ConnAckLayout::Plain);
        connected(&mut wire);
        let pull = Rmtp::Query(Request {
            flags: Flags::default(),
            topic: "pullMsg".into(),
            target_id: "alice".into(),
            message_id: 4,
            body: body::SyncRequestMsg {
                sync_time: 12,
                ispolling: false,
            }
            .encode_to_vec(),
        });
        let Ok(Incoming::Frame(ClientFrame::Sync { cursor: 12 })) =
            wire.read(&pull.encode().unwrap())
        else {
            panic!("not a sync from 12");
        };
        let message = |sender: &str| MessageBody {
            cursor: 13,
            msg_uid: "M".into(),
            seq: 1,
            conversation_type: 1,
            target_id: "bob".into(),
            channel_id: String::new(),
            sender_user_id: sender.into(),
            object_name: "RC:TxtMsg".into(),
            content: "{}".into(),
            sent_time: 5,
            push_content: None,
            push_data: None,
            recalled: false,
            modified: false,
        };
        assert!(wire.write(&ServerFrame::Message(message("bob"))).is_none());
        assert!(wire
            .write(&ServerFrame::Message(message("alice")))
            .is_none());
        let answer = wire.write(&ServerFrame::Synced { cursor: 14 }).unwrap();
        let Out::QueryAck {
            message_id: 4,
            status: 0,
            body,
            ..
        } = Out::decode(&answer, ConnAckLayout::Plain).unwrap()
        else {
            panic!("not the pull's answer");
        };
        let pulled = DownStreamMessages::decode(body.as_slice()).unwrap();
        assert_eq!(pulled.sync_time, 14);
        let seen: Vec<_> = pulled
            .list
            .iter()
            .map(|m| (m.from_user_id.as_str(), m.direction))
            .collect();
        // The user's own private message names the peer, marked as sent.
        assert_eq!(seen, [("bob", Some(2)), ("bob", Some(1))]);
        // Without a pull under way, a resync's end is a notice to pull.
        let notice = wire.write(&ServerFrame::Synced { cursor: 20 }).unwrap();
        let Out::Publish { topic, body, .. } = Out::decode(&notice, ConnAckLayout::Plain).unwrap()
        else {
            panic!("not a notice");
        };
        assert_eq!(topic, "s_ntf");
        assert_eq!(NotifyMsg::decode(body.as_slice()).unwrap().time, Some(20));
    }

    fn query(wire: &mut Commercial, topic: &str, target: &str, id: u16, body: Vec<u8>) -> Incoming {
        let frame = Rmtp::Query(Request {
            flags: Flags::default(),
            topic: topic.into(),
            target_id: target.into(),
            message_id: id,
            body,
        });
        wire.read(&frame.encode().unwrap()).unwrap()
    }

    fn query_ack(bytes: &[u8]) -> (u16, u16, Vec<u8>) {
        match Out::decode(bytes, ConnAckLayout::Plain).unwrap() {
            Out::QueryAck {
                message_id,
                status,
                body,
                ..
            } => (message_id, status, body),
            other => panic!("not a QUERYACK: {other:?}"),
        }
    }

    #[test]
    fn a_full_history_page_says_there_is_more_and_where_the_next_starts() {
        let mut wire = Commercial::new(ConnAckLayout::Plain);
        connected(&mut wire);
        let asked = body::HistoryMsgInput {
            target_id: Some("bob".into()),
            time: Some(0),
            count: Some(2),
            order: Some(0),
            bus_channel: None,
        };
        let Incoming::Frame(ClientFrame::History {
            req_id,
            conversation_type: 1,
            limit: 2,
            ..
        }) = query(&mut wire, "qryPMsg", "alice", 5, asked.encode_to_vec())
        else {
            panic!("not a history request");
        };
        let message = |sent_time| MessageBody {
            cursor: 0,
            msg_uid: format!("M{sent_time}"),
            seq: 1,
            conversation_type: 1,
            target_id: "bob".into(),
            channel_id: String::new(),
            sender_user_id: "bob".into(),
            object_name: "RC:TxtMsg".into(),
            content: "{}".into(),
            sent_time,
            push_content: None,
            push_data: None,
            recalled: false,
            modified: false,
        };
        let page = ServerFrame::HistoryPage {
            req_id,
            messages: vec![message(9), message(7)],
        };
        let (id, status, body) = query_ack(&wire.write(&page).unwrap());
        assert_eq!((id, status), (5, 0));
        let page = HistoryMsgOuput::decode(body.as_slice()).unwrap();
        assert_eq!((page.list.len(), page.has_msg, page.sync_time), (2, 1, 7));
        // Newer-than pages are not served: refused at once.
        let newer = body::HistoryMsgInput {
            order: Some(1),
            ..asked
        };
        let Incoming::Answer(refused) =
            query(&mut wire, "qryPMsg", "alice", 6, newer.encode_to_vec())
        else {
            panic!("not refused");
        };
        assert_eq!(query_ack(&refused).1, status16(codes::BAD_REQUEST));
    }

    #[test]
    fn a_join_answers_the_room_and_its_first_pull_gets_the_latest_messages_once() {
        let mut wire = Commercial::new(ConnAckLayout::Plain);
        connected(&mut wire);
        let join = body::ChrmInput { nothing: 1 }.encode_to_vec();
        let Incoming::Frame(ClientFrame::JoinChatroom {
            req_id,
            chatroom_id,
        }) = query(&mut wire, "joinChrm", "lobby", 3, join)
        else {
            panic!("not a join");
        };
        assert_eq!(chatroom_id, "lobby");
        let joined = ServerFrame::ChatroomJoined {
            req_id,
            chatroom_id,
            messages: vec![MessageBody {
                cursor: 0,
                msg_uid: "R1".into(),
                seq: 1,
                conversation_type: 4,
                target_id: "lobby".into(),
                channel_id: String::new(),
                sender_user_id: "bob".into(),
                object_name: "RC:TxtMsg".into(),
                content: "{}".into(),
                sent_time: 42,
                push_content: None,
                push_data: None,
                recalled: false,
                modified: false,
            }],
        };
        let (id, status, body) = query_ack(&wire.write(&joined).unwrap());
        assert_eq!(
            (
                id,
                status,
                ChrmOutput::decode(body.as_slice()).unwrap().nothing
            ),
            (3, 0, 1)
        );
        let pull = || {
            body::ChrmPullMsg {
                sync_time: 0,
                count: 10,
            }
            .encode_to_vec()
        };
        for expected in [1, 0] {
            let Incoming::Answer(answer) = query(&mut wire, "chrmPull", "lobby", 4, pull()) else {
                panic!("not answered");
            };
            let pulled = ChrmDownStreamMessages::decode(query_ack(&answer).2.as_slice()).unwrap();
            assert_eq!(pulled.list.len(), expected);
        }
    }

    #[test]
    fn a_full_pull_answer_stops_at_its_last_message_and_asks_for_another_pull() {
        let mut wire = Commercial::new(ConnAckLayout::Plain);
        connected(&mut wire);
        let pull = body::SyncRequestMsg {
            sync_time: 0,
            ispolling: false,
        };
        query(&mut wire, "pullMsg", "alice", 8, pull.encode_to_vec());
        let big = "x".repeat(70 * 1024);
        for cursor in [3, 5, 9] {
            let message = MessageBody {
                cursor,
                msg_uid: format!("M{cursor}"),
                seq: 1,
                conversation_type: 1,
                target_id: "bob".into(),
                channel_id: String::new(),
                sender_user_id: "bob".into(),
                object_name: "RC:TxtMsg".into(),
                content: big.clone(),
                sent_time: cursor,
                push_content: None,
                push_data: None,
                recalled: false,
                modified: false,
            };
            assert!(wire.write(&ServerFrame::Message(message)).is_none());
        }
        let answer = wire.write(&ServerFrame::Synced { cursor: 9 }).unwrap();
        let pulled = DownStreamMessages::decode(query_ack(&answer).2.as_slice()).unwrap();
        let uids: Vec<_> = pulled
            .list
            .iter()
            .map(|m| m.msg_id.clone().unwrap())
            .collect();
        assert_eq!(uids, ["M3", "M5"]);
        assert_eq!((pulled.sync_time, pulled.finished), (5, Some(false)));
    }

    #[test]
    fn a_refused_connect_is_a_connack_with_the_sdk_status() {
        let mut wire = Commercial::new(ConnAckLayout::Plain);
        let refusal = ServerFrame::Error {
            code: codes::TOKEN_INCORRECT,
            message: "token incorrect".into(),
            client_id: None,
            req_id: None,
        };
        let ack = wire.write(&refusal).unwrap();
        assert_eq!(ack, vec![0x20, 0, 4]);
    }

    #[test]
    fn unserved_topics_are_refused_at_once_and_bad_bodies_are_errors() {
        let mut wire = Commercial::new(ConnAckLayout::Plain);
        let Ok(Incoming::Answer(answer)) = wire.read(&publish("rtcPing", vec![])) else {
            panic!("not answered");
        };
        let Out::PubAck {
            message_id: 9,
            status,
            ..
        } = Out::decode(&answer, ConnAckLayout::Plain).unwrap()
        else {
            panic!("not a refusal");
        };
        assert_eq!(u32::from(status), codes::BAD_REQUEST);
        assert!(matches!(
            wire.read(&publish("ppMsgP", vec![0x0F])),
            Err(Malformed::Body(_))
        ));
        assert!(matches!(wire.read(&[0x30]), Err(Malformed::Frame(_))));
    }
}
