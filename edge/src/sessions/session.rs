//! One client connection: authenticate, catch up by sync, then deliver live events in feed
//! order while a worker serves the client's requests one at a time, in the order sent.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use meridian_cluster::state::{
    ChangePresence, ChangeRtcRoom, ChatroomMemberOffline, Command, ConversationType, DeviceStatus,
    Envelope, Query, QueryOutput, RtcChange, SessionRecord, UnregisterPushToken,
};
use meridian_proto::{codes, ClientFrame, ServerFrame};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

use super::auth::{authenticate, ConnectParams, Identity};
use super::commercial::{self, Commercial, Incoming};
use super::error::SessionError;
use super::registry::{Delivery, GroupRef, Platform, SessionHandle};
use super::socket::{End, Socket, Wire};
use super::{requests, Shared};
use crate::metrics::{CloseReason, FrameOp, SessionKind};
use crate::now_ms;

/// Requests queued behind the one in progress, per session.
const PENDING_REQUESTS: usize = 32;

/// Serves one upgraded connection to its end.
pub async fn run<S>(ws: WebSocketStream<S>, params: ConnectParams, shared: Arc<Shared>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sink, mut stream) = ws.split();
    let mut socket = Socket {
        sink: Box::pin(sink),
        frames_out: shared.metrics.frames_out.clone(),
        wire: match params.commercial {
            Some(layout) => Wire::Commercial(Box::new(Commercial::new(layout))),
            None => Wire::Json,
        },
    };
    let end = match serve(&mut stream, &mut socket, params, &shared).await {
        Ok(end) | Err(end) => end,
    };
    shared
        .metrics
        .session_closes
        .with(&CloseReason {
            reason: end.label(),
        })
        .inc();
    socket.close().await;
}

async fn serve<S>(
    stream: &mut futures::stream::SplitStream<WebSocketStream<S>>,
    out: &mut Socket,
    params: ConnectParams,
    shared: &Arc<Shared>,
) -> Result<End, End>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Some(platform) = Platform::parse(if params.platform.is_empty() {
        "web"
    } else {
        &params.platform
    }) else {
        out.refuse(SessionError::invalid("unknown platform"))
            .await?;
        return Ok(End::Refused);
    };
    if params.device_id.is_empty() || params.device_id.len() > 64 {
        let why = SessionError::invalid("deviceId is required (at most 64 characters)");
        out.refuse(why).await?;
        return Ok(End::Refused);
    }
    // One-off steps are boxed so the long-lived session future stays small.
    let identity = match Box::pin(authenticate(shared, &params)).await {
        Ok(identity) => identity,
        Err(why) => {
            out.refuse(why).await?;
            return Ok(End::Refused);
        }
    };
    let (queue_tx, queue_rx) = mpsc::channel(shared.settings.queue_frames);
    let handle = shared.registry.attach(
        identity.area,
        &identity.app_key,
        &identity.user_id,
        &params.device_id,
        platform,
        queue_tx,
        // MSG-02: with multi-device on, several web sessions may live side by side.
        identity.settings.multi_device && platform == Platform::Web,
    );
    let gauge = shared.metrics.sessions.with(&SessionKind {
        area: identity.area.as_str(),
        platform: platform.as_str(),
    });
    gauge.inc();
    let presence = |status: DeviceStatus| Envelope {
        area: identity.area,
        command: Command::Presence(ChangePresence {
            app_key: identity.app_key.clone(),
            user_id: identity.user_id.clone(),
            record: SessionRecord {
                edge_id: shared.edge_id,
                session_id: handle.id,
                platform: platform.as_str().to_string(),
                since_ms: 0,
                client_ip: params.client_ip.clone(),
            },
            status,
        }),
    };
    let went_online = presence(DeviceStatus::Online);
    let (went_offline, logged_out) = (
        presence(DeviceStatus::Offline),
        presence(DeviceStatus::LoggedOut),
    );
    if let Err(e) = Box::pin(identity.client.write_one(went_online)).await {
        tracing::debug!(error = %e, "session start not recorded in presence");
    }
    let session = Session {
        shared: shared.clone(),
        identity: Arc::new(identity),
        handle: handle.clone(),
        out,
        delivered: 0,
    };
    let identity = session.identity.clone();
    let result = session.live(stream, queue_rx, params.cursor).await;
    gauge.dec();
    let went_offline = match result {
        // A device that logs out also stops getting pushes.
        Ok(End::LoggedOut) => vec![
            logged_out,
            Envelope {
                area: identity.area,
                command: Command::UnregisterPushToken(UnregisterPushToken {
                    app_key: identity.app_key.clone(),
                    user_id: identity.user_id.clone(),
                    device_id: params.device_id.clone(),
                    token: None,
                }),
            },
        ],
        _ => vec![went_offline],
    };
    {
        let identity = identity.clone();
        tokio::spawn(async move {
            if let Err(e) = identity.client.write(went_offline).await {
                tracing::debug!(error = %e, "session end not recorded; the edge lease bounds it");
            }
        });
    }
    // RTC-01: an audio/video room keeps the member's place and resources for the
    // reconnect timeout; a session that rejoins in time keeps them.
    if let Some(room_id) = handle.rtc_room() {
        let gone = Envelope {
            area: identity.area,
            command: Command::ChangeRtcRoom(ChangeRtcRoom {
                app_key: identity.app_key.clone(),
                room_id,
                user_id: identity.user_id.clone(),
                change: RtcChange::SessionGone {
                    edge_id: shared.edge_id,
                    session: handle.id,
                    timeout_ms: shared.settings.rtc_reconnect_ms,
                },
            }),
        };
        let identity = identity.clone();
        tokio::spawn(async move {
            if let Err(e) = identity.client.write_one(gone).await {
                tracing::debug!(error = %e, "marking an rtc room member absent failed");
            }
        });
    }
    // Chatrooms are online only: a member whose session ends is auto-exited once it has
    // missed 30 messages or 30 s of them (CHR-07), unless it rejoins first.
    for room_id in shared.registry.detach(handle.id) {
        let identity = identity.clone();
        tokio::spawn(async move {
            let offline = Command::ChatroomMemberOffline(ChatroomMemberOffline {
                app_key: identity.app_key.clone(),
                room_id,
                user_id: identity.user_id.clone(),
            });
            let envelope = Envelope {
                area: identity.area,
                command: offline,
            };
            if let Err(e) = identity.client.write_one(envelope).await {
                tracing::debug!(error = %e, "marking a chatroom member offline failed");
            }
        });
    }
    result
}

