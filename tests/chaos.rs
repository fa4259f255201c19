//! covers: MSG-01 (under faults), RTC-01, RTC-02, RTC-03, WEB-06 (under faults).
//! `meridian chaos` runs an area as real processes with a seeded schedule of faults and
//! checks every acknowledgement and delivery, of messages (some sessions on the
//! commercial SDKs' protocol), call signals and audio/video room notices: the seeded CI
//! run must come out clean, and the same run with bugs planted in the
//! edges (acks sent before the commit, room notices skipped, user names read from a
//! cache) must be caught. Server API writes and reads of user names and group
//! memberships must be linearizable. A leader cut
//! off from its quorum must refuse at once (CheckQuorum) so callers find the new leader.

use std::path::Path;
use std::process::{Command as Process, Output};
use std::time::Duration;
use tokio::time::Instant;

use meridian_chaos::deployment::{replicas_identical, Deployment, Topology};
use meridian_chaos::load::Cast;
use meridian_client::server_api::{form, post_form_answer};
use meridian_client::{conversation, Connection, Outgoing};
use meridian_cluster::admin::generate_credentials;
use meridian_cluster::api::{
    ApiReply, ApiRequest, FilteredFeed, InterestChange, InterestUpdate, ReadConsistency,
};
use meridian_cluster::state::interest;
use meridian_cluster::state::{
    Command, Conversation, CreateApp, Envelope, FeedEvent, FeedPage, HistoryPage, NewMessage,
    Publication, Publish, Query, QueryOutput,
};
use meridian_proto::ServerFrame;
use meridian_regions::AreaCode;
use serde_json::Value;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_meridian"))
}

fn chaos(seed: &str, extra: &[&str]) -> (Output, Value, Vec<Value>) {
    let output = Process::new(binary())
        .args([
            "chaos",
            "--areas",
            "SG",
            "--duration",
            "60s",
            "--seed",
            seed,
        ])
        .args(extra)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run meridian chaos");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    let verdict: Value = serde_json::from_str(last)
        .unwrap_or_else(|_| panic!("last line is not JSON: {last:?}\nstderr:\n{stderr}"));
    let faults = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("fault").is_some())
        .collect();
    (output, verdict, faults)
}

