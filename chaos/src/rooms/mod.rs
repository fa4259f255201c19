//! Audio/video room traffic of a chaos run (RTC-01, RTC-02): watchers sit in one meeting
//! room for the whole run and record every `rtcEvent` they hear; actors join, publish and
//! unpublish streams, set attributes and leave, each stream id and attribute value unique
//! in the run so the checker ([`check`]) can find its notice. Every session is a plain
//! connection pinned to one edge: when it drops it connects to the same edge again and
//! joins again (the reconnect timeout kept its place), which starts a watcher's new epoch.

pub mod check;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use meridian_client::{codes, ClientError, ConnectOptions, Connection};
use meridian_proto::rtc::{Resource, ResourceKind, Role, RoomInfo, RoomKind};
use meridian_proto::{ClientFrame, ServerFrame};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::checker::Outcome;
use check::{Change, Membership, RoomLedger};

pub const ROOM: &str = "rtc1";
/// Watchers are in the room from before the first change to after the last.
pub const WATCHERS: usize = 2;
/// Actors come and go and change the room.
pub const ACTORS: usize = 3;
/// Streams an actor keeps published at most.
const MAX_STREAMS: usize = 4;
/// A request not answered in this long counts as unanswered; its connection is dropped.
/// Longer than the edge's own write can take (10 s of retries, a 10 s call), so no
/// answer means the connection is gone.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(25);
/// An unanswered change may still be committed, by the next leader: the actor reads the
/// room only after longer than an election and the longest fault.
const UNSURE_WAIT: Duration = Duration::from_secs(8);
/// How long an unanswered change may take to settle once the load stops.
const SETTLE: Duration = Duration::from_secs(20);
const RETRY: Duration = Duration::from_millis(100);

/// A user of the room traffic and the edge its sessions go to.
#[derive(Debug, Clone)]
pub struct RoomUser {
    pub user_id: String,
    pub token: String,
    pub ws_url: String,
}

enum Answer {
    Room(RoomInfo),
    Done,
    Refused(u32),
}

impl Answer {
    /// What became of a change answered this way.
    fn outcome(&self, at_ms: u64) -> Outcome {
        match self {
            Answer::Refused(code) if matches!(*code, codes::UNAVAILABLE | codes::INTERNAL) => {
                Outcome::Unknown
            }
            Answer::Refused(_) => Outcome::Refused,
            Answer::Room(_) | Answer::Done => Outcome::Acked { seq: 0, at_ms },
        }
    }
}

/// One connection of a room user. A watcher's records what it hears.
struct Session {
    connection: Connection,
    next_req: u64,
    user_id: String,
    ledger: Option<Arc<RoomLedger>>,
    /// The newest room version this connection has heard of (notices and answers).
    heard_up_to: u64,
}

impl Session {
    async fn connect(
        user: &RoomUser,
        app_key: &str,
        ledger: Option<Arc<RoomLedger>>,
    ) -> Result<Self, ClientError> {
        let connection = Connection::connect(&ConnectOptions {
            url: user.ws_url.clone(),
            app_key: app_key.to_string(),
            token: user.token.clone(),
            device_id: format!("{}-rtc", user.user_id),
            platform: "Web".into(),
            cursor: None,
            tls: None,
        })
        .await?;
        if let Some(ledger) = &ledger {
            ledger.connected(&user.user_id);
        }
        Ok(Self {
            connection,
            next_req: 0,
            user_id: user.user_id.clone(),
            ledger,
            heard_up_to: 0,
        })
    }

    /// A frame that answers no request: room notices of [`ROOM`] are heard.
    fn hear(&mut self, frame: ServerFrame) -> Result<(), ClientError> {
        match frame {
            ServerFrame::RtcEvent {
                room_id,
                version,
                notice,
                ..
            } if room_id == ROOM => {
                self.heard_up_to = self.heard_up_to.max(version);
                if let Some(ledger) = &self.ledger {
                    ledger.heard(&self.user_id, version, notice);
                }
                Ok(())
            }
            ServerFrame::Kicked { .. } => Err(ClientError::Closed),
            _ => Ok(()),
        }
    }

    async fn next(&mut self) -> Result<(), ClientError> {
        let frame = self.connection.next().await?;
        self.hear(frame)
    }

