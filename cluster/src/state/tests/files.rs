//! Uploaded files' records: expiry in order across apps, and forgetting that gives the
//! bytes back to the quota (FILE-04).

use meridian_proto::files::FileKind;

use super::*;
use crate::state::files::{
    EraseUserFiles, FileAnswer, FileQuestion, FileRecord, ForgetFiles, ForgetOwnedFiles,
    RecordFile, RecordOwnedFile,
};

fn record(app: &str, file_id: &str, size: u64, expires_ms: u64) -> Envelope {
    envelope(Command::RecordFile(file(
        app, file_id, size, expires_ms, "alice",
    )))
}

fn file(app: &str, file_id: &str, size: u64, expires_ms: u64, owner: &str) -> RecordFile {
    RecordFile {
        app_key: app.into(),
        record: FileRecord {
            file_id: file_id.into(),
            kind: FileKind::File,
            owner: owner.into(),
            size,
            content_type: "text/plain".into(),
            name: format!("{file_id}.txt"),
            sha256: "00".into(),
            created_ms: 1,
            has_preview: false,
            expires_ms,
        },
    }
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

fn usage(tree: &sled::Tree, app: &str) -> (u64, u64) {
    let FileAnswer::Budget(_, usage) = files_answer(tree, app, FileQuestion::Budget) else {
        panic!("a budget");
    };
    (usage.bytes, usage.files)
}

// covers: FILE-04, LIFE-02
#[test]
fn erasing_a_user_forgets_the_files_it_uploaded_and_only_those() {
    let (_dir, tree) = tree();
    let a = "prodkey001";
    let owned = |id: &str, size: u64, owner: &str| {
        envelope(Command::RecordOwnedFile(RecordOwnedFile(file(
            a, id, size, 9_000, owner,
        ))))
    };
    let out = run(
        &tree,
        &[
            create_app("A", "devkey001", a),
            owned("a1", 10, "alice"),
            owned("a2", 20, "alice"),
            owned("b1", 40, "bob"),
            owned("app", 80, ""),
            // Recorded twice (a retried upload): still one file.
            owned("a1", 10, "alice"),
        ],
    );
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    assert_eq!(usage(&tree, a), (150, 4));

    let erase = |users: &[&str]| {
        envelope(Command::EraseUserFiles(EraseUserFiles {
            app_key: a.into(),
            user_ids: users.iter().map(|u| u.to_string()).collect(),
        }))
    };
    assert!(run(&tree, &[erase(&["alice"])])[0].is_ok());
    assert_eq!(usage(&tree, a), (120, 2), "alice's two files are forgotten");
    let known = FileQuestion::Known {
        file_ids: ["a1", "a2", "b1", "app"].map(String::from).to_vec(),
    };
    let still = FileAnswer::Known(vec!["b1".into(), "app".into()]);
    assert_eq!(files_answer(&tree, a, known.clone()), still);
    // Again, or for a user without files: nothing changes; a bad user id is refused.
    assert!(run(&tree, &[erase(&["alice", "carol"])])[0].is_ok());
    assert_eq!(usage(&tree, a), (120, 2));
    assert!(run(&tree, &[erase(&["bad/id"])])[0].is_err());

    // A file the sweep forgot leaves its uploader's index: erasing bob later is a no-op.
    assert_eq!(tree.scan_prefix(b"fileowner/").count(), 1, "bob's file");
    let forget = ForgetOwnedFiles(ForgetFiles {
        app_key: a.into(),
        file_ids: vec!["b1".into()],
    });
    assert!(run(&tree, &[envelope(Command::ForgetOwnedFiles(forget))])[0].is_ok());
    assert_eq!(usage(&tree, a), (80, 1));
    let owner_keys = tree.scan_prefix(b"fileowner/").count();
    assert_eq!(owner_keys, 0, "no index entry outlives its file");
    assert!(run(&tree, &[erase(&["bob"])])[0].is_ok());
    assert_eq!(usage(&tree, a), (80, 1));
}

/// LIFE-05: files recorded before uploaders' files were indexed (format 7) are indexed by
/// the 7 → 8 step, so erasing their uploader forgets them too.
// covers: LIFE-02, LIFE-05, FILE-04
#[test]
fn files_of_format_7_are_indexed_by_uploader_and_erased_with_them() {
    use crate::state::upgrades;
    let (_dir, tree) = tree();
    let a = "prodkey001";
    let plain =
        |id: &str, owner: &str| envelope(Command::RecordFile(file(a, id, 10, 9_000, owner)));
    let out = run(
        &tree,
        &[
            create_app("A", "devkey001", a),
            plain("a1", "alice"),
            plain("b1", "bob"),
            plain("app", ""),
        ],
    );
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    assert_eq!(
        tree.scan_prefix(b"fileowner/").count(),
        0,
        "format 7 kept no index"
    );

    for _ in 0..2 {
        // Run again (a crash before the version was recorded): the same records.
        let mut overlay = Overlay::new(&tree);
        upgrades::step(7, &mut overlay).unwrap();
        tree.apply_batch(overlay.into_batch()).unwrap();
        assert_eq!(
            tree.scan_prefix(b"fileowner/").count(),
            2,
            "alice's and bob's"
        );
    }

    let erase = envelope(Command::EraseUserFiles(EraseUserFiles {
        app_key: a.into(),
        user_ids: vec!["alice".into()],
    }));
    assert!(run(&tree, &[erase])[0].is_ok());
    let known = FileQuestion::Known {
        file_ids: ["a1", "b1", "app"].map(String::from).to_vec(),
    };
    let still = FileAnswer::Known(vec!["b1".into(), "app".into()]);
    assert_eq!(files_answer(&tree, a, known), still);
}
