//! The traffic of a chaos run: users holding WebSocket sessions (through the resilient
//! Rust SDK, spread over the edges) who send private, group and ultra-group messages and
//! call their neighbour (invite, ring, accept, hang up: RTC-03's signals are messages),
//! and an app server publishing private, group and chatroom messages through the Server
//! API, its clock stepped now and then. Every send and every delivery goes into the
//! [`Ledger`]. The audio/video room traffic is [`crate::rooms`].

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use meridian_client::calls::{reason, Media, Signal};
use meridian_client::nav::{Navigation, Navigator};
use meridian_client::server_api::{form, post_form, post_form_answer};
use meridian_client::{conversation, Backoff, Client, ConnectOptions, Outgoing, SendError, Sender};
use meridian_cluster::admin::generate_credentials;
use meridian_cluster::state::{
    AppSettings, Command, CreateApp, Envelope, ExportPart, Exported, Query, QueryOutput,
    SetAppSettings, MAX_EXPORT_PAGE,
};
use meridian_cluster::state::{Conversation, ConversationType};
use meridian_edge::server_api::auth::REPLAY_WINDOW_MS;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::checker::{Ledger, Outcome};
use crate::commercial::{self, CommercialUser};
use crate::deployment::{Deployment, EdgeProcess};
use crate::rooms::{self, RoomUser};

const GROUP: &str = "g1";
const ULTRA_GROUP: &str = "ug1";
const CHATROOM: &str = "r1";
const TEXT: &str = "RC:TxtMsg";

/// A conversation of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Private(String, String),
    Group,
    UltraGroup,
    Chatroom,
}

impl Target {
    /// The ledger's name for it: the same whoever looks at it.
    pub fn key(&self) -> String {
        key_of(&self.conversation()).expect("every target's conversation has a key")
    }

    fn conversation(&self) -> Conversation {
        match self {
            Target::Private(a, b) => Conversation::private(a, b, ""),
            Target::Group => Conversation::group_like(ConversationType::Group, GROUP, ""),
            Target::UltraGroup => {
                Conversation::group_like(ConversationType::UltraGroup, ULTRA_GROUP, "")
            }
            Target::Chatroom => Conversation::group_like(ConversationType::Chatroom, CHATROOM, ""),
        }
    }

    /// The target of a message `receiver` got.
    fn of_delivery(receiver: &str, conversation_type: u8, target_id: &str) -> Option<Self> {
        match (conversation_type, target_id) {
            (conversation::PRIVATE, peer) => Some(Target::Private(receiver.into(), peer.into())),
            (conversation::GROUP, GROUP) => Some(Target::Group),
            (conversation::ULTRA_GROUP, ULTRA_GROUP) => Some(Target::UltraGroup),
            (conversation::CHATROOM, CHATROOM) => Some(Target::Chatroom),
            _ => None,
        }
    }
}

/// Message content carrying the run-unique id the checker follows.
pub(crate) fn content_of(id: &str) -> String {
    serde_json::json!({ "content": id }).to_string()
}

/// The run-unique id of a message: a text's is in its content; a call signal's is its
/// call, type, sender and (hang-ups) reason, so a hang-up the server makes for a party
/// is told apart from one the party sent.
fn id_of(object_name: &str, sender: &str, content: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(content).ok()?;
    if let Some(id) = value["content"].as_str() {
        return Some(id.to_string());
    }
    let call_id = value["callId"].as_str()?;
    Some(format!(
        "{call_id}/{object_name}/{sender}/{}",
        value["reason"].as_u64().unwrap_or(0)
    ))
}

/// An invite a callee got: the call's id and its caller.
type Invited = (String, String);

/// The app, its users and their conversations, set up through the Server API.
pub struct Cast {
    app_key: String,
    app_secret: String,
    users: Vec<String>,
    tokens: Vec<String>,
    /// Users of the room traffic (watchers, then actors) and their tokens.
    room_users: Vec<(String, String)>,
    /// Users on the commercial SDKs' protocol and their tokens.
    commercial: Vec<(String, String)>,
}