    /// Hears whatever comes for `wait`.
    async fn listen(&mut self, wait: Duration) -> Result<(), ClientError> {
        let until = Instant::now() + wait;
        while let Ok(frame) = tokio::time::timeout_at(until, self.connection.next()).await {
            self.hear(frame?)?;
        }
        Ok(())
    }

    async fn request(
        &mut self,
        make: impl FnOnce(u64) -> ClientFrame,
    ) -> Result<Answer, ClientError> {
        self.next_req += 1;
        let req = self.next_req;
        self.connection.send(&make(req)).await?;
        let until = Instant::now() + ANSWER_TIMEOUT;
        loop {
            let frame = tokio::time::timeout_at(until, self.connection.next())
                .await
                .map_err(|_| ClientError::Timeout(ANSWER_TIMEOUT))??;
            match frame {
                ServerFrame::RtcJoined { req_id, room, .. }
                | ServerFrame::RtcRoom { req_id, room }
                    if req_id == req =>
                {
                    self.heard_up_to = self.heard_up_to.max(room.version);
                    return Ok(Answer::Room(room));
                }
                ServerFrame::Done { req_id } if req_id == req => return Ok(Answer::Done),
                ServerFrame::Error {
                    req_id: Some(req_id),
                    code,
                    ..
                } if req_id == req => return Ok(Answer::Refused(code)),
                other => self.hear(other)?,
            }
        }
    }

    async fn join(&mut self) -> Result<Answer, ClientError> {
        self.request(|req_id| ClientFrame::RtcJoin {
            req_id,
            room_id: ROOM.into(),
            kind: RoomKind::Meeting,
            role: Role::Participant,
        })
        .await
    }

    async fn room(&mut self) -> Result<Answer, ClientError> {
        self.request(|req_id| ClientFrame::RtcRoom {
            req_id,
            room_id: ROOM.into(),
        })
        .await
    }
}

/// Switches of the room traffic.
#[derive(Clone)]
pub struct RoomControls {
    pub ledger: Arc<RoomLedger>,
    pub app_key: String,
    pub started: Instant,
    /// False once actors should make no more changes.
    pub sending: watch::Receiver<bool>,
}

/// The running room traffic.
pub struct Rooms {
    actors: Vec<(JoinHandle<()>, Option<oneshot::Receiver<()>>)>,
    watchers: Vec<(JoinHandle<()>, Option<oneshot::Receiver<()>>)>,
    settle: watch::Sender<bool>,
    stop: watch::Sender<bool>,
}

impl Rooms {
    /// Starts the watchers, waits until each has joined, then starts the actors.
    pub async fn start(
        watchers: Vec<RoomUser>,
        actors: Vec<RoomUser>,
        controls: RoomControls,
        seed: u64,
    ) -> anyhow::Result<Self> {
        let (settle, settling) = watch::channel(false);
        let (stop, stopping) = watch::channel(false);
        let mut rooms = Self {
            actors: Vec::new(),
            watchers: Vec::new(),
            settle,
            stop,
        };
        for user in watchers {
            let (joined, first_join) = oneshot::channel();
            let (read, ended) = oneshot::channel();
            let task = tokio::spawn(watch_room(
                user,
                controls.clone(),
                (joined, read),
                settling.clone(),
                stopping.clone(),
            ));
            tokio::time::timeout(ANSWER_TIMEOUT, first_join)
                .await
                .map_err(|_| anyhow::anyhow!("a watcher could not join room {ROOM}"))??;
            rooms.watchers.push((task, Some(ended)));
        }
        for (index, user) in actors.into_iter().enumerate() {
            let (finished, done) = oneshot::channel();
            let task = tokio::spawn(act(
                user,
                controls.clone(),
                seed.wrapping_add(index as u64),
                finished,
                stopping.clone(),
            ));
            rooms.actors.push((task, Some(done)));
        }
        Ok(rooms)
    }

    /// Waits for the actors to settle their last changes, then for each watcher to read
    /// the room as it ended once it heard up to its version.
    pub async fn settle(&mut self) {
        let until = Instant::now() + SETTLE * 2;
        for (_, done) in &mut self.actors {
            if let Some(done) = done.take() {
                let _ = tokio::time::timeout_at(until, done).await;
            }
        }
        self.settle.send_replace(true);
        for (_, ended) in &mut self.watchers {
            if let Some(ended) = ended.take() {
                let _ = tokio::time::timeout_at(until, ended).await;
            }
        }
    }