/// A run of `seed` comes out clean, with at least the faults every schedule holds, and
/// its verdict's fault counts and outage percentiles agree with what it printed.
fn assert_clean_run(seed: &str, extra: &[&str], min_acked: u64, min_delivered: u64) {
    let (output, verdict, faults) = chaos(seed, extra);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{verdict}\n{stderr}");
    for key in ["lost", "duplicates", "order_violations", "phantoms"] {
        assert_eq!(verdict[key], 0, "{key}: {verdict}");
    }
    // Room notices (RTC-01, RTC-02) and call signals (RTC-03, as messages) under the
    // same faults: every watcher heard every change once, in order.
    let rooms = &verdict["rooms"];
    for key in [
        "lost",
        "duplicates",
        "reordered",
        "diverged",
        "phantoms",
        "unsettled",
    ] {
        assert_eq!(rooms[key], 0, "rooms {key}: {verdict}\n{stderr}");
    }
    assert!(rooms["notices"].as_u64().unwrap() > 100, "{verdict}");
    // Server API writes and reads of user names and group memberships, through every
    // edge under the same faults, were linearizable.
    let registers = &verdict["registers"];
    assert_eq!(
        registers["not_linearizable"],
        serde_json::json!([]),
        "{verdict}"
    );
    assert!(registers["operations"].as_u64().unwrap() > 500, "{verdict}");
    assert!(rooms["changes"].as_u64().unwrap() > 50, "{verdict}");
    assert_eq!(verdict["replicas_identical"], true, "{verdict}");
    assert!(verdict["acked"].as_u64().unwrap() > min_acked, "{verdict}");
    assert!(
        verdict["delivered"].as_u64().unwrap() > min_delivered,
        "{verdict}"
    );
    // Sessions on the commercial SDKs' protocol (WEB-06) under the same faults.
    assert!(
        verdict["commercial_acked"].as_u64().unwrap() > 50,
        "{verdict}"
    );
    assert!(
        verdict["commercial_delivered"].as_u64().unwrap() > 50,
        "{verdict}"
    );
    assert!(verdict["faults"].as_u64().unwrap() >= 10, "{verdict}");
    assert_eq!(faults.len() as u64, verdict["faults"].as_u64().unwrap());
    let count = |name: &str| faults.iter().filter(|f| f["fault"] == name).count();
    assert!(count("kill-leader") >= 2, "{faults:?}");
    assert!(count("partition-leader") >= 1, "{faults:?}");
    assert!(count("slow-links") >= 1, "{faults:?}");
    assert!(count("partition-edge") >= 1, "{faults:?}");
    assert!(count("slow-fsync") >= 1, "{faults:?}");
    assert!(count("kill-nav") >= 1, "{faults:?}");
    if extra.contains(&"--small-disks") {
        assert!(count("fill-disk") >= 1, "{faults:?}");
    }
    let counts = verdict["fault_counts"].as_object().unwrap();
    for (kind, n) in counts {
        assert_eq!(
            n.as_u64().unwrap() as usize,
            count(kind),
            "{kind}: {verdict}"
        );
    }
    assert_eq!(
        counts.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        faults.len() as u64
    );
    // Writes came back after every fault (a partitioned leader holds the writes it took
    // until the partition heals: up to 3 s, plus an election).
    let outage = &verdict["write_outage_ms"];
    let (p50, p99, max) = (
        outage["p50"].as_u64().unwrap(),
        outage["p99"].as_u64().unwrap(),
        outage["max"].as_u64().unwrap(),
    );
    assert!(p50 <= p99 && p99 <= max, "{verdict}");
    let longest = verdict["max_write_outage_ms"].as_u64().unwrap();
    assert!(max <= longest && longest < 10_000, "{verdict}");
}

#[test]
fn a_seeded_run_with_leader_kills_and_partitions_loses_nothing() {
    assert_clean_run("7", &[], 500, 1000);
}

/// The schedule that found issue 16's duplicate, with more users than the first run,
/// and each node on a small disk of its own that a fault fills.
#[test]
fn a_second_seed_with_more_users_and_full_disks_loses_and_repeats_nothing() {
    assert_clean_run("90210", &["--users", "20", "--small-disks"], 1500, 10_000);
}

/// The processes whose command line names `dir` (a run's nodes, edges and nav).
fn processes_under(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            pids.push(pid);
        }
    }
    pids
}

/// Stopping a run (Ctrl-C, SIGTERM) stops the area it started with it.
#[test]
fn an_interrupted_run_leaves_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    let run = Process::new(binary())
        .args(["chaos", "--areas", "SG", "--duration", "60s", "--seed", "3"])
        .arg("--work-dir")
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run meridian chaos");
    // Three nodes, two edges and nav.
    let started = Instant::now();
    let chaos_pid = run.id();
    let started_by_run = || {
        let mut pids = processes_under(dir.path());
        pids.retain(|pid| *pid != chaos_pid);
        pids
    };
    while started_by_run().len() < 6 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the area never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let term = Process::new("kill").arg(run.id().to_string()).status();
    assert!(term.expect("kill").success());
    let output = run.wait_with_output().expect("wait for meridian chaos");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("interrupted"),
        "{stderr}"
    );
    assert_eq!(started_by_run(), Vec::<u32>::new(), "{stderr}");
}