/// A session's request worker, started at its first request; its answers come back to
/// the session's task, which writes them.
#[derive(Default)]
struct Worker {
    queue: Option<mpsc::Sender<Box<ClientFrame>>>,
    answers: Option<mpsc::Receiver<Box<ServerFrame>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Worker {
    /// The next answer, or never when no worker runs.
    async fn next_answer(
        answers: &mut Option<mpsc::Receiver<Box<ServerFrame>>>,
    ) -> Box<ServerFrame> {
        match answers {
            Some(answers) => match answers.recv().await {
                Some(answer) => answer,
                None => std::future::pending().await,
            },
            None => std::future::pending().await,
        }
    }
}

pub(super) struct Session<'s> {
    pub(super) shared: Arc<Shared>,
    pub(super) identity: Arc<Identity>,
    pub(super) handle: Arc<SessionHandle>,
    pub(super) out: &'s mut Socket,
    /// Feed position up to which this device has everything.
    pub(super) delivered: u64,
}

impl Session<'_> {
    async fn live<S>(
        mut self,
        stream: &mut futures::stream::SplitStream<WebSocketStream<S>>,
        mut queue: mpsc::Receiver<Delivery>,
        cursor: Option<u64>,
    ) -> Result<End, End>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let settings = self.shared.settings.clone();
        self.out
            .send(&ServerFrame::Connected {
                user_id: self.identity.user_id.clone(),
                server_time: now_ms(),
                cursor: cursor.unwrap_or(0),
                heartbeat_ms: settings.heartbeat_ms,
            })
            .await?;
        self.shared.tail_ready(self.identity.area).await;
        let Some(groups) = Box::pin(self.memberships()).await else {
            let why = SessionError::Unavailable("cannot load the user's groups; reconnect".into());
            self.out.refuse(why).await?;
            return Ok(End::Refused);
        };
        self.shared.registry.load_groups(self.handle.id, groups);
        // The leader filters the feed for this edge: until it filters by this session's
        // keys, a page could leave out what the session's sync would not cover.
        if !self
            .shared
            .registry
            .interest_settled(self.identity.area)
            .await
        {
            let why = SessionError::Unavailable("the feed is not followed; reconnect".into());
            self.out.refuse(why).await?;
            return Ok(End::Refused);
        }
        // A commercial SDK pulls from its own sync time right after connecting.
        if matches!(self.out.wire, Wire::Json) {
            self.delivered = cursor.unwrap_or(0);
            Box::pin(self.sync()).await?;
        }

        let mut worker = Worker::default();
        let result = self.serve_live(stream, &mut queue, &mut worker).await;
        if let Some(task) = worker.task {
            task.abort();
        }
        result
    }

    /// The request worker's queue, starting the worker at the first request: an idle
    /// session costs no worker task.
    fn requests<'w>(&self, worker: &'w mut Worker) -> &'w mpsc::Sender<Box<ClientFrame>> {
        if worker.queue.is_none() {
            let (queue, incoming) = mpsc::channel(PENDING_REQUESTS);
            let (answer, answers) = mpsc::channel(PENDING_REQUESTS);
            worker.task = Some(tokio::spawn(requests::serve(
                self.shared.clone(),
                self.identity.clone(),
                self.handle.clone(),
                answer,
                incoming,
            )));
            worker.answers = Some(answers);
            worker.queue = Some(queue);
        }
        worker.queue.as_ref().expect("set above")
    }

    async fn serve_live<S>(
        &mut self,
        stream: &mut futures::stream::SplitStream<WebSocketStream<S>>,
        queue: &mut mpsc::Receiver<Delivery>,
        worker: &mut Worker,
    ) -> Result<End, End>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let settings = self.shared.settings.clone();
        let idle_timeout = Duration::from_millis(settings.idle_timeout_ms);
        let mut last_heard = Instant::now();
        let mut sends = SendBudget::new(self.identity.sends_per_second);
        let mut stop = self.shared.stop.clone();
        loop {
            tokio::select! {
                biased;
                () = stop.wait_for(|stop| *stop).map(drop) => {
                    self.out.send(&ServerFrame::Reconnect { after_ms: 1_000 }).await?;
                    return Ok(End::Drain);
                }
                () = self.handle.wake.notified() => {
                    if let Some((code, reason)) = self.handle.take_end() {
                        self.out.send(&ServerFrame::Kicked { code, reason }).await?;
                        return Ok(End::Kicked);
                    }
                    if self.handle.take_behind() {
                        self.shared.metrics.resyncs.inc();
                        Box::pin(self.sync()).await?;
                    }
                }
                delivery = queue.recv() => match delivery {
                    Some(delivery) => self.deliver(delivery, queue).await?,
                    None => return Ok(End::Closed),
                },
                frame = stream.next() => {
                    let frame = match frame {
                        Some(Ok(frame)) => frame,
                        Some(Err(_)) | None => return Ok(End::Closed),
                    };
                    last_heard = Instant::now();
                    let frame = match self.client_frame(frame).await? {
                        Ok(Some(frame)) => frame,
                        Ok(None) => continue,
                        Err(end) => return Ok(end),
                    };
                    self.shared.metrics.frames_in.with(&FrameOp { op: requests::op(&frame) }).inc();
                    match frame {
                        ClientFrame::Ping => {
                            self.out.send(&ServerFrame::Pong { server_time: now_ms() }).await?;
                        }
                        ClientFrame::Logout => return Ok(End::LoggedOut),
                        ClientFrame::Sync { cursor } => {
                            self.delivered = cursor;
                            Box::pin(self.sync()).await?;
                        }
                        ClientFrame::Send { ref client_id, .. } if !sends.take(client_id) => {
                            let why = SessionError::SendsPerSecond(self.identity.sends_per_second);
                            self.out.send(&why.into_frame(Some(client_id.clone()), None)).await?;
                        }
                        other => {
                            // The refusal names the send or request, so the client knows
                            // which one to try again.
                            let (client_id, req_id) = requests::reply_ids(&other);
                            if self.requests(worker).try_send(Box::new(other)).is_err() {
                                let why = SessionError::RequestsInFlight;
                                self.out.send(&why.into_frame(client_id, req_id)).await?;
                            }
                        }
                    }
                }
                answer = Worker::next_answer(&mut worker.answers) => {
                    if let ServerFrame::Error { code, client_id: Some(id), .. } = &*answer {
                        if codes::leaves_open(*code) {
                            sends.left_open(id);
                        }
                    }
                    self.out.send(&answer).await?;
                }
                () = tokio::time::sleep_until(last_heard + idle_timeout) => {
                    return Ok(End::Idle);
                }
            }
        }
    }

    /// The request a WebSocket message carries, in the JSON protocol's terms: `Ok(None)`
    /// when there is none (refused, or answered already), `Err` when the session ends.
    async fn client_frame(
        &mut self,
        message: WsMessage,
    ) -> Result<Result<Option<ClientFrame>, End>, End> {
        let read = match (message, &mut self.out.wire) {
            (WsMessage::Close(_), _) => return Ok(Err(End::Closed)),
            (WsMessage::Text(text), Wire::Json) => {
                return match serde_json::from_str(text.as_str()) {
                    Ok(frame) => Ok(Ok(Some(frame))),
                    Err(e) => {
                        let why = SessionError::invalid(format!("bad frame: {e}"));
                        self.out.refuse(why).await?;
                        Ok(Ok(None))
                    }
                };
            }
            (WsMessage::Binary(_), Wire::Json) => {
                let why = SessionError::invalid("frames are JSON text");
                self.out.refuse(why).await?;
                return Ok(Ok(None));
            }
            (WsMessage::Binary(bytes), Wire::Commercial(wire)) => wire.read(&bytes),
            // A commercial client's text, or a WebSocket ping: nothing to do.
            _ => return Ok(Ok(None)),
        };
        match read {
            Ok(Incoming::Frame(frame)) => Ok(Ok(Some(frame))),
            Ok(Incoming::Answer(answer)) => {
                self.out.send_raw(WsMessage::Binary(answer.into())).await?;
                Ok(Ok(None))
            }
            Ok(Incoming::Nothing) => Ok(Ok(None)),
            Ok(Incoming::Close) => Ok(Err(End::Closed)),
            // A binary protocol cannot find the next frame's start after a bad one: the
            // session ends, and nothing of the frame is stored.
            Err(e) => {
                tracing::debug!(session = self.handle.id, error = %e, "bad commercial frame");
                let bye = commercial::bad_frame();
                self.out.send_raw(WsMessage::Binary(bye.into())).await?;
                Ok(Err(End::BadFrame))
            }
        }
    }

    /// The user's groups and ultra groups, read linearizably (after registering, so no
    /// membership change falls between this read and the feed).
    async fn memberships(&self) -> Option<Vec<GroupRef>> {
        let (app_key, user_id) = (&self.identity.app_key, &self.identity.user_id);
        let client = &self.identity.client;
        let groups = match client
            .read(Query::UserGroups {
                app_key: app_key.clone(),
                user_id: user_id.clone(),
            })
            .await
        {
            Ok(QueryOutput::Groups(groups)) => groups,
            _ => return None,
        };
        let ultra = match client
            .read(Query::UserUltraGroups {
                app_key: app_key.clone(),
                user_id: user_id.clone(),
            })
            .await
        {
            Ok(QueryOutput::UserIds(ids)) => ids,
            _ => return None,
        };
        Some(
            groups
                .into_iter()
                .map(|g| (ConversationType::Group, g.group_id))
                .chain(
                    ultra
                        .into_iter()
                        .map(|id| (ConversationType::UltraGroup, id)),
                )
                .collect(),
        )
    }
}

