//! MSG-01 under failure: two clients exchange 10,000 messages through a real edge process
//! in front of a 3-node cluster of real processes, while the leader is killed twice.
//! Every acknowledged message must arrive exactly once, in `seq` order, on the other side;
//! so must every audio/video room notice, in the room's version order.

use meridian_clock::now_ms;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command as ProcessCommand, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use meridian_access::token::{self, TokenClaims};
use meridian_client::{codes, Backoff, Client, ConnectOptions, Connection, Outgoing};
use meridian_cluster::admin::generate_credentials;
use meridian_cluster::state::{Command, CreateApp, Envelope, PutUser};
use meridian_proto::rtc::{Resource, ResourceKind, Role, RoomKind, RoomNotice};
use meridian_proto::{ClientFrame, ServerFrame};
use meridian_regions::AreaCode;
use meridian_testkit::{eventually, free_port, ClusterOptions, Process, ProcessCluster};

const MESSAGES_PER_SIDE: usize = 5_000;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_meridian"))
}

/// What one side saw: its acknowledged sends (seq → content) and the peer's messages it
/// received (in arrival order).
#[derive(Default)]
struct Seen {
    acked: BTreeMap<u64, String>,
    received: Vec<(u64, String, String)>,
    reconnects: usize,
}

/// Sends `count` messages to `peer` one at a time, resending the same `clientId` after any
/// failure (reconnecting when the session is gone), and records everything received,
/// until it has sent everything and received `expect` messages from the peer.
async fn converse(
    options: ConnectOptions,
    me: &'static str,
    peer: &'static str,
    count: usize,
    expect: usize,
    progress: Arc<AtomicUsize>,
) -> Seen {
    let mut seen = Seen::default();
    let mut options = options;
    let mut next = 0usize;
    'session: loop {
        let Ok(mut connection) = Connection::connect(&options).await else {
            seen.reconnects += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut in_flight = false;
        loop {
            if !in_flight && next < count {
                let frame = ClientFrame::Send {
                    client_id: format!("{me}-{next}"),
                    conversation_type: 1,
                    target_id: peer.into(),
                    channel_id: String::new(),
                    object_name: "RC:TxtMsg".into(),
                    content: format!("{me}-{next}"),
                    push_content: None,
                    push_data: None,
                    to_user_ids: Vec::new(),
                };
                if connection.send(&frame).await.is_err() {
                    break;
                }
                in_flight = true;
            }
            if next >= count && seen.received.len() >= expect {
                return seen;
            }
            let frame = match connection.next_within(Duration::from_secs(20)).await {
                Ok(frame) => frame,
                Err(_) => break,
            };
            match frame {
                ServerFrame::Ack { client_id, seq, .. } => {
                    if client_id == format!("{me}-{next}") {
                        seen.acked.insert(seq, client_id);
                        next += 1;
                        progress.fetch_add(1, Ordering::Relaxed);
                        in_flight = false;
                    }
                }
                ServerFrame::Error { code, .. }
                    if code == codes::UNAVAILABLE || code == codes::INTERNAL =>
                {
                    in_flight = false;
                }
                ServerFrame::Message(body) if body.sender_user_id == peer => {
                    seen.received.push((body.seq, body.content, body.msg_uid));
                }
                ServerFrame::Message(_)
                | ServerFrame::Synced { .. }
                | ServerFrame::Connected { .. } => {}
                other => panic!("{me}: unexpected {other:?}"),
            }
        }
        options.cursor = Some(connection.cursor());
        seen.reconnects += 1;
        continue 'session;
    }
}

/// A cluster of real processes with one app and users alice and bob, and an edge process
/// in front of it that can be killed and started again on the same ports.
struct Area {
    cluster: ProcessCluster,
    prod: meridian_cluster::state::Credentials,
    config_path: std::path::PathBuf,
    public: u16,
    edge: Option<Process>,
    /// With a TLS edge: what clients trust.
    client_tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
    _dir: tempfile::TempDir,
}

