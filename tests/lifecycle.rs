//! Data lifecycle through real processes: history retention (LIFE-01) — the leader
//! finds messages past their app's retention and removes them through Raft, so they are
//! gone from every replica's history and nothing newer goes with them —, the erasure of
//! a user with every message it sent (LIFE-02), told to the app server once complete and
//! gone down to the bytes on every node's disk once snapshots and a rewrite of sled have
//! passed it, an app's export (chatrooms, the app-wide
//! chatroom sets and conversation settings too) imported back (LIFE-03), and App Secret
//! rotation (LIFE-04) with its overlap window.

mod common;

use std::time::Duration;

use common::{admin_json, binary, Api, FRAME_WAIT};
use meridian_client::{ConnectOptions, Connection};
use meridian_proto::ServerFrame;
use serde_json::json;

use meridian_cluster::admin::generate_credentials;
use meridian_cluster::config::RaftTuning;
use meridian_cluster::state::{
    AppLimits, Command, Conversation, CreateApp, Envelope, HistoryPage, ImportMessages,
    ImportedMessage, NewMessage, Publish, PutUser, Query, QueryOutput, SetAppLimits,
};
use meridian_cluster::ClusterClient;
use meridian_regions::AreaCode;
use meridian_testkit::{eventually, AppServer, ClusterOptions, DevDeployment, ProcessCluster};

const DAY_MS: u64 = 24 * 3600 * 1000;

async fn write(client: &ClusterClient, command: Command) {
    let envelope = Envelope {
        area: AreaCode::Sg,
        command,
    };
    client.write_one(envelope).await.expect("committed");
}

/// A three-node area of real processes with a leader and one app; its prod App Key.
async fn three_nodes_with_an_app(name: &str) -> (ProcessCluster, ClusterClient, String) {
    three_nodes_with_an_app_as(name, ClusterOptions::default(), |_| {}).await
}

async fn three_nodes_with_an_app_as(
    name: &str,
    options: ClusterOptions,
    configure: impl Fn(&mut meridian_cluster::config::NodeConfig),
) -> (ProcessCluster, ClusterClient, String) {
    let mut cluster = ProcessCluster::new(binary(), options);
    for id in 1..=3 {
        cluster.configure(id, &configure);
    }
    cluster.start_all();
    cluster.wait_for_leader(0, Duration::from_secs(15)).await;
    let client = cluster.client();
    let prod = generate_credentials();
    let app_key = prod.app_key.clone();
    write(
        &client,
        Command::CreateApp(CreateApp {
            name: name.into(),
            dev: generate_credentials(),
            prod,
        }),
    )
    .await;
    (cluster, client, app_key)
}

fn imported(conversation: &Conversation, content: &str, sent_time_ms: u64) -> ImportedMessage {
    ImportedMessage {
        conversation: conversation.clone(),
        sender: conversation.first.clone(),
        object_name: "RC:TxtMsg".into(),
        content: content.into(),
        sent_time_ms,
        msg_uid: None,
    }
}

fn history_of(app_key: &str, conversation: &Conversation) -> Query {
    Query::History {
        app_key: app_key.into(),
        page: HistoryPage {
            conversation: conversation.clone(),
            viewer: None,
            from_ms: 0,
            to_ms: u64::MAX,
            newest_first: false,
            limit: 100,
            members_only: false,
            keyword: None,
            sender: None,
        },
    }
}

