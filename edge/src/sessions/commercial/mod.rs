//! The commercial Web SDKs' protocol on a session (`edge/COMMERCIAL-PROTOCOL.md`): their
//! binary frames are turned into the JSON protocol's client frames, and the session core's
//! answers back into binary frames, so both protocols share one session core and its
//! delivery guarantees. Live messages become a "pull now" notice (`s_ntf`) carrying the
//! feed position; the SDK's pull (`pullMsg`, from its `syncTime`) is a sync from that
//! cursor, exactly as a JSON client's.

use std::collections::{HashMap, VecDeque};

use meridian_proto::{
    codes, ClientFrame, ConversationKey, ConversationType, MessageBody, ServerFrame,
};
use meridian_rmtp::body::{self, DownStreamMessage, DownStreamMessages, NotifyMsg};
use meridian_rmtp::body::{ChrmDownStreamMessages, HistoryMsgOuput};
use meridian_rmtp::{Accepted, ClientFrame as Rmtp, ConnAck, ConnAckLayout, Flags, Request};
use meridian_rmtp::{FrameError, ServerFrame as RmtpOut};
use prost::Message;

use crate::now_ms;
use crate::server_api::chatroom_notices::{BAN, BLOCK};
use conversations::{ListAsked, WHOLE_LIST};
pub(super) use frames::bad_frame;
use frames::{
    chrm_output, connack_status, conversation_type, down_stream, encode, status16, unserved, Kind,
};
use ultragroups::UltraGroups;

mod conversations;
mod expansion;
mod frames;
mod ultragroups;

/// A pull's answer carries messages up to this size (at least one), then says "pull again"
/// from the last one's position: the socket's write buffer holds 288 KiB at most.
const PULL_ANSWER_BYTES: usize = 128 * 1024;

/// Live chatroom messages kept for an SDK that has not pulled them; older ones are
/// dropped, as a busy room's messages may be (CHR-06).
const ROOM_BACKLOG: usize = 200;

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
    /// The newest feed position the session knows of.
    cursor: u64,
    /// Sends under way: the client id the core answers with → the PUBLISH's message id.
    sends: HashMap<String, u16>,
    pull: Option<Pull>,
    /// Requests under way: the request id the core answers with → how they were asked.
    requests: HashMap<u64, Asked>,
    next_request: u64,
    /// Each joined room's messages the SDK has not pulled yet.
    rooms: HashMap<String, Room>,
    /// Ultra-group messages the SDK has not pulled yet.
    ultra_groups: UltraGroups,
    /// Make client ids unique to this session when the SDK gives none.
    nonce: u64,
    sent: u64,
}

