//! Sessions on the commercial SDKs' protocol (issue 26, edge/COMMERCIAL-PROTOCOL.md) in a
//! chaos run, behaving as the Web SDK does: connect through `/websocket` with the SDK's
//! query, pull from the last `syncTime` after each connect and each "something to pull"
//! notice, send one private text at a time and resend it after a reconnect (or a "try
//! again" status) with the same `clientUniqueId` until a PUBACK settles it. Each user talks with its neighbours on this
//! protocol and with one user of the JSON protocol; every send and delivery goes into the
//! same [`crate::checker::Ledger`] as the JSON sessions', so the same MSG-01 holds.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use meridian_proto::codes;
use meridian_rmtp::body::{
    self, DownStreamMessages, NotifyMsg, SyncRequestMsg, UpStreamMessage, NOTIFY_NEW_MESSAGES,
};
use meridian_rmtp::{ClientFrame, ConnAckLayout, Flags, Request, ServerFrame};
use prost::Message as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::checker::{Ledger, Outcome};
use crate::load::{content_of, Controls, Target};

/// Message ids of commercial sends start with this (the verdict counts them apart).
pub const SEND_PREFIX: &str = "rc-";
/// The private conversation type code.
const PRIVATE: i32 = 1;
/// The 5.x engine pings every 15 s; a chaos run's faults want a faster verdict on a dead
/// socket.
const PING_EVERY: Duration = Duration::from_secs(2);
/// A socket that answered nothing (not even a ping) for this long is given up.
const SILENCE: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// PUBACK statuses that leave a send's outcome open (the service failed inside, or its
/// area was unreachable): the send is made again, as the JSON SDK does.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A user of the commercial protocol and whom it writes to.
pub struct CommercialUser {
    pub user_id: String,
    pub token: String,
    /// Every edge's `/websocket` URL: a reconnect tries the next one.
    pub ws_urls: Vec<String>,
    /// The users it sends private texts to, in turn.
    pub peers: Vec<String>,
}

/// A text waiting for its PUBACK: resent with the same `clientUniqueId` after a
/// reconnect, so a send the edge already stored is not stored twice.
struct Pending {
    id: String,
    peer: String,
    unique: i64,
    /// The request's message id on the current socket, once sent there.
    message_id: Option<u16>,
}

/// The session's state across reconnects.
struct Session {
    user: CommercialUser,
    app_key: String,
    /// What the next pull sends as `syncTime` (the edge's feed position).
    sync_time: i64,
    pending: Option<Pending>,
    sent: i64,
    next_message_id: u16,
    rng: StdRng,
}