// covers: LIFE-01, PRV-04, LIFE-02
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_history_and_an_erased_users_messages_leave_every_replica_and_the_rest_stays() {
    let (cluster, client, app_key) = three_nodes_with_an_app("retention").await;
    // Private history is kept 2 days, groups the default 180.
    let mut limits = AppLimits::default();
    limits.retention_days.private = 2;
    write(
        &client,
        Command::SetAppLimits(SetAppLimits {
            app_key: app_key.clone(),
            limits,
        }),
    )
    .await;

    // Moved-in history: alice and bob spoke 3 days ago (due), alice and carol a day
    // ago (kept); then alice writes to bob now.
    let now = meridian_clock::now_ms();
    let ab = Conversation::private("alice", "bob", "");
    let ac = Conversation::private("alice", "carol", "");
    write(
        &client,
        Command::ImportMessages(ImportMessages {
            app_key: app_key.clone(),
            messages: vec![
                imported(&ab, "three days ago", now - 3 * DAY_MS),
                imported(&ab, "still three days ago", now - 3 * DAY_MS + 1),
                imported(&ac, "yesterday", now - DAY_MS),
            ],
        }),
    )
    .await;
    // And dave, who is then erased with what he sent, speaks with alice.
    let ad = Conversation::private("alice", "dave", "");
    write(
        &client,
        Command::Publish(Publish {
            app_key: app_key.clone(),
            messages: vec![
                NewMessage::private_text("alice", "bob", "now"),
                NewMessage::private_text("dave", "alice", "from dave"),
                NewMessage::private_text("alice", "dave", "to dave"),
                NewMessage::private_text("dave", "alice", "dave again"),
            ],
        }),
    )
    .await;
    erase_with_sent_messages(&cluster, &app_key, "dave").await;

    // Within a few sweeps, every replica's history of alice and bob holds only "now".
    for id in cluster.running_ids() {
        let history = |conversation: Conversation| {
            let (cluster, app_key) = (&cluster, &app_key);
            async move {
                match cluster
                    .local_read(id, history_of(app_key, &conversation))
                    .await
                {
                    Some(QueryOutput::Messages(messages)) => {
                        Some(messages.into_iter().map(|m| m.content).collect::<Vec<_>>())
                    }
                    _ => None,
                }
            }
        };
        eventually(
            Duration::from_secs(30),
            &format!("node {id} without expired history"),
            || async { (history(ab.clone()).await? == ["now"]).then_some(()) },
        )
        .await;
        assert_eq!(history(ac.clone()).await.unwrap(), ["yesterday"]);
        eventually(
            Duration::from_secs(30),
            &format!("node {id} without dave's messages"),
            || async { (history(ad.clone()).await? == ["to dave"]).then_some(()) },
        )
        .await;
    }
    // The sweep went through every message once: dave's erasure is done.
    erasures_finished(&cluster, &app_key).await;
}

/// Erases `user` with every message they sent (LIFE-02).
async fn erase_with_sent_messages(cluster: &ProcessCluster, app_key: &str, user: &str) {
    let erase = json!({"userIds": [user], "sentMessages": true});
    let (status, erased) = cluster
        .admin(
            "POST",
            &format!("/admin/v1/apps/{app_key}/users/erase"),
            Some(erase),
        )
        .await;
    assert_eq!((status, &erased["erased"]), (200, &json!([user])));
}

/// Waits until the leader's sweep has removed every erased user's messages.
async fn erasures_finished(cluster: &ProcessCluster, app_key: &str) {
    let erasing = format!("/admin/v1/apps/{app_key}/users/erasing");
    eventually(Duration::from_secs(30), "the erasure to finish", || async {
        let (_, pending) = cluster.admin("GET", &erasing, None).await;
        (pending["users"] == json!([])).then_some(())
    })
    .await;
}

/// How far a node's disk has come: its snapshot and purge indexes, and the index its
/// last rewrite of sled began at.
async fn disk_progress(cluster: &ProcessCluster, id: u64) -> Option<(u64, u64, u64)> {
    let status = cluster.status(id).await?;
    let compacted_from = cluster
        .metric(id, "meridian_cluster_sled_compacted_from_index")
        .await?;
    Some((
        status.snapshot_index.unwrap_or(0),
        status.purged_index.unwrap_or(0),
        compacted_from as u64,
    ))
}

