//! Client sessions through real sockets: a `meridian dev` deployment, tokens from its
//! Server API, and WebSocket clients of the Rust SDK.

mod common;

use std::time::Duration;

use futures::StreamExt;

use common::{admin_call, binary, put_settings, synced, text, Api};
use meridian_client::{codes, ConnectOptions, Connection, MessageBody};
use meridian_proto::{ClientFrame, ConversationKey, ServerFrame};
use meridian_testkit::{metric_value, DevDeployment};

const WAIT: Duration = Duration::from_secs(10);

struct Area {
    api: Api,
    ws: String,
}

impl Area {
    fn new(dev: &DevDeployment) -> Self {
        Self {
            api: Api::new(dev, "SG", "prod"),
            ws: dev.ws("SG"),
        }
    }

    async fn token(&self, user: &str) -> String {
        self.api.token(user).await
    }

    async fn connect(
        &self,
        user: &str,
        device: &str,
        platform: &str,
        cursor: Option<u64>,
    ) -> Connection {
        common::connect(&self.ws, &self.api, user, device, platform, cursor).await
    }
}

async fn message(connection: &mut Connection) -> MessageBody {
    match connection.next_within(WAIT).await.expect("message") {
        ServerFrame::Message(body) => body,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// (msgUID, seq) of the ack of `client_id`.
async fn ack(connection: &mut Connection, client_id: &str) -> (String, u64) {
    match connection.next_within(WAIT).await.expect("ack") {
        ServerFrame::Ack {
            client_id: acked,
            msg_uid,
            seq,
            ..
        } => {
            assert_eq!(acked, client_id);
            (msg_uid, seq)
        }
        other => panic!("expected the ack of {client_id}, got {other:?}"),
    }
}

fn contents(messages: &[MessageBody]) -> Vec<String> {
    messages.iter().map(|m| m.content.clone()).collect()
}

// covers: PRV-01, PRV-02, PRV-12, MSG-01, MSG-02, MSG-06
#[tokio::test]
async fn private_messages_arrive_live_then_by_sync_in_order_exactly_once() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    let mut alice = area.connect("alice", "alice-phone", "iOS", None).await;
    assert!(synced(&mut alice).await.is_empty());
    let mut bob = area.connect("bob", "bob-phone", "Android", None).await;
    assert!(synced(&mut bob).await.is_empty());

    // Live: acknowledged after commit with the conversation's seq, delivered in order.
    for i in 1..=4 {
        alice
            .send(&text(&format!("a{i}"), 1, "bob", &format!("m{i}")))
            .await
            .unwrap();
        let (_, seq) = ack(&mut alice, &format!("a{i}")).await;
        assert_eq!(seq, i);
    }
    let live: Vec<MessageBody> = futures_collect(&mut bob, 4).await;
    assert_eq!(contents(&live), ["m1", "m2", "m3", "m4"]);
    assert!(live
        .iter()
        .all(|m| m.target_id == "alice" && m.sender_user_id == "alice"));
    assert_eq!(live.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    // The delivery path timed its hops (`meridian bench ws` reads them): the leader from
    // each message's apply to the edge's poll answer, the edge from page to socket.
    let metrics_of = |process: &serde_json::Value| process["metrics"].as_str().unwrap().to_owned();
    let node = metrics_text(&metrics_of(&dev.endpoints["areas"]["SG"]["cluster"][0])).await;
    let fed = metric_value(&node.unwrap(), "meridian_cluster_feed_wait_seconds_count");
    assert!(fed >= Some(4.0), "{fed:?}");
    let edge = metrics_text(&metrics_of(&dev.endpoints["areas"]["SG"]["edges"][0])).await;
    let written = metric_value(&edge.unwrap(), "meridian_edge_delivery_seconds_count");
    assert!(written >= Some(1.0), "{written:?}");

    // A status message (PRV-12) reaches the online device, unstored (seq 0).
    let mut typing = text("t1", 1, "bob", "{}");
    if let ClientFrame::Send { object_name, .. } = &mut typing {
        *object_name = "RC:TypSts".into();
    }
    alice.send(&typing).await.unwrap();
    assert_eq!(ack(&mut alice, "t1").await.1, 0);
    let status = message(&mut bob).await;
    assert_eq!((status.object_name.as_str(), status.seq), ("RC:TypSts", 0));

    // bob goes away; alice writes from her desktop (a second device, MSG-02): her phone
    // gets a copy of each, bob gets them all on reconnect, in order, once.
    let cursor = bob.cursor();
    bob.close().await;
    let mut desk = area.connect("alice", "alice-desk", "Windows", None).await;
    let history_on_new_device = synced(&mut desk).await;
    assert_eq!(contents(&history_on_new_device), ["m1", "m2", "m3", "m4"]);
    for i in 5..=8 {
        desk.send(&text(&format!("d{i}"), 1, "bob", &format!("m{i}")))
            .await
            .unwrap();
        ack(&mut desk, &format!("d{i}")).await;
    }
    let copies = futures_collect(&mut alice, 4).await;
    assert_eq!(contents(&copies), ["m5", "m6", "m7", "m8"]);
    // A retried send (same clientId) is acknowledged as the first and stored once.
    desk.send(&text("d8", 1, "bob", "m8")).await.unwrap();
    let (retried_uid, retried_seq) = ack(&mut desk, "d8").await;
    assert_eq!(retried_seq, 8);
    // A burst past 5 per second on one connection is refused with 20604 (MSG-06).
    let mut refused = 0;
    for i in 0..6 {
        desk.send(&text(&format!("burst{i}"), 1, "alice", "x"))
            .await
            .unwrap();
    }
    for _ in 0..6 {
        match desk.next_within(WAIT).await.unwrap() {
            ServerFrame::Error {
                code, client_id, ..
            } => {
                assert_eq!(code, codes::RATE_LIMITED);
                assert!(client_id.is_some());
                refused += 1;
            }
            ServerFrame::Ack { .. } | ServerFrame::Message(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(refused >= 1, "a burst of 6 must hit the 5/s budget");

    let mut bob = area
        .connect("bob", "bob-phone", "Android", Some(cursor))
        .await;
    let missed = synced(&mut bob).await;
    assert_eq!(contents(&missed), ["m5", "m6", "m7", "m8"]);
    assert_eq!(missed.last().map(|m| m.msg_uid.clone()), Some(retried_uid));

    // A new login on the same platform kicks the older session (MSG-02).
    let mut bob_again = area.connect("bob", "bob-tablet", "Android", None).await;
    match bob.next_within(WAIT).await.unwrap() {
        ServerFrame::Kicked { code, .. } => assert_eq!(code, codes::KICKED_OTHER_LOGIN),
        other => panic!("expected a kick, got {other:?}"),
    }
    assert_eq!(synced(&mut bob_again).await.len(), 8);

    // A wrong token is refused with 31004.
    let options = ConnectOptions {
        url: area.ws.clone(),
        app_key: area.api.key.clone(),
        token: "not-a-token".into(),
        device_id: "x".into(),
        platform: "web".into(),
        cursor: None,
        tls: None,
    };
    let mut stranger = Connection::connect(&options).await.unwrap();
    match stranger.next_within(WAIT).await.unwrap() {
        ServerFrame::Error { code, .. } => assert_eq!(code, codes::TOKEN_INCORRECT),
        other => panic!("{other:?}"),
    }
    dev.stop();
}

/// The next `n` messages, skipping nothing else.
async fn futures_collect(connection: &mut Connection, n: usize) -> Vec<MessageBody> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.push(message(connection).await);
    }
    out
}

// covers: GRP-05, GRP-06, CHR-02, CHR-03
#[tokio::test]
async fn group_and_chatroom_messages_reach_members_only() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    area.api
        .ok(
            "/group/create.json",
            "userId=alice&userId=bob&groupId=g1&groupName=G",
        )
        .await;
    let mut alice = area.connect("alice", "a", "iOS", None).await;
    synced(&mut alice).await;
    let mut carol = area.connect("carol", "c", "iOS", None).await;
    synced(&mut carol).await;
    alice
        .send(&text("g-1", 3, "g1", "before carol"))
        .await
        .unwrap();
    ack(&mut alice, "g-1").await;
    // carol is not a member: a client send is refused with 22406.
    carol
        .send(&text("c-1", 3, "g1", "let me in"))
        .await
        .unwrap();
    match carol.next_within(WAIT).await.unwrap() {
        ServerFrame::Error { code, .. } => assert_eq!(code, codes::NOT_IN_GROUP),
        other => panic!("{other:?}"),
    }
    // She joins while connected: later messages reach her live, earlier ones never.
    area.api
        .ok("/group/join.json", "userId=carol&groupId=g1")
        .await;
    let mut bob = area.connect("bob", "b", "iOS", None).await;
    assert_eq!(contents(&synced(&mut bob).await), ["before carol"]);
    alice
        .send(&text("g-2", 3, "g1", "after carol"))
        .await
        .unwrap();
    ack(&mut alice, "g-2").await;
    assert_eq!(message(&mut carol).await.content, "after carol");
    assert_eq!(message(&mut bob).await.content, "after carol");
    let mut carol_desk = area.connect("carol", "c2", "Windows", None).await;
    assert_eq!(contents(&synced(&mut carol_desk).await), ["after carol"]);

    // Chatrooms: only joined members send and receive; a join brings the latest messages.
    area.api
        .ok("/chatroom/create.json", "chatroom[r1]=Room")
        .await;
    bob.send(&text("r-1", 4, "r1", "not joined")).await.unwrap();
    match bob.next_within(WAIT).await.unwrap() {
        ServerFrame::Error { code, .. } => assert_eq!(code, codes::NOT_IN_CHATROOM),
        other => panic!("{other:?}"),
    }
    for (connection, req_id) in [(&mut alice, 1), (&mut bob, 2)] {
        connection
            .send(&ClientFrame::JoinChatroom {
                req_id,
                chatroom_id: "r1".into(),
            })
            .await
            .unwrap();
        match connection.next_within(WAIT).await.unwrap() {
            ServerFrame::ChatroomJoined { req_id: r, .. } => assert_eq!(r, req_id),
            other => panic!("{other:?}"),
        }
    }
    alice
        .send(&text("r-2", 4, "r1", "hello room"))
        .await
        .unwrap();
    ack(&mut alice, "r-2").await;
    let in_room = message(&mut bob).await;
    assert_eq!(
        (in_room.content.as_str(), in_room.conversation_type),
        ("hello room", 4)
    );
    carol
        .send(&ClientFrame::JoinChatroom {
            req_id: 3,
            chatroom_id: "r1".into(),
        })
        .await
        .unwrap();
    match carol.next_within(WAIT).await.unwrap() {
        ServerFrame::ChatroomJoined { messages, .. } => {
            assert_eq!(contents(&messages), ["hello room"])
        }
        other => panic!("{other:?}"),
    }
    dev.stop();
}

/// Sends `n` texts to bob, each acknowledged before the next.
async fn send_all(alice: &mut Connection, prefix: &str, n: usize) {
    for i in 0..n {
        let id = format!("{prefix}{i}");
        alice.send(&text(&id, 1, "bob", &id)).await.unwrap();
        ack(alice, &id).await;
    }
}

/// Connects bob once (so he exists) and leaves him offline; answers his cursor.
async fn offline_bob(area: &Area) -> u64 {
    let mut bob = area.connect("bob", "bob-phone", "iOS", None).await;
    synced(&mut bob).await;
    let cursor = bob.cursor();
    bob.close().await;
    cursor
}

// covers: PRV-02, MSG-01
#[tokio::test]
async fn a_thousand_offline_messages_arrive_in_order_on_reconnect() {
    let dev = DevDeployment::start_with(binary(), "SG", 1, &["--sends-per-second", "100000"]).await;
    let area = Area::new(&dev);
    let cursor = offline_bob(&area).await;
    let mut alice = area.connect("alice", "alice-phone", "iOS", None).await;
    synced(&mut alice).await;
    send_all(&mut alice, "m", 1_000).await;

    let mut bob = area.connect("bob", "bob-phone", "iOS", Some(cursor)).await;
    let missed = synced(&mut bob).await;
    let expected: Vec<String> = (0..1_000).map(|i| format!("m{i}")).collect();
    assert_eq!(contents(&missed), expected);
    let seqs: Vec<u64> = missed.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=1_000).collect::<Vec<_>>());
    dev.stop();
}