/// Three planted bugs in one run: acks sent before the commit lose messages, room
/// notices an edge skips are missed by the watchers, and user names an edge answers from
/// a cache make the Server API's reads not linearizable.
#[test]
fn acks_before_the_commit_skipped_room_notices_and_stale_reads_are_caught() {
    // A failed run keeps its logs: here, in a directory the test removes.
    let kept = tempfile::tempdir().unwrap();
    let work_dir = kept.path().to_str().unwrap();
    let (output, verdict, _) = chaos(
        "7",
        &[
            "--plant-bug",
            "ack-before-commit,drop-room-notice,stale-user-info",
            "--work-dir",
            work_dir,
        ],
    );
    assert!(!output.status.success(), "{verdict}");
    assert!(verdict["lost"].as_u64().unwrap() > 0, "{verdict}");
    assert!(verdict["rooms"]["lost"].as_u64().unwrap() > 0, "{verdict}");
    let stale = verdict["registers"]["not_linearizable"].as_array().unwrap();
    assert!(
        !stale.is_empty()
            && stale
                .iter()
                .all(|r| r.as_str().unwrap().starts_with("name:")),
        "only the cached names: {verdict}"
    );
}

/// The cluster's RPC answer to `request` from node `addr` alone, or `None` when it gives
/// none within `within` (a leader that takes a write it cannot commit never answers).
async fn answer_of(
    client: &meridian_cluster::ClusterClient,
    addr: &str,
    request: &ApiRequest,
    within: Duration,
) -> Option<ApiReply> {
    tokio::time::timeout(within, client.call_node(addr, request))
        .await
        .ok()
        .and_then(Result::ok)
}

/// An area of three nodes and one edge in `dir`, and its first leader.
async fn three_nodes_and_an_edge(dir: &Path) -> (Deployment, u64) {
    let topology = Topology {
        nodes: 3,
        edges: 1,
        small_disks_mib: None,
        planted_bug: None,
        whole_feed: false,
    };
    let deployment = Deployment::start(binary(), dir, &topology, AreaCode::Sg)
        .await
        .unwrap();
    let leader = deployment
        .wait_for_leader(Duration::from_secs(30))
        .await
        .unwrap();
    (deployment, leader)
}

// covers: MSG-01 (quorum loss)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_its_quorum_refuses_at_once_within_an_election_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (deployment, leader) = three_nodes_and_an_edge(dir.path()).await;
    let client = &deployment.client;
    let addr = deployment.nodes[leader as usize - 1].rpc_addr.clone();
    let write = || {
        ApiRequest::Write(vec![Envelope {
            area: AreaCode::Sg,
            command: Command::CreateApp(CreateApp {
                name: "quorum".into(),
                dev: generate_credentials(),
                prod: generate_credentials(),
            }),
        }])
    };
    let reads = [
        ApiRequest::Read {
            query: Query::ListApps,
            consistency: ReadConsistency::Linearizable,
        },
        ApiRequest::Feed {
            after: 0,
            limit: 10,
            wait_ms: 0,
        },
    ];
    match answer_of(client, &addr, &write(), Duration::from_secs(5)).await {
        Some(ApiReply::Written(results)) => assert!(results[0].is_ok(), "{results:?}"),
        other => panic!("the leader did not take a write before the cut: {other:?}"),
    }

    // A feed poll already waiting when the leader is cut off (an edge's tailer).
    let waiting_poll = {
        let (client, addr) = (client.without_retries(), addr.clone());
        tokio::spawn(async move {
            let poll = ApiRequest::Feed {
                after: 1 << 40,
                limit: 10,
                wait_ms: 4_000,
            };
            let answer = answer_of(&client, &addr, &poll, Duration::from_secs(6)).await;
            (answer, Instant::now())
        })
    };
    deployment.isolate(Some(leader));
    let cut = Instant::now();
    // A write proposed after the cut: it cannot commit, and it may or may not commit
    // later, so the leader lets it go as of unknown outcome when it finds itself cut off.
    let waiting_write = {
        let (client, addr, write) = (client.without_retries(), addr.clone(), write());
        tokio::spawn(async move {
            let answer = answer_of(&client, &addr, &write, Duration::from_secs(6)).await;
            (answer, Instant::now())
        })
    };
    // Probes: while the leader still takes writes they hang (nothing can commit).
    let refused_at = loop {
        let sent = Instant::now();
        let answer = answer_of(client, &addr, &write(), Duration::from_millis(200)).await;
        if let Some(ApiReply::NotLeader { leader: hint }) = answer {
            assert_eq!(hint, None, "a cut-off leader knows no other leader");
            assert!(sent.elapsed() < Duration::from_millis(150), "not at once");
            break cut.elapsed();
        }
        assert!(
            cut.elapsed() < Duration::from_secs(5),
            "a leader cut off for {:?} still takes writes: {answer:?}",
            cut.elapsed()
        );
    };
    // Its longest election timeout (400 ms by default), give or take one probe.
    assert!(
        refused_at < Duration::from_millis(1_300),
        "refused only after {refused_at:?}"
    );
    let (answer, answered_at) = waiting_poll.await.unwrap();
    assert!(
        matches!(answer, Some(ApiReply::NotLeader { leader: None })),
        "{answer:?}"
    );
    assert!(
        answered_at.duration_since(cut) < Duration::from_millis(1_300),
        "the waiting poll was let go after {:?}",
        answered_at.duration_since(cut)
    );
    let (answer, answered_at) = waiting_write.await.unwrap();
    assert!(matches!(answer, Some(ApiReply::Ambiguous(_))), "{answer:?}");
    assert!(
        answered_at.duration_since(cut) < Duration::from_millis(1_300),
        "the waiting write was let go after {:?}",
        answered_at.duration_since(cut)
    );
    for read in &reads {
        let answer = answer_of(client, &addr, read, Duration::from_millis(150)).await;
        assert!(
            matches!(answer, Some(ApiReply::NotLeader { leader: None })),
            "{read:?}: {answer:?}"
        );
    }
    // Callers fail over: the other two elect a leader and a routed write commits there.
    let routed = Instant::now();
    client
        .write_one(Envelope {
            area: AreaCode::Sg,
            command: Command::CreateApp(CreateApp {
                name: "after the cut".into(),
                dev: generate_credentials(),
                prod: generate_credentials(),
            }),
        })
        .await
        .unwrap();
    assert!(
        routed.elapsed() < Duration::from_secs(3),
        "{:?}",
        routed.elapsed()
    );
    let new_leader = deployment.leader().await;
    assert!(new_leader.is_some() && new_leader != Some(leader));

    // Healed, the old leader follows and the area takes writes through any node.
    deployment.isolate(None);
    let settled = deployment.settled_digests(Duration::from_secs(20)).await;
    assert!(replicas_identical(&settled), "{settled:?}");
}