impl Area {
    async fn start(nodes: u64) -> Self {
        Self::start_with(nodes, false).await
    }

    /// `tls`: the edge serves `wss://` with a certificate from a throw-away CA.
    async fn start_with(nodes: u64, tls: bool) -> Self {
        let mut cluster = ProcessCluster::new(
            binary(),
            ClusterOptions {
                nodes,
                ..ClusterOptions::default()
            },
        );
        cluster.start_all();
        cluster.wait_for_leader(0, Duration::from_secs(15)).await;
        let client = cluster.client();
        let prod = generate_credentials();
        client
            .write_one(Envelope {
                area: AreaCode::Sg,
                command: Command::CreateApp(CreateApp {
                    name: "failover".into(),
                    dev: generate_credentials(),
                    prod: prod.clone(),
                }),
            })
            .await
            .expect("app");
        for user in ["alice", "bob"] {
            client
                .write_one(Envelope {
                    area: AreaCode::Sg,
                    command: Command::PutUser(PutUser {
                        app_key: prod.app_key.clone(),
                        user_id: user.into(),
                        name: None,
                        portrait: None,
                    }),
                })
                .await
                .expect("user");
        }
        let dir = tempfile::tempdir().unwrap();
        let (public, admin) = (free_port(), free_port());
        let nodes: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("\"{}\"", n.rpc_addr()))
            .collect();
        let config = format!(
            "listen = \"127.0.0.1:{public}\"\nadmin_listen = \"127.0.0.1:{admin}\"\n\
             operator_token = \"{}\"\n\n[[areas]]\narea = \"SG\"\ncluster = [{}]\n\n\
             [sessions]\nsends_per_second = 1000000\n",
            meridian_testkit::OPERATOR_TOKEN,
            nodes.join(", ")
        );
        let mut config = config;
        let mut client_tls = None;
        if tls {
            let files = meridian_rpc::DevPki::new()
                .unwrap()
                .write_node(dir.path(), "edge")
                .unwrap();
            config.push_str(&format!(
                "\n[public_tls]\ncert = {:?}\nkey = {:?}\n",
                files.cert, files.key
            ));
            client_tls = Some(meridian_rpc::client_config_trusting(&files.ca).unwrap());
        }
        let config_path = dir.path().join("edge.toml");
        std::fs::write(&config_path, config).unwrap();
        let mut area = Self {
            cluster,
            prod,
            config_path,
            public,
            edge: None,
            client_tls,
            _dir: dir,
        };
        area.start_edge().await;
        area
    }

    /// Starts the edge process and waits until a session gets through.
    async fn start_edge(&mut self) {
        self.edge = Some(Process::spawn(
            ProcessCommand::new(binary())
                .args(["edge", "--config"])
                .arg(&self.config_path)
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null()),
        ));
        eventually(Duration::from_secs(15), "edge accepting sessions", || {
            let options = self.options("alice");
            async move {
                let mut connection = Connection::connect(&options).await.ok()?;
                let frame = connection.next_within(Duration::from_secs(5)).await.ok()?;
                connection.close().await;
                matches!(frame, ServerFrame::Connected { .. }).then_some(())
            }
        })
        .await;
    }

    fn kill_edge(&mut self) {
        if let Some(edge) = self.edge.take() {
            edge.kill();
        }
    }

    fn options(&self, user: &str) -> ConnectOptions {
        let url = match self.client_tls {
            Some(_) => format!("wss://localhost:{}/websocket", self.public),
            None => format!("ws://127.0.0.1:{}/websocket", self.public),
        };
        ConnectOptions {
            url,
            app_key: self.prod.app_key.clone(),
            token: token::issue(
                &self.prod.app_secret,
                &TokenClaims {
                    app_key: self.prod.app_key.clone(),
                    user_id: user.into(),
                    issued_at_ms: now_ms(),
                },
            ),
            device_id: format!("{user}-device"),
            platform: "iOS".into(),
            cursor: None,
            tls: self.client_tls.clone(),
        }
    }
}