// covers: PRV-02
#[tokio::test]
async fn offline_messages_past_the_offline_window_are_not_synced() {
    let dev = DevDeployment::start_with(binary(), "SG", 1, &["--offline-window-secs", "4"]).await;
    let area = Area::new(&dev);
    let cursor = offline_bob(&area).await;
    let mut alice = area.connect("alice", "alice-phone", "iOS", None).await;
    synced(&mut alice).await;
    send_all(&mut alice, "old", 2).await;
    // Past the 4 s window (the passing of time itself is what is tested here).
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    send_all(&mut alice, "new", 2).await;
    let mut bob = area.connect("bob", "bob-phone", "iOS", Some(cursor)).await;
    assert_eq!(contents(&synced(&mut bob).await), ["new0", "new1"]);
    dev.stop();
}

// covers: MSG-08
#[tokio::test]
async fn a_ban_closes_live_sessions_and_refuses_new_ones() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    let mut bob = area.connect("bob", "bob-phone", "iOS", None).await;
    synced(&mut bob).await;
    area.api
        .ok("/user/block.json", "userId=bob&minute=10")
        .await;
    match bob.next_within(WAIT).await.unwrap() {
        ServerFrame::Kicked { code, .. } => assert_eq!(code, codes::USER_BLOCKED),
        other => panic!("expected a kick, got {other:?}"),
    }
    let options = ConnectOptions {
        url: area.ws.clone(),
        app_key: area.api.key.clone(),
        token: area.token("bob").await,
        device_id: "bob-phone".into(),
        platform: "iOS".into(),
        cursor: None,
        tls: None,
    };
    let mut again = Connection::connect(&options).await.unwrap();
    match again.next_within(WAIT).await.unwrap() {
        ServerFrame::Error { code, .. } => assert_eq!(code, codes::USER_BLOCKED),
        other => panic!("{other:?}"),
    }
    area.api.ok("/user/unblock.json", "userId=bob").await;
    area.connect("bob", "bob-phone", "iOS", None).await;
    dev.stop();
}