// covers: MSG-01 (a partitioned follower's return)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_cut_off_and_back_does_not_depose_the_leader() {
    let dir = tempfile::tempdir().unwrap();
    let (deployment, leader) = three_nodes_and_an_edge(dir.path()).await;
    let client = &deployment.client;
    let status = |id: u64| client.status_of(&deployment.nodes[id as usize - 1].rpc_addr);
    let term = status(leader).await.unwrap().term;
    let follower = if leader == 1 { 2 } else { 1 };

    deployment.isolate(Some(follower));
    // Six longest election timeouts (400 ms each) cut off: its election timer fires
    // again and again, and each time Pre-Vote finds no one to answer, so its term stays.
    let cut = Instant::now();
    while cut.elapsed() < Duration::from_millis(2_400) {
        let cut_off = status(follower).await.unwrap();
        assert_eq!(cut_off.term, term, "the cut-off follower raised its term");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Back, it follows the same leader in the same term: no election, no outage.
    deployment.isolate(None);
    client
        .write_one(Envelope {
            area: AreaCode::Sg,
            command: Command::CreateApp(CreateApp {
                name: "after the return".into(),
                dev: generate_credentials(),
                prod: generate_credentials(),
            }),
        })
        .await
        .unwrap();
    let settled = deployment.settled_digests(Duration::from_secs(20)).await;
    assert!(settled.iter().all(|(_, d)| d.is_some()), "{settled:?}");
    for id in 1..=3 {
        let now = status(id).await.unwrap();
        assert_eq!((now.leader, now.term), (Some(leader), term), "node {id}");
    }
}