/// Users on the commercial SDKs' protocol ([`commercial`]): a ring of their own, each
/// also writing to one user of the JSON protocol.
const COMMERCIAL_USERS: usize = 3;

impl Cast {
    pub async fn set_up(deployment: &Deployment, users: usize) -> anyhow::Result<Self> {
        let credentials = generate_credentials();
        let envelope = |command| Envelope {
            area: deployment.area,
            command,
        };
        deployment
            .client
            .write_one(envelope(Command::CreateApp(CreateApp {
                name: "chaos".into(),
                dev: generate_credentials(),
                prod: credentials.clone(),
            })))
            .await
            .context("creating the app")?;
        // Strict replay protection, so stepped clocks meet the timestamp window.
        deployment
            .client
            .write_one(envelope(Command::SetAppSettings(SetAppSettings {
                app_key: credentials.app_key.clone(),
                settings: AppSettings {
                    strict_replay: true,
                    ..AppSettings::default()
                },
            })))
            .await
            .context("app settings")?;
        let api = &deployment.edges[0].public;
        let call = |path: &'static str, body: String| {
            let (key, secret) = (credentials.app_key.clone(), credentials.app_secret.clone());
            async move {
                post_form(api, &key, &secret, path, &body)
                    .await
                    .with_context(|| path.to_string())
            }
        };
        let users: Vec<String> = (0..users).map(|i| format!("u{i}")).collect();
        let room_users: Vec<String> = (0..rooms::WATCHERS)
            .map(|i| format!("w{i}"))
            .chain((0..rooms::ACTORS).map(|i| format!("a{i}")))
            .collect();
        let commercial: Vec<String> = (0..COMMERCIAL_USERS).map(|i| format!("c{i}")).collect();
        let mut tokens = Vec::new();
        for user in users.iter().chain(&room_users).chain(&commercial) {
            let answer = call("/user/getToken.json", form(&[("userId", user)])).await?;
            tokens.push(answer["token"].as_str().context("token")?.to_string());
        }
        let commercial = commercial
            .into_iter()
            .zip(tokens.split_off(users.len() + room_users.len()))
            .collect();
        let room_users = room_users
            .into_iter()
            .zip(tokens.split_off(users.len()))
            .collect();
        let mut members: Vec<(&str, &str)> = users.iter().map(|u| ("userId", u.as_str())).collect();
        members.push(("groupId", GROUP));
        call("/group/create.json", form(&members)).await?;
        call(
            "/ultragroup/create.json",
            form(&[("userId", &users[0]), ("groupId", ULTRA_GROUP)]),
        )
        .await?;
        for user in &users[1..] {
            call(
                "/ultragroup/join.json",
                form(&[("userId", user), ("groupId", ULTRA_GROUP)]),
            )
            .await?;
        }
        call(
            "/chatroom/create.json",
            form(&[(&format!("chatroom[{CHATROOM}]"), "chaos room")]),
        )
        .await?;
        Ok(Self {
            app_key: credentials.app_key,
            app_secret: credentials.app_secret,
            users,
            tokens,
            room_users,
            commercial,
        })
    }

    pub fn app_key(&self) -> &str {
        &self.app_key
    }

    pub fn app_secret(&self) -> &str {
        &self.app_secret
    }

    /// How user `index` (of the WebSocket users) connects to `edge`, from its phone.
    pub fn connect_options(&self, index: usize, edge: &EdgeProcess) -> ConnectOptions {
        ConnectOptions {
            url: edge.ws_url(),
            app_key: self.app_key.clone(),
            token: self.tokens[index].clone(),
            device_id: format!("{}-phone", self.users[index]),
            platform: "iOS".into(),
            cursor: None,
            tls: None,
        }
    }

    /// The room traffic's watchers and actors, spread over the edges.
    pub fn room_users(&self, deployment: &Deployment) -> (Vec<RoomUser>, Vec<RoomUser>) {
        let edges = &deployment.edges;
        let mut users: Vec<RoomUser> = self
            .room_users
            .iter()
            .enumerate()
            .map(|(index, (user_id, token))| RoomUser {
                user_id: user_id.clone(),
                token: token.clone(),
                ws_url: edges[index % edges.len()].ws_url(),
            })
            .collect();
        let actors = users.split_off(rooms::WATCHERS);
        (users, actors)
    }

    /// Whom the `i`th commercial user writes to: its neighbours in their ring and the JSON
    /// user of its index.
    fn commercial_peers(&self, i: usize) -> Vec<String> {
        let k = self.commercial.len();
        vec![
            self.commercial[(i + 1) % k].0.clone(),
            self.commercial[(i + k - 1) % k].0.clone(),
            self.users[i % self.users.len()].clone(),
        ]
    }

    /// The commercial protocol's users on `deployment`'s edges.
    fn commercial_users(&self, deployment: &Deployment) -> Vec<CommercialUser> {
        let ws_urls: Vec<String> = deployment.edges.iter().map(|e| e.ws_url()).collect();
        self.commercial
            .iter()
            .enumerate()
            .map(|(i, (user_id, token))| CommercialUser {
                user_id: user_id.clone(),
                token: token.clone(),
                // Each starts on another edge.
                ws_urls: ws_urls
                    .iter()
                    .cycle()
                    .skip(i)
                    .take(ws_urls.len())
                    .cloned()
                    .collect(),
                peers: self.commercial_peers(i),
            })
            .collect()
    }

    /// Every conversation traffic may go to (each once).
    pub fn targets(&self) -> Vec<Target> {
        let n = self.users.len();
        let mut targets: Vec<Target> = (0..n)
            .map(|i| Target::Private(self.users[i].clone(), self.users[(i + 1) % n].clone()))
            .collect();
        for (i, (user, _)) in self.commercial.iter().enumerate() {
            let peers = self.commercial_peers(i).into_iter();
            targets.extend(peers.map(|peer| Target::Private(user.clone(), peer)));
        }
        targets.extend([Target::Group, Target::UltraGroup, Target::Chatroom]);
        let mut seen = std::collections::BTreeSet::new();
        targets.retain(|t| seen.insert(t.key()));
        targets
    }

    /// Who must get a message `sender` sent to `target`, pushed or by sync: the other
    /// side of a private chat, the other group members. Ultra groups (fetched by history
    /// after a reconnect) and chatrooms (online only) are checked in storage alone.
    fn recipients(&self, sender: &str, target: &Target) -> Vec<String> {
        match target {
            Target::Private(a, b) => vec![if a == sender { b } else { a }.clone()],
            Target::Group => self
                .users
                .iter()
                .filter(|u| *u != sender)
                .cloned()
                .collect(),
            Target::UltraGroup | Target::Chatroom => Vec::new(),
        }
    }

    /// What the cluster stored in every target's conversation, in seq order, for the
    /// ledger. Read through the app's export, which pages by key: messages sharing a
    /// stamp (a leader whose clock jumped back stamps on from its predecessor's newest)
    /// page like any others.
    pub async fn read_storage(
        &self,
        deployment: &Deployment,
        ledger: &Ledger,
    ) -> anyhow::Result<()> {
        let mut stored: HashMap<String, Vec<(String, u64)>> = self
            .targets()
            .iter()
            .map(|target| (target.key(), Vec::new()))
            .collect();
        let mut after = Vec::new();
        loop {
            let query = Query::Export {
                app_key: self.app_key.clone(),
                part: ExportPart::Messages,
                after,
                limit: MAX_EXPORT_PAGE,
            };
            let QueryOutput::Export(page) = deployment.client.read(query).await? else {
                anyhow::bail!("the app's export: unexpected answer");
            };
            for record in page.records {
                let Exported::Message(message) = record else {
                    continue;
                };
                let Some(kept) = key_of(&message.conversation).and_then(|k| stored.get_mut(&k))
                else {
                    continue;
                };
                let id = id_of(&message.object_name, &message.sender, &message.content);
                kept.extend(id.map(|id| (id, message.seq)));
            }
            match page.next {
                Some(next) => after = next,
                None => break,
            }
        }
        for (key, mut kept) in stored {
            kept.sort_by_key(|(_, seq)| *seq);
            ledger.stored(&key, kept);
        }
        Ok(())
    }
}