// covers: LIFE-02
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_user_leaves_no_byte_on_any_node_once_snapshots_and_compactions_pass() {
    // Snapshots every 40 entries, nothing kept behind them, small log chunks and a feed
    // that keeps events for a second: the periods an operator waits out, made short. sled
    // is rewritten after the first snapshot that follows an erasure, as in production.
    const EVERY: u64 = 40;
    let options = ClusterOptions {
        raft: RaftTuning {
            snapshot_every_entries: EVERY,
            logs_kept_after_snapshot: 0,
            ..RaftTuning::default()
        },
        ..ClusterOptions::default()
    };
    let (cluster, client, app_key) = three_nodes_with_an_app_as("erasure", options, |config| {
        config.storage.log_chunk_bytes = 64 * 1024;
        config.storage.feed_max_age_ms = 1_000;
    })
    .await;
    let nonce = &generate_credentials().app_key[..10];
    let gone = format!("gone{nonce}");
    let confession = format!("confession{nonce}");
    write(
        &client,
        Command::PutUser(PutUser {
            app_key: app_key.clone(),
            user_id: gone.clone(),
            name: Some("Gone Person".into()),
            portrait: None,
        }),
    )
    .await;
    for n in 0..3 {
        let content = format!("{confession} {n}");
        write(
            &client,
            Command::Publish(Publish {
                app_key: app_key.clone(),
                messages: vec![NewMessage::private_text(&gone, "alice", &content)],
            }),
        )
        .await;
    }
    // The app server hears of the erasure once it is complete.
    let server = AppServer::start().await;
    let callback = format!("/admin/v1/apps/{app_key}/erasure-callback");
    let url = json!({"url": server.url("/erased")});
    assert_eq!(
        cluster.admin("PUT", &callback, Some(url.clone())).await,
        (200, url.clone())
    );
    assert_eq!(cluster.admin("GET", &callback, None).await, (200, url));
    erase_with_sent_messages(&cluster, &app_key, &gone).await;
    erasures_finished(&cluster, &app_key).await;
    let told = server
        .wait_until(
            Duration::from_secs(15),
            "the erasure callback",
            |received| !received.is_empty(),
        )
        .await;
    assert_eq!(told.len(), 1, "told once, when the erasure was complete");
    let body = told[0].json();
    assert_eq!(
        (&body["event"], &body["userIds"], &body["sentMessages"]),
        (&json!("usersErased"), &json!([gone]), &json!(true)),
        "{body}"
    );
    // The job that told it names the user too: it must be settled before the erasure
    // counts as reached.
    let leader = cluster
        .wait_for_leader(0, Duration::from_secs(5))
        .await
        .node_id;
    eventually(Duration::from_secs(15), "the callback settled", || async {
        let waiting = cluster
            .metric(leader, "meridian_cluster_callbacks_waiting")
            .await?;
        (waiting == 0.0).then_some(())
    })
    .await;
    // The feed events naming them age out of the feed.
    let head = client.feed(0, 1, Duration::ZERO).await.unwrap().head;
    eventually(Duration::from_secs(15), "the feed trimmed", || async {
        let page = client.feed(0, 1, Duration::ZERO).await.ok()?;
        (page.missed && page.events.first().is_none_or(|(pos, _)| *pos > head)).then_some(())
    })
    .await;
    let leader = cluster.wait_for_leader(0, Duration::from_secs(5)).await;
    let erased_at = leader.committed_index.unwrap();

    // Other writes go on until, on every node, two snapshots newer than the erasure
    // exist, the log is purged past them, and a rewrite of sled that began after it has
    // finished (one that began before only mirrored its removals).
    let portrait = format!("https://portraits.example/{}", "p".repeat(600));
    let mut fillers = 0;
    loop {
        for _ in 0..20 {
            fillers += 1;
            write(
                &client,
                Command::PutUser(PutUser {
                    app_key: app_key.clone(),
                    user_id: format!("filler{fillers}"),
                    name: None,
                    portrait: Some(portrait.clone()),
                }),
            )
            .await;
        }
        let mut passed = fillers >= 200;
        for id in cluster.running_ids() {
            let Some((snapshot, purged, compacted_from)) = disk_progress(&cluster, id).await else {
                passed = false;
                continue;
            };
            passed &= snapshot > erased_at + EVERY
                && purged > erased_at + EVERY
                && compacted_from >= erased_at;
        }
        if passed {
            break;
        }
        assert!(fillers < 2_000, "the nodes did not snapshot and compact");
    }

    let mut cluster = cluster;
    let ids = cluster.running_ids();
    cluster.kill_all();
    let roots: Vec<_> = ids.iter().map(|id| cluster.data_dir(*id)).collect();
    // What they wrote and their profile: on no node, in no file (sled keeps no stale
    // copy, the log and the snapshots holding them are gone).
    let traces = [confession.clone(), "Gone Person".to_string()];
    let findings = meridian_cluster::audit::find_text(&roots, &traces).unwrap();
    assert_eq!(findings, [], "traces of the erased user");
    // Their id only where docs/operations.md says: alice's conversation with them, a
    // live record of the state (not in the Raft log).
    let findings = meridian_cluster::audit::find_text(&roots, std::slice::from_ref(&gone)).unwrap();
    assert!(
        findings
            .iter()
            .all(|f| f.file.components().any(|c| c.as_os_str() == "state")),
        "{findings:?}"
    );
    for root in &roots {
        for (key, value) in newest_snapshot_records(root) {
            let names_gone = |bytes: &[u8]| bytes.windows(gone.len()).any(|w| w == gone.as_bytes());
            if !names_gone(&key) && !names_gone(&value) {
                continue;
            }
            let key = String::from_utf8_lossy(&key).into_owned();
            let documented = (key.starts_with("conv/") || key.starts_with("convlist/"))
                && key.contains("/alice/");
            assert!(documented, "{key} names the erased user");
        }
    }
    // The scan itself finds what is there: the other users are.
    let kept = meridian_cluster::audit::find_text(&roots, &["filler1".into()]).unwrap();
    assert!(!kept.is_empty());
}