// covers: MSG-01
#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_and_loses_nothing() {
    let dev = DevDeployment::start_with(
        binary(),
        "SG",
        1,
        &["--sends-per-second", "100000", "--queue-frames", "16"],
    )
    .await;
    let area = Area::new(&dev);
    let mut bob = area.connect("bob", "bob-phone", "iOS", None).await;
    synced(&mut bob).await;
    let mut alice = area.connect("alice", "alice-phone", "iOS", None).await;
    synced(&mut alice).await;
    // bob stops reading; 200 messages of 100 KiB overflow his socket and his queue.
    let big = "x".repeat(100 * 1024);
    for i in 0..200 {
        let id = format!("big{i}");
        alice.send(&text(&id, 1, "bob", &big)).await.unwrap();
        ack(&mut alice, &id).await;
    }
    let metrics = dev.endpoints["areas"]["SG"]["edges"][0]["metrics"]
        .as_str()
        .unwrap()
        .to_string();
    meridian_testkit::eventually(Duration::from_secs(30), "a slow-consumer close", || {
        let metrics = metrics.clone();
        async move {
            let text = metrics_text(&metrics).await?;
            let closed = text
                .lines()
                .find(|l| l.starts_with("meridian_edge_session_closes_total{reason=\"slow\"}"))?
                .rsplit(' ')
                .next()?
                .parse::<f64>()
                .ok()?;
            (closed >= 1.0).then_some(())
        }
    })
    .await;
    drop(bob);
    // Reconnecting from the start, bob gets all 200, once each, in order.
    let mut bob = area.connect("bob", "bob-laptop", "Windows", None).await;
    let all = synced(&mut bob).await;
    assert_eq!(all.len(), 200);
    assert!(all.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
    dev.stop();
}

async fn metrics_text(url: &str) -> Option<String> {
    Some(
        meridian_testkit::raw_http(url, "GET", &[], b"")
            .await
            .text(),
    )
}

/// Runs `meridian chat …` for the dev deployment; answers (success, stdout).
async fn chat(dev: &DevDeployment, args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new(binary())
        .arg("chat")
        .args(args)
        .arg("--endpoints")
        .arg(&dev.endpoints_file)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run meridian chat");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

// covers: PRV-01
#[tokio::test]
async fn the_cli_chats_and_calls_the_server_api_through_the_dev_deployment() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    // The listener finds the deployment by `--data-dir`, the sender by the variable that
    // also sets `meridian dev --data-dir`, and the helper below by `--endpoints`. The
    // listener names the `dev` app, the sender uses the default: the same one.
    let data_dir = dev.endpoints_file.parent().unwrap().to_path_buf();
    let listener = {
        let binary = binary().to_path_buf();
        let data_dir = data_dir.clone();
        tokio::spawn(async move {
            tokio::process::Command::new(binary)
                .args([
                    "chat", "listen", "--area", "SG", "--env", "dev", "--user", "bob",
                ])
                .args(["--count", "1", "--timeout", "30", "--data-dir"])
                .arg(data_dir)
                .env("RUST_LOG", "warn")
                .output()
                .await
                .expect("listen")
        })
    };
    let sent = tokio::process::Command::new(binary())
        .args([
            "chat", "send", "--user", "alice+1", "--to", "bob", "--text", "hi",
        ])
        .env("MERIDIAN_DEV_DATA_DIR", &data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run meridian chat send");
    let line = String::from_utf8_lossy(&sent.stdout);
    assert!(sent.status.success(), "chat send failed: {line}");
    let ack: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
    assert_eq!(ack["seq"], 1);
    let heard = listener.await.unwrap();
    assert!(heard.status.success());
    let received: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&heard.stdout).trim()).unwrap();
    assert_eq!(received["msgUID"], ack["msgUID"]);
    // `+` reaches the Server API encoded (a bare one in a form is a space).
    assert_eq!(received["senderUserId"], "alice+1");
    assert_eq!(received["content"], r#"{"content":"hi"}"#);
    // The listener keeps its cursor: nothing new arrives, so it times out and fails.
    let (ok, _) = chat(
        &dev,
        &["listen", "--user", "bob", "--count", "1", "--timeout", "1"],
    )
    .await;
    assert!(!ok, "a listener with nothing to hear must exit non-zero");

    // The interactive chat names the app it uses and confirms a line once the edge
    // acknowledges it, also when its input ends right after the line.
    let mut interactive = tokio::process::Command::new(binary())
        .args(["chat", "--user", "alice", "--endpoints"])
        .arg(&dev.endpoints_file)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run meridian chat");
    let mut input = interactive.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut input, b"/to bob\nsecond\n")
        .await
        .unwrap();
    drop(input);
    let output = interactive.wait_with_output().await.unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    let (dev_key, _) = dev.app("SG", "dev");
    assert!(
        said.contains(&format!("env dev (app key {dev_key})")),
        "{said}"
    );
    assert!(said.contains("→ sent to bob (msg id "), "{said}");
    let (heard, line) = chat(&dev, &["listen", "--user", "bob", "--timeout", "10"]).await;
    assert!(heard, "bob did not get the interactive line");
    let received: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(received["content"], r#"{"content":"second"}"#);

    // `meridian api` signs a Server API call with the demo app chat uses by default and
    // prints the status line, then the body; bob's listener gets what it published.
    let api = |args: &[&str]| {
        tokio::process::Command::new(binary())
            .arg("api")
            .args(args)
            .arg("--data-dir")
            .arg(&data_dir)
            .env("RUST_LOG", "warn")
            .output()
    };
    let published = api(&[
        "POST",
        "/message/private/publish.json",
        "fromUserId=app",
        "toUserId=bob",
        "objectName=RC:TxtMsg",
        r#"content={"content":"from the api"}"#,
    ])
    .await
    .unwrap();
    let printed = String::from_utf8_lossy(&published.stdout);
    assert!(published.status.success(), "{printed}");
    let (status, body) = printed.split_once('\n').unwrap();
    assert_eq!(status, "HTTP 200");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(body).unwrap()["code"],
        200
    );
    let (heard, line) = chat(&dev, &["listen", "--user", "bob", "--timeout", "10"]).await;
    assert!(
        heard,
        "bob did not get the message published by meridian api"
    );
    let received: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(received["senderUserId"], "app");
    assert_eq!(received["content"], r#"{"content":"from the api"}"#);
    // A refused call prints its answer too, and exits non-zero.
    let refused = api(&["POST", "/user/getToken.json"]).await.unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stdout).starts_with("HTTP 400\n"));
    dev.stop();
}

/// The answer to request `req_id`, skipping messages that arrive meanwhile.
async fn answer(connection: &mut Connection, req_id: u64) -> ServerFrame {
    loop {
        let frame = connection.next_within(WAIT).await.expect("answer");
        let answers = match &frame {
            ServerFrame::Done { req_id: r }
            | ServerFrame::HistoryPage { req_id: r, .. }
            | ServerFrame::ConversationList { req_id: r, .. }
            | ServerFrame::ReaderList { req_id: r, .. }
            | ServerFrame::ChatroomJoined { req_id: r, .. } => *r == req_id,
            ServerFrame::Error { req_id: r, .. } => *r == Some(req_id),
            _ => false,
        };
        if answers {
            return frame;
        }
    }
}