/// MSG-06: a token bucket of `per_second` sends, refilled continuously. A send answered
/// "try again" ([`codes::leaves_open`]) was counted once: its resend is not counted
/// again, as refusing it for the rate would tell the client its message was refused
/// while the first try may yet be stored.
struct SendBudget {
    per_second: f64,
    tokens: f64,
    at: Instant,
    /// The client ids of the latest sends left open, oldest first.
    open: VecDeque<String>,
}

/// How many open sends a session remembers; a client resends far fewer at once.
const OPEN_SENDS_KEPT: usize = 64;

impl SendBudget {
    fn new(per_second: u32) -> Self {
        Self {
            per_second: f64::from(per_second),
            tokens: f64::from(per_second),
            at: Instant::now(),
            open: VecDeque::new(),
        }
    }

    /// Whether the send of `client_id` may go on (and counts it).
    fn take(&mut self, client_id: &str) -> bool {
        if let Some(at) = self.open.iter().position(|id| id == client_id) {
            self.open.remove(at);
            return true;
        }
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.per_second);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The send of `client_id` was answered "try again".
    fn left_open(&mut self, client_id: &str) {
        if self.open.iter().any(|id| id == client_id) {
            return;
        }
        if self.open.len() == OPEN_SENDS_KEPT {
            self.open.pop_front();
        }
        self.open.push_back(client_id.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_resend_of_a_send_left_open_is_not_counted_against_the_rate() {
        let mut budget = SendBudget::new(5);
        for i in 0..5 {
            assert!(
                budget.take(&format!("m{i}")),
                "the first 5 in a second pass"
            );
        }
        assert!(!budget.take("m5"), "the 6th is refused for the rate");
        budget.left_open("m4");
        assert!(budget.take("m4"), "m4's resend settles its open outcome");
        assert!(
            !budget.take("m4"),
            "once: a further resend is counted again"
        );
        tokio::time::advance(Duration::from_millis(200)).await;
        assert!(budget.take("m6"), "the bucket refills at 5 a second");
        assert!(!budget.take("m7"));
    }

    #[test]
    fn a_session_remembers_its_latest_open_sends() {
        let mut budget = SendBudget::new(1);
        assert!(budget.take("first"), "the second's token is spent");
        for i in 0..=OPEN_SENDS_KEPT {
            budget.left_open(&format!("m{i}"));
        }
        assert_eq!(budget.open.len(), OPEN_SENDS_KEPT);
        assert!(budget.take("m1"), "kept");
        assert!(!budget.take("m0"), "the oldest was let go");
    }
}
