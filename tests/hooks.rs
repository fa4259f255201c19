//! Callbacks to the app server through real processes: the replicated outbox and the
//! leader's dispatcher (HOOK-01, HOOK-03, HOOK-04, HOOK-05), and moderation at the edge
//! (HOOK-02).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use common::{binary, put_settings, synced, Api};
use meridian_client::{codes, Connection};
use meridian_cluster::admin::generate_credentials;
use meridian_cluster::state::{
    AppSettings, CallbackSettings, ChangePresence, Command, CreateApp, CreateChatrooms,
    Credentials, DeviceStatus, Envelope, JoinChatroom, NewMessage, Publish, QuitChatroom,
    SessionRecord, SetAppSettings,
};
use meridian_cluster::ClusterClient;
use meridian_proto::{ClientFrame, ServerFrame};
use meridian_regions::AreaCode;
use meridian_testkit::{
    eventually, signature, AppServer, ClusterOptions, DevDeployment, ProcessCluster, Received,
    OPERATOR_TOKEN,
};

fn envelope(command: Command) -> Envelope {
    Envelope {
        area: AreaCode::Sg,
        command,
    }
}

/// A running cluster with one app whose callbacks go to `server`.
async fn area(nodes: u64, server: &AppServer, max_attempts: u32) -> (ProcessCluster, Credentials) {
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
        .write_one(envelope(Command::CreateApp(CreateApp {
            name: "hooks".into(),
            dev: generate_credentials(),
            prod: prod.clone(),
        })))
        .await
        .expect("app");
    let settings = AppSettings {
        callbacks: CallbackSettings {
            routing_url: Some(server.url("/route")),
            online_status_url: Some(server.url("/status")),
            chatroom_state_url: Some(server.url("/rooms")),
            max_attempts,
            ..CallbackSettings::default()
        },
        ..AppSettings::default()
    };
    client
        .write_one(envelope(Command::SetAppSettings(SetAppSettings {
            app_key: prod.app_key.clone(),
            settings,
        })))
        .await
        .expect("settings");
    (cluster, prod)
}

async fn publish(client: &ClusterClient, app_key: &str, from: &str, to: &str, content: &str) {
    let message = NewMessage::private_text(from, to, content);
    client
        .write_one(envelope(Command::Publish(Publish {
            app_key: app_key.into(),
            messages: vec![message],
        })))
        .await
        .expect("publish");
}

/// HOOK-05: every callback's query carries `appKey`, `nonce`, `signTimestamp` and
/// `signature` = SHA-1(secret + nonce + signTimestamp).
fn assert_signed(received: &[Received], app: &Credentials) {
    for request in received {
        let q = &request.query;
        assert_eq!(q.get("appKey"), Some(&app.app_key), "{request:?}");
        let expected = signature(&app.app_secret, &q["nonce"], &q["signTimestamp"]);
        assert_eq!(q["signature"], expected, "{request:?}");
    }
}

/// The answered (200) callbacks to `path`.
fn answered<'a>(received: &'a [Received], path: &str) -> Vec<&'a Received> {
    received
        .iter()
        .filter(|r| r.path == path && r.status == 200)
        .collect()
}

const CONVERSATIONS: [(&str, &str); 3] = [("ann", "bob"), ("cat", "dan"), ("eve", "fay")];
const PER_CONVERSATION: usize = 30;