// covers: MSG-03, MSG-04, PRV-04, PRV-07, PRV-08, PRV-09, GRP-03
#[tokio::test]
async fn conversations_receipts_expansion_history_and_recall_over_a_session() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    area.api
        .ok(
            "/group/create.json",
            "userId=alice&userId=bob&groupId=g1&groupName=G",
        )
        .await;
    let mut alice = area.connect("alice", "a", "iOS", None).await;
    synced(&mut alice).await;
    let mut bob = area.connect("bob", "b", "iOS", None).await;
    synced(&mut bob).await;
    for (id, kind, target, content) in [
        ("p1", 1, "bob", "one"),
        ("p2", 1, "bob", "two"),
        ("g1", 3, "g1", "group"),
    ] {
        alice.send(&text(id, kind, target, content)).await.unwrap();
        ack(&mut alice, id).await;
    }
    let received = futures_collect(&mut bob, 3).await;
    let group_uid = received[2].msg_uid.clone();

    // The list: newest conversation first, with unread counts and last messages.
    bob.send(&ClientFrame::Conversations {
        req_id: 1,
        limit: 10,
    })
    .await
    .unwrap();
    let ServerFrame::ConversationList { conversations, .. } = answer(&mut bob, 1).await else {
        panic!("conversation list")
    };
    let lines: Vec<(String, u64)> = conversations
        .iter()
        .map(|c| (c.target_id.clone(), c.unread))
        .collect();
    assert_eq!(lines, [("g1".into(), 1), ("alice".into(), 2)]);
    // Read the private chat up to the first message's time: "two" is still unread.
    bob.send(&ClientFrame::MarkRead {
        req_id: 20,
        conversation_type: 1,
        target_id: "alice".into(),
        channel_id: String::new(),
        seq: 0,
        read_time: Some(received[0].sent_time),
    })
    .await
    .unwrap();
    assert!(matches!(
        answer(&mut bob, 20).await,
        ServerFrame::Done { .. }
    ));
    bob.send(&ClientFrame::Conversations {
        req_id: 21,
        limit: 10,
    })
    .await
    .unwrap();
    let ServerFrame::ConversationList { conversations, .. } = answer(&mut bob, 21).await else {
        panic!("conversation list")
    };
    let chat = conversations.iter().find(|c| c.target_id == "alice");
    // ("two" is read too if it was sent in the same millisecond.)
    let later = received[1].sent_time > received[0].sent_time;
    assert_eq!(chat.map(|c| c.unread), Some(u64::from(later)));
    // Read it up to seq 2, pin and mute it: it moves up, unread 0.
    bob.send(&ClientFrame::MarkRead {
        req_id: 2,
        conversation_type: 1,
        target_id: "alice".into(),
        channel_id: String::new(),
        seq: 2,
        read_time: None,
    })
    .await
    .unwrap();
    assert!(matches!(
        answer(&mut bob, 2).await,
        ServerFrame::Done { .. }
    ));
    bob.send(&ClientFrame::SetConversation {
        req_id: 3,
        conversation_type: 1,
        target_id: "alice".into(),
        channel_id: String::new(),
        pinned: Some(true),
        muted: Some(true),
    })
    .await
    .unwrap();
    assert!(matches!(
        answer(&mut bob, 3).await,
        ServerFrame::Done { .. }
    ));
    bob.send(&ClientFrame::Conversations {
        req_id: 4,
        limit: 10,
    })
    .await
    .unwrap();
    let ServerFrame::ConversationList { conversations, .. } = answer(&mut bob, 4).await else {
        panic!("conversation list")
    };
    let first = &conversations[0];
    assert_eq!(
        (
            first.target_id.as_str(),
            first.unread,
            first.pinned,
            first.muted
        ),
        ("alice", 0, true, true)
    );

    // Group receipt: alice gets an RC:RRRspMsg and can ask who read it.
    bob.send(&ClientFrame::GroupReceipt {
        req_id: 5,
        group_id: "g1".into(),
        msg_uids: vec![group_uid.clone()],
    })
    .await
    .unwrap();
    assert!(matches!(
        answer(&mut bob, 5).await,
        ServerFrame::Done { .. }
    ));
    let notice = message(&mut alice).await;
    assert_eq!(notice.object_name, "RC:RRRspMsg");
    alice
        .send(&ClientFrame::Readers {
            req_id: 6,
            msg_uid: group_uid.clone(),
        })
        .await
        .unwrap();
    let ServerFrame::ReaderList { readers, .. } = answer(&mut alice, 6).await else {
        panic!("readers")
    };
    assert_eq!(
        readers
            .iter()
            .map(|r| r.user_id.as_str())
            .collect::<Vec<_>>(),
        ["bob"]
    );

    // Expansion: the change reaches the other side as a status message.
    alice
        .send(&ClientFrame::SetExpansion {
            req_id: 7,
            msg_uid: received[0].msg_uid.clone(),
            set: [("likes".to_string(), "1".to_string())].into(),
            remove: Vec::new(),
        })
        .await
        .unwrap();
    assert!(matches!(
        answer(&mut alice, 7).await,
        ServerFrame::Done { .. }
    ));
    let change = message(&mut bob).await;
    assert_eq!(
        (change.object_name.as_str(), change.seq),
        ("RC:MsgExMsg", 0)
    );
    assert!(change.content.contains("likes"));

    // Recall by the sender: both see the RC:RcCmd notice; history shows it recalled.
    alice
        .send(&ClientFrame::Recall {
            req_id: 8,
            msg_uid: received[1].msg_uid.clone(),
        })
        .await
        .unwrap();
    assert!(matches!(
        answer(&mut alice, 8).await,
        ServerFrame::Done { .. }
    ));
    assert_eq!(message(&mut bob).await.object_name, "RC:RcCmd");
    // bob may not recall alice's message.
    bob.send(&ClientFrame::Recall {
        req_id: 9,
        msg_uid: received[0].msg_uid.clone(),
    })
    .await
    .unwrap();
    assert!(matches!(
        answer(&mut bob, 9).await,
        ServerFrame::Error { .. }
    ));
    bob.send(&ClientFrame::History {
        req_id: 10,
        conversation_type: 1,
        target_id: "alice".into(),
        channel_id: String::new(),
        before_time: 0,
        after_time: None,
        limit: 20,
    })
    .await
    .unwrap();
    let ServerFrame::HistoryPage {
        messages: newest, ..
    } = answer(&mut bob, 10).await
    else {
        panic!("history")
    };
    let page: Vec<(String, bool)> = newest
        .iter()
        .map(|m| (m.object_name.clone(), m.recalled))
        .collect();
    assert_eq!(
        page,
        [
            ("RC:RcCmd".into(), false),
            ("RC:TxtMsg".into(), true),
            ("RC:TxtMsg".into(), false)
        ]
    );
    // Forwards from the first message's time: the rest, oldest first.
    bob.send(&ClientFrame::History {
        req_id: 11,
        conversation_type: 1,
        target_id: "alice".into(),
        channel_id: String::new(),
        before_time: 0,
        after_time: Some(received[0].sent_time),
        limit: 20,
    })
    .await
    .unwrap();
    let ServerFrame::HistoryPage { messages, .. } = answer(&mut bob, 11).await else {
        panic!("history")
    };
    let forwards: Vec<&str> = messages.iter().map(|m| m.msg_uid.as_str()).collect();
    // (What was sent in the first message's millisecond is not after it.)
    let after_first = newest
        .iter()
        .rev()
        .filter(|m| m.sent_time > received[0].sent_time)
        .map(|m| m.msg_uid.as_str());
    assert_eq!(forwards, after_first.collect::<Vec<_>>());
    assert!(
        !forwards.is_empty(),
        "the recall notice is after the first message"
    );
    conversation_removed_until_a_newer_message(&mut alice, &mut bob).await;
    dev.stop();
}

/// The targets on bob's list, with their unread counts.
async fn listed(bob: &mut Connection, req_id: u64) -> Vec<(String, u64)> {
    let frame = ClientFrame::Conversations { req_id, limit: 10 };
    bob.send(&frame).await.unwrap();
    let ServerFrame::ConversationList { conversations, .. } = answer(bob, req_id).await else {
        panic!("conversation list")
    };
    conversations
        .iter()
        .map(|c| (c.target_id.clone(), c.unread))
        .collect()
}

