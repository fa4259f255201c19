//! MSG-01 under failure: two clients exchange 10,000 messages through a real edge process
//! in front of a 3-node cluster of real processes, while the leader is killed twice.
//! Every acknowledged message must arrive exactly once, in `seq` order, on the other side.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command as ProcessCommand, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use meridian_client::{codes, ConnectOptions, Connection};
use meridian_cluster::admin::generate_credentials;
use meridian_cluster::state::{Command, Envelope};
use meridian_edge::token::{self, TokenClaims};
use meridian_proto::{ClientFrame, ServerFrame};
use meridian_regions::AreaCode;
use meridian_testkit::{eventually, free_port, ClusterOptions, Process, ProcessCluster};

const MESSAGES_PER_SIDE: usize = 5_000;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_meridian"))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
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

// covers: MSG-01
#[tokio::test]
async fn ten_thousand_messages_survive_two_leader_kills_exactly_once_and_in_order() {
    let mut cluster = ProcessCluster::new(binary(), ClusterOptions::default());
    cluster.start_all();
    let first = cluster.wait_for_leader(0, Duration::from_secs(15)).await;
    let client = cluster.client();
    let prod = generate_credentials();
    client
        .write_one(Envelope {
            area: AreaCode::Sg,
            command: Command::CreateApp {
                name: "failover".into(),
                dev: generate_credentials(),
                prod: prod.clone(),
            },
        })
        .await
        .expect("app");
    for user in ["alice", "bob"] {
        client
            .write_one(Envelope {
                area: AreaCode::Sg,
                command: Command::PutUser {
                    app_key: prod.app_key.clone(),
                    user_id: user.into(),
                    name: None,
                    portrait: None,
                },
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
    let config_path = dir.path().join("edge.toml");
    std::fs::write(&config_path, config).unwrap();
    let edge = Process::spawn(
        ProcessCommand::new(binary())
            .args(["edge", "--config"])
            .arg(&config_path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
    );
    let url = format!("ws://127.0.0.1:{public}/websocket");
    let options = |user: &str| ConnectOptions {
        url: url.clone(),
        app_key: prod.app_key.clone(),
        token: token::issue(
            &prod.app_secret,
            &TokenClaims {
                app_key: prod.app_key.clone(),
                user_id: user.into(),
                issued_at_ms: now_ms(),
            },
        ),
        device_id: format!("{user}-device"),
        platform: "iOS".into(),
        cursor: None,
    };
    // The edge is up once a session gets through.
    eventually(Duration::from_secs(15), "edge accepting sessions", || {
        let options = options("alice");
        async move {
            let mut connection = Connection::connect(&options).await.ok()?;
            let frame = connection.next_within(Duration::from_secs(5)).await.ok()?;
            connection.close().await;
            matches!(frame, ServerFrame::Connected { .. }).then_some(())
        }
    })
    .await;

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
        cluster.kill(leader.node_id);
        let next = cluster
            .wait_for_leader(leader.term, Duration::from_secs(15))
            .await;
        assert_ne!(next.node_id, leader.node_id);
        cluster.start(leader.node_id);
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

    // Every acknowledged message arrived once, in seq order, with the content sent.
    for (receiver, sender, name) in [(&bob, &alice, "bob"), (&alice, &bob, "alice")] {
        assert_eq!(sender.acked.len(), MESSAGES_PER_SIDE);
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
    // Both sides share one conversation: together their sends hold every seq once.
    let all: BTreeSet<u64> = alice
        .acked
        .keys()
        .chain(bob.acked.keys())
        .copied()
        .collect();
    assert_eq!(all, (1..=2 * MESSAGES_PER_SIDE as u64).collect());
    eprintln!(
        "reconnects: alice {}, bob {}",
        alice.reconnects, bob.reconnects
    );
    edge.kill();
}