// covers: HOOK-01, HOOK-03, HOOK-04, HOOK-05, CHR-10
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callbacks_pending_when_the_leader_dies_all_arrive_in_order_once_the_app_server_is_back() {
    let server = AppServer::start().await;
    server.set_down(true);
    let (mut cluster, app) = area(3, &server, 16).await;
    let client = cluster.client();

    for i in 0..PER_CONVERSATION {
        for (from, to) in CONVERSATIONS {
            publish(&client, &app.app_key, from, to, &format!("{from}-{i}")).await;
        }
    }
    let record = SessionRecord {
        edge_id: 9,
        session_id: 1,
        platform: "iOS".into(),
        since_ms: 0,
        client_ip: "10.1.2.3:5555".into(),
    };
    for status in [DeviceStatus::Online, DeviceStatus::LoggedOut] {
        client
            .write_one(envelope(Command::Presence(ChangePresence {
                app_key: app.app_key.clone(),
                user_id: "ann".into(),
                record: record.clone(),
                status,
            })))
            .await
            .expect("presence");
    }
    let room = |command| client.write_one(envelope(command));
    room(Command::CreateChatrooms(CreateChatrooms {
        app_key: app.app_key.clone(),
        rooms: vec![("lobby".into(), "Lobby".into())],
    }))
    .await
    .expect("room");
    room(Command::JoinChatroom(JoinChatroom {
        app_key: app.app_key.clone(),
        room_id: "lobby".into(),
        user_id: "bob".into(),
    }))
    .await
    .expect("join");
    room(Command::QuitChatroom(QuitChatroom {
        app_key: app.app_key.clone(),
        room_id: "lobby".into(),
        user_ids: vec!["bob".into()],
    }))
    .await
    .expect("quit");

    // The app server refuses while the leader is trying; then the leader dies.
    server
        .wait_until(Duration::from_secs(20), "a refused callback", |r| {
            r.iter().any(|r| r.status == 503)
        })
        .await;
    let leader = cluster.wait_for_leader(0, Duration::from_secs(5)).await;
    cluster.kill(leader.node_id);
    let successor = cluster
        .wait_for_leader(leader.term, Duration::from_secs(15))
        .await;
    assert_ne!(successor.node_id, leader.node_id);
    server.set_down(false);

    let expected = CONVERSATIONS.len() * PER_CONVERSATION;
    let received = server
        .wait_until(Duration::from_secs(60), "every callback answered", |r| {
            let routed: std::collections::HashSet<&str> = answered(r, "/route")
                .iter()
                .map(|r| r.body.as_str())
                .collect();
            routed.len() >= expected
                && answered(r, "/status").len() >= 2
                && answered(r, "/rooms").len() >= 3
        })
        .await;
    assert_signed(&received, &app);

    // HOOK-01: per conversation, the answered callbacks come in seq order; a repeat is
    // the same message under the same event id.
    let mut by_conversation: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut event_ids: HashMap<String, String> = HashMap::new();
    for request in answered(&received, "/route") {
        let form = request.form();
        assert_eq!(form["channelType"], "PERSON");
        assert_eq!(form["objectName"], "RC:TxtMsg");
        let (from, to) = (form["fromUserId"].clone(), form["toUserId"].clone());
        let seq: u64 = form["seq"].parse().unwrap();
        assert_eq!(form["content"], format!("{from}-{}", seq - 1));
        by_conversation
            .entry(format!("{from}>{to}"))
            .or_default()
            .push(seq);
        let id = request.headers["x-meridian-event-id"].clone();
        let first = event_ids
            .entry(form["msgUID"].clone())
            .or_insert(id.clone());
        assert_eq!(*first, id, "a repeated callback keeps its event id");
    }
    assert_eq!(by_conversation.len(), CONVERSATIONS.len());
    for (conversation, seqs) in &by_conversation {
        assert!(
            seqs.windows(2).all(|w| w[0] <= w[1]),
            "{conversation}: out of order {seqs:?}"
        );
        let mut distinct = seqs.clone();
        distinct.dedup();
        assert_eq!(
            distinct,
            (1..=PER_CONVERSATION as u64).collect::<Vec<_>>(),
            "{conversation}"
        );
    }

    // HOOK-03: online, then logged out, in order, in the commercial format.
    let statuses: Vec<serde_json::Value> = answered(&received, "/status")
        .iter()
        .map(|r| r.json()[0].clone())
        .collect();
    let codes: Vec<&str> = statuses
        .iter()
        .filter_map(|s| s["status"].as_str())
        .collect();
    assert_eq!(dedup(codes), ["0", "2"]);
    assert_eq!(statuses[0]["userid"], "ann");
    assert_eq!(statuses[0]["os"], "iOS");
    assert_eq!(statuses[0]["clientIp"], "10.1.2.3:5555");
    assert_eq!(statuses[0]["sessionId"], "9-1");

    // HOOK-04: created, joined, quit, in order.
    let rooms: Vec<serde_json::Value> = answered(&received, "/rooms")
        .iter()
        .map(|r| r.json()[0].clone())
        .collect();
    let types: Vec<u64> = rooms.iter().filter_map(|r| r["type"].as_u64()).collect();
    assert_eq!(dedup(types), [0, 1, 2]);
    assert_eq!(rooms[1]["chatRoomId"], "lobby");
    assert_eq!(rooms[1]["userIds"], serde_json::json!(["bob"]));
    assert_eq!(rooms[1]["status"], 0);

    // The outbox drains on the new leader.
    eventually(Duration::from_secs(10), "an empty outbox", || async {
        (cluster
            .metric(successor.node_id, "meridian_cluster_callbacks_waiting")
            .await
            == Some(0.0))
        .then_some(())
    })
    .await;
}

fn dedup<T: PartialEq>(mut items: Vec<T>) -> Vec<T> {
    items.dedup();
    items
}