/// The ledger's name of a conversation a target can have.
fn key_of(conversation: &Conversation) -> Option<String> {
    let Conversation { first, second, .. } = conversation;
    Some(match conversation.kind {
        ConversationType::Private => format!("private:{first}:{second}"),
        ConversationType::Group => format!("group:{first}"),
        ConversationType::UltraGroup => format!("ultragroup:{first}"),
        ConversationType::Chatroom => format!("chatroom:{first}"),
        ConversationType::System => return None,
    })
}

/// Switches shared by the load's tasks.
#[derive(Clone)]
pub struct Controls {
    pub ledger: Arc<Ledger>,
    /// Time zero of the run, for acknowledgement times.
    pub started: Instant,
    /// Seconds the app server's clock is off (the clock-step fault).
    pub clock_offset: Arc<AtomicI64>,
    /// False once no new sends should start.
    pub sending: watch::Receiver<bool>,
    /// True once sends still waiting for an answer should be given up.
    pub give_up: watch::Receiver<bool>,
}

impl Controls {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// The running load: its sessions and tasks.
pub struct Load {
    senders: Vec<JoinHandle<()>>,
    readers: Vec<JoinHandle<()>>,
    stop_reading: watch::Sender<bool>,
}

impl Load {
    pub fn start(cast: Arc<Cast>, deployment: &Deployment, controls: Controls, seed: u64) -> Self {
        let (stop_reading, reading) = watch::channel(false);
        let mut senders = Vec::new();
        let mut readers = Vec::new();
        for (index, user) in cast.users.iter().enumerate() {
            let (invites, invited) = mpsc::unbounded_channel();
            let edge = &deployment.edges[index % deployment.edges.len()];
            let options = cast.connect_options(index, edge);
            let backoff = Backoff {
                first: Duration::from_millis(50),
                max: Duration::from_secs(1),
            };
            // Every third user asks the nav for its edge at each (re)connect, as the SDKs
            // do; the others keep to the edge they were spread to.
            let client = match index % 3 {
                2 => {
                    let navigator = Navigator::new(vec![deployment.nav_url().to_string()]);
                    let navigation = Navigation::new(Arc::new(navigator), deployment.area.as_str());
                    Client::start_navigated(options, backoff, navigation)
                }
                _ => Client::start(options, backoff),
            };
            senders.push(tokio::spawn(send_from_session(
                cast.clone(),
                index,
                (client.sender(), invited),
                controls.clone(),
                seed.wrapping_add(index as u64),
            )));
            readers.push(tokio::spawn(read_session(
                user.clone(),
                (client, invites),
                controls.ledger.clone(),
                reading.clone(),
            )));
        }
        for (index, user) in cast.commercial_users(deployment).into_iter().enumerate() {
            readers.push(tokio::spawn(commercial::run(
                user,
                cast.app_key.clone(),
                controls.clone(),
                seed.wrapping_add(1_000 + index as u64),
                reading.clone(),
            )));
        }
        let bases: Vec<String> = deployment.edges.iter().map(|e| e.public.clone()).collect();
        senders.push(tokio::spawn(publish_from_app_server(
            cast,
            bases,
            controls,
            seed.wrapping_mul(31),
        )));
        Self {
            senders,
            readers,
            stop_reading,
        }
    }