/// Every acknowledged message of each side arrived once, in seq order, with its content,
/// on the other; together the two sides' sends hold every seq of the conversation once.
fn assert_exchange(alice: &Seen, bob: &Seen, per_side: usize) {
    for (receiver, sender, name) in [(bob, alice, "bob"), (alice, bob, "alice")] {
        assert_eq!(sender.acked.len(), per_side);
        let seqs: Vec<u64> = receiver.received.iter().map(|(seq, _, _)| *seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{name} received out of order"
        );
        let uids: BTreeSet<&String> = receiver.received.iter().map(|(_, _, uid)| uid).collect();
        assert_eq!(
            uids.len(),
            receiver.received.len(),
            "{name} got a duplicate"
        );
        let received: BTreeMap<u64, String> = receiver
            .received
            .iter()
            .map(|(seq, content, _)| (*seq, content.clone()))
            .collect();
        assert_eq!(received, sender.acked, "{name} lost or altered a message");
    }
    let all: BTreeSet<u64> = alice
        .acked
        .keys()
        .chain(bob.acked.keys())
        .copied()
        .collect();
    assert_eq!(all, (1..=2 * per_side as u64).collect());
}

// covers: MSG-01
#[tokio::test]
async fn ten_thousand_messages_survive_two_leader_kills_exactly_once_and_in_order() {
    let mut area = Area::start(3).await;
    let first = area
        .cluster
        .wait_for_leader(0, Duration::from_secs(15))
        .await;
    let options = |user: &str| area.options(user);
    let progress = Arc::new(AtomicUsize::new(0));
    let alice = tokio::spawn(converse(
        options("alice"),
        "alice",
        "bob",
        MESSAGES_PER_SIDE,
        MESSAGES_PER_SIDE,
        progress.clone(),
    ));
    let bob = tokio::spawn(converse(
        options("bob"),
        "bob",
        "alice",
        MESSAGES_PER_SIDE,
        MESSAGES_PER_SIDE,
        progress.clone(),
    ));

    // Two leader kills while the conversation runs; the killed node comes back each time
    // so the next kill still leaves a majority.
    let mut leader = first;
    for threshold in [2_000, 6_000] {
        let reached = || progress.load(Ordering::Relaxed) >= threshold;
        eventually(
            Duration::from_secs(120),
            "conversation progress",
            || async { reached().then_some(()) },
        )
        .await;
        area.cluster.kill(leader.node_id);
        let next = area
            .cluster
            .wait_for_leader(leader.term, Duration::from_secs(15))
            .await;
        assert_ne!(next.node_id, leader.node_id);
        area.cluster.start(leader.node_id);
        leader = next;
    }

    let alice = tokio::time::timeout(Duration::from_secs(240), alice)
        .await
        .expect("alice finished")
        .unwrap();
    let bob = tokio::time::timeout(Duration::from_secs(240), bob)
        .await
        .expect("bob finished")
        .unwrap();

    assert_exchange(&alice, &bob, MESSAGES_PER_SIDE);
    eprintln!(
        "reconnects: alice {}, bob {}",
        alice.reconnects, bob.reconnects
    );
    area.kill_edge();
}

/// One side of an exchange through the SDK's reconnecting [`Client`]: sends `count`
/// messages (one at a time, each retried by the client until acknowledged) while it reads
/// the peer's, until both are done.
async fn converse_with_sdk(
    options: ConnectOptions,
    me: &'static str,
    peer: &'static str,
    count: usize,
    progress: Arc<AtomicUsize>,
) -> (Seen, u64) {
    let mut client = Client::start(
        options,
        Backoff {
            first: Duration::from_millis(50),
            max: Duration::from_millis(500),
        },
    );
    // Sending runs on its own task: a send future is never dropped half-way.
    let sender = client.sender();
    let sending = tokio::spawn(async move {
        let mut acked = BTreeMap::new();
        for n in 0..count {
            let content = format!("{me}-{n}");
            let ack = sender
                .send(Outgoing {
                    conversation_type: 1,
                    target_id: peer.into(),
                    channel_id: String::new(),
                    object_name: "RC:TxtMsg".into(),
                    content: content.clone(),
                })
                .await
                .expect("every send is acknowledged in the end");
            acked.insert(ack.seq, content);
            progress.fetch_add(1, Ordering::Relaxed);
        }
        acked
    });
    let mut seen = Seen::default();
    while seen.received.len() < count {
        let message = client.next_message().await.expect("the client keeps going");
        if message.sender_user_id == peer {
            seen.received
                .push((message.seq, message.content, message.msg_uid));
        }
    }
    seen.acked = sending.await.expect("sender");
    let reconnects = client.reconnects();
    client.stop();
    (seen, reconnects)
}