// covers: HOOK-01
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_past_its_retry_cap_is_a_dead_letter_until_the_operator_retries_it() {
    let server = AppServer::start().await;
    server.set_down(true);
    let (cluster, app) = area(1, &server, 2).await;
    publish(&cluster.client(), &app.app_key, "ann", "bob", "hello").await;

    let admin = cluster.spec(1).admin_url();
    let dead_letters_url = format!(
        "{admin}/admin/v1/apps/{}/callbacks/dead-letters",
        app.app_key
    );
    let get = || async {
        let answer = meridian_rpc::http::request(
            "GET",
            &dead_letters_url,
            Some(OPERATOR_TOKEN),
            None,
            Duration::from_secs(5),
        )
        .await
        .expect("dead letters");
        serde_json::from_slice::<serde_json::Value>(&answer.body).expect("json")
    };
    let dead = eventually(Duration::from_secs(20), "a dead letter", || async {
        let answer = get().await;
        (answer["deadLetters"].as_array()?.len() == 1).then_some(answer)
    })
    .await;
    let letter = &dead["deadLetters"][0];
    assert_eq!(letter["kind"], "routing");
    assert_eq!(letter["attempts"], 2);
    assert_eq!(letter["lastError"], "HTTP 503");
    assert_eq!(dead["waiting"], 0);
    // Exactly the two attempts the cap allows, one second of backoff apart.
    let attempts = server.received_at("/route");
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        cluster
            .metric(1, "meridian_cluster_callback_dead_letters_total")
            .await,
        Some(1.0)
    );

    server.set_down(false);
    let retry = meridian_rpc::http::request(
        "POST",
        &format!("{dead_letters_url}/retry"),
        Some(OPERATOR_TOKEN),
        Some(b"{}"),
        Duration::from_secs(5),
    )
    .await
    .expect("retry");
    assert_eq!(retry.status, 200, "{}", retry.text());
    let received = server
        .wait_until(Duration::from_secs(10), "the retried callback", |r| {
            answered(r, "/route").len() == 1
        })
        .await;
    let delivered = answered(&received, "/route")[0];
    assert_eq!(delivered.form()["content"], "hello");
    assert_eq!(
        delivered.headers["x-meridian-event-id"],
        attempts[0].headers["x-meridian-event-id"]
    );
    assert_eq!(get().await["deadLetters"], serde_json::json!([]));
}

const WAIT: Duration = Duration::from_secs(10);

/// `user`'s phone, synced.
async fn connect(dev: &DevDeployment, api: &Api, user: &str) -> Connection {
    let device = format!("{user}-phone");
    let mut connection = common::connect(&dev.ws("SG"), api, user, &device, "iOS", None).await;
    synced(&mut connection).await;
    connection
}

fn text(client_id: &str, content: &str) -> ClientFrame {
    ClientFrame::Send {
        client_id: client_id.into(),
        conversation_type: 1,
        target_id: "dan".into(),
        channel_id: String::new(),
        object_name: "RC:TxtMsg".into(),
        content: content.into(),
        push_content: None,
        push_data: None,
        to_user_ids: Vec::new(),
    }
}

/// Sends one message and answers the ack's seq or the error's code.
async fn send(connection: &mut Connection, client_id: &str, content: &str) -> Result<u64, u32> {
    connection.send(&text(client_id, content)).await.unwrap();
    match connection.next_within(WAIT).await.expect("answer") {
        ServerFrame::Ack { seq, .. } => Ok(seq),
        ServerFrame::Error { code, .. } => Err(code),
        other => panic!("expected an ack or an error, got {other:?}"),
    }
}