// covers: issue 16 (slow fsync)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_majority_of_slow_disks_writes_commit_late_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (deployment, leader) = three_nodes_and_an_edge(dir.path()).await;
    let create = |name: &str| Envelope {
        area: AreaCode::Sg,
        command: Command::CreateApp(CreateApp {
            name: name.into(),
            dev: generate_credentials(),
            prod: generate_credentials(),
        }),
    };
    // A majority's disks: a commit waits for one of them at least.
    let slow = [leader, if leader == 1 { 2 } else { 1 }];
    deployment
        .slow_fsync(&slow, Some(meridian_chaos::faults::SLOW_FSYNC))
        .unwrap();
    // The nodes read the file again within 100 ms; from then on a write waits for a slow
    // sync.
    let watching = Instant::now();
    let mut written = Vec::new();
    loop {
        let name = format!("slow {}", written.len());
        let started = Instant::now();
        deployment.client.write_one(create(&name)).await.unwrap();
        written.push(name);
        if started.elapsed() >= meridian_chaos::faults::SLOW_FSYNC {
            break;
        }
        assert!(
            watching.elapsed() < Duration::from_secs(3),
            "no write waited for the slow sync"
        );
    }
    deployment.slow_fsync(&slow, None).unwrap();
    deployment.client.write_one(create("healed")).await.unwrap();
    written.push("healed".into());
    let apps = deployment.client.read(Query::ListApps).await.unwrap();
    let names = format!("{apps:?}");
    for name in &written {
        assert!(names.contains(name.as_str()), "{name} missing: {names}");
    }
    let settled = deployment.settled_digests(Duration::from_secs(20)).await;
    assert!(settled.iter().all(|(_, d)| d.is_some()), "{settled:?}");
}

// covers: issue 16 (clock jumps on nodes)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_stamps_no_message_before_its_predecessors_whatever_its_clock() {
    let dir = tempfile::tempdir().unwrap();
    let (mut deployment, leader) = three_nodes_and_an_edge(dir.path()).await;
    let prod = generate_credentials();
    let app_key = prod.app_key.clone();
    let create = Command::CreateApp(CreateApp {
        name: "clocks".into(),
        dev: generate_credentials(),
        prod,
    });
    deployment.client.write_one(envelope(create)).await.unwrap();
    // The leader's clock jumps a minute ahead (read again within 100 ms).
    const AHEAD_MS: i64 = 60_000;
    deployment.jump_clock(leader, Some(AHEAD_MS)).unwrap();
    let jumped = Instant::now();
    let ahead = loop {
        let stamp = publish(&deployment.client, &app_key, "ahead").await;
        if stamp >= meridian_clock::now_ms() + AHEAD_MS as u64 / 2 {
            break stamp;
        }
        assert!(
            jumped.elapsed() < Duration::from_secs(3),
            "the clock did not jump"
        );
    };
    // It dies; a node on true time, a minute behind those stamps, takes over.
    deployment.kill_node(leader);
    deployment.jump_clock(leader, None).unwrap();
    let after = publish(&deployment.client, &app_key, "after").await;
    assert!(
        after >= ahead,
        "the new leader stamped {after}, before its predecessor's {ahead}"
    );
    deployment.start_node(leader).unwrap();
}

