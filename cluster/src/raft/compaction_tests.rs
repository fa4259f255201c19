//! Rewriting sled while applies go on leaves the state exactly as it was, in a fresh and
//! smaller directory that a restart opens; and what a restart keeps of a node's own
//! records (the rewrite it owes, the newest stamp it applied).

use std::path::Path;

use futures::stream;
use openraft::entry::RaftEntry;
use openraft::testing::log_id;
use prometheus::Registry;

use super::*;
use crate::metrics::ClusterMetrics;
use crate::state::{Batch, Command, CreateApp, Credentials, EncodedBatch, Envelope, PutUser};

const APP: &str = "prodkey001";

fn open(dir: &Path) -> StateMachineStore {
    let metrics = ClusterMetrics::register(&Registry::new()).expect("metrics");
    let storage = StorageTuning {
        sled_cache_bytes: 16 * 1024 * 1024,
        // Only when asked: the test compacts at a moment of its choosing.
        sled_compact_ratio: 0.0,
        ..Default::default()
    };
    StateMachineStore::open(dir, AreaCode::Sg, &storage, metrics.state_machine).expect("open")
}

/// Stops `store` (its sled made durable, as a snapshot does) and opens it again.
fn restarted(store: StateMachineStore, dir: &Path) -> StateMachineStore {
    store.sled().make_durable().unwrap();
    drop(store);
    open(dir)
}

fn entry(index: u64, commands: Vec<Command>) -> super::super::Entry {
    let batch = Batch {
        issued_at_ms: 1_000 + index,
        commands: commands
            .into_iter()
            .map(|command| Envelope {
                area: AreaCode::Sg,
                command,
            })
            .collect(),
    };
    RaftEntry::new_normal(
        log_id::<TypeConfig>(1, 1, index),
        EncodedBatch::encode(&batch).expect("encode"),
    )
}

fn create_app() -> Command {
    let credentials = |key: &str| Credentials {
        app_key: key.into(),
        app_secret: format!("{key}secret"),
    };
    Command::CreateApp(CreateApp {
        name: "Chat".into(),
        dev: credentials("devkey001"),
        prod: credentials(APP),
    })
}

/// Renames 100 users at once: the same keys written again, so sled keeps old versions.
fn renames(round: u64) -> Vec<Command> {
    (0..100)
        .map(|user| {
            Command::PutUser(PutUser {
                app_key: APP.into(),
                user_id: format!("user{user:03}"),
                name: Some(format!("name {round}")),
                portrait: Some(format!("https://p.example/{round}/{}", "x".repeat(300))),
            })
        })
        .collect()
}

/// Users first seen while the copy runs, named to sort before and after the renamed ones.
fn arrivals(index: u64) -> Vec<Command> {
    [format!("a{index:05}"), format!("zz{index:05}")]
        .into_iter()
        .map(|user_id| {
            Command::PutUser(PutUser {
                app_key: APP.into(),
                user_id,
                name: Some("arrived".into()),
                portrait: None,
            })
        })
        .collect()
}

