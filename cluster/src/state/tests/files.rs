//! Uploaded files' records: expiry in order across apps, and forgetting that gives the
//! bytes back to the quota (FILE-04).

use meridian_proto::files::FileKind;

use super::*;
use crate::state::files::{FileAnswer, FileQuestion, FileRecord, ForgetFiles, RecordFile};

fn record(app: &str, file_id: &str, size: u64, expires_ms: u64) -> Envelope {
    envelope(Command::RecordFile(RecordFile {
        app_key: app.into(),
        record: FileRecord {
            file_id: file_id.into(),
            kind: FileKind::File,
            owner: "alice".into(),
            size,
            content_type: "text/plain".into(),
            name: format!("{file_id}.txt"),
            sha256: "00".into(),
            created_ms: 1,
            has_preview: false,
            expires_ms,
        },
    }))
}

fn expired(tree: &sled::Tree, now_ms: u64, limit: usize) -> Vec<(String, String)> {
    match query(tree, &Query::ExpiredFiles { now_ms, limit }).unwrap() {
        QueryOutput::ExpiredFiles(files) => files
            .into_iter()
            .map(|(app, record)| (app, record.file_id))
            .collect(),
        other => panic!("{other:?}"),
    }
}

fn files_answer(tree: &sled::Tree, app: &str, question: FileQuestion) -> FileAnswer {
    match query(
        tree,
        &Query::Files {
            app_key: app.into(),
            question,
        },
    )
    .unwrap()
    {
        QueryOutput::Files(answer) => answer,
        other => panic!("{other:?}"),
    }
}

// covers: FILE-04
#[test]
fn files_expire_in_order_and_forgetting_them_frees_their_quota() {
    let (_dir, tree) = tree();
    let (a, b) = ("prodkey001", "prodkey002");
    let out = run(
        &tree,
        &[
            create_app("A", "devkey001", a),
            create_app("B", "devkey002", b),
            record(a, "late", 10, 3_000),
            record(a, "early", 20, 1_000),
            record(b, "other", 40, 2_000),
        ],
    );
    assert!(out.iter().all(Result::is_ok), "{out:?}");

    // Due at 2 000: each app's earliest first; the limit bounds the answer.
    let due = expired(&tree, 2_000, 10);
    assert_eq!(
        due,
        [(a.into(), "early".into()), (b.into(), "other".into())]
    );
    assert_eq!(expired(&tree, 2_000, 1).len(), 1);
    assert_eq!(expired(&tree, 999, 10), []);

    // Forgetting gives the bytes back; unknown ids and a second forget change nothing.
    for _ in 0..2 {
        let forget = ForgetFiles {
            app_key: a.into(),
            file_ids: vec!["early".into(), "never-stored".into()],
        };
        assert!(run(&tree, &[envelope(Command::ForgetFiles(forget))])[0].is_ok());
    }
    let FileAnswer::Budget(_, usage) = files_answer(&tree, a, FileQuestion::Budget) else {
        panic!("a budget");
    };
    assert_eq!((usage.bytes, usage.files), (10, 1));
    assert_eq!(expired(&tree, 2_000, 10), [(b.into(), "other".into())]);
    assert_eq!(
        files_answer(
            &tree,
            a,
            FileQuestion::Known {
                file_ids: vec!["early".into(), "late".into()]
            }
        ),
        FileAnswer::Known(vec!["late".into()])
    );

    // A deleted app's files are no longer known: their objects are orphans.
    let known = |tree: &sled::Tree| {
        files_answer(
            tree,
            b,
            FileQuestion::Known {
                file_ids: vec!["other".into()],
            },
        )
    };
    assert_eq!(known(&tree), FileAnswer::Known(vec!["other".into()]));
    let delete = envelope(Command::DeleteApp(DeleteApp { app_key: b.into() }));
    assert!(run(&tree, &[delete])[0].is_ok());
    assert_eq!(known(&tree), FileAnswer::Known(vec![]));
    assert_eq!(expired(&tree, 2_000, 10), []);
}