// covers: MSG-01
#[tokio::test]
async fn the_sdk_client_rides_out_an_edge_crash_without_losing_or_repeating_a_message() {
    const PER_SIDE: usize = 1_000;
    let mut area = Area::start(1).await;
    let progress = Arc::new(AtomicUsize::new(0));
    let alice = tokio::spawn(converse_with_sdk(
        area.options("alice"),
        "alice",
        "bob",
        PER_SIDE,
        progress.clone(),
    ));
    let bob = tokio::spawn(converse_with_sdk(
        area.options("bob"),
        "bob",
        "alice",
        PER_SIDE,
        progress.clone(),
    ));
    eventually(Duration::from_secs(60), "conversation progress", || async {
        (progress.load(Ordering::Relaxed) >= 500).then_some(())
    })
    .await;
    // The edge dies mid-conversation (SIGKILL: no drain) and comes back on the same port.
    area.kill_edge();
    area.start_edge().await;
    let (alice, alice_reconnects) = tokio::time::timeout(Duration::from_secs(120), alice)
        .await
        .expect("alice finished")
        .unwrap();
    let (bob, bob_reconnects) = tokio::time::timeout(Duration::from_secs(120), bob)
        .await
        .expect("bob finished")
        .unwrap();
    assert!(
        alice_reconnects >= 1 && bob_reconnects >= 1,
        "both reconnected"
    );
    assert_exchange(&alice, &bob, PER_SIDE);
    area.kill_edge();
}

#[tokio::test]
async fn sessions_run_over_tls_when_the_edge_is_configured_for_it() {
    let mut area = Area::start_with(1, true).await;
    let mut alice = Connection::connect(&area.options("alice")).await.unwrap();
    let mut bob = Connection::connect(&area.options("bob")).await.unwrap();
    for connection in [&mut alice, &mut bob] {
        loop {
            if let ServerFrame::Synced { .. } = connection
                .next_within(Duration::from_secs(10))
                .await
                .unwrap()
            {
                break;
            }
        }
    }
    alice
        .send(&ClientFrame::Send {
            client_id: "t1".into(),
            conversation_type: 1,
            target_id: "bob".into(),
            channel_id: String::new(),
            object_name: "RC:TxtMsg".into(),
            content: "over tls".into(),
            push_content: None,
            push_data: None,
            to_user_ids: Vec::new(),
        })
        .await
        .unwrap();
    loop {
        if let ServerFrame::Message(body) = bob.next_within(Duration::from_secs(10)).await.unwrap()
        {
            assert_eq!(body.content, "over tls");
            break;
        }
    }
    // A plain connection to the TLS port gets no session.
    let mut plain = area.options("bob");
    plain.url = format!("ws://localhost:{}/websocket", area.public);
    assert!(Connection::connect(&plain).await.is_err());
    area.kill_edge();
}

/// One change alice makes in the room, numbered `i`: a resource (even) or an attribute
/// (odd), so both kinds of notice are checked.
fn room_change(req_id: u64, i: u64) -> ClientFrame {
    if i.is_multiple_of(2) {
        ClientFrame::RtcPublish {
            req_id,
            room_id: "r1".into(),
            publish: vec![Resource {
                stream_id: "cam".into(),
                kind: ResourceKind::Video,
                layers: Vec::new(),
                media_server: "sfu:1".into(),
                params: i.to_string(),
            }],
            unpublish: Vec::new(),
        }
    } else {
        ClientFrame::RtcSetAttributes {
            req_id,
            room_id: "r1".into(),
            set: [("n".to_string(), i.to_string())].into(),
            remove: Vec::new(),
        }
    }
}