// covers: HOOK-02, HOOK-05
#[tokio::test]
async fn the_app_servers_moderation_blocks_rewrites_or_passes_and_receivers_see_exactly_that() {
    let server = AppServer::start().await;
    server.answer("/block", 200, serde_json::json!({"pass": 0}));
    server.answer(
        "/rewrite",
        200,
        serde_json::json!({"pass": 1, "replaceContent": r#"{"content":"***"}"#}),
    );
    server.answer("/slow", 200, serde_json::json!({"pass": 1}));
    server.delay("/slow", Duration::from_millis(1_500));
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    let rule = |user: &str, path: &str| serde_json::json!({"url": server.url(path), "senders": [user], "objectNames": ["RC:TxtMsg"]});
    let mut slow = rule("erin", "/slow");
    slow["timeoutMs"] = 200.into();
    slow["defaultAction"] = "block".into();
    let settings = serde_json::json!({
        "callbacks": {
            "moderation": [rule("alice", "/block"), rule("bob", "/rewrite"), slow],
            "routingUrl": server.url("/route"),
        }
    });
    assert_eq!(put_settings(&dev, &api.key, settings).await, 200);

    let mut dan = connect(&dev, &api, "dan").await;
    let mut alice = connect(&dev, &api, "alice").await;
    let mut bob = connect(&dev, &api, "bob").await;
    let mut carol = connect(&dev, &api, "carol").await;
    let mut erin = connect(&dev, &api, "erin").await;

    // Blocked: the sender hears so and nothing is stored.
    assert_eq!(
        send(&mut alice, "a1", r#"{"content":"spam"}"#).await,
        Err(codes::CONTENT_REFUSED)
    );
    // Rewritten: stored and delivered with the app server's content.
    assert_eq!(send(&mut bob, "b1", r#"{"content":"rude"}"#).await, Ok(1));
    // No rule: untouched, never held.
    assert_eq!(
        send(&mut carol, "c1", r#"{"content":"hello"}"#).await,
        Ok(1)
    );
    // No answer within the rule's 200 ms: its default (block) applies.
    assert_eq!(
        send(&mut erin, "e1", r#"{"content":"late"}"#).await,
        Err(codes::CONTENT_REFUSED)
    );

    let mut seen = Vec::new();
    while seen.len() < 2 {
        match dan.next_within(WAIT).await.expect("dan's messages") {
            ServerFrame::Message(body) => seen.push((body.sender_user_id, body.content)),
            other => panic!("dan: unexpected {other:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            ("bob".to_string(), r#"{"content":"***"}"#.to_string()),
            ("carol".to_string(), r#"{"content":"hello"}"#.to_string()),
        ]
    );
    // Nothing else reaches dan: the blocked messages were never stored.
    dan.send(&ClientFrame::Ping).await.unwrap();
    assert!(matches!(
        dan.next_within(WAIT).await,
        Ok(ServerFrame::Pong { .. })
    ));

    // The app server was asked, with signed, commercial-format requests.
    let asked = server.received();
    let moderation: Vec<&Received> = asked
        .iter()
        .filter(|r| ["/block", "/rewrite"].contains(&r.path.as_str()))
        .collect();
    assert_eq!(moderation.len(), 2);
    let (key, secret) = dev.app("SG", "prod");
    assert_signed(
        &moderation.iter().map(|r| (*r).clone()).collect::<Vec<_>>(),
        &Credentials {
            app_key: key,
            app_secret: secret,
        },
    );
    let form = moderation[0].form();
    assert_eq!(form["fromUserId"], "alice");
    assert_eq!(form["targetId"], "dan");
    assert_eq!(form["msgType"], "RC:TxtMsg");
    assert_eq!(form["channelType"], "PERSON");
    assert_eq!(form["content"], r#"{"content":"spam"}"#);

    // Routing sees exactly what was stored: the rewritten and the untouched message.
    let routed = server
        .wait_until(WAIT, "two routed messages", |r| {
            answered(r, "/route").len() >= 2
        })
        .await;
    let mut routed: Vec<String> = answered(&routed, "/route")
        .iter()
        .map(|r| r.form()["content"].clone())
        .collect();
    routed.sort();
    assert_eq!(routed, [r#"{"content":"***"}"#, r#"{"content":"hello"}"#]);
    dev.stop();
}

// covers: HOOK-06
#[tokio::test]
async fn sensitive_words_set_through_the_server_api_refuse_or_replace_client_text() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    api.ok("/sensitiveword/add.json", "word=spam").await;
    api.ok("/sensitiveword/add.json", "word=darn&replaceWord=****")
        .await;
    let listed = api.ok("/sensitiveword/list.json", "type=0").await;
    assert_eq!(
        listed["words"],
        serde_json::json!([{"type": "0", "word": "darn", "replaceWord": "****"}])
    );
    let mut dan = connect(&dev, &api, "dan").await;
    let mut ann = connect(&dev, &api, "ann").await;
    assert_eq!(
        send(&mut ann, "a1", r#"{"content":"cheap spam"}"#).await,
        Err(codes::CONTENT_REFUSED)
    );
    assert_eq!(send(&mut ann, "a2", r#"{"content":"darn"}"#).await, Ok(1));
    match dan.next_within(WAIT).await.expect("dan's message") {
        ServerFrame::Message(body) => assert_eq!(body.content, r#"{"content":"****"}"#),
        other => panic!("dan: unexpected {other:?}"),
    }
    api.ok("/sensitiveword/batch/delete.json", "words=spam&words=darn")
        .await;
    assert_eq!(send(&mut ann, "a3", r#"{"content":"spam"}"#).await, Ok(2));
    let listed = api.ok("/sensitiveword/list.json", "").await;
    assert_eq!(listed["words"], serde_json::json!([]));
    dev.stop();
}