async fn apply(store: &mut StateMachineStore, entries: Vec<super::super::Entry>) {
    let entries = entries.into_iter().map(|entry| Ok((entry, None)));
    store.apply(stream::iter(entries)).await.expect("apply");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compaction_while_applies_go_on_keeps_the_state_and_shrinks_sled() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    apply(&mut store, vec![entry(1, vec![create_app()])]).await;
    let mut index = 1;
    for round in 0..300 {
        index += 1;
        apply(&mut store, vec![entry(index, renames(round))]).await;
    }
    store.make_durable().unwrap();
    let bloated = store.sled_bytes_on_disk();

    // Applies go on between the compaction's chunks.
    let compacting = tokio::spawn({
        let store = store.clone();
        async move { store.compact().await }
    });
    let mut during = 0;
    while !compacting.is_finished() {
        index += 1;
        during += 1;
        apply(&mut store, vec![entry(index, arrivals(index))]).await;
        tokio::task::yield_now().await;
    }
    compacting.await.unwrap().expect("compaction");
    assert!(during > 0, "applies ran while the compaction copied");
    index += 1;
    apply(&mut store, vec![entry(index, renames(5_000))]).await;
    let digest = store.digest().await.unwrap();
    let compacted = store.sled_bytes_on_disk();
    assert!(
        compacted * 2 < bloated,
        "sled shrank: {bloated} bytes before, {compacted} after"
    );

    // The same entries applied without a compaction give the same state.
    let reference_dir = tempfile::tempdir().unwrap();
    let mut reference = open(reference_dir.path());
    let mut replay = vec![];
    for i in 1..=index {
        replay.push(match i {
            1 => entry(1, vec![create_app()]),
            i if i <= 301 => entry(i, renames(i - 2)),
            i if i < index => entry(i, arrivals(i)),
            i => entry(i, renames(5_000)),
        });
    }
    apply(&mut reference, replay).await;
    assert_eq!(reference.digest().await.unwrap(), digest);

    // A restart opens the new directory; the old one is gone.
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.digest().await.unwrap(), digest);
    assert!(
        !dir.path().join("sled").exists(),
        "the replaced directory was removed"
    );
    assert!(dir.path().join("sled-1").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_asks_for_one_more_compaction_once_the_feed_is_trimmed_past_it() {
    use crate::state::{DeleteUsers, NewMessage, Publish, TrimFeed};
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let publish = Command::Publish(Publish {
        app_key: APP.into(),
        messages: vec![NewMessage::private_text("alice", "gone", "hello")],
    });
    let erase = Command::DeleteUsers(DeleteUsers {
        app_key: APP.into(),
        user_ids: vec!["gone".into()],
    });
    apply(
        &mut store,
        vec![entry(1, vec![create_app()]), entry(2, vec![publish])],
    )
    .await;
    apply(&mut store, vec![entry(3, vec![erase])]).await;
    // A restart remembers what is owed.
    let mut store = restarted(store, dir.path());
    assert!(
        store.inner.rewrite_due.take(),
        "the erasure asks for a compaction"
    );
    // A compaction began (it took the request), but the feed still names them.
    apply(&mut store, vec![entry(4, renames(0))]).await;
    assert!(
        !store.inner.rewrite_due.take(),
        "nothing new to ask for yet"
    );
    let head = crate::state::feed::head(&store.state()).unwrap();
    let trim = Command::TrimFeed(TrimFeed { through: head });
    apply(&mut store, vec![entry(5, vec![trim])]).await;
    let mut store = restarted(store, dir.path());
    assert!(
        store.inner.rewrite_due.take(),
        "once the feed lets its events go, one more compaction is due, after a restart too"
    );
    apply(&mut store, vec![entry(6, renames(1))]).await;
    assert!(!store.inner.rewrite_due.take(), "and only one");
    // Until a compaction finishes, a restart owes it still; after one, nothing is owed.
    let store = restarted(store, dir.path());
    assert!(
        store.inner.rewrite_due.take(),
        "owed until a compaction finishes"
    );
    store.compact().await.unwrap();
    drop(store);
    let store = open(dir.path());
    assert!(!store.inner.rewrite_due.take(), "paid by the compaction");
    assert!(!dir.path().join("rewrite-due").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_stamp_applied_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    assert_eq!(store.newest_stamp(), 0);
    apply(
        &mut store,
        vec![entry(1, vec![create_app()]), entry(2, renames(0))],
    )
    .await;
    // `entry` stamps its batch 1,000 ms plus its index.
    assert_eq!(store.newest_stamp(), 1_002);
    let store = restarted(store, dir.path());
    assert_eq!(
        store.newest_stamp(),
        1_002,
        "a node that leads right after a restart stamps on from it"
    );
}