    /// Closes every session.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        for (task, _) in self.actors.into_iter().chain(self.watchers) {
            let _ = task.await;
        }
    }
}

/// A watcher: joins, hears, and at the end reads the room once it heard all of it.
async fn watch_room(
    user: RoomUser,
    controls: RoomControls,
    (joined, read): (oneshot::Sender<()>, oneshot::Sender<()>),
    mut settling: watch::Receiver<bool>,
    mut stopping: watch::Receiver<bool>,
) {
    let ledger = controls.ledger.clone();
    let (mut joined, mut read) = (Some(joined), Some(read));
    while !*stopping.borrow() {
        let Ok(mut session) =
            Session::connect(&user, &controls.app_key, Some(ledger.clone())).await
        else {
            tokio::time::sleep(RETRY).await;
            continue;
        };
        match session.join().await {
            Ok(Answer::Room(room)) => {
                ledger.joined(&user.user_id, room);
                if let Some(joined) = joined.take() {
                    let _ = joined.send(());
                }
            }
            _ => {
                tokio::time::sleep(RETRY).await;
                continue;
            }
        }
        loop {
            let settle_now = tokio::select! {
                heard = session.next() => match heard {
                    Ok(()) => false,
                    Err(_) => break,
                },
                _ = settling.wait_for(|s| *s), if read.is_some() => true,
                _ = stopping.wait_for(|s| *s) => return,
            };
            if settle_now {
                match read_the_end(&mut session, &ledger).await {
                    Ok(()) => {
                        if let Some(read) = read.take() {
                            let _ = read.send(());
                        }
                    }
                    Err(_) => break,
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Reads the room until this session has heard up to its version (or time is up).
async fn read_the_end(session: &mut Session, ledger: &RoomLedger) -> Result<(), ClientError> {
    let until = Instant::now() + SETTLE;
    loop {
        let answer = session.room().await?;
        let late = Instant::now() >= until;
        if let Answer::Room(room) = answer {
            if late || session.heard_up_to >= room.version {
                ledger.ended(room);
                return Ok(());
            }
        } else if late {
            return Ok(());
        }
        session.listen(Duration::from_millis(200)).await?;
    }
}

/// An actor: changes the room at random until the load stops.
async fn act(
    user: RoomUser,
    controls: RoomControls,
    seed: u64,
    finished: oneshot::Sender<()>,
    mut stopping: watch::Receiver<bool>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut membership = Membership::default();
    // An unanswered change leaves the actor unsure what it is until it reads the room.
    let mut unsure = false;
    let mut session: Option<Session> = None;
    let mut made = 0u64;
    let mut settle_until: Option<Instant> = None;
    let settled = loop {
        let sending = *controls.sending.borrow();
        if !sending {
            // Ends connected and sure of its place; a place left without a session would
            // time out under the watchers' reading of the room. Out of time, the actor
            // does not know what it is.
            let until = *settle_until.get_or_insert_with(|| Instant::now() + SETTLE);
            if !unsure && session.is_some() {
                break Some(membership);
            }
            if Instant::now() >= until {
                break None;
            }
        }
        let Some(current) = session.as_mut() else {
            session = reconnect(&user, &controls.app_key, unsure, &mut membership).await;
            continue;
        };
        if unsure {
            tokio::time::sleep(UNSURE_WAIT).await;
            match current.room().await {
                Ok(Answer::Room(room)) => {
                    membership = membership_in(&room, &user.user_id);
                    unsure = false;
                    if membership.member && !matches!(current.join().await, Ok(Answer::Room(_))) {
                        session = None;
                    }
                }
                // Only members may read the room: the unanswered change left it (or the
                // join never happened).
                Ok(Answer::Refused(codes::RTC_NOT_IN_ROOM)) => {
                    membership = Membership::default();
                    unsure = false;
                }
                Ok(_) => tokio::time::sleep(RETRY).await,
                Err(_) => session = None,
            }
            continue;
        }
        made += 1;
        let change = choose(&mut rng, &membership, &user.user_id, made);
        let answer = current.request(|req_id| frame_of(&change, req_id)).await;
        let at_ms = controls.started.elapsed().as_millis() as u64;
        let outcome = match &answer {
            Ok(answer) => answer.outcome(at_ms),
            Err(_) => Outcome::Unknown,
        };
        controls
            .ledger
            .changed(&user.user_id, change.clone(), outcome);
        match outcome {
            Outcome::Acked { .. } => follow(&mut membership, &change),
            Outcome::Refused => {}
            Outcome::Unknown => unsure = true,
        }
        if answer.is_err() {
            session = None;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..400))).await;
    };
    controls.ledger.finished(&user.user_id, settled.clone());
    let _ = finished.send(());
    // Stays connected until the run ends, as a client keeps its place: back on a new
    // connection if this one breaks (the watchers' read of the room then shows whether
    // the place was kept).
    let Some(mut membership) = settled else {
        return;
    };
    while !*stopping.borrow() {
        let Some(current) = session.as_mut() else {
            session = reconnect(&user, &controls.app_key, false, &mut membership).await;
            continue;
        };
        tokio::select! {
            heard = current.next() => if heard.is_err() { session = None },
            _ = stopping.wait_for(|s| *s) => break,
        }
    }
}

/// A new connection, bound to the actor's place again (once sure of it: a join after a
/// leave that did happen would join anew). The room answers what the place kept: all of
/// it within the reconnect timeout, nothing after it (RTC-01 drops the absent member).
/// None (after a pause) if connecting or joining failed.
async fn reconnect(
    user: &RoomUser,
    app_key: &str,
    unsure: bool,
    membership: &mut Membership,
) -> Option<Session> {
    let Ok(mut fresh) = Session::connect(user, app_key, None).await else {
        tokio::time::sleep(RETRY).await;
        return None;
    };
    if unsure || !membership.member {
        return Some(fresh);
    }
    match fresh.join().await {
        Ok(Answer::Room(room)) => {
            *membership = membership_in(&room, &user.user_id);
            Some(fresh)
        }
        _ => {
            tokio::time::sleep(RETRY).await;
            None
        }
    }
}

fn membership_in(room: &RoomInfo, user_id: &str) -> Membership {
    match room.members.iter().find(|m| m.user_id == user_id) {
        Some(member) => Membership {
            member: true,
            streams: member
                .resources
                .iter()
                .map(|r| r.stream_id.clone())
                .collect(),
        },
        None => Membership::default(),
    }
}

/// The next change: a join when out; else mostly publishing, unpublishing and
/// attributes, now and then leaving.
fn choose(rng: &mut StdRng, membership: &Membership, user_id: &str, made: u64) -> Change {
    if !membership.member {
        return Change::Join;
    }
    let streams: Vec<&String> = membership.streams.iter().collect();
    match rng.random_range(0..10) {
        0..=3 if streams.len() < MAX_STREAMS => Change::Publish(format!("{user_id}-s{made}")),
        4..=5 if !streams.is_empty() => {
            Change::Unpublish(streams[rng.random_range(0..streams.len())].clone())
        }
        9 => Change::Leave,
        _ => Change::Attribute(user_id.to_string(), made.to_string()),
    }
}

fn frame_of(change: &Change, req_id: u64) -> ClientFrame {
    let room_id = ROOM.to_string();
    match change {
        Change::Join => ClientFrame::RtcJoin {
            req_id,
            room_id,
            kind: RoomKind::Meeting,
            role: Role::Participant,
        },
        Change::Leave => ClientFrame::RtcLeave { req_id, room_id },
        Change::Publish(stream) => ClientFrame::RtcPublish {
            req_id,
            room_id,
            publish: vec![Resource {
                stream_id: stream.clone(),
                kind: ResourceKind::Audio,
                layers: Vec::new(),
                media_server: "chaos".into(),
                params: String::new(),
            }],
            unpublish: Vec::new(),
        },
        Change::Unpublish(stream) => ClientFrame::RtcPublish {
            req_id,
            room_id,
            publish: Vec::new(),
            unpublish: vec![stream.clone()],
        },
        Change::Attribute(key, value) => ClientFrame::RtcSetAttributes {
            req_id,
            room_id,
            set: BTreeMap::from([(key.clone(), value.clone())]),
            remove: Vec::new(),
        },
    }
}

/// What an acknowledged change makes of the actor.
fn follow(membership: &mut Membership, change: &Change) {
    match change {
        Change::Join => membership.member = true,
        Change::Leave => *membership = Membership::default(),
        Change::Publish(stream) => {
            membership.streams.insert(stream.clone());
        }
        Change::Unpublish(stream) => {
            membership.streams.remove(stream);
        }
        Change::Attribute(..) => {}
    }
}