    /// Waits for every sender to finish (they stop on `sending` and `give_up`).
    pub async fn senders_done(&mut self) {
        for task in self.senders.drain(..) {
            let _ = task.await;
        }
    }

    /// Closes every session.
    pub async fn stop(self) {
        self.stop_reading.send_replace(true);
        for task in self.readers {
            let _ = task.await;
        }
    }
}

/// What a session sends next: a text, or a signal of a call it makes or answers.
fn next_send(
    rng: &mut StdRng,
    user: &str,
    peers: (&str, &str),
    calls: &mut Calls,
    sent: u64,
) -> (Target, Outgoing, String) {
    let private = |peer: &str| Target::Private(user.to_string(), peer.to_string());
    let signal = |signal: Signal, call_id: &str, peer: &str| {
        let outgoing = signal.outgoing(call_id, conversation::PRIVATE, peer);
        let id = id_of(&outgoing.object_name, user, &outgoing.content).expect("a call id");
        (private(peer), outgoing, id)
    };
    // A callee rings, then accepts.
    if let Some((signal_to_send, call_id, caller)) = calls.answers.pop_front() {
        return signal(signal_to_send, &call_id, &caller);
    }
    if let Ok((call_id, caller)) = calls.invited.try_recv() {
        calls
            .answers
            .push_back((Signal::Accept, call_id.clone(), caller.clone()));
        return signal(Signal::Ringing, &call_id, &caller);
    }
    // A caller hangs up after a second or so.
    if calls.ongoing.is_some() && rng.random_range(0..3) == 0 {
        let call_id = calls.ongoing.take().expect("checked above");
        let hangup = Signal::Hangup {
            reason: reason::HANGUP,
        };
        return signal(hangup, &call_id, peers.0);
    }
    if calls.ongoing.is_none() && rng.random_range(0..12) == 0 {
        let call_id = format!("call-{user}-{sent}");
        calls.ongoing = Some(call_id.clone());
        let invite = Signal::Invite {
            media: Media::Audio,
            callees: vec![peers.0.to_string()],
        };
        return signal(invite, &call_id, peers.0);
    }
    let target = match rng.random_range(0..10) {
        0..=2 => private(peers.0),
        3..=4 => private(peers.1),
        5..=7 => Target::Group,
        _ => Target::UltraGroup,
    };
    let (conversation_type, target_id) = match &target {
        Target::Private(_, peer) => (conversation::PRIVATE, peer.clone()),
        Target::Group => (conversation::GROUP, GROUP.to_string()),
        _ => (conversation::ULTRA_GROUP, ULTRA_GROUP.to_string()),
    };
    let id = format!("ws-{user}-{sent}");
    let outgoing = Outgoing {
        conversation_type,
        target_id,
        channel_id: String::new(),
        object_name: TEXT.into(),
        content: content_of(&id),
    };
    (target, outgoing, id)
}

/// A session's calls (RTC-03): the one it made to its next peer, and the signals it owes
/// to calls it was invited to.
struct Calls {
    ongoing: Option<String>,
    invited: mpsc::UnboundedReceiver<Invited>,
    answers: VecDeque<(Signal, String, String)>,
}

async fn send_from_session(
    cast: Arc<Cast>,
    index: usize,
    (sender, invited): (Sender, mpsc::UnboundedReceiver<Invited>),
    controls: Controls,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let user = &cast.users[index];
    let n = cast.users.len();
    let peers = (
        cast.users[(index + 1) % n].as_str(),
        cast.users[(index + n - 1) % n].as_str(),
    );
    let mut calls = Calls {
        ongoing: None,
        invited,
        answers: VecDeque::new(),
    };
    let mut give_up = controls.give_up.clone();
    let mut sent = 0u64;
    while *controls.sending.borrow() {
        let (target, outgoing, id) = next_send(&mut rng, user, peers, &mut calls, sent);
        sent += 1;
        let answer = tokio::select! {
            answer = sender.send(outgoing) => Some(answer),
            _ = give_up.wait_for(|g| *g) => None,
        };
        let outcome = match answer {
            Some(Ok(acked)) => Outcome::Acked {
                seq: acked.seq,
                at_ms: controls.now_ms(),
            },
            Some(Err(SendError::Refused { .. })) => Outcome::Refused,
            Some(Err(SendError::Ended { .. })) | None => Outcome::Unknown,
        };
        controls
            .ledger
            .sent(&id, &target.key(), cast.recipients(user, &target), outcome);
        // Under the edge's 5 messages/s per connection.
        tokio::time::sleep(Duration::from_millis(rng.random_range(250..450))).await;
    }
}

async fn read_session(
    user: String,
    (mut client, invites): (Client, mpsc::UnboundedSender<Invited>),
    ledger: Arc<Ledger>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let message = tokio::select! {
            message = client.next_message() => message,
            _ = stop.wait_for(|s| *s) => None,
        };
        let Some(message) = message else { break };
        let target = Target::of_delivery(&user, message.conversation_type, &message.target_id);
        let sender = &message.sender_user_id;
        let id = id_of(&message.object_name, sender, &message.content);
        if let (Some(target), Some(id)) = (target, id) {
            ledger.delivered(&user, &id, &target.key(), message.seq);
        }
        if let Some((call_id, Signal::Invite { .. })) = Signal::read(&message) {
            if *sender != user && message.conversation_type == conversation::PRIVATE {
                let _ = invites.send((call_id, sender.clone()));
            }
        }
    }
    client.stop();
}