/// Bob removes the group from his list: it stays off until alice writes there again,
/// and comes back with only that message unread. A chatroom is never listed, so it
/// cannot be removed.
async fn conversation_removed_until_a_newer_message(alice: &mut Connection, bob: &mut Connection) {
    let remove = |req_id, conversation_type, target: &str| ClientFrame::RemoveConversation {
        req_id,
        conversation_type,
        target_id: target.into(),
        channel_id: String::new(),
    };
    // Several at once: none, or more than 100, are refused and remove nothing.
    let remove_all = |req_id, copies| ClientFrame::RemoveConversations {
        req_id,
        conversations: vec![
            ConversationKey {
                conversation_type: 3,
                target_id: "g1".into(),
                channel_id: String::new(),
            };
            copies
        ],
    };
    for (req_id, copies) in [(28, 0), (29, 101)] {
        bob.send(&remove_all(req_id, copies)).await.unwrap();
        assert!(matches!(
            answer(bob, req_id).await,
            ServerFrame::Error { .. }
        ));
    }
    assert_eq!(listed(bob, 30).await.len(), 2);
    bob.send(&remove(31, 3, "g1")).await.unwrap();
    assert!(matches!(answer(bob, 31).await, ServerFrame::Done { .. }));
    let targets: Vec<String> = listed(bob, 32).await.into_iter().map(|(t, _)| t).collect();
    assert_eq!(targets, ["alice"]);
    bob.send(&remove_all(35, 100)).await.unwrap();
    assert!(matches!(answer(bob, 35).await, ServerFrame::Done { .. }));
    bob.send(&remove(33, 4, "room")).await.unwrap();
    assert!(matches!(answer(bob, 33).await, ServerFrame::Error { .. }));

    alice.send(&text("g2", 3, "g1", "back")).await.unwrap();
    // Frames from earlier steps may come first on either side.
    while !matches!(alice.next_within(WAIT).await.expect("ack"), ServerFrame::Ack { client_id, .. } if client_id == "g2")
    {
    }
    while !matches!(bob.next_within(WAIT).await.expect("message"), ServerFrame::Message(m) if m.content == "back")
    {
    }
    let lines = listed(bob, 34).await;
    // (alice's chat stays first: it is pinned.)
    assert_eq!(lines, [("alice".to_string(), 0), ("g1".to_string(), 1)]);
}

// covers: MSG-01
#[tokio::test]
async fn a_draining_edge_tells_its_clients_to_reconnect() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    let mut bob = area.connect("bob", "bob-phone", "iOS", None).await;
    synced(&mut bob).await;
    let stopping = tokio::task::spawn_blocking(move || dev.stop());
    match bob.next_within(WAIT).await.unwrap() {
        ServerFrame::Reconnect { after_ms } => assert!(after_ms > 0),
        other => panic!("expected a reconnect hint, got {other:?}"),
    }
    assert!(stopping.await.unwrap().success(), "dev shuts down cleanly");
}

// covers: MSG-09, API-01
#[tokio::test]
async fn check_online_follows_sessions() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    let status = |api: &Api| {
        let api = Api {
            base: api.base.clone(),
            key: api.key.clone(),
            secret: api.secret.clone(),
        };
        async move {
            api.ok("/user/checkOnline.json", "userId=bob").await["status"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    area.token("bob").await;
    assert_eq!(status(&area.api).await, "0");
    let mut bob = area.connect("bob", "bob-phone", "iOS", None).await;
    synced(&mut bob).await;
    assert_eq!(status(&area.api).await, "1");
    bob.close().await;
    meridian_testkit::eventually(WAIT, "bob offline", || async {
        (status(&area.api).await == "0").then_some(())
    })
    .await;
    dev.stop();
}

/// The contents of a history or search answer to `req_id`.
async fn page_contents(connection: &mut Connection, req_id: u64) -> Vec<String> {
    match answer(connection, req_id).await {
        ServerFrame::HistoryPage { messages, .. } => contents(&messages),
        other => panic!("expected a page, got {other:?}"),
    }
}

fn history_of(req_id: u64, target: &str) -> ClientFrame {
    ClientFrame::History {
        req_id,
        conversation_type: 1,
        target_id: target.into(),
        channel_id: String::new(),
        before_time: 0,
        after_time: None,
        limit: 20,
    }
}

// covers: PRV-05, PRV-06
#[tokio::test]
async fn deleting_and_clearing_change_one_users_view_and_search_finds_by_keyword_or_sender() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    let mut alice = area.connect("alice", "a", "iOS", None).await;
    synced(&mut alice).await;
    let mut bob = area.connect("bob", "b", "iOS", None).await;
    synced(&mut bob).await;
    for (id, content) in [("1", "apple pie"), ("2", "banana"), ("3", "Apple tart")] {
        alice.send(&text(id, 1, "bob", content)).await.unwrap();
        ack(&mut alice, id).await;
    }
    let received = futures_collect(&mut bob, 3).await;
    bob.send(&text("b1", 1, "alice", "thanks")).await.unwrap();
    ack(&mut bob, "b1").await;

    // Search (PRV-06): by keyword, case-insensitive, newest first; by sender.
    let search = |req_id, keyword: Option<&str>, sender: Option<&str>| ClientFrame::Search {
        req_id,
        conversation_type: 1,
        target_id: "alice".into(),
        channel_id: String::new(),
        keyword: keyword.map(str::to_string),
        sender_user_id: sender.map(str::to_string),
        limit: 20,
    };
    bob.send(&search(1, Some("apple"), None)).await.unwrap();
    assert_eq!(
        page_contents(&mut bob, 1).await,
        ["Apple tart", "apple pie"]
    );
    bob.send(&search(2, None, Some("bob"))).await.unwrap();
    assert_eq!(page_contents(&mut bob, 2).await, ["thanks"]);

    // Delete (PRV-05): bob's view loses "banana"; alice keeps it.
    bob.send(&ClientFrame::DeleteMessages {
        req_id: 3,
        conversation_type: 1,
        target_id: "alice".into(),
        channel_id: String::new(),
        msg_uids: vec![received[1].msg_uid.clone()],
    })
    .await
    .unwrap();
    assert!(matches!(
        answer(&mut bob, 3).await,
        ServerFrame::Done { .. }
    ));
    bob.send(&history_of(4, "alice")).await.unwrap();
    assert_eq!(
        page_contents(&mut bob, 4).await,
        ["thanks", "Apple tart", "apple pie"]
    );
    alice.send(&history_of(5, "bob")).await.unwrap();
    assert_eq!(page_contents(&mut alice, 5).await.len(), 4);

    // The app server clears bob's whole history of the conversation; alice keeps hers.
    area.api
        .ok(
            "/conversation/message/history/clean.json",
            "conversationType=1&fromUserId=bob&targetId=alice",
        )
        .await;
    bob.send(&history_of(6, "alice")).await.unwrap();
    assert!(page_contents(&mut bob, 6).await.is_empty());
    alice.send(&history_of(7, "bob")).await.unwrap();
    assert_eq!(page_contents(&mut alice, 7).await.len(), 4);
    dev.stop();
}

/// Opens a WebSocket with an `Origin` header, as a browser page would; answers the HTTP
/// status of a refused upgrade.
async fn upgrade_from(area: &Area, user: &str, origin: &str) -> Result<(), u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!(
        "{}?appId={}&token={}&deviceId=web-{user}&platform=Web",
        area.ws,
        area.api.key,
        area.token(user).await
    );
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("{other}"),
    }
}