/// The records of the newest snapshot file in a node's data dir.
fn newest_snapshot_records(node: &std::path::Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(node.join("state").join("snapshots"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "snap"))
        .collect();
    files.sort();
    let bytes = std::fs::read(files.last().expect("a snapshot")).unwrap();
    meridian_cluster::raft::state_machine::parse_snapshot(&bytes)
        .expect("a snapshot file")
        .1
}

/// Whether `token` opens a client session for `user`.
async fn opens_session(ws: &str, app_key: &str, token: &str, user: &str) -> bool {
    let options = ConnectOptions {
        url: ws.to_string(),
        app_key: app_key.to_string(),
        token: token.to_string(),
        device_id: format!("{user}-laptop"),
        platform: "Web".into(),
        cursor: None,
        tls: None,
    };
    let Ok(mut connection) = Connection::connect(&options).await else {
        return false;
    };
    let opened = matches!(
        connection.next_within(FRAME_WAIT).await,
        Ok(ServerFrame::Connected { user_id, .. }) if user_id == user
    );
    connection.close().await;
    opened
}

// covers: LIFE-04
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_stays_valid_for_its_overlap_and_then_only_the_new_one_is() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let ws = dev.ws("SG");
    let old = Api::new(&dev, "SG", "prod");
    let old_token = old.token("alice").await;
    let path = format!("/admin/v1/apps/{}/secret", old.key);

    // Bad input changes nothing: the old secret still signs alone.
    for bad in [
        json!({"overlapSeconds": 31 * 24 * 3600}),
        json!({"newSecret": "short"}),
    ] {
        let (status, answer) = admin_json(&dev, "POST", &path, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {answer}");
    }
    let (status, rotated) = admin_json(&dev, "POST", &path, json!({"overlapSeconds": 4})).await;
    assert_eq!(status, 200, "{rotated}");
    let new = Api {
        secret: rotated["appSecret"].as_str().unwrap().to_string(),
        ..Api::new(&dev, "SG", "prod")
    };
    assert_ne!(new.secret, old.secret);
    let until_ms = rotated["previousValidUntilMs"].as_u64().unwrap();

    // During the overlap both secrets sign (edges see the rotation within a second),
    // and tokens issued before and after it open sessions.
    eventually(
        Duration::from_secs(5),
        "the new secret accepted",
        || async {
            let (answer, _) = new.form("/user/getToken.json", "userId=bob").await;
            (answer.status == 200).then_some(())
        },
    )
    .await;
    let new_token = new.token("bob").await;
    assert!(
        meridian_clock::now_ms() < until_ms,
        "the test ran past the overlap"
    );
    old.ok("/user/getToken.json", "userId=carol").await;
    assert!(opens_session(&ws, &old.key, &old_token, "alice").await);
    assert!(opens_session(&ws, &new.key, &new_token, "bob").await);

    // After it, only the new one: the old secret's signatures and tokens are refused.
    eventually(
        Duration::from_secs(15),
        "the old secret refused",
        || async {
            let (answer, value) = old.form("/user/getToken.json", "userId=carol").await;
            (answer.status == 401 && value["code"] == 1004).then_some(())
        },
    )
    .await;
    assert!(meridian_clock::now_ms() >= until_ms);
    assert!(!opens_session(&ws, &old.key, &old_token, "alice").await);
    assert!(opens_session(&ws, &new.key, &new_token, "bob").await);
    new.ok("/user/getToken.json", "userId=dave").await;
}

