//! A cluster of real `meridian cluster run` processes on loopback: leader failover under a
//! write load, full restarts, snapshot catch-up, membership changes, mutual TLS, and a
//! backup taken under writes restored into a new area, and concurrent sends kept in time
//! order.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_cluster::admin::generate_credentials;
use meridian_cluster::api::StateDigest;
use meridian_cluster::backup::Manifest;
use meridian_cluster::config::RaftTuning;
use meridian_cluster::state::{
    Command, Conversation, CreateApp, Envelope, HistoryPage, NewMessage, Output, Publish, PutUser,
    Query, QueryOutput,
};
use meridian_cluster::ClusterClient;
use meridian_regions::AreaCode;
use meridian_testkit::{
    eventually, ClusterOptions, Moto, ProcessCluster, SmallDisk, OPERATOR_TOKEN,
};
use tokio::time::Instant;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_meridian"))
}

async fn create_app(client: &ClusterClient) -> String {
    let prod = generate_credentials();
    let output = client
        .write_one(Envelope {
            area: AreaCode::Sg,
            command: Command::CreateApp(CreateApp {
                name: "test".into(),
                dev: generate_credentials(),
                prod: prod.clone(),
            }),
        })
        .await
        .expect("create app");
    assert!(matches!(output, Output::App(_)));
    prod.app_key
}

fn put_user(app_key: &str, user_id: String) -> Envelope {
    Envelope {
        area: AreaCode::Sg,
        command: Command::PutUser(PutUser {
            app_key: app_key.to_string(),
            user_id,
            name: Some("n".into()),
            portrait: None,
        }),
    }
}

/// Every user in `acked` is in node `id`'s own state.
async fn assert_all_present(cluster: &ProcessCluster, id: u64, app_key: &str, acked: &[String]) {
    for user_id in acked {
        let found = cluster
            .local_read(
                id,
                Query::GetUser {
                    app_key: app_key.to_string(),
                    user_id: user_id.clone(),
                },
            )
            .await;
        assert!(
            matches!(found, Some(QueryOutput::User(ref u)) if &u.user_id == user_id),
            "node {id} lost acknowledged write {user_id}"
        );
    }
}

/// Waits until every running node has applied what the leader has.
async fn converge(cluster: &ProcessCluster, client: &ClusterClient) {
    // A linearizable read makes the leader apply everything committed before it answers.
    client.read(Query::Counts).await.expect("linearizable read");
    let mut target = 0;
    for id in cluster.running_ids() {
        let applied = cluster.status(id).await.and_then(|s| s.applied_index);
        target = target.max(applied.unwrap_or(0));
    }
    for id in cluster.running_ids() {
        cluster
            .wait_for_applied(id, target, Duration::from_secs(30))
            .await;
    }
}

/// Every node's state digest at one applied index. The nodes are read one after another,
/// and a leader's own periodic write (a presence sweep) may land between two reads: read
/// again until all answer at one index.
async fn digests(cluster: &ProcessCluster, client: &ClusterClient) -> Vec<StateDigest> {
    let mut digests = Vec::new();
    for _ in 0..20 {
        converge(cluster, client).await;
        digests.clear();
        for node in &cluster.nodes {
            let digest = client.state_digest_of(&node.rpc_addr()).await;
            digests.push(digest.expect("digest"));
        }
        if digests
            .iter()
            .all(|d| d.applied_index == digests[0].applied_index)
        {
            break;
        }
    }
    digests
}

/// Writes users one after another in the background, recording each acknowledged one.
struct UserWriter {
    acked: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl UserWriter {
    fn start(client: Arc<ClusterClient>, app_key: String) -> Self {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let task = tokio::spawn({
            let (acked, stop) = (acked.clone(), stop.clone());
            async move {
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let user_id = format!("u{i}");
                    i += 1;
                    if client
                        .write_one(put_user(&app_key, user_id.clone()))
                        .await
                        .is_ok()
                    {
                        acked.lock().unwrap().push(user_id);
                    }
                }
            }
        });
        Self { acked, stop, task }
    }