impl Commercial {
    pub(super) fn new(layout: ConnAckLayout) -> Self {
        Self {
            layout,
            user_id: None,
            cursor: 0,
            sends: HashMap::new(),
            pull: None,
            requests: HashMap::new(),
            next_request: 0,
            rooms: HashMap::new(),
            ultra_groups: UltraGroups::new(now_ms()),
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
            Rmtp::Publish(request)
                if matches!(request.topic.as_str(), "updRRTime" | "updUgRTime") =>
            {
                let req_id = self.asked(Asked::Publish(request.message_id));
                match conversations::mark_read(&request.topic, &request.body, req_id)? {
                    Some(frame) => Incoming::Frame(frame),
                    None => {
                        self.requests.remove(&req_id);
                        unserved(&request, Kind::Publish)
                    }
                }
            }
            Rmtp::Publish(request) => match conversation_type(&request.topic) {
                Some(kind) => self.send(kind, request)?,
                None => unserved(&request, Kind::Publish),
            },
            Rmtp::Query(request) => self.query(request)?,
        })
    }

    fn query(&mut self, request: Request) -> Result<Incoming, Malformed> {
        let (topic, id) = (request.topic.as_str(), request.message_id);
        if let Some(asked) = ListAsked::read(topic, &request.body)? {
            return Ok(Incoming::Frame(ClientFrame::Conversations {
                req_id: self.asked(Asked::List { id, asked }),
                limit: WHOLE_LIST,
            }));
        }
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
            "qryPMsg" | "qryGMsg" | "qryCHMsg" | "qrySMsg" | "qryUgMsg" => {
                let asked: body::HistoryMsgInput = body::decode(topic, &request.body)?;
                let time = u64::try_from(asked.time.unwrap_or(0)).unwrap_or(0);
                // Order 0: older than `time`, newest first; 1: newer, oldest first.
                let (before_time, after_time) = match asked.order.unwrap_or(0) {
                    0 => (time, None),
                    1 => (0, Some(time)),
                    _ => return Ok(unserved(&request, Kind::Query)),
                };
                let limit = usize::try_from(asked.count.unwrap_or(20).clamp(1, 100)).unwrap_or(20);
                let req_id = self.asked(Asked::History { id, limit });
                Incoming::Frame(ClientFrame::History {
                    req_id,
                    conversation_type: match topic {
                        "qryPMsg" => 1,
                        "qryGMsg" => 3,
                        "qryCHMsg" => 4,
                        "qryUgMsg" => 10,
                        _ => 6,
                    },
                    target_id: asked.target_id.unwrap_or_default(),
                    channel_id: asked.bus_channel.unwrap_or_default(),
                    before_time,
                    after_time,
                    limit,
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
            // A room's live messages are announced (`s_ntf` type 2) and pulled here.
            "chrmPull" => {
                let asked: body::ChrmPullMsg = body::decode(topic, &request.body)?;
                let room = self.rooms.get_mut(&request.target_id);
                let list = room.map_or_else(Vec::new, |room| room.pull(asked.sync_time));
                let newest = list.iter().map(|m| m.data_time).max();
                let pulled = ChrmDownStreamMessages {
                    list: list.iter().map(Message::encode_to_vec).collect(),
                    sync_time: newest.unwrap_or(asked.sync_time),
                };
                answered(id, pulled.encode_to_vec())
            }
            "pullUgMsg" => {
                let asked: body::UltraGrpPullMsg = body::decode(topic, &request.body)?;
                answered(id, self.ultra_groups.pull(asked.sync_time).encode_to_vec())
            }
            "pullUgSes" => {
                let asked: body::UltraGrpPullSes = body::decode(topic, &request.body)?;
                let since = asked.sync_time;
                Incoming::Frame(ClientFrame::UltraGroups {
                    req_id: self.asked(Asked::UltraGroups { id, since }),
                })
            }
            // Meridian tells of ultra-group recalls by messages, which `pullUgMsg` gives:
            // there are no other changes to pull.
            "qryMsgChange" => {
                let asked: body::QueryMsgChange = body::decode(topic, &request.body)?;
                let changes = body::MsgChangeList {
                    sync_time: asked.sync_time,
                    has_next: Some(false),
                };
                answered(id, changes.encode_to_vec())
            }
            // The SDK's `removeRealtimeConversations`.
            "delSessions" => {
                let asked: body::Sessions = body::decode(topic, &request.body)?;
                Incoming::Frame(ClientFrame::RemoveConversations {
                    req_id: self.asked(Asked::Query(id)),
                    conversations: asked
                        .sessions
                        .into_iter()
                        .map(|session| ConversationKey {
                            // Not a type: the session core refuses it.
                            conversation_type: u8::try_from(session.r#type).unwrap_or(0),
                            target_id: session.channel_id,
                            channel_id: session.bus_channel.unwrap_or_default(),
                        })
                        .collect(),
                })
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

    fn send(&mut self, kind: u8, request: Request) -> Result<Incoming, Malformed> {
        let up: body::UpStreamMessage = body::decode(&request.topic, &request.body)?;
        // An expansion change is a request of its own in the core, not a message.
        if up.classname == expansion::OBJECT_NAME {
            let Some(change) = expansion::from_sdk(&up.content) else {
                return Ok(unserved(&request, Kind::Publish));
            };
            return Ok(Incoming::Frame(ClientFrame::SetExpansion {
                req_id: self.asked(Asked::Publish(request.message_id)),
                msg_uid: change.msg_uid,
                set: change.set,
                remove: change.remove,
            }));
        }
        // The SDK's own id for the message makes a resend idempotent; without one the id
        // is this session's, never matching an earlier send.
        self.sent += 1;
        let client_id = match up.client_unique_id {
            Some(id) => format!("rc-{id}"),
            None => format!("rc-{:x}-{}", self.nonce, self.sent),
        };
        self.sends.insert(client_id.clone(), request.message_id);
        Ok(Incoming::Frame(ClientFrame::Send {
            client_id,
            conversation_type: kind,
            target_id: request.target_id,
            channel_id: up.bus_channel.unwrap_or_default(),
            object_name: up.classname,
            content: up.content,
            push_content: up.push_text,
            push_data: up.app_data,
            to_user_ids: up.to_user_ids,
        }))
    }

    /// The binary frame for a frame of the session core, if the SDK has one for it.
    pub(super) fn write(&mut self, frame: &ServerFrame) -> Option<Vec<u8>> {
        if let ServerFrame::Synced { cursor } = frame {
            self.cursor = self.cursor.max(*cursor);
        }
        let out = match frame {
            ServerFrame::Connected {
                user_id,
                server_time,
                cursor,
                ..
            } => {
                self.user_id = Some(user_id.clone());
                self.cursor = *cursor;
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
            ServerFrame::UltraGroupList { req_id, groups } => {
                let Some(&Asked::UltraGroups { since, .. }) = self.requests.get(req_id) else {
                    return None;
                };
                let user_id = self.user_id.as_deref().unwrap_or_default();
                let body = ultragroups::channels(groups, user_id, since);
                self.answer(*req_id, 0, body)?
            }
            ServerFrame::ConversationList {
                req_id,
                conversations,
            } => {
                let Some(Asked::List { asked, .. }) = self.requests.get(req_id) else {
                    return None;
                };
                let user_id = self.user_id.as_deref().unwrap_or_default();
                let body = asked.answer(conversations, user_id, self.cursor);
                self.answer(*req_id, 0, body)?
            }
            ServerFrame::ChatroomJoined {
                req_id,
                chatroom_id,
                messages,
            } => {
                let user_id = self.user_id.as_deref().unwrap_or_default();
                let joined = messages.iter().map(|m| down_stream(m, user_id)).collect();
                let room = Room {
                    joined,
                    live: VecDeque::new(),
                };
                self.rooms.insert(chatroom_id.clone(), room);
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
            ServerFrame::ChatroomLeft { chatroom_id, code } => {
                self.rooms.remove(chatroom_id);
                // The SDK has a notice for a destroyed room only; a kicked member learns
                // it from the refusal (23409) of its next send there.
                if *code != codes::CHATROOM_NOT_FOUND {
                    return None;
                }
                let destroyed = NotifyMsg {
                    r#type: body::COMMAND_CHATROOM_DESTROYED,
                    time: i64::try_from(now_ms()).ok(),
                    chrm_id: Some(chatroom_id.clone()),
                };
                return self.publish("s_cmd", destroyed.encode_to_vec());
            }
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
            chrm_id: None,
        };
        self.publish("s_ntf", notice.encode_to_vec())
    }

    /// A live ultra-group message: kept for the session's next `pullUgMsg`, and a notice
    /// to pull (`s_cmd` type 6).
    pub(super) fn ultra_group_message(&mut self, message: &MessageBody) -> Option<Vec<u8>> {
        let user_id = self.user_id.as_deref().unwrap_or_default();
        let notice = self.ultra_groups.keep(down_stream(message, user_id));
        self.publish("s_cmd", notice.encode_to_vec())
    }

    /// A message pushed whole (`s_msg`): one a pull cannot give.
    pub(super) fn message(&self, message: &MessageBody) -> Option<Vec<u8>> {
        let user_id = self.user_id.as_deref().unwrap_or_default();
        let message = match member_notice_room(message) {
            None => message,
            Some(room) => {
                // The SDK reports a member notice only as a message of a room it joined
                // (or, for a block, of any room); an app-wide one names none.
                let room = room.or_else(|| self.rooms.keys().next().cloned())?;
                &MessageBody {
                    conversation_type: ConversationType::Chatroom.code(),
                    target_id: room,
                    ..message.clone()
                }
            }
        };
        self.publish("s_msg", down_stream(message, user_id).encode_to_vec())
    }

    /// A live message of a joined chatroom: kept for the room's next pull, and a notice
    /// to pull it (`s_ntf` type 2), as the SDKs expect. (Pushed whole, the 2.x SDK would
    /// take its time for the time of its next `pullMsg`.)
    pub(super) fn room_message(&mut self, message: &MessageBody) -> Option<Vec<u8>> {
        let user_id = self.user_id.as_deref().unwrap_or_default();
        let down = down_stream(message, user_id);
        let Some(room) = self.rooms.get_mut(&message.target_id) else {
            return self.message(message);
        };
        let time = down.data_time;
        room.live.push_back(down);
        if room.live.len() > ROOM_BACKLOG {
            room.live.pop_front();
        }
        let notice = NotifyMsg {
            r#type: body::NOTIFY_CHATROOM_MESSAGES,
            time: Some(time),
            chrm_id: Some(message.target_id.clone()),
        };
        self.publish("s_ntf", notice.encode_to_vec())
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

/// A joined chatroom's messages the SDK has not pulled.
struct Room {
    /// The latest messages before the join: the SDK may have some of them already (a
    /// rejoin after a reconnect), so a pull hands out those newer than its sync time.
    joined: Vec<DownStreamMessage>,
    /// Live messages since the join or the last pull: all new to the SDK.
    live: VecDeque<DownStreamMessage>,
}

impl Room {
    /// What a pull from `sync_time` gets, oldest first; the room keeps nothing of it.
    fn pull(&mut self, sync_time: i64) -> Vec<DownStreamMessage> {
        let mut list: Vec<DownStreamMessage> = std::mem::take(&mut self.joined);
        list.retain(|m| m.data_time > sync_time);
        list.extend(self.live.drain(..));
        list
    }
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
    /// A conversation-list QUERY: a QUERYACK cut from the whole list.
    List { id: u16, asked: ListAsked },
    /// A history QUERY, and the page size asked (a full page says there may be more).
    History { id: u16, limit: usize },
    /// A chatroom join or quit: a QUERYACK with the room's answer.
    Chatroom(u16),
    /// The user's ultra-group channels changed after `since` (`pullUgSes`).
    UltraGroups { id: u16, since: i64 },
    /// Any other QUERY: a QUERYACK without a body.
    Query(u16),
}

impl Asked {
    fn message_id(&self) -> u16 {
        match *self {
            Asked::Publish(id) | Asked::Chatroom(id) | Asked::Query(id) => id,
            Asked::History { id, .. } | Asked::List { id, .. } | Asked::UltraGroups { id, .. } => {
                id
            }
        }
    }
}

/// A QUERYACK with status 0 answered at once.
fn answered(message_id: u16, body: Vec<u8>) -> Incoming {
    encode(&RmtpOut::QueryAck {
        message_id,
        status: 0,
        time_ms: now_ms(),
        body,
    })
    .map_or(Incoming::Nothing, Incoming::Answer)
}

/// A chatroom member notice sent to users by name (a system status message, see
/// `server_api::chatroom_notices`): the room its content names, `None` inside for none.
fn member_notice_room(message: &MessageBody) -> Option<Option<String>> {
    let notice = message.conversation_type == ConversationType::System.code()
        && message.seq == 0
        && matches!(message.object_name.as_str(), BAN | BLOCK);
    if !notice {
        return None;
    }
    let content: serde_json::Value = serde_json::from_str(&message.content).ok()?;
    let room = content["chatroomId"]
        .as_str()
        .filter(|room| !room.is_empty());
    Some(room.map(str::to_string))
}

#[cfg(test)]
mod tests;