// covers: MSG-02, MSG-10, MSG-11, PRV-11, GRP-05
#[tokio::test]
async fn app_settings_change_sessions_at_once() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    // Bad values are refused whole.
    assert_eq!(
        put_settings(
            &dev,
            &area.api.key,
            serde_json::json!({"offlineWindowDays": 9})
        )
        .await,
        400
    );
    assert_eq!(
        put_settings(&dev, &area.api.key, serde_json::json!({"bogus": true})).await,
        400
    );
    area.api
        .ok("/group/create.json", "userId=alice&groupId=g1&groupName=G")
        .await;
    let mut alice = area.connect("alice", "a", "iOS", None).await;
    synced(&mut alice).await;
    alice
        .send(&text("g0", 3, "g1", "before bob"))
        .await
        .unwrap();
    ack(&mut alice, "g0").await;
    area.api
        .ok("/group/join.json", "userId=bob&groupId=g1")
        .await;

    // Defaults: one web session per user, blacklist mode, no pre-join history.
    let settings = serde_json::json!({
        "multiDevice": true,
        "whitelistMode": true,
        "preJoinHistory": true,
        "secureDomains": ["https://chat.example.com"],
    });
    assert_eq!(put_settings(&dev, &area.api.key, settings).await, 200);

    // MSG-10: only the listed origin may open sessions; non-browsers have none.
    assert_eq!(
        upgrade_from(&area, "bob", "https://evil.example.com").await,
        Err(403)
    );
    assert_eq!(
        upgrade_from(&area, "bob", "https://chat.example.com").await,
        Ok(())
    );

    // MSG-02: with multi-device, two web sessions of one user live side by side.
    let mut web1 = area.connect("bob", "web-1", "Web", None).await;
    synced(&mut web1).await;
    let mut web2 = area.connect("bob", "web-2", "Web", None).await;
    synced(&mut web2).await;
    alice.send(&text("p1", 1, "bob", "to both")).await.unwrap();
    // PRV-11: whitelist mode: bob's (empty) whitelist refuses alice.
    match alice.next_within(WAIT).await.unwrap() {
        ServerFrame::Error { code, .. } => assert_eq!(code, codes::BLOCKED_BY_BLACKLIST),
        other => panic!("expected a refusal, got {other:?}"),
    }
    area.api
        .ok("/user/whitelist/add.json", "userId=bob&whiteUserId=alice")
        .await;
    alice.send(&text("p2", 1, "bob", "to both")).await.unwrap();
    ack(&mut alice, "p2").await;
    for web in [&mut web1, &mut web2] {
        assert_eq!(message(web).await.content, "to both");
    }
    // GRP-05 with the pre-join option: bob sees what was said before he joined.
    web1.send(&ClientFrame::History {
        req_id: 1,
        conversation_type: 3,
        target_id: "g1".into(),
        channel_id: String::new(),
        before_time: 0,
        after_time: None,
        limit: 10,
    })
    .await
    .unwrap();
    assert_eq!(page_contents(&mut web1, 1).await, ["before bob"]);
    dev.stop();
}

// covers: MSG-07
#[tokio::test]
async fn content_of_128_kib_is_accepted_and_one_byte_more_is_refused() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    let mut alice = area.connect("alice", "a", "iOS", None).await;
    synced(&mut alice).await;
    let limit = 128 * 1024;
    alice
        .send(&text("at-limit", 1, "bob", &"x".repeat(limit)))
        .await
        .unwrap();
    ack(&mut alice, "at-limit").await;
    alice
        .send(&text("over", 1, "bob", &"x".repeat(limit + 1)))
        .await
        .unwrap();
    match alice.next_within(WAIT).await.unwrap() {
        ServerFrame::Error {
            code, client_id, ..
        } => {
            assert_eq!(code, codes::CONTENT_TOO_LARGE);
            assert_eq!(client_id.as_deref(), Some("over"));
        }
        other => panic!("{other:?}"),
    }
    dev.stop();
}

#[tokio::test]
async fn a_silent_session_is_closed_after_the_idle_timeout_and_pings_keep_one_open() {
    let dev = DevDeployment::start_with(binary(), "SG", 1, &["--idle-timeout-ms", "1500"]).await;
    let area = Area::new(&dev);
    let mut quiet = area.connect("quiet", "q", "iOS", None).await;
    synced(&mut quiet).await;
    let mut chatty = area.connect("chatty", "c", "iOS", None).await;
    synced(&mut chatty).await;
    let started = tokio::time::Instant::now();
    // chatty pings every 500 ms (a third of the timeout, as `connected` tells clients).
    let mut pongs = 0;
    while started.elapsed() < Duration::from_millis(3_000) {
        chatty.send(&ClientFrame::Ping).await.unwrap();
        if let ServerFrame::Pong { .. } = chatty.next_within(WAIT).await.unwrap() {
            pongs += 1;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(pongs >= 5);
    // quiet sent nothing: its session is gone.
    assert!(matches!(
        quiet.next_within(WAIT).await,
        Err(meridian_client::ClientError::Closed)
    ));
    dev.stop();
}

// covers: API-04
#[tokio::test]
async fn an_import_brings_users_groups_and_history_that_members_then_see() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    let path = format!("/admin/v1/apps/{}/import", area.api.key);
    let day_ago = meridian_clock::now_ms() - 86_400_000;
    let message = |kind: u8, from: &str, target: &str, text: &str, at: u64, uid: &str| {
        serde_json::json!({"conversationType": kind, "fromUserId": from, "targetId": target,
            "objectName": "RC:TxtMsg", "content": text, "sentTime": at, "msgUID": uid})
    };
    // Out of time order: refused whole, so not even its users exist.
    let refused = serde_json::json!({
        "users": [{"userId": "zed"}],
        "messages": [message(1, "zed", "ann", "late", day_ago + 10, "X-2"),
                     message(1, "zed", "ann", "early", day_ago, "X-1")],
    });
    assert_eq!(admin_call(&dev, "POST", &path, refused).await, 400);
    let (_, info) = area.api.form("/user/info.json", "userId=zed").await;
    assert_ne!(info["code"], 200, "nothing of a refused import stays");

    let import = serde_json::json!({
        "users": [{"userId": "ann", "name": "Ann"}, {"userId": "ben"}],
        "groups": [{"groupId": "old", "name": "Old", "members": ["ann", "ben"]}],
        "messages": [message(3, "ann", "old", "from the old days", day_ago, "OLD-1"),
                     message(1, "ann", "ben", "hello from before", day_ago + 1, "OLD-2")],
    });
    assert_eq!(admin_call(&dev, "POST", &path, import).await, 200);
    assert_eq!(
        area.api.ok("/user/info.json", "userId=ann").await["userName"],
        "Ann"
    );
    // Imported members see imported group history; the private chat is there too.
    let mut ben = area.connect("ben", "b", "iOS", None).await;
    synced(&mut ben).await;
    for (req_id, kind, target, expected) in [
        (1, 3, "old", "from the old days"),
        (2, 1, "ann", "hello from before"),
    ] {
        ben.send(&ClientFrame::History {
            req_id,
            conversation_type: kind,
            target_id: target.into(),
            channel_id: String::new(),
            before_time: 0,
            after_time: None,
            limit: 10,
        })
        .await
        .unwrap();
        assert_eq!(page_contents(&mut ben, req_id).await, [expected]);
    }
    // New messages continue the imported conversation's sequence.
    let mut ann = area.connect("ann", "a", "iOS", None).await;
    synced(&mut ann).await;
    ann.send(&text("n1", 3, "old", "and now")).await.unwrap();
    assert_eq!(ack(&mut ann, "n1").await.1, 2);
    dev.stop();
}

// covers: PRV-12, GRP-10, SYS-02
#[tokio::test]
async fn status_messages_broadcast_recall_group_remarks_and_room_destroy_policy() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    area.api
        .ok(
            "/group/create.json",
            "userId=alice&userId=bob&groupId=g1&groupName=G",
        )
        .await;
    let mut bob = area.connect("bob", "b", "iOS", None).await;
    synced(&mut bob).await;
    // Status messages through the Server API: delivered live, never stored.
    area.api
        .ok(
            "/statusmessage/private/publish.json",
            "fromUserId=alice&toUserId=bob&objectName=RC:TypSts&content=%7B%7D",
        )
        .await;
    let typing = message(&mut bob).await;
    assert_eq!((typing.object_name.as_str(), typing.seq), ("RC:TypSts", 0));
    area.api
        .ok(
            "/statusmessage/group/publish.json",
            "fromUserId=alice&toGroupId=g1&objectName=App:Live&content=%7B%7D",
        )
        .await;
    let live = message(&mut bob).await;
    assert_eq!(
        (live.object_name.as_str(), live.seq, live.target_id.as_str()),
        ("App:Live", 0, "g1")
    );
    let (_, history) = area
        .api
        .json(
            "/v3/message/private/query.json",
            &serde_json::json!({"userId": "bob", "targetId": "alice"}),
        )
        .await;
    assert_eq!(
        history["data"],
        serde_json::json!([]),
        "status messages are not stored"
    );

    // A broadcast and its recall reach the online user.
    let sent = area
        .api
        .ok(
            "/message/broadcast.json",
            "fromUserId=admin&objectName=RC:TxtMsg&content=%7B%22content%22%3A%22news%22%7D",
        )
        .await;
    let id = sent["id"].as_str().unwrap().to_string();
    assert_eq!(message(&mut bob).await.msg_uid, id);
    let (_, wrong) = area
        .api
        .form(
            "/message/broadcast/recall.json",
            &format!("fromUserId=someone&messageUID={id}"),
        )
        .await;
    assert_ne!(wrong["code"], 200, "only the broadcaster recalls it");
    area.api
        .ok(
            "/message/broadcast/recall.json",
            &format!("fromUserId=admin&messageUID={id}"),
        )
        .await;
    let notice = message(&mut bob).await;
    assert_eq!(notice.object_name, "RC:RcCmd");
    assert!(notice.content.contains(&id));

    // Group remarks.
    area.api
        .ok(
            "/group/remarks/set.json",
            "groupId=g1&userId=bob&remark=Bobby",
        )
        .await;
    assert_eq!(
        area.api
            .ok("/group/remarks/get.json", "groupId=g1&userId=bob")
            .await["remark"],
        "Bobby"
    );
    area.api
        .ok("/group/remarks/del.json", "groupId=g1&userId=bob")
        .await;
    assert_eq!(
        area.api
            .ok("/group/remarks/get.json", "groupId=g1&userId=bob")
            .await["remark"],
        ""
    );
    let (_, stranger) = area
        .api
        .form(
            "/group/remarks/set.json",
            "groupId=g1&userId=carol&remark=C",
        )
        .await;
    assert_ne!(stranger["code"], 200, "only members have remarks");

    // A room's idle destruction: 1 minute to 7 days.
    area.api
        .ok("/chatroom/create.json", "chatroom[r1]=Room")
        .await;
    for (body, ok) in [
        ("chatroomId=r1&destroyType=1&destroyTime=0", false),
        ("chatroomId=r1&destroyType=1&destroyTime=10081", false),
        ("chatroomId=r1&destroyType=1&destroyTime=30", true),
        ("chatroomId=r1&destroyType=0", true),
    ] {
        let (_, answer) = area.api.form("/chatroom/destroy/set.json", body).await;
        assert_eq!(answer["code"] == 200, ok, "{body}: {answer}");
    }
    dev.stop();
}