async fn publish_from_app_server(
    cast: Arc<Cast>,
    bases: Vec<String>,
    controls: Controls,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut sent = 0usize;
    while *controls.sending.borrow() {
        let n = cast.users.len();
        let from_index = rng.random_range(0..n);
        let from = &cast.users[from_index];
        let id = format!("api-{sent}");
        let content = content_of(&id);
        // Marked as the Java and Go SDKs can mark a publish, so the retry of an open
        // outcome below is stored once (a duplicate would show in the check).
        let random = rng.random_range(1..i64::MAX).to_string();
        let (path, target, body) = match rng.random_range(0..3) {
            0 => {
                let to = &cast.users[(from_index + 1) % n];
                (
                    "/message/private/publish.json",
                    Target::Private(from.clone(), to.clone()),
                    form(&[
                        ("fromUserId", from),
                        ("toUserId", to),
                        ("objectName", TEXT),
                        ("content", &content),
                        ("msgRandom", &random),
                    ]),
                )
            }
            1 => (
                "/message/group/publish.json",
                Target::Group,
                form(&[
                    ("fromUserId", from),
                    ("toGroupId", GROUP),
                    ("objectName", TEXT),
                    ("content", &content),
                    ("msgRandom", &random),
                ]),
            ),
            _ => (
                "/message/chatroom/publish.json",
                Target::Chatroom,
                form(&[
                    ("fromUserId", from),
                    ("toChatroomId", CHATROOM),
                    ("objectName", TEXT),
                    ("content", &content),
                    ("msgRandom", &random),
                ]),
            ),
        };
        let offset = controls.clock_offset.load(Ordering::Relaxed);
        let stale = offset.unsigned_abs() * 1000 > REPLAY_WINDOW_MS;
        let mut outcome = Outcome::Unknown;
        // One retry, through the next edge, of an outcome left open. A refused retry
        // leaves it open: the first try may have been stored.
        for attempt in 0..2 {
            let base = &bases[sent % bases.len()];
            sent += 1;
            let answer =
                post_form_answer(base, &cast.app_key, &cast.app_secret, path, &body, offset).await;
            outcome = match answer {
                // A stale timestamp must be refused: if one gets through, the checker
                // counts its stored copy as a phantom.
                Ok(answer) if answer.status == 200 && !stale => Outcome::Acked {
                    seq: 0,
                    at_ms: controls.now_ms(),
                },
                Ok(answer) if (400..500).contains(&answer.status) && attempt == 0 => {
                    Outcome::Refused
                }
                // A 5xx (say, the cluster did not answer in time) leaves it open.
                Ok(_) | Err(_) => Outcome::Unknown,
            };
            if !matches!(outcome, Outcome::Unknown) {
                break;
            }
        }
        controls
            .ledger
            .sent(&id, &target.key(), cast.recipients(from, &target), outcome);
        tokio::time::sleep(Duration::from_millis(rng.random_range(150..350))).await;
    }
}
