//! Recording orders and recorded streams (RTC-07): an order needs a live room and ends
//! with it; a stored stream becomes one of the app's files and is called back once.

use meridian_proto::files::FileKind;
use meridian_proto::rtc::{Role, RoomKind};

use super::rtc::{app_tree, join, rtc, APP};
use super::*;
use crate::state::files::FileRecord;
use crate::state::rtc::{
    ChangeRecording, RecordedStream, RecordingChange, RecordingOrder, StoredStream,
};

// covers: RTC-07

fn recording(
    tree: &sled::Tree,
    room: &str,
    change: RecordingChange,
) -> Result<Output, CommandError> {
    let command = Command::ChangeRecording(ChangeRecording {
        app_key: APP.into(),
        room_id: room.into(),
        change,
    });
    at(tree, 2_000, command)
}

fn orders(tree: &sled::Tree) -> Vec<RecordingOrder> {
    match query(tree, &Query::RtcRecordings).unwrap() {
        QueryOutput::RtcRecordings(orders) => orders,
        other => panic!("{other:?}"),
    }
}

fn recorded(tree: &sled::Tree, room: &str) -> Vec<RecordedStream> {
    let asked = Query::RtcRecorded {
        app_key: APP.into(),
        room_id: room.into(),
    };
    match query(tree, &asked).unwrap() {
        QueryOutput::RtcRecorded(streams) => streams,
        other => panic!("{other:?}"),
    }
}

fn stored(file_id: &str, size: u64) -> (FileRecord, RecordedStream) {
    let file = FileRecord {
        file_id: file_id.into(),
        kind: FileKind::Video,
        owner: "alice".into(),
        size,
        content_type: "video/webm".into(),
        name: format!("{file_id}.webm"),
        sha256: "00".into(),
        created_ms: 3_000,
        has_preview: false,
        expires_ms: 9_000_000,
    };
    let stream = RecordedStream {
        room_id: "r1".into(),
        session_id: "s".into(),
        user_id: "alice".into(),
        stream_id: "cam".into(),
        file_id: file_id.into(),
        size,
        started_ms: 2_100,
        duration_ms: 900,
        expires_ms: 9_000_000,
        tracks: vec!["VP8".into(), "opus".into()],
    };
    (file, stream)
}

fn alice_joins(tree: &sled::Tree) {
    let joined = rtc(
        tree,
        "r1",
        "alice",
        join(RoomKind::Meeting, Role::Participant, 1),
    );
    joined.unwrap();
}

fn recording_callbacks(tree: &sled::Tree) -> Vec<String> {
    crate::state::outbox::waiting(tree, 0, 100)
        .unwrap()
        .into_iter()
        .filter_map(|job| match job.event {
            HookEvent::Recording(ready) => Some(ready.stream.file_id),
            _ => None,
        })
        .collect()
}

#[test]
fn an_order_needs_a_room_lasts_until_stopped_or_the_room_ends() {
    let (_dir, tree) = app_tree();
    let start = |url: Option<&str>| RecordingChange::Start {
        callback_url: url.map(str::to_string),
    };
    let refused = recording(&tree, "r1", start(None)).unwrap_err();
    assert!(
        matches!(refused, CommandError::NotFound { .. }),
        "{refused:?}"
    );
    alice_joins(&tree);
    let bad = recording(&tree, "r1", start(Some("ftp://h/"))).unwrap_err();
    assert!(matches!(bad, CommandError::Invalid { .. }), "{bad:?}");
    assert!(orders(&tree).is_empty(), "a refused order is not kept");

    recording(&tree, "r1", start(Some("http://app/rec"))).unwrap();
    let order = &orders(&tree)[0];
    assert_eq!((order.room_id.as_str(), order.started_ms), ("r1", 2_000));
    assert_eq!(order.callback_url.as_deref(), Some("http://app/rec"));
    recording(&tree, "r1", RecordingChange::Stop).unwrap();
    assert!(orders(&tree).is_empty());
    recording(&tree, "r1", RecordingChange::Stop).expect("stopping twice is no error");

    recording(&tree, "r1", start(None)).unwrap();
    rtc(&tree, "r1", "alice", RtcChange::Leave).unwrap();
    assert!(
        orders(&tree).is_empty(),
        "the room ended, and its order with it"
    );
}

#[test]
fn a_stored_stream_is_one_of_the_apps_files_called_back_once_and_gone_with_the_file() {
    let (_dir, tree) = app_tree();
    alice_joins(&tree);
    let (file, stream) = stored("f1", 4_096);
    let change = RecordingChange::Stored(Box::new(StoredStream {
        file: file.clone(),
        stream: stream.clone(),
        callback_url: Some("http://app/rec".into()),
    }));
    recording(&tree, "r1", change.clone()).unwrap();
    recording(&tree, "r1", change).expect("a retry changes nothing");
    assert_eq!(recorded(&tree, "r1"), vec![stream.clone()]);
    assert_eq!(recording_callbacks(&tree), vec!["f1".to_string()]);

    let elsewhere = RecordingChange::Stored(Box::new(StoredStream {
        file,
        stream: RecordedStream {
            room_id: "r2".into(),
            ..stream
        },
        callback_url: None,
    }));
    let refused = recording(&tree, "r1", elsewhere).unwrap_err();
    assert!(
        matches!(refused, CommandError::Invalid { .. }),
        "{refused:?}"
    );

    let forget = Command::ForgetFiles(crate::state::files::ForgetFiles {
        app_key: APP.into(),
        file_ids: vec!["f1".into()],
    });
    at(&tree, 3_000, forget).unwrap();
    assert!(recorded(&tree, "r1").is_empty(), "its file expired");
}

// covers: RTC-07
#[test]
fn an_erased_user_leaves_its_room_and_its_recordings_and_their_files_go() {
    let (_dir, tree) = app_tree();
    alice_joins(&tree);
    let (file, stream) = stored("f1", 4_096);
    let change = RecordingChange::Stored(Box::new(StoredStream {
        file,
        stream,
        callback_url: None,
    }));
    recording(&tree, "r1", change).unwrap();
    let file_key = crate::state::keys::files::file(APP, "f1");
    assert!(tree.get(&file_key).unwrap().is_some());

    let erase = Command::EraseRtcUsers(crate::state::rtc::EraseRtcUsers {
        app_key: APP.into(),
        user_ids: vec!["alice".into()],
    });
    at(&tree, 3_000, erase).unwrap();
    assert!(
        recorded(&tree, "r1").is_empty(),
        "the recording of alice is gone"
    );
    assert!(
        tree.get(&file_key).unwrap().is_none(),
        "and its file record"
    );
    let room_of = crate::state::rtc::room_of(&tree, APP, "alice").unwrap();
    assert_eq!(room_of, None, "alice left the room");
}