/// `yyyyMMddHH` (UTC) of an instant in ms.
fn utc_hour(ms: u64) -> String {
    let time = meridian_clock::format_utc(ms); // yyyy-MM-dd HH:mm:ss
    [&time[0..4], &time[5..7], &time[8..10], &time[11..13]].concat()
}

#[tokio::test]
async fn the_hourly_archive_links_to_that_hours_messages_until_deleted() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    let sent = area
        .api
        .ok(
            "/message/private/publish.json",
            "fromUserId=alice&toUserId=bob&objectName=RC:TxtMsg&content=%7B%22content%22%3A%22archived%22%7D",
        )
        .await;
    let uid = sent["messageUIDs"][0]["messageUID"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, page) = area
        .api
        .json(
            "/v3/message/private/query.json",
            &serde_json::json!({"userId": "bob", "targetId": "alice"}),
        )
        .await;
    let hour = utc_hour(page["data"][0]["sentTime"].as_u64().unwrap());
    let link = area
        .api
        .ok("/message/history.json", &format!("date={hour}"))
        .await;
    let url = link["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&area.api.base), "{url}");
    let archive = meridian_testkit::raw_http(&url, "GET", &[], b"").await;
    assert_eq!(archive.status, 200);
    let lines: Vec<serde_json::Value> = archive
        .text()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["msgUID"], uid.as_str());
    // A tampered link is refused; an hour without messages has no link.
    let tampered = url.replace("signature=", "signature=x");
    assert_eq!(
        meridian_testkit::raw_http(&tampered, "GET", &[], b"")
            .await
            .status,
        403
    );
    let empty = area
        .api
        .ok("/message/history.json", "date=2020010100")
        .await;
    assert_eq!(empty["url"], "");
    let (_, bad) = area
        .api
        .form("/message/history.json", "date=2020013124")
        .await;
    assert_ne!(bad["code"], 200);
    // Deleted: no link; the conversation keeps its history.
    area.api
        .ok("/message/history/delete.json", &format!("date={hour}"))
        .await;
    assert_eq!(
        area.api
            .ok("/message/history.json", &format!("date={hour}"))
            .await["url"],
        ""
    );
    let (_, kept) = area
        .api
        .json(
            "/v3/message/private/query.json",
            &serde_json::json!({"userId": "bob", "targetId": "alice"}),
        )
        .await;
    assert_eq!(kept["data"][0]["msgUID"], uid.as_str());
    // The edge counts Server API calls by path and code (bounded labels).
    let metrics_url = dev.endpoints["areas"]["SG"]["edges"][0]["metrics"]
        .as_str()
        .unwrap()
        .to_string();
    let exposition = metrics_text(&metrics_url).await.unwrap();
    let count = |labels: &str| {
        meridian_testkit::metric_value(
            &exposition,
            &format!("meridian_edge_api_requests_total{{{labels}}}"),
        )
    };
    assert_eq!(
        count(r#"code="200",path="/message/history.json""#),
        Some(3.0)
    );
    assert_eq!(
        count(r#"code="1002",path="/message/history.json""#),
        Some(1.0)
    );
    dev.stop();
}

// covers: CHR-04, CHR-05
#[tokio::test]
async fn members_joined_from_sessions_show_in_the_server_api_and_room_whitelists_change() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    area.api
        .ok("/chatroom/create.json", "chatroom[r1]=Room")
        .await;
    let mut bob = area.connect("bob", "b", "iOS", None).await;
    synced(&mut bob).await;
    bob.send(&ClientFrame::JoinChatroom {
        req_id: 1,
        chatroom_id: "r1".into(),
    })
    .await
    .unwrap();
    assert!(matches!(
        answer(&mut bob, 1).await,
        ServerFrame::ChatroomJoined { .. }
    ));
    let members = area
        .api
        .ok("/chatroom/get.json", "chatroomId=r1&count=10&order=1")
        .await;
    assert_eq!(members["total"], 1);
    assert_eq!(members["users"][0]["id"], "bob");
    let exists = area
        .api
        .ok("/chatroom/user/exist.json", "chatroomId=r1&userId=bob")
        .await;
    assert_eq!(exists["isInChrm"], true);
    // Room mute with a mute whitelist: bob may speak only while on it.
    area.api.ok("/chatroom/ban/add.json", "chatroomId=r1").await;
    area.api
        .ok(
            "/chatroom/user/ban/whitelist/add.json",
            "chatroomId=r1&userId=bob",
        )
        .await;
    bob.send(&text("w1", 4, "r1", "allowed")).await.unwrap();
    ack(&mut bob, "w1").await;
    area.api
        .ok(
            "/chatroom/user/ban/whitelist/rollback.json",
            "chatroomId=r1&userId=bob",
        )
        .await;
    bob.send(&text("w2", 4, "r1", "muted now")).await.unwrap();
    loop {
        match bob.next_within(WAIT).await.unwrap() {
            ServerFrame::Error { code, .. } => {
                assert_eq!(code, codes::MUTED_IN_CHATROOM);
                break;
            }
            ServerFrame::Message(_) => {}
            other => panic!("{other:?}"),
        }
    }
    // The user whitelist (never shed, never auto-exited) loses bob again.
    area.api
        .ok(
            "/chatroom/user/whitelist/add.json",
            "chatroomId=r1&userId=bob",
        )
        .await;
    area.api
        .ok(
            "/chatroom/user/whitelist/remove.json",
            "chatroomId=r1&userId=bob",
        )
        .await;
    assert_eq!(
        area.api
            .ok("/chatroom/user/whitelist/query.json", "chatroomId=r1")
            .await["users"],
        serde_json::json!([])
    );
    dev.stop();
}

