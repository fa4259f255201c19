//! States and snapshots written by an older build are upgraded when read (LIFE-05).

use std::path::Path;

use meridian_regions::AreaCode;
use prometheus::Registry;

use super::*;
use crate::metrics::ClusterMetrics;
use crate::state::{
    ChangePresence, Command, CreateApp, Credentials, DeviceStatus, Envelope, SessionRecord,
};

const APP: &str = "prodkey001";

fn small_cache() -> crate::config::StorageTuning {
    crate::config::StorageTuning {
        sled_cache_bytes: 16 * 1024 * 1024,
        ..Default::default()
    }
}

fn open(dir: &Path) -> io::Result<StateMachineStore> {
    let metrics = ClusterMetrics::register(&Registry::new()).expect("metrics");
    StateMachineStore::open(dir, AreaCode::Sg, &small_cache(), metrics.state_machine)
}

fn online(user: &str, session_id: u64) -> Command {
    Command::Presence(ChangePresence {
        app_key: APP.into(),
        user_id: user.into(),
        record: SessionRecord {
            edge_id: 1,
            session_id,
            platform: "web".into(),
            since_ms: 0,
            client_ip: "10.0.0.1:4242".into(),
        },
        status: DeviceStatus::Online,
    })
}

/// A state as format 5 left it: sessions of two users (one on two devices) and no count
/// of online users, which format 6 keeps.
fn write_format_5(tree: &sled::Tree) {
    let ctx = ApplyContext {
        area: AreaCode::Sg,
        now_ms: 1_000,
    };
    let credentials = |key: &str| Credentials {
        app_key: key.into(),
        app_secret: format!("{key}secret"),
    };
    let commands = [
        Command::CreateApp(CreateApp {
            name: "Chat".into(),
            dev: credentials("devkey001"),
            prod: credentials(APP),
        }),
        online("ann", 1),
        online("ann", 2),
        online("bob", 3),
    ];
    let mut overlay = Overlay::new(tree);
    for command in commands {
        let envelope = Envelope {
            area: AreaCode::Sg,
            command,
        };
        state::apply(ctx, &mut overlay, &envelope).unwrap();
    }
    tree.apply_batch(overlay.into_batch()).unwrap();
    for key in tree.scan_prefix(b"usage").keys() {
        tree.remove(key.unwrap()).unwrap();
    }
    tree.insert(FORMAT, to_bytes(&5u32).unwrap()).unwrap();
}

fn online_now(tree: &impl StateRead) -> u64 {
    state::usage::online_now(tree, APP).unwrap()
}

// covers: LIFE-05
#[test]
fn a_node_opens_an_older_state_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).unwrap();
    write_format_5(&store.state());
    assert_eq!(online_now(&store.state()), 0, "format 5 kept no count");
    drop(store);

    let store = open(dir.path()).unwrap();
    assert_eq!(
        online_now(&store.state()),
        2,
        "ann and bob, counted once each"
    );
    let format: u32 = from_bytes(&store.state().get(FORMAT).unwrap().unwrap()).unwrap();
    assert_eq!(format, DATA_FORMAT_VERSION);
    drop(store);
    // Opened again, nothing changes.
    assert_eq!(online_now(&open(dir.path()).unwrap().state()), 2);
}

/// The snapshot file `store`'s state makes, written as format `version`.
fn snapshot_as(store: &StateMachineStore, version: u32) -> Vec<u8> {
    let records: Records = store
        .state()
        .iter()
        .map(Result::unwrap)
        .filter(|(key, _)| !key.starts_with(META_PREFIX))
        .map(|(key, value)| (key.to_vec(), value.to_vec()))
        .collect();
    let meta = SnapshotMeta::default();
    let mut bytes = encode_snapshot(&meta, &records).unwrap();
    bytes[8..12].copy_from_slice(&version.to_le_bytes());
    bytes
}

#[test]
fn snapshots_of_an_older_format_come_upgraded_and_newer_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).unwrap();
    write_format_5(&store.state());
    let (_, records) = parse_snapshot(&snapshot_as(&store, 5)).unwrap();
    let count = records
        .iter()
        .find(|(key, _)| key.as_slice() == crate::state::keys::usage::online(APP).as_slice())
        .map(|(_, value)| from_bytes::<u64>(value).unwrap());
    assert_eq!(count, Some(2), "the snapshot's records were upgraded");
    assert!(
        records.iter().all(|(key, _)| !key.starts_with(META_PREFIX)),
        "no bookkeeping of the upgrade leaks into the records"
    );

    let newer = parse_snapshot(&snapshot_as(&store, DATA_FORMAT_VERSION + 1)).unwrap_err();
    assert!(
        newer.to_string().contains("newer than this build"),
        "{newer}"
    );
    let older = crate::state::upgrades::OLDEST_UPGRADABLE - 1;
    let too_old = parse_snapshot(&snapshot_as(&store, older)).unwrap_err();
    assert!(
        too_old
            .to_string()
            .contains("older than this build upgrades"),
        "{too_old}"
    );

    // A state of a newer format is refused at start, naming the directory.
    store
        .state()
        .insert(FORMAT, to_bytes(&(DATA_FORMAT_VERSION + 1)).unwrap())
        .unwrap();
    drop(store);
    let refused = open(dir.path()).err().expect("a newer state is refused");
    assert!(refused.to_string().contains("sled"), "{refused}");
}