/// Runs `user`'s session until `stop`; sends while `controls.sending` holds.
pub async fn run(
    user: CommercialUser,
    app_key: String,
    controls: Controls,
    seed: u64,
    mut stop: watch::Receiver<bool>,
) {
    let mut session = Session {
        user,
        app_key,
        sync_time: 0,
        pending: None,
        sent: 0,
        next_message_id: 0,
        rng: StdRng::seed_from_u64(seed),
    };
    let mut backoff = FIRST_BACKOFF;
    for attempt in 0.. {
        if *stop.borrow() {
            break;
        }
        let url = session.user.ws_urls[attempt % session.user.ws_urls.len()].clone();
        match session.connect(&url).await {
            Some(socket) => {
                backoff = FIRST_BACKOFF;
                session.serve(socket, &controls, &mut stop).await;
            }
            None => {
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = async { stop.wait_for(|s| *s).await.is_ok() } => break,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    // Whatever is still unanswered may or may not have been stored.
    if let Some(pending) = session.pending.take() {
        session.record(&controls, &pending, Outcome::Unknown);
    }
}

impl Session {
    /// Opens a socket to `url` and reads its CONNACK: `None` unless accepted.
    async fn connect(&mut self, url: &str) -> Option<Socket> {
        let device = format!("{}-web", self.user.user_id);
        let token = self
            .user
            .token
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        let url = format!(
            "{url}?appId={}&token={token}&sdkVer=5.38.0&pid=&deviceId={device}&apiVer=browser%7C%7C&protocolVer=3",
            self.app_key
        );
        let connecting = tokio_tungstenite::connect_async(url);
        let (mut socket, _) = tokio::time::timeout(SILENCE, connecting).await.ok()?.ok()?;
        let first = tokio::time::timeout(SILENCE, socket.next()).await.ok()??;
        let Ok(WsMessage::Binary(bytes)) = first else {
            return None;
        };
        match ServerFrame::decode(&bytes, ConnAckLayout::Plain).ok()? {
            ServerFrame::ConnAck(ack) if ack.status == 0 => {
                // A new socket counts its message ids afresh.
                self.next_message_id = 0;
                Some(socket)
            }
            _ => None,
        }
    }

    fn request(&mut self, topic: &str, target: &str, body: Vec<u8>) -> Request {
        self.next_message_id = self.next_message_id.checked_add(1).unwrap_or(1);
        Request {
            flags: Flags {
                qos: 1,
                ..Flags::default()
            },
            topic: topic.into(),
            target_id: target.into(),
            message_id: self.next_message_id,
            body,
        }
    }

    /// Serves one socket until it fails, falls silent or `stop` says so.
    async fn serve(
        &mut self,
        mut socket: Socket,
        controls: &Controls,
        stop: &mut watch::Receiver<bool>,
    ) {
        let mut give_up = controls.give_up.clone();
        // A pull in flight (its message id) and whether a notice asked for another.
        let mut pulling = None;
        let mut pull_again = false;
        if let Some(pending) = self.pending.as_mut() {
            pending.message_id = None;
        }
        if !self.pull(&mut socket, &mut pulling).await {
            return;
        }
        let mut next_send = Instant::now();
        let mut next_ping = Instant::now() + PING_EVERY;
        let mut heard = Instant::now();
        loop {
            // A text goes out when none awaits its answer: a new one while the run sends,
            // the unanswered one again after a reconnect or a "try again".
            let to_send = match &self.pending {
                Some(pending) => pending.message_id.is_none(),
                None => *controls.sending.borrow(),
            };
            if to_send && Instant::now() >= next_send && !self.send(&mut socket).await {
                return;
            }
            let frame = tokio::select! {
                frame = socket.next() => frame,
                _ = sleep_until(next_send), if to_send => continue,
                _ = sleep_until(next_ping) => {
                    if heard.elapsed() > SILENCE || !write(&mut socket, &ClientFrame::PingReq).await {
                        return;
                    }
                    next_ping = Instant::now() + PING_EVERY;
                    continue;
                }
                _ = async { give_up.wait_for(|g| *g).await.is_ok() }, if self.pending.is_some() => {
                    let pending = self.pending.take().expect("checked by the branch");
                    self.record(controls, &pending, Outcome::Unknown);
                    continue;
                }
                _ = async { stop.wait_for(|s| *s).await.is_ok() } => {
                    let _ = socket.close(None).await;
                    return;
                }
            };
            let Some(Ok(message)) = frame else { return };
            heard = Instant::now();
            let WsMessage::Binary(bytes) = message else {
                continue;
            };
            let Ok(frame) = ServerFrame::decode(&bytes, ConnAckLayout::Plain) else {
                return;
            };
            match frame {
                ServerFrame::PubAck {
                    message_id, status, ..
                } if self.pending.as_ref().and_then(|p| p.message_id) == Some(message_id) => {
                    if codes::leaves_open(status.into()) {
                        // The outcome is open: the same clientUniqueId again settles it.
                        if let Some(pending) = self.pending.as_mut() {
                            pending.message_id = None;
                        }
                        next_send = Instant::now() + RETRY_PAUSE;
                        continue;
                    }
                    let pending = self.pending.take().expect("matched above");
                    let outcome = match status {
                        0 => Outcome::Acked {
                            seq: 0,
                            at_ms: controls.started.elapsed().as_millis() as u64,
                        },
                        _ => Outcome::Refused,
                    };
                    self.record(controls, &pending, outcome);
                    // Under the edge's 5 messages/s per connection.
                    let pause = self.rng.random_range(250..450);
                    next_send = Instant::now() + Duration::from_millis(pause);
                }
                ServerFrame::QueryAck {
                    message_id,
                    status: 0,
                    body,
                    ..
                } if pulling == Some(message_id) => {
                    pulling = None;
                    let Ok(answer) = DownStreamMessages::decode(body.as_slice()) else {
                        return;
                    };
                    self.deliver(&controls.ledger, &answer);
                    let more = answer.finished == Some(false) || std::mem::take(&mut pull_again);
                    if more && !self.pull(&mut socket, &mut pulling).await {
                        return;
                    }
                }
                // A failed pull: the socket is of no use until a reconnect.
                ServerFrame::QueryAck { message_id, .. } if pulling == Some(message_id) => return,
                ServerFrame::Publish {
                    flags,
                    topic,
                    message_id,
                    body,
                    ..
                } => {
                    if flags.qos != 0
                        && !flags.dup
                        && !write(&mut socket, &ClientFrame::PubAck { message_id }).await
                    {
                        return;
                    }
                    let new_messages = topic == "s_ntf"
                        && body::decode::<NotifyMsg>(&topic, &body)
                            .is_ok_and(|n| n.r#type == NOTIFY_NEW_MESSAGES);
                    if new_messages {
                        if pulling.is_some() {
                            pull_again = true;
                        } else if !self.pull(&mut socket, &mut pulling).await {
                            return;
                        }
                    }
                }
                ServerFrame::Disconnect { .. } => return,
                _ => {}
            }
        }
    }

    /// Asks for the messages after `sync_time`.
    async fn pull(&mut self, socket: &mut Socket, pulling: &mut Option<u16>) -> bool {
        let body = SyncRequestMsg {
            sync_time: self.sync_time,
            ispolling: false,
        };
        let user = self.user.user_id.clone();
        let request = self.request("pullMsg", &user, body.encode_to_vec());
        *pulling = Some(request.message_id);
        write(socket, &ClientFrame::Query(request)).await
    }

    /// Sends the pending text again, or the next one.
    async fn send(&mut self, socket: &mut Socket) -> bool {
        let pending = match self.pending.take() {
            Some(pending) => pending,
            None => {
                self.sent += 1;
                let peers = &self.user.peers;
                let peer = peers[self.rng.random_range(0..peers.len())].clone();
                Pending {
                    id: format!("{SEND_PREFIX}{}-{}", self.user.user_id, self.sent),
                    peer,
                    unique: self.sent,
                    message_id: None,
                }
            }
        };
        let up = UpStreamMessage {
            session_id: body::up_flags::PERSISTED | body::up_flags::COUNTED,
            classname: "RC:TxtMsg".into(),
            content: content_of(&pending.id),
            push_text: None,
            app_data: None,
            to_user_ids: vec![],
            client_unique_id: Some(pending.unique),
            bus_channel: None,
        };
        let request = self.request("ppMsgP", &pending.peer, up.encode_to_vec());
        let message_id = request.message_id;
        self.pending = Some(Pending {
            message_id: Some(message_id),
            ..pending
        });
        write(socket, &ClientFrame::Publish(request)).await
    }

    /// Records a pull's private messages as this user's deliveries.
    fn deliver(&mut self, ledger: &Ledger, answer: &DownStreamMessages) {
        for message in &answer.list {
            if message.channel_type != PRIVATE {
                continue;
            }
            let content: serde_json::Value =
                serde_json::from_str(&message.content).unwrap_or_default();
            let Some(id) = content["content"].as_str() else {
                continue;
            };
            // A private message names the peer, whoever sent it.
            let target = Target::Private(self.user.user_id.clone(), message.from_user_id.clone());
            ledger.delivered_unsequenced(&self.user.user_id, id, &target.key());
        }
        self.sync_time = self.sync_time.max(answer.sync_time);
    }

    fn record(&self, controls: &Controls, pending: &Pending, outcome: Outcome) {
        let target = Target::Private(self.user.user_id.clone(), pending.peer.clone());
        let recipients = vec![pending.peer.clone()];
        controls
            .ledger
            .sent(&pending.id, &target.key(), recipients, outcome);
    }
}

async fn write(socket: &mut Socket, frame: &ClientFrame) -> bool {
    let Ok(bytes) = frame.encode() else {
        return false;
    };
    socket.send(WsMessage::Binary(bytes.into())).await.is_ok()
}