// covers: API-02, MSG-11
#[tokio::test]
async fn strict_replay_is_an_app_setting_that_refuses_reused_nonces() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    let mut headers = area.api.headers();
    headers.push((
        "Content-Type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    let call = |headers: Vec<(String, String)>| {
        let api = Api {
            base: area.api.base.clone(),
            key: area.api.key.clone(),
            secret: area.api.secret.clone(),
        };
        async move {
            api.send("/user/info.json", headers, b"userId=nobody")
                .await
                .1["code"]
                .clone()
        }
    };
    // Compat (the default): the same signed headers work again.
    area.token("nobody").await;
    assert_eq!(call(headers.clone()).await, 200);
    assert_eq!(call(headers.clone()).await, 200);
    let strict = serde_json::json!({"strictReplay": true});
    assert_eq!(put_settings(&dev, &area.api.key, strict).await, 200);
    // The app record is cached for at most a second.
    meridian_testkit::eventually(WAIT, "strict replay in force", || {
        let headers = headers.clone();
        let call = &call;
        async move { (call(headers).await == 1004).then_some(()) }
    })
    .await;
    // Fresh headers still pass.
    assert_eq!(
        area.api.ok("/user/info.json", "userId=nobody").await["code"],
        200
    );
    dev.stop();
}

// covers: MSG-06
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pipelined_send_is_answered_by_its_id_even_past_the_queue() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    // Sends limited by the session's queue, not by the per-second budget.
    let limits = serde_json::json!({"clientSendsPerSecond": 1000});
    let path = format!("/admin/v1/apps/{}/limits", area.api.key);
    assert_eq!(admin_call(&dev, "PUT", &path, limits).await, 200);
    let mut alice = area.connect("alice", "alice-web", "Web", None).await;
    synced(&mut alice).await;
    // Far more than the 32 a session queues, written before any answer is read: each
    // send waits for its commit, so the queue fills.
    const SENDS: usize = 200;
    for i in 0..SENDS {
        alice
            .send(&text(&format!("c{i}"), 1, "bob", "pipelined"))
            .await
            .unwrap();
    }
    let (mut acked, mut refused) = (std::collections::BTreeSet::new(), 0);
    while acked.len() < SENDS {
        match alice.next_within(WAIT).await.expect("an answer") {
            ServerFrame::Ack { client_id, .. } => assert!(acked.insert(client_id)),
            // A refusal past the queue names the send it refuses.
            ServerFrame::Error {
                code: 20604,
                client_id: Some(client_id),
                ..
            } => {
                refused += 1;
                assert!(acked.insert(client_id));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(refused > 0, "the queue was never full");
}

// covers: MSG-01, MSG-02
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_never_gets_its_own_sends_back_when_it_syncs_and_its_other_devices_do() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let area = Area::new(&dev);
    area.token("bob").await;
    let mut phone = area.connect("alice", "alice-phone", "iOS", None).await;
    let cursor = match phone.next_within(WAIT).await.unwrap() {
        ServerFrame::Synced { cursor } => cursor,
        other => panic!("expected synced, got {other:?}"),
    };
    phone
        .send(&text("c1", 1, "bob", r#"{"content":"from the phone"}"#))
        .await
        .unwrap();
    ack(&mut phone, "c1").await;
    drop(phone);
    // The phone comes back from the cursor it had before sending: nothing to sync.
    let mut phone = area
        .connect("alice", "alice-phone", "iOS", Some(cursor))
        .await;
    assert!(synced(&mut phone).await.is_empty());
    // Her tablet, from the same cursor, gets the copy.
    let mut tablet = area
        .connect("alice", "alice-tablet", "Android", Some(cursor))
        .await;
    assert_eq!(
        contents(&synced(&mut tablet).await),
        [r#"{"content":"from the phone"}"#]
    );
}

// covers: GRP-05, MSG-01 (the edge's feed is filtered by its sessions: a member added
// while the group talks, its join in a page filtered without the group, misses nothing)
#[tokio::test]
async fn a_member_added_while_the_group_talks_gets_every_later_message_once_in_order() {
    const GROUPS: usize = 4;
    const TOTAL: usize = 150;
    // The app server's group publishes are limited to 20/s unless turned off.
    let no_limits = ["--api-rate-limits", "false"];
    let dev = DevDeployment::start_with(binary(), "SG", 1, &no_limits).await;
    let area = Area::new(&dev);
    let mut bob = area.connect("bob", "b", "iOS", None).await;
    synced(&mut bob).await;
    let mut resyncs = 0;
    for group in 0..GROUPS {
        let create = format!("userId=alice&groupId=g{group}&groupName=G");
        area.api.ok("/group/create.json", &create).await;
        let publish = |n: usize| {
            let body = format!(
                "fromUserId=alice&toGroupId=g{group}&objectName=RC:TxtMsg&content=%7B%22content%22%3A%22m{n}%22%7D"
            );
            let api = &area.api;
            async move {
                api.ok("/message/group/publish.json", &body).await;
            }
        };
        // 16 publishes in flight all along; bob joins once a third are answered.
        let answered = std::sync::atomic::AtomicUsize::new(0);
        let third = tokio::sync::Notify::new();
        let publishing = futures::stream::iter(0..TOTAL)
            .map(|n| {
                let (answered, third) = (&answered, &third);
                let publish = publish(n);
                async move {
                    publish.await;
                    if answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == TOTAL / 3 {
                        third.notify_one();
                    }
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>();
        let join = async {
            third.notified().await;
            let join = format!("userId=bob&groupId=g{group}");
            area.api.ok("/group/join.json", &join).await;
        };
        tokio::join!(publishing, join);
        let last = TOTAL as u64;
        let mut seqs = Vec::new();
        while seqs.last() != Some(&last) {
            match bob.next_within(WAIT).await.expect("a message") {
                ServerFrame::Message(body) => seqs.push(body.seq),
                // A resync: the page that brought the join was filtered without the group.
                ServerFrame::Synced { .. } => resyncs += 1,
                other => panic!("{other:?}"),
            }
        }
        let first = seqs[0];
        assert!(
            first > 1 && first < last,
            "g{group} joined mid-way: {seqs:?}"
        );
        let expected: Vec<u64> = (first..=last).collect();
        assert_eq!(seqs, expected, "g{group}: a gap, a repeat or a reorder");
    }
    assert!(resyncs <= GROUPS * 2, "{resyncs} resyncs");
    dev.stop();
}