    fn acked(&self) -> Vec<String> {
        self.acked.lock().unwrap().clone()
    }

    /// Waits until `count` writes in all were acknowledged.
    async fn wait_for(&self, count: usize) {
        eventually(
            Duration::from_secs(30),
            &format!("{count} acknowledged writes"),
            || async { (self.acked.lock().unwrap().len() >= count).then_some(()) },
        )
        .await;
    }

    /// Stops writing; answers every acknowledged write.
    async fn stop(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let acked = self.acked.clone();
        self.task.await.unwrap();
        let acked = acked.lock().unwrap().clone();
        acked
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_killed_under_writes_loses_no_acknowledged_write_and_restart_keeps_state() {
    let mut cluster = ProcessCluster::new(binary(), ClusterOptions::default());
    cluster.start_all();
    let first = cluster.wait_for_leader(0, Duration::from_secs(15)).await;
    let client = Arc::new(cluster.client());
    let app_key = create_app(&client).await;

    // One writer, sequential writes; every acknowledged id is recorded.
    let writer = UserWriter::start(client.clone(), app_key.clone());
    writer.wait_for(200).await;

    let killed_at = Instant::now();
    cluster.kill(first.node_id);
    let second = cluster
        .wait_for_leader(first.term, Duration::from_secs(10))
        .await;
    let election = killed_at.elapsed();
    assert_ne!(second.node_id, first.node_id);
    assert!(
        election <= Duration::from_secs(2),
        "new leader after {election:?}"
    );

    writer.wait_for(writer.acked().len() + 200).await;
    let acked = writer.stop().await;

    cluster.start(first.node_id);
    converge(&cluster, &client).await;
    for id in [1, 2, 3] {
        assert_all_present(&cluster, id, &app_key, &acked).await;
    }

    // Every node killed at once, then restarted: all state is still there.
    cluster.kill_all();
    cluster.start_all();
    cluster.wait_for_leader(0, Duration::from_secs(15)).await;
    converge(&cluster, &client).await;
    for id in [1, 2, 3] {
        assert_all_present(&cluster, id, &app_key, &acked).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_stopped_for_10000_writes_catches_up_through_a_snapshot() {
    let mut cluster = ProcessCluster::new(
        binary(),
        ClusterOptions {
            raft: RaftTuning {
                snapshot_every_entries: 500,
                logs_kept_after_snapshot: 50,
                ..RaftTuning::default()
            },
            ..ClusterOptions::default()
        },
    );
    cluster.start_all();
    let leader = cluster.wait_for_leader(0, Duration::from_secs(15)).await;
    let client = Arc::new(cluster.client());
    let app_key = create_app(&client).await;
    let follower = [1, 2, 3]
        .into_iter()
        .find(|&id| id != leader.node_id)
        .unwrap();
    cluster.kill(follower);

    // 10,000 writes from 50 concurrent writers.
    let mut writers = Vec::new();
    for w in 0..50 {
        let (client, app_key) = (client.clone(), app_key.clone());
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..200 {
                let user_id = format!("w{w}-{i}");
                client
                    .write_one(put_user(&app_key, user_id.clone()))
                    .await
                    .expect("write");
                ids.push(user_id);
            }
            ids
        }));
    }
    let mut acked = Vec::new();
    for writer in writers {
        acked.extend(writer.await.unwrap());
    }
    assert_eq!(acked.len(), 10_000);

    // The leader has snapshotted and purged the log past anything the follower has.
    let status = eventually(
        Duration::from_secs(30),
        "the leader to purge its log",
        || async {
            cluster
                .status(leader.node_id)
                .await
                .filter(|s| s.purged_index.unwrap_or(0) > 1000)
        },
    )
    .await;
    assert!(status.snapshot_index.unwrap_or(0) >= status.purged_index.unwrap_or(0));

    cluster.start(follower);
    converge(&cluster, &client).await;
    let installed = cluster
        .metric(follower, "meridian_cluster_snapshots_installed_total")
        .await
        .expect("metric");
    assert!(installed >= 1.0, "follower installed {installed} snapshots");
    assert_all_present(&cluster, follower, &app_key, &acked).await;
    match cluster.local_read(follower, Query::Counts).await {
        Some(QueryOutput::Counts { apps, users }) => {
            assert_eq!((apps, users), (1, 10_000));
        }
        other => panic!("unexpected {other:?}"),
    }

    // The state installed from a snapshot is the state the others built entry by entry.
    let before = digests(&cluster, &client).await;
    assert!(before.iter().all(|d| d == &before[0]), "{before:?}");
    assert!(before[0].records > 10_000, "{before:?}");
    client
        .write_one(put_user(&app_key, "one-more".into()))
        .await
        .expect("write");
    let after = digests(&cluster, &client).await;
    assert!(after.iter().all(|d| d == &after[0]), "{after:?}");
    assert_ne!(after[0].sha256, before[0].sha256);

    // The leader shows what each member holds; stopped, the replicas compare record by
    // record alike (a clean stop writes each state out; after SIGKILL a state may lag its
    // log, which a restart replays).
    let leader_id = cluster
        .wait_for_leader(0, Duration::from_secs(15))
        .await
        .node_id;
    let matched = eventually(Duration::from_secs(10), "every member matched", || async {
        let status = cluster.status(leader_id).await?;
        let last = status.last_log_index?;
        let all = status.matched.len() == 3 && status.matched.values().all(|m| *m == Some(last));
        all.then_some(status.matched)
    })
    .await;
    assert!(matched.keys().eq([1, 2, 3].iter()), "{matched:?}");
    for id in [1, 2, 3] {
        assert!(cluster.stop(id).is_some_and(|exit| exit.success()));
    }
    let mut args = vec!["cluster".to_string(), "compare".into()];
    args.extend([1, 2, 3].map(|id| cluster.data_dir(id).display().to_string()));
    let (same, out) = cli(&args).await;
    assert!(
        same && out.contains("the replicas hold the same records"),
        "{out}"
    );
}

async fn cli<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (bool, String) {
    cli_with_env(args, &[]).await
}

async fn cli_with_env<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    env: &[(&str, String)],
) -> (bool, String) {
    let output = tokio::process::Command::new(binary())
        .args(args)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .output()
        .await
        .expect("run meridian");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_join_and_leave_through_the_cli_over_mutual_tls() {
    let mut cluster = ProcessCluster::new(
        binary(),
        ClusterOptions {
            nodes: 4,
            tls: true,
            ..ClusterOptions::default()
        },
    );
    // Nodes 1-3 form the cluster; node 4 is listed in the configs but started later and
    // added through the admin API, like a replacement machine.
    for id in [1, 2, 3] {
        cluster.start(id);
    }
    let leader = cluster.wait_for_leader(0, Duration::from_secs(15)).await;
    let client = cluster.client();
    let app_key = create_app(&client).await;
    cluster.start(4);

    let admin = cluster.spec(leader.node_id).admin_url();
    let (ok, out) = cli(&[
        "cluster",
        "status",
        "--admin",
        &admin,
        "--token",
        OPERATOR_TOKEN,
    ])
    .await;
    assert!(ok, "{out}");
    assert!(
        out.contains("\"voters\":[1,2,3,4]") || out.contains("\"voters\":[1,2,3]"),
        "{out}"
    );

    let (ok, out) = cli(&[
        "cluster",
        "leave",
        "--admin",
        &admin,
        "--token",
        OPERATOR_TOKEN,
        "--id",
        "4",
    ])
    .await;
    assert!(ok, "{out}");
    let status = cluster.status(leader.node_id).await.unwrap();
    assert_eq!(status.voters, vec![1, 2, 3]);

    let addr = cluster.spec(4).rpc_addr();
    let (ok, out) = cli(&[
        "cluster",
        "join",
        "--admin",
        &admin,
        "--token",
        OPERATOR_TOKEN,
        "--id",
        "4",
        "--addr",
        &addr,
    ])
    .await;
    assert!(ok, "{out}");
    let status = cluster.status(leader.node_id).await.unwrap();
    assert_eq!(status.voters, vec![1, 2, 3, 4]);
    // The joined node has the state written before it joined.
    converge(&cluster, &client).await;
    assert!(matches!(
        cluster
            .local_read(
                4,
                Query::GetApp {
                    app_key: app_key.clone()
                }
            )
            .await,
        Some(QueryOutput::App(..))
    ));

    // A wrong token is refused.
    let (ok, out) = cli(&[
        "cluster",
        "status",
        "--admin",
        &admin,
        "--token",
        "wrong-token-000000",
    ])
    .await;
    assert!(!ok && out.contains("401"), "{out}");

    // A node without the cluster's certificates cannot take part.
    let plain = ClusterClient::with_policy(
        AreaCode::Sg,
        vec![cluster.spec(1).rpc_addr()],
        None,
        meridian_cluster::RetryPolicy {
            deadline: Duration::from_millis(300),
            ..Default::default()
        },
    );
    assert!(plain.read(Query::Counts).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_majority_writes_fail_with_a_clear_no_leader_error_and_nothing_is_applied() {
    let mut cluster = ProcessCluster::new(binary(), ClusterOptions::default());
    cluster.start_all();
    let leader = cluster.wait_for_leader(0, Duration::from_secs(15)).await;
    let client = cluster.client();
    let app_key = create_app(&client).await;
    let survivor = [1, 2, 3]
        .into_iter()
        .find(|&id| id != leader.node_id)
        .unwrap();
    for id in [1, 2, 3] {
        if id != survivor {
            cluster.kill(id);
        }
    }
    let lonely = ClusterClient::with_policy(
        AreaCode::Sg,
        vec![cluster.spec(survivor).rpc_addr()],
        None,
        meridian_cluster::RetryPolicy {
            deadline: Duration::from_secs(3),
            ..Default::default()
        },
    );
    let error = lonely
        .write_one(put_user(&app_key, "never".into()))
        .await
        .expect_err("no majority, no write");
    let message = error.to_string();
    assert!(
        matches!(
            error,
            meridian_cluster::ClusterError::NoLeader {
                area: AreaCode::Sg,
                ..
            }
        ),
        "{message}"
    );
    assert!(message.contains("area SG has no leader"), "{message}");

    // Once the majority is back, the refused write is nowhere.
    for id in [1, 2, 3] {
        if id != survivor {
            cluster.start(id);
        }
    }
    cluster.wait_for_leader(0, Duration::from_secs(15)).await;
    converge(&cluster, &client).await;
    for id in [1, 2, 3] {
        let found = cluster
            .local_read(
                id,
                Query::GetUser {
                    app_key: app_key.clone(),
                    user_id: "never".into(),
                },
            )
            .await;
        assert!(
            found.is_none(),
            "node {id} applied a write that was refused"
        );
    }
}

// covers: LIFE-06
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_writes_restores_into_a_new_area_with_every_acknowledged_write() {
    let mut source = ProcessCluster::new(binary(), ClusterOptions::default());
    source.start_all();
    let leader = source.wait_for_leader(0, Duration::from_secs(15)).await;
    let client = Arc::new(source.client());
    let app_key = create_app(&client).await;
    let writer = UserWriter::start(client.clone(), app_key.clone());
    writer.wait_for(300).await;

    // Asked of a follower, taken by the leader, while the writer goes on.
    let acked_before = writer.acked();
    let follower = [1, 2, 3]
        .into_iter()
        .find(|&id| id != leader.node_id)
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let backup_dir = work.path().join("backup");
    let backup_args = |admin: String, out: &str| {
        let args = [
            "admin",
            "backup",
            "--admin",
            &admin,
            "--token",
            OPERATOR_TOKEN,
            "--out",
            out,
        ];
        args.map(String::from)
    };
    let dir = backup_dir.to_str().unwrap();
    let (ok, out) = cli(&backup_args(source.spec(follower).admin_url(), dir)).await;
    assert!(ok, "{out}");
    let manifest: Manifest = serde_json::from_str(out.lines().last().unwrap()).expect(&out);
    assert_eq!(manifest.area, AreaCode::Sg);
    assert!(manifest.records > 300, "{manifest:?}");
    // The snapshot it took tells the leader's /stats where the state goes, by family.
    let stats_url = format!("{}/stats", source.spec(leader.node_id).admin_url());
    let stats = meridian_rpc::http::request("GET", &stats_url, None, None, Duration::from_secs(5))
        .await
        .expect("stats");
    let stats: serde_json::Value = serde_json::from_slice(&stats.body).expect("stats json");
    let users = stats["stateFamilies"]
        .as_array()
        .expect("stateFamilies")
        .iter()
        .find(|family| family["family"] == "user")
        .unwrap_or_else(|| panic!("no user family in {stats}"));
    assert!(
        users["records"].as_u64().unwrap() >= acked_before.len() as u64,
        "{users}"
    );
    assert!(
        users["bytes"].as_u64().unwrap() > users["records"].as_u64().unwrap() * 20,
        "{users}"
    );
    // Writes went on meanwhile.
    writer.wait_for(acked_before.len() + 100).await;
    writer.stop().await;
    // A directory holding a backup is not overwritten.
    let (ok, out) = cli(&backup_args(source.spec(leader.node_id).admin_url(), dir)).await;
    assert!(!ok && out.contains("already holds a backup"), "{out}");
    // Nor is a bucket's (moto's S3 here, reached as the AWS tools reach one).
    let moto = Moto::start();
    moto.bucket("meridian-backups").await;
    let s3 = [
        ("AWS_ENDPOINT", moto.endpoint()),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
    ];
    let in_bucket = "s3://meridian-backups/sg/nightly";
    let to_bucket = backup_args(source.spec(leader.node_id).admin_url(), in_bucket);
    let (ok, out) = cli_with_env(&to_bucket, &s3).await;
    assert!(ok, "{out}");
    let in_s3: Manifest = serde_json::from_str(out.lines().last().unwrap()).expect(&out);
    assert!(in_s3.records >= manifest.records, "{in_s3:?}");
    let (ok, out) = cli_with_env(&to_bucket, &s3).await;
    assert!(!ok && out.contains("already holds a backup"), "{out}");
    source.kill_all();

    // A new area: its first node gets the backup, the others start empty.
    let mut target = ProcessCluster::new(binary(), ClusterOptions::default());
    let restore = |id: u64, from: &str| {
        let config = target.spec(id).config_path.to_str().unwrap().to_string();
        ["cluster", "restore", "--config", &config, "--from", from].map(String::from)
    };
    let (ok, out) = cli(&restore(2, dir)).await;
    assert!(!ok && out.contains("restore onto node 1"), "{out}");
    let damaged = work.path().join("damaged");
    std::fs::create_dir(&damaged).unwrap();
    for file in ["backup.json", "state.snap"] {
        std::fs::copy(backup_dir.join(file), damaged.join(file)).unwrap();
    }
    let mut bytes = std::fs::read(damaged.join("state.snap")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(damaged.join("state.snap"), bytes).unwrap();
    let (ok, out) = cli(&restore(1, damaged.to_str().unwrap())).await;
    assert!(!ok && out.contains("does not match its manifest"), "{out}");
    // Restored from the bucket: the later backup, through the same checks.
    let (ok, out) = cli_with_env(&restore(1, in_bucket), &s3).await;
    assert!(ok, "{out}");
    let (ok, out) = cli(&restore(1, dir)).await;
    assert!(!ok && out.contains("restore into a new node"), "{out}");

    target.start_all();
    target.wait_for_leader(0, Duration::from_secs(15)).await;
    let restored = Arc::new(target.client());
    let agreed = digests(&target, &restored).await;
    assert!(agreed.iter().all(|d| d == &agreed[0]), "{agreed:?}");
    for id in [1, 2, 3] {
        assert_all_present(&target, id, &app_key, &acked_before).await;
    }
    // The restored area goes on from there: new writes on every node.
    restored
        .write_one(put_user(&app_key, "after-restore".into()))
        .await
        .expect("write after the restore");
    converge(&target, &restored).await;
    for id in [1, 2, 3] {
        assert_all_present(&target, id, &app_key, &["after-restore".to_string()]).await;
    }
}

/// Concurrent sends to one conversation become several Raft entries in flight at once.
/// Each message's time is its entry's stamp, so a conversation's history is in time
/// order only if entries reach the log in stamp order; paging by time, as clients do,
/// then finds every message exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sends_are_stored_in_time_order_and_paging_by_time_finds_each_once() {
    const WRITERS: usize = 48;
    const EACH: usize = 150;
    let mut cluster = ProcessCluster::new(binary(), ClusterOptions::default());
    cluster.start_all();
    cluster.wait_for_leader(0, Duration::from_secs(15)).await;
    let client = Arc::new(cluster.client());
    let app_key = create_app(&client).await;
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (client, app_key) = (client.clone(), app_key.clone());
        writers.push(tokio::spawn(async move {
            for n in 0..EACH {
                let content = format!("{writer}-{n}");
                let publish = Command::Publish(Publish {
                    app_key: app_key.clone(),
                    messages: vec![NewMessage::private_text("alice", "bob", &content)],
                });
                let envelope = Envelope {
                    area: AreaCode::Sg,
                    command: publish,
                };
                client.write_one(envelope).await.expect("committed");
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }

    // Oldest first, each page from the newest time of the one before; what that
    // millisecond already gave is skipped by seq, as a client pages.
    let conversation = Conversation::private("alice", "bob", "");
    let (mut from_ms, mut last_seq, mut stored) = (0, 0, Vec::new());
    loop {
        let query = Query::History {
            app_key: app_key.clone(),
            page: HistoryPage {
                conversation: conversation.clone(),
                viewer: None,
                from_ms,
                to_ms: u64::MAX,
                newest_first: false,
                limit: 100,
                members_only: false,
                keyword: None,
                sender: None,
            },
        };
        let Ok(QueryOutput::Messages(page)) = client.read(query).await else {
            panic!("history read failed");
        };
        let before = last_seq;
        for message in page.iter().filter(|m| m.seq > before) {
            stored.push(message.clone());
            (from_ms, last_seq) = (message.sent_time_ms, message.seq);
        }
        if page.len() < 100 {
            break;
        }
        assert!(last_seq > before, "a page of one millisecond");
    }
    let in_time_order = stored
        .windows(2)
        .all(|pair| pair[0].sent_time_ms <= pair[1].sent_time_ms);
    assert!(in_time_order, "a later seq with an earlier time");
    let mut contents: Vec<String> = stored.iter().map(|m| m.content.clone()).collect();
    contents.sort();
    contents.dedup();
    assert_eq!(
        contents.len(),
        WRITERS * EACH,
        "paging by time missed messages"
    );
    assert_eq!(stored.len(), WRITERS * EACH);
}

/// Writes `count` users named `{prefix}{i}`, each acknowledged (a handover in between is
/// waited out by the client).
async fn write_users(
    client: &ClusterClient,
    app_key: &str,
    prefix: &str,
    count: usize,
) -> Vec<String> {
    let mut acked = Vec::new();
    for i in 0..count {
        let user_id = format!("{prefix}{i}");
        client
            .write_one(put_user(app_key, user_id.clone()))
            .await
            .unwrap_or_else(|e| panic!("write {user_id}: {e}"));
        acked.push(user_id);
    }
    acked
}

// covers: issue 16 (disk full)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_low_on_disk_takes_no_entries_hands_over_and_catches_up_when_space_returns() {
    const RESERVE: u64 = 16 << 20;
    // Node logs are kept: the restart after a full disk is the step that can fail.
    let options = ClusterOptions {
        log_filter: Some("warn".into()),
        ..ClusterOptions::default()
    };
    let mut cluster = ProcessCluster::new(binary(), options);
    let disks: Vec<SmallDisk> = [1, 2, 3]
        .into_iter()
        .map(|id| {
            cluster.configure(id, |c| c.storage.min_free_bytes = RESERVE);
            SmallDisk::mount(&cluster.data_dir(id), 64).unwrap()
        })
        .collect();
    let disk = |id: u64| &disks[id as usize - 1];
    cluster.start_all();
    let leader = cluster.wait_for_leader(0, Duration::from_secs(15)).await;
    let client = cluster.client();
    let app_key = create_app(&client).await;
    let mut acked = write_users(&client, &app_key, "a", 100).await;

    // The leader's disk drops below the reserve (with room left: the reserve keeps the
    // node from ever reaching a failed write). It refuses writes and hands over.
    disk(leader.node_id).fill(RESERVE / 2).unwrap();
    acked.extend(write_users(&client, &app_key, "b", 300).await);
    let successor = cluster
        .wait_for_leader(leader.term, Duration::from_secs(15))
        .await;
    assert_ne!(successor.node_id, leader.node_id);
    let low = cluster
        .metric(leader.node_id, "meridian_cluster_disk_low")
        .await;
    assert_eq!(low, Some(1.0));
    assert!(
        cluster.exit_status(leader.node_id).is_none(),
        "a node low on disk stays up"
    );
    let behind = cluster.status(leader.node_id).await.expect("status");
    let ahead = cluster.status(successor.node_id).await.expect("status");
    assert!(
        behind.applied_index < ahead.applied_index,
        "{behind:?} {ahead:?}"
    );

    // Space returns: it takes entries again and catches up.
    disk(leader.node_id).empty().unwrap();
    let converged = digests(&cluster, &client).await;
    assert!(
        converged.iter().all(|d| d == &converged[0]),
        "{converged:?}"
    );
    assert_all_present(&cluster, leader.node_id, &app_key, &acked).await;
    assert_eq!(
        cluster
            .metric(leader.node_id, "meridian_cluster_disk_low")
            .await,
        Some(0.0)
    );
    let refused = cluster
        .metric(leader.node_id, "meridian_cluster_disk_refused_total")
        .await;
    assert!(refused.is_some_and(|n| n > 0.0), "{refused:?}");

    // Without a reserve, a follower's disk filled to the brim fails a write: Raft stops
    // and the process exits, for its supervisor to restart. Restarted once space is back,
    // it recovers from its last durable state and catches up, with the same state.
    let leader = cluster.wait_for_leader(0, Duration::from_secs(15)).await;
    let follower = [1, 2, 3]
        .into_iter()
        .find(|&id| id != leader.node_id)
        .unwrap();
    cluster.configure(follower, |c| c.storage.min_free_bytes = 0);
    cluster.kill(follower);
    cluster.start(follower);
    cluster
        .wait_for_applied(
            follower,
            leader.applied_index.unwrap_or(0),
            Duration::from_secs(15),
        )
        .await;
    disk(follower).fill(0).unwrap();
    acked.extend(write_users(&client, &app_key, "c", 300).await);
    let deadline = Instant::now() + Duration::from_secs(30);
    let exited = loop {
        if let Some(status) = cluster.exit_status(follower) {
            break status;
        }
        assert!(Instant::now() < deadline, "the full node did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!exited.success(), "{exited:?}");
    disk(follower).empty().unwrap();
    cluster.start(follower);
    let target = cluster
        .status(leader.node_id)
        .await
        .and_then(|s| s.applied_index);
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.status(follower).await.and_then(|s| s.applied_index) < target {
        if let Some(status) = cluster.exit_status(follower) {
            panic!(
                "the restarted node exited ({status}):\n{}",
                cluster.log(follower)
            );
        }
        assert!(
            Instant::now() < deadline,
            "no catch-up:\n{}",
            cluster.log(follower)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let converged = digests(&cluster, &client).await;
    assert!(
        converged.iter().all(|d| d == &converged[0]),
        "{converged:?}"
    );
    assert_all_present(&cluster, follower, &app_key, &acked).await;
    cluster.kill_all();
}