// covers: issue 16 (fan-out at scale: each edge reads only its sessions' events)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_passes_an_edge_only_the_events_its_sessions_are_routed_by() {
    let dir = tempfile::tempdir().unwrap();
    let (mut deployment, leader) = three_nodes_and_an_edge(dir.path()).await;
    let prod = generate_credentials();
    let app_key = prod.app_key.clone();
    let create = Command::CreateApp(CreateApp {
        name: "fan-out".into(),
        dev: generate_credentials(),
        prod,
    });
    deployment.client.write_one(envelope(create)).await.unwrap();
    let carol = interest::user(&app_key, "carol");
    let unchanged = || InterestChange::Since {
        base: 1,
        changes: vec![],
    };
    // A new interest is answered at once, however long the poll may wait.
    let asked = Instant::now();
    let full = InterestChange::Full(vec![carol]);
    let first = poll_as_edge(&deployment.client, 0, 1, full, 4_000)
        .await
        .unwrap()
        .expect("a whole interest is always taken");
    assert!(asked.elapsed() < Duration::from_secs(3), "waited for news");
    let start = first.page.head;
    for (from, to, content) in [
        ("a", "b", "for b"),
        ("a", "carol", "for carol"),
        ("b", "a", "for a"),
    ] {
        publish_between(&deployment.client, &app_key, from, to, content).await;
    }
    let contents = |page: &FeedPage| -> Vec<String> {
        page.events
            .iter()
            .map(|(_, event)| match event {
                FeedEvent::Message { message, .. } => message.content.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    };
    let page = poll_as_edge(&deployment.client, start, 1, unchanged(), 4_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(contents(&page.page), ["for carol"]);
    assert_eq!(page.through, page.page.head, "it looked past \"for a\" too");
    // Nothing after concerns carol: the poll waits its time out.
    let rest = poll_as_edge(&deployment.client, page.through, 1, unchanged(), 300)
        .await
        .unwrap()
        .unwrap();
    assert!(rest.page.events.is_empty(), "{:?}", rest.page.events);
    assert_eq!(rest.through, page.through);
    // Without an interest an edge reads every event.
    let whole = deployment.client.feed(start, 100, Duration::ZERO).await;
    let whole = whole.unwrap();
    assert_eq!(contents(&whole), ["for b", "for carol", "for a"]);
    // A new leader never held the interest: the edge has to send all of it.
    deployment.kill_node(leader);
    let removed = InterestChange::Since {
        base: 1,
        changes: vec![(2, carol, false)],
    };
    let answer = poll_as_edge(&deployment.client, start, 2, removed, 0).await;
    let answer = answer.unwrap();
    assert!(answer.is_none(), "{answer:?}");
    deployment.start_node(leader).unwrap();
}

/// A feed poll as an edge's tailer sends it.
async fn poll_as_edge(
    client: &meridian_cluster::ClusterClient,
    after: u64,
    version: u64,
    change: InterestChange,
    wait_ms: u64,
) -> Result<Option<FilteredFeed>, meridian_cluster::ClusterError> {
    let interest = InterestUpdate {
        subscriber: 42,
        version,
        change,
    };
    let wait = Duration::from_millis(wait_ms);
    client.feed_for(after, 100, wait, interest).await
}

/// Publishes a private text as the app server; answers its stamp.
async fn publish(client: &meridian_cluster::ClusterClient, app_key: &str, content: &str) -> u64 {
    publish_between(client, app_key, "a", "b", content).await
}

async fn publish_between(
    client: &meridian_cluster::ClusterClient,
    app_key: &str,
    from: &str,
    to: &str,
    content: &str,
) -> u64 {
    let command = Command::Publish(Publish {
        app_key: app_key.into(),
        messages: vec![NewMessage::private_text(from, to, content)],
    });
    // An outcome left open by a dying leader: another copy is as good.
    let output = loop {
        match client.write_one(envelope(command.clone())).await {
            Err(meridian_cluster::ClusterError::Ambiguous(_)) => continue,
            written => break written.unwrap(),
        }
    };
    match output {
        meridian_cluster::state::Output::Published(p) => match p.as_slice() {
            [Publication::Stored { sent_time_ms, .. }] => *sent_time_ms,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

fn envelope(command: Command) -> Envelope {
    Envelope {
        area: AreaCode::Sg,
        command,
    }
}

/// The contents stored in the private conversation of u0 and u1, oldest first.
async fn stored_between_u0_and_u1(deployment: &Deployment, cast: &Cast) -> Vec<String> {
    let query = Query::History {
        app_key: cast.app_key().to_string(),
        page: HistoryPage {
            conversation: Conversation::private("u0", "u1", ""),
            viewer: None,
            from_ms: 0,
            to_ms: u64::MAX,
            newest_first: false,
            limit: 10,
            members_only: false,
            keyword: None,
            sender: None,
        },
    };
    let Ok(QueryOutput::Messages(history)) = deployment.client.read(query).await else {
        panic!("no history");
    };
    history.into_iter().map(|m| m.content).collect()
}

// covers: API-07 (msgRandom while the leader is lost)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marked_api_publish_a_cut_off_leader_let_go_is_answered_and_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let (deployment, leader) = three_nodes_and_an_edge(dir.path()).await;
    let cast = Cast::set_up(&deployment, 2).await.unwrap();
    let base = deployment.edges[0].public.clone();
    let publish = async |text: &str, random: &str| {
        let content = format!(r#"{{"content":"{text}"}}"#);
        let body = form(&[
            ("fromUserId", "u0"),
            ("toUserId", "u1"),
            ("objectName", "RC:TxtMsg"),
            ("content", &content),
            ("msgRandom", random),
        ]);
        let path = "/message/private/publish.json";
        post_form_answer(&base, cast.app_key(), cast.app_secret(), path, &body, 0)
            .await
            .unwrap()
    };
    // A first publish: the edge now knows the app and the leader it wrote through.
    assert_eq!(publish("first", "1").await.status, 200);

    // The second is proposed at the leader, which cannot commit it and lets it go as of
    // unknown outcome. Marked with msgRandom, it is one request however often it is
    // written, so the edge writes it again at the new leader and answers 200, not 1050.
    deployment.isolate(Some(leader));
    let answer = publish("second", "2").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    deployment.isolate(None);
    let settled = deployment.settled_digests(Duration::from_secs(20)).await;
    assert!(settled.iter().all(|(_, d)| d.is_some()), "{settled:?}");
    let stored = stored_between_u0_and_u1(&deployment, &cast).await;
    assert_eq!(
        stored,
        [r#"{"content":"first"}"#, r#"{"content":"second"}"#]
    );
}

// covers: MSG-01 (a send while the leader is lost)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_that_a_cut_off_leader_let_go_is_acked_through_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let (deployment, leader) = three_nodes_and_an_edge(dir.path()).await;
    let cast = Cast::set_up(&deployment, 2).await.unwrap();
    let options = cast.connect_options(0, &deployment.edges[0]);
    let mut session = Connection::connect(&options).await.unwrap();
    let text = |client_id: &str| {
        let content = format!(r#"{{"content":"{client_id}"}}"#);
        Outgoing {
            conversation_type: conversation::PRIVATE,
            target_id: "u1".into(),
            channel_id: String::new(),
            object_name: "RC:TxtMsg".into(),
            content,
        }
        .frame(client_id)
    };
    let mut answer_to = async |client_id: &str| {
        session.send(&text(client_id)).await.unwrap();
        loop {
            let frame = session.next_within(Duration::from_secs(15)).await.unwrap();
            if let ServerFrame::Ack { .. } | ServerFrame::Error { .. } = frame {
                break frame;
            }
        }
    };
    // A first send: the edge now knows the app's settings and the leader it wrote through.
    let ServerFrame::Ack { seq: first, .. } = answer_to("p-1").await else {
        panic!("the first send was not acknowledged");
    };

    // The second is proposed at the leader, which cannot commit it, then lets it go as
    // of unknown outcome. A send is deduplicated by its client id, so the edge writes it
    // again at the new leader and the session gets its ack, not an error to reconnect
    // and resend on.
    deployment.isolate(Some(leader));
    let answer = answer_to("p-2").await;
    let ServerFrame::Ack { client_id, seq, .. } = answer else {
        panic!("the send was not acknowledged: {answer:?}");
    };
    assert_eq!((client_id.as_str(), seq), ("p-2", first + 1));
    let new_leader = deployment.leader().await;
    assert!(new_leader.is_some() && new_leader != Some(leader));

    // Healed, the message is stored once: both writes were one send.
    deployment.isolate(None);
    let settled = deployment.settled_digests(Duration::from_secs(20)).await;
    assert!(settled.iter().all(|(_, d)| d.is_some()), "{settled:?}");
    let stored = stored_between_u0_and_u1(&deployment, &cast).await;
    assert_eq!(stored, [r#"{"content":"p-1"}"#, r#"{"content":"p-2"}"#]);
}