async fn cli(args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new(binary())
        .args(args)
        .output()
        .await
        .expect("run meridian");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

// covers: LIFE-03
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_imported_into_an_empty_app_exports_the_same_again() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let source = Api::new(&dev, "SG", "prod");
    source
        .ok(
            "/user/getToken.json",
            "userId=ann&name=Ann&portraitUri=http%3A%2F%2Fp%2Fann.png",
        )
        .await;
    source
        .ok("/user/getToken.json", "userId=ben&name=Ben")
        .await;
    let (_, tagged) = source
        .json(
            "/user/tag/set.json",
            &json!({"userId": "ann", "tags": ["vip", "sg"]}),
        )
        .await;
    assert_eq!(tagged["code"], 200, "{tagged}");
    source
        .ok(
            "/group/create.json",
            "userId=ann&userId=ben&groupId=g1&groupName=Team",
        )
        .await;
    // An ultra group with a private channel, a mute, a whitelist and a push level.
    for (path, form) in [
        (
            "/ultragroup/create.json",
            "userId=ann&groupId=u1&groupName=Guild",
        ),
        ("/ultragroup/join.json", "userId=ben&groupId=u1"),
        // Friends, one with a remark and an extension.
        ("/friend/add.json", "userId=ann&targetId=ben&optType=2"),
        (
            "/friend/profile/set.json",
            "userId=ann&targetId=ben&remarkName=Benny&friendExtProfile=%7B%22ext_tag%22%3A%22work%22%7D",
        ),
        (
            "/ultragroup/channel/create.json",
            "groupId=u1&busChannel=ops&type=1",
        ),
        (
            "/ultragroup/channel/create.json",
            "groupId=u1&busChannel=lobby",
        ),
        (
            "/ultragroup/channel/private/users/add.json",
            "groupId=u1&busChannel=ops&userIds=ann",
        ),
        ("/ultragroup/userbanned/add.json", "groupId=u1&userIds=ben"),
        (
            "/ultragroup/globalbanned/set.json",
            "groupId=u1&status=true",
        ),
        (
            "/ultragroup/banned/whitelist/add.json",
            "groupId=u1&userIds=ann",
        ),
        (
            "/ultragroup/notdisturb/set.json",
            "groupId=u1&busChannel=ops&unpushLevel=1",
        ),
        // A chatroom kept alive and muted, destroyed after 2 idle hours, with two
        // attributes of two owners, one removed when its owner leaves.
        ("/chatroom/create.json", "chatroom%5Br1%5D=Lobby"),
        ("/chatroom/keepalive/add.json", "chatroomId=r1"),
        ("/chatroom/ban/add.json", "chatroomId=r1"),
        (
            "/chatroom/destroy/set.json",
            "chatroomId=r1&destroyType=1&destroyTime=120",
        ),
        (
            "/chatroom/entry/set.json",
            "chatroomId=r1&userId=ann&key=topic&value=launch",
        ),
        (
            "/chatroom/entry/set.json",
            "chatroomId=r1&userId=ben&key=seat&value=3&autoDelete=1",
        ),
        // Its sets: ann gagged for an hour and never dropped, ben speaking while muted.
        (
            "/chatroom/user/gag/add.json",
            "chatroomId=r1&userId=ann&minute=60",
        ),
        ("/chatroom/user/whitelist/add.json", "chatroomId=r1&userId=ann"),
        (
            "/chatroom/user/ban/whitelist/add.json",
            "chatroomId=r1&userId=ben",
        ),
        // The app-wide sets: ben muted in every room for a day, a message type never
        // dropped under load and one dropped first.
        ("/chatroom/user/ban/add.json", "userId=ben&minute=1440"),
        ("/chatroom/whitelist/add.json", "objectnames=RC:ImgMsg"),
        ("/chatroom/message/priority/add.json", "objectName=RC:TxtMsg"),
        // Conversation state: ann pins ben, ben mutes the team, ann hears only mentions
        // in private conversations.
        (
            "/conversation/top/set.json",
            "userId=ann&conversationType=1&targetId=ben&setTop=true",
        ),
        (
            "/conversation/notification/set.json",
            "requestId=ben&conversationType=3&targetId=g1&isMuted=1",
        ),
        (
            "/conversation/type/notification/set.json",
            "requestId=ann&conversationType=1&unpushLevel=1",
        ),
    ] {
        source.ok(path, form).await;
    }
    let (_, published) = source
        .json(
            "/message/ultragroup/publish.json",
            &json!({"fromUserId": "ann", "toGroupIds": ["u1"], "busChannel": "ops",
                    "objectName": "RC:TxtMsg", "content": "{\"content\":\"plan\"}"}),
        )
        .await;
    assert_eq!(published["code"], 200, "{published}");
    for (path, form) in [
        (
            "/message/private/publish.json",
            "fromUserId=ann&toUserId=ben&content=%7B%22content%22%3A%22one%22%7D",
        ),
        (
            "/message/private/publish.json",
            "fromUserId=ben&toUserId=ann&content=%7B%22content%22%3A%22two%22%7D",
        ),
        (
            "/message/group/publish.json",
            "fromUserId=ben&toGroupId=g1&content=%7B%22content%22%3A%22team%22%7D",
        ),
        (
            "/message/system/publish.json",
            "fromUserId=admin&toUserId=ann&content=%7B%22content%22%3A%22notice%22%7D",
        ),
    ] {
        source
            .ok(path, &format!("{form}&objectName=RC%3ATxtMsg"))
            .await;
    }

    let admin = dev.endpoints["areas"]["SG"]["edges"][0]["admin"]
        .as_str()
        .unwrap();
    let token = dev.endpoints["operatorToken"].as_str().unwrap();
    let work = tempfile::tempdir().unwrap();
    let path = |name: &str| work.path().join(name).to_str().unwrap().to_string();
    let export = |app: String, out: String| async move {
        let (ok, text) = cli(&[
            "admin", "export", "--admin", admin, "--token", token, "--app", &app, "--out", &out,
        ])
        .await;
        assert!(ok, "{text}");
        std::fs::read_to_string(&out).unwrap()
    };
    let import = |app: String, file: String| async move {
        cli(&[
            "admin", "import", "--admin", admin, "--token", token, "--app", &app, "--file", &file,
        ])
        .await
    };
    let exported = export(source.key.clone(), path("source.jsonl")).await;
    let kinds: Vec<String> = exported
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["kind"].to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "user",
            "user",
            "group",
            "ultragroup",
            "friend",
            "friend",
            "chatroom",
            "chatroomset",
            "chatroomset",
            "chatroomset",
            "conversation",
            "conversation",
            "conversationtype",
            "message",
            "message",
            "message",
            "message",
            "message"
        ]
        .map(|k| format!("\"{k}\"")),
        "{exported}"
    );
    let guild: serde_json::Value = serde_json::from_str(
        exported
            .lines()
            .find(|l| l.contains(r#""kind":"ultragroup""#))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(guild["members"], json!(["ann", "ben"]));
    let channels = guild["channels"].as_array().unwrap();
    let ids: Vec<&str> = channels
        .iter()
        .map(|c| c["channelId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["", "lobby", "ops"]);
    assert_eq!(
        (
            &channels[0]["mutedUsers"],
            &channels[0]["muteWhitelist"],
            &channels[0]["muted"]
        ),
        (&json!(["ben"]), &json!(["ann"]), &json!(true))
    );
    assert_eq!(
        (
            &channels[2]["private"],
            &channels[2]["privateUsers"],
            &channels[2]["pushLevel"]
        ),
        (&json!(true), &json!(["ann"]), &json!(1))
    );
    assert!(
        exported.contains(r#""portraitUri":"http://p/ann.png","tags":["vip","sg"]"#),
        "{exported}"
    );
    assert!(
        exported.contains(r#""userId":"ann","friendId":"ben","remarkName":"Benny""#),
        "{exported}"
    );
    let mut lobby: serde_json::Value = serde_json::from_str(
        exported
            .lines()
            .find(|l| l.contains(r#""kind":"chatroom""#))
            .unwrap(),
    )
    .unwrap();
    let sets = lobby["sets"].take();
    let gag_ends = sets[0]["untilMs"].as_u64().expect("the gag's end");
    let in_an_hour = meridian_clock::now_ms() + 3_600_000;
    assert!(
        (in_an_hour - 120_000..=in_an_hour).contains(&gag_ends),
        "{sets}"
    );
    assert_eq!(
        sets,
        json!([
            {"set": "gagged", "userId": "ann", "untilMs": gag_ends},
            {"set": "userWhitelist", "userId": "ann", "untilMs": 0},
            {"set": "muteWhitelist", "userId": "ben", "untilMs": 0},
        ])
    );
    lobby.as_object_mut().unwrap().remove("sets");
    let conversations: Vec<serde_json::Value> = exported
        .lines()
        .filter(|l| l.contains(r#""kind":"conversation"#))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        conversations,
        [
            json!({"kind": "conversation", "userId": "ann", "conversationType": 1, "targetId": "ben",
                   "channelId": "", "muted": false, "pinned": true}),
            json!({"kind": "conversation", "userId": "ben", "conversationType": 3, "targetId": "g1",
                   "channelId": "", "muted": true, "pinned": false}),
            json!({"kind": "conversationtype", "userId": "ann", "conversationType": 1, "unpushLevel": 1}),
        ]
    );
    let app_sets: Vec<serde_json::Value> = exported
        .lines()
        .filter(|l| l.contains(r#""kind":"chatroomset""#))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mute_ends = app_sets[0]["untilMs"].as_u64().expect("the mute's end");
    let in_a_day = meridian_clock::now_ms() + 86_400_000;
    assert!(
        (in_a_day - 120_000..=in_a_day).contains(&mute_ends),
        "{app_sets:?}"
    );
    assert_eq!(
        app_sets,
        [
            json!({"kind": "chatroomset", "set": "appMuted", "member": "ben", "untilMs": mute_ends}),
            json!({"kind": "chatroomset", "set": "lowPriority", "member": "RC:TxtMsg", "untilMs": 0}),
            json!({"kind": "chatroomset", "set": "messageWhitelist", "member": "RC:ImgMsg", "untilMs": 0}),
        ]
    );
    assert_eq!(
        lobby,
        json!({"kind": "chatroom", "roomId": "r1", "name": "Lobby", "muted": true,
        "distributionStopped": false, "keepAlive": true, "idleDestroyMs": 7_200_000,
        "entries": [
            {"key": "seat", "value": "3", "owner": "ben", "autoDelete": true},
            {"key": "topic", "value": "launch", "owner": "ann", "autoDelete": false},
        ]})
    );

    // A new app takes it back and exports the same lines.
    let (status, created) =
        admin_json(&dev, "POST", "/admin/v1/apps", json!({"name": "moved"})).await;
    assert_eq!(status, 200, "{created}");
    let target = created["app"]["prod"]["appKey"]
        .as_str()
        .unwrap()
        .to_string();
    let (ok, text) = import(target.clone(), path("source.jsonl")).await;
    assert!(ok, "{text}");
    assert!(text.contains(r#""messages":5"#), "{text}");
    assert!(text.contains(r#""ultraGroups":1"#), "{text}");
    assert!(text.contains(r#""friends":2"#), "{text}");
    assert!(text.contains(r#""chatrooms":1"#), "{text}");
    assert!(text.contains(r#""chatroomSets":3"#), "{text}");
    assert!(text.contains(r#""conversations":3"#), "{text}");
    assert_eq!(export(target.clone(), path("target.jsonl")).await, exported);

    // A damaged line refuses the whole file: nothing of it is imported.
    let (_, other) = admin_json(&dev, "POST", "/admin/v1/apps", json!({"name": "other"})).await;
    let other = other["app"]["prod"]["appKey"].as_str().unwrap().to_string();
    let first_line = exported.lines().next().unwrap();
    std::fs::write(
        path("damaged.jsonl"),
        format!("{first_line}\n{{\"kind\":\"user\"\n"),
    )
    .unwrap();
    let (ok, text) = import(other.clone(), path("damaged.jsonl")).await;
    assert!(!ok && text.contains("line 2"), "{text}");
    assert_eq!(export(other, path("other.jsonl")).await, "");
    dev.stop();
}

// covers: LIFE-05, CHR-09
/// A rolling upgrade: while one voter runs a build of an older command level, the leader
/// refuses the commands that build could not apply (and everything else goes on), and
/// a behaviour change inside an older command (a leaving member's auto-delete room
/// attributes go) waits too; once that node runs the new build, both come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_newer_than_a_voters_build_wait_for_the_rolling_upgrade() {
    use meridian_cluster::client::ClusterError;
    use meridian_cluster::state::usage::{hour_start, Category, RecordUsage, ReportedCount};
    use meridian_cluster::state::{
        CommandError, CreateChatrooms, JoinChatroom, QuitChatroom, SetRoomEntries, COMMAND_LEVEL,
        LEGACY_COMMAND_LEVEL,
    };

    // Node 3 stands in for a node still on the older build, from the area's start.
    let mut cluster = ProcessCluster::new(binary(), ClusterOptions::default());
    cluster.set_command_level(3, Some(LEGACY_COMMAND_LEVEL));
    cluster.start_all();
    cluster.wait_for_leader(0, Duration::from_secs(15)).await;
    let client = cluster.client();
    let prod = generate_credentials();
    let app_key = prod.app_key.clone();
    let app = CreateApp {
        name: "upgrade".into(),
        dev: generate_credentials(),
        prod,
    };
    write(&client, Command::CreateApp(app)).await;
    let usage = || Envelope {
        area: AreaCode::Sg,
        command: Command::RecordUsage(RecordUsage {
            app_key: app_key.clone(),
            counts: vec![ReportedCount {
                hour_start_ms: hour_start(meridian_clock::now_ms()),
                category: Category::Api,
                name: "/user/getToken.json ok".into(),
                count: 1,
            }],
        }),
    };
    let wait = Duration::from_secs(20);
    let refused = eventually(wait, "the leader heard of the older build", || async {
        match client.write_one(usage()).await {
            Err(ClusterError::Refused(CommandError::Upgrading { needed, area })) => {
                Some((needed, area))
            }
            _ => None,
        }
    })
    .await;
    assert_eq!(refused, (usage().command.level(), LEGACY_COMMAND_LEVEL));
    assert!(usage().command.level() <= COMMAND_LEVEL);
    // What every build knows goes on meanwhile.
    let user = Command::PutUser(meridian_cluster::state::PutUser {
        app_key: app_key.clone(),
        user_id: "ann".into(),
        name: None,
        portrait: None,
    });
    write(&client, user).await;

    // ann joins a room, sets an auto-delete attribute and leaves: every build would
    // keep it, so it stays.
    let rooms = vec![("stage".to_string(), "Stage".to_string())];
    let created = CreateChatrooms {
        app_key: app_key.clone(),
        rooms,
    };
    write(&client, Command::CreateChatrooms(created)).await;
    let visit = || async {
        let (app_key, room_id, user) = (app_key.clone(), "stage".to_string(), "ann");
        let join = JoinChatroom {
            app_key: app_key.clone(),
            room_id: room_id.clone(),
            user_id: user.into(),
        };
        write(&client, Command::JoinChatroom(join)).await;
        let seat = SetRoomEntries {
            app_key: app_key.clone(),
            room_id: room_id.clone(),
            owner: user.into(),
            entries: vec![("seat".into(), "1".into())],
            auto_delete: true,
        };
        write(&client, Command::SetRoomEntries(seat)).await;
        let quit = QuitChatroom {
            app_key: app_key.clone(),
            room_id: room_id.clone(),
            user_ids: vec![user.into()],
        };
        write(&client, Command::QuitChatroom(quit)).await;
        let kept = Query::RoomEntries {
            app_key,
            room_id,
            keys: Vec::new(),
        };
        match client.read(kept).await.expect("entries") {
            QueryOutput::RoomEntries(entries) => entries.len(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(visit().await, 1, "kept while a voter has the older build");

    // Node 3 runs the new build now.
    cluster.kill(3);
    cluster.set_command_level(3, None);
    cluster.start(3);
    eventually(wait, "the upgraded area takes the command", || async {
        client.write_one(usage()).await.ok()
    })
    .await;
    eventually(
        wait,
        "a leaving member's auto-delete attribute goes",
        || async { (visit().await == 0).then_some(()) },
    )
    .await;
    cluster.kill_all();
}