/// The change number a notice carries.
fn change_number(notice: &RoomNotice) -> Option<u64> {
    match notice {
        RoomNotice::Published { resources, .. } => resources[0].params.parse().ok(),
        RoomNotice::Attributes { set, .. } => set.get("n")?.parse().ok(),
        _ => None,
    }
}

// covers: RTC-01, RTC-02
#[tokio::test]
async fn room_notices_survive_a_leader_kill_without_a_gap_or_a_reorder() {
    const CHANGES: u64 = 200;
    let mut area = Area::start(3).await;
    let first = area
        .cluster
        .wait_for_leader(0, Duration::from_secs(15))
        .await;
    let mut alice = Connection::connect(&area.options("alice")).await.unwrap();
    let mut bob = Connection::connect(&area.options("bob")).await.unwrap();
    for (connection, req_id) in [(&mut alice, 1), (&mut bob, 1)] {
        let join = ClientFrame::RtcJoin {
            req_id,
            room_id: "r1".into(),
            kind: RoomKind::Meeting,
            role: Role::Participant,
        };
        connection.send(&join).await.unwrap();
        loop {
            match connection
                .next_within(Duration::from_secs(10))
                .await
                .unwrap()
            {
                ServerFrame::RtcJoined { .. } => break,
                ServerFrame::Error { code, message, .. } => panic!("join: {code} {message}"),
                _ => {}
            }
        }
    }
    // Bob hears every change from a live session while alice makes them, retrying each
    // until it is committed; the leader dies a quarter of the way in.
    let listener = tokio::spawn(async move {
        let mut heard: Vec<(u64, u64)> = Vec::new();
        while heard.last().map(|(_, n)| *n) != Some(CHANGES - 1) {
            let frame = bob
                .next_within(Duration::from_secs(60))
                .await
                .expect("bob's session");
            if let ServerFrame::RtcEvent {
                version, notice, ..
            } = frame
            {
                if let Some(n) = change_number(&notice) {
                    heard.push((version, n));
                }
            }
        }
        heard
    });
    let mut req_id = 10;
    for i in 0..CHANGES {
        if i == CHANGES / 4 {
            area.cluster.kill(first.node_id);
        }
        loop {
            req_id += 1;
            alice.send(&room_change(req_id, i)).await.unwrap();
            let answer = loop {
                match alice.next_within(Duration::from_secs(60)).await.unwrap() {
                    ServerFrame::Done { req_id: r } if r == req_id => break None,
                    ServerFrame::Error {
                        req_id: Some(r),
                        code,
                        ..
                    } if r == req_id => break Some(code),
                    _ => {}
                }
            };
            match answer {
                None => break,
                Some(code) if code == codes::UNAVAILABLE || code == codes::INTERNAL => continue,
                Some(code) => panic!("change {i} refused with {code}"),
            }
        }
    }
    let heard = tokio::time::timeout(Duration::from_secs(60), listener)
        .await
        .expect("bob heard the last change")
        .unwrap();
    // One version after another (a retried change may be heard twice, never out of order).
    assert!(
        heard
            .windows(2)
            .all(|w| w[1].0 == w[0].0 + 1 && w[1].1 >= w[0].1),
        "{heard:?}"
    );
    let numbers: BTreeSet<u64> = heard.iter().map(|(_, n)| *n).collect();
    assert_eq!(numbers, (0..CHANGES).collect::<BTreeSet<u64>>());
    let next = area
        .cluster
        .wait_for_leader(first.term, Duration::from_secs(15))
        .await;
    assert_ne!(
        next.node_id, first.node_id,
        "the changes crossed a new leader"
    );
    area.cluster.start(first.node_id);
    area.kill_edge();
}
