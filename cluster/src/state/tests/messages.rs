//! Publishing, recalls, blacklists and sensitive words.

use super::*;

#[test]
fn messages_get_dense_sequences_unique_uids_and_status_messages_are_not_stored() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let ab = Conversation::private("alice", "bob", "");
    let mut typing = text(ab.clone(), "alice", Some("bob"), "{}");
    typing.object_name = "RC:TypSts".into();
    typing.flags = MessageFlags::builtin("RC:TypSts");
    let out = publish(
        &tree,
        vec![
            text(ab.clone(), "alice", Some("bob"), "1"),
            typing,
            text(ab.clone(), "bob", Some("alice"), "2"),
            text(
                Conversation::private("alice", "carol", ""),
                "alice",
                Some("carol"),
                "x",
            ),
        ],
    )
    .unwrap();
    let Output::Published(published) = out else {
        panic!("{out:?}")
    };
    let seqs: Vec<u64> = published
        .iter()
        .filter_map(|p| match p {
            Publication::Stored { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect();
    assert_eq!(seqs, vec![1, 2, 1], "per-conversation dense seq");
    assert!(matches!(&published[1], Publication::Transient { .. }));
    let uids: std::collections::HashSet<String> = published
        .iter()
        .filter_map(|p| match p {
            Publication::Stored { msg_uid, .. } | Publication::Transient { msg_uid, .. } => {
                Some(msg_uid.clone())
            }
            Publication::Blocked
            | Publication::Sensitive
            | Publication::Dropped { .. }
            | Publication::Unrouted { .. } => None,
        })
        .collect();
    assert_eq!(uids.len(), 4);

    let page = history(&tree, &ab, false, 10);
    assert_eq!(
        page.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(),
        ["1", "2"]
    );
    let newest = history(&tree, &ab, true, 1);
    assert_eq!(newest[0].content, "2");

    // Oversized content is refused and nothing of the batch is stored.
    let big = "x".repeat(state::messages::MAX_CONTENT_BYTES + 1);
    let refused = publish(
        &tree,
        vec![
            text(ab.clone(), "alice", Some("bob"), "3"),
            text(ab.clone(), "alice", Some("bob"), &big),
        ],
    );
    assert!(matches!(refused, Err(CommandError::Limit { .. })));
    assert_eq!(history(&tree, &ab, false, 10).len(), 2);
    let at_limit = "x".repeat(state::messages::MAX_CONTENT_BYTES);
    assert!(publish(
        &tree,
        vec![text(ab.clone(), "alice", Some("bob"), &at_limit)]
    )
    .is_ok());
}

// covers: PRV-10

#[test]
fn a_blacklisted_sender_is_not_stored_when_verification_is_asked() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    run(
        &tree,
        &[envelope(Command::ChangeUserList(ChangeUserList {
            app_key: "prodkey001".into(),
            list: UserList::Black,
            user_id: "bob".into(),
            others: vec!["alice".into()],
            present: true,
        }))],
    );
    let ab = Conversation::private("alice", "bob", "");
    let mut unverified = text(ab.clone(), "alice", Some("bob"), "through");
    unverified.verify_blacklist = false;
    let out = publish(
        &tree,
        vec![
            text(ab.clone(), "alice", Some("bob"), "blocked"),
            unverified,
        ],
    )
    .unwrap();
    let Output::Published(published) = out else {
        panic!()
    };
    assert_eq!(published[0], Publication::Blocked);
    assert!(matches!(published[1], Publication::Stored { seq: 1, .. }));
    assert_eq!(history(&tree, &ab, false, 10).len(), 1);
}

// covers: PRV-08

#[test]
fn recall_marks_the_message_and_stores_a_notice() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let ab = Conversation::private("alice", "bob", "");
    let Ok(Output::Published(published)) =
        publish(&tree, vec![text(ab.clone(), "alice", Some("bob"), "oops")])
    else {
        panic!()
    };
    let Publication::Stored { msg_uid, .. } = &published[0] else {
        panic!()
    };
    let recall = |sender: &str, by_admin| {
        run(
            &tree,
            &[envelope(Command::Recall(Recall {
                app_key: "prodkey001".into(),
                sender: sender.into(),
                msg_uid: msg_uid.clone(),
                by_admin,
                delete: true,
            }))],
        )
        .remove(0)
    };
    assert!(
        matches!(recall("bob", false), Err(CommandError::Invalid { .. })),
        "only the sender"
    );
    assert!(matches!(recall("alice", false), Ok(Output::Published(_))));
    assert!(
        matches!(recall("alice", false), Err(CommandError::Conflict { .. })),
        "once"
    );
    let page = history(&tree, &ab, false, 10);
    assert!(page[0].recalled && page[0].content.is_empty());
    assert_eq!(page[1].object_name, "RC:RcCmd");
    assert!(page[1].content.contains(msg_uid.as_str()));
}

#[test]
fn sensitive_words_refuse_or_replace_client_text_within_their_limits() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let add = |word: &str, replace: Option<&str>| {
        run(
            &tree,
            &[command(Command::AddSensitiveWord(AddSensitiveWord {
                app_key: "prodkey001".into(),
                word: word.into(),
                replace: replace.map(str::to_string),
            }))],
        )
        .remove(0)
    };
    add("spam", None).unwrap();
    add("darn", Some("****")).unwrap();
    let mut client_id = 0;
    let mut from_client = |content: &str| {
        client_id += 1;
        let mut m = private_text("ann", "bob", content);
        m.sender_device = Some(ClientOrigin {
            device_id: "d".into(),
            client_id: client_id.to_string(),
        });
        match publish(&tree, vec![m]).unwrap() {
            Output::Published(mut p) => p.remove(0),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        from_client(r#"{"content":"buy spam now"}"#),
        Publication::Sensitive
    );
    assert!(matches!(
        from_client(r#"{"content":"darn it, darn"}"#),
        Publication::Stored { seq: 1, .. }
    ));
    // The Server API is not screened.
    publish(
        &tree,
        vec![private_text("ann", "bob", r#"{"content":"spam"}"#)],
    )
    .unwrap();
    let stored: Vec<String> = history(&tree, &Conversation::private("ann", "bob", ""), false, 10)
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(
        stored,
        [r#"{"content":"**** it, ****"}"#, r#"{"content":"spam"}"#]
    );
    // The push text is screened like the content.
    let mut m = private_text("ann", "bob", r#"{"content":"fine"}"#);
    m.push_content = Some("spam inside".into());
    m.sender_device = Some(ClientOrigin {
        device_id: "d".into(),
        client_id: "p1".into(),
    });
    assert!(matches!(
        publish(&tree, vec![m]).unwrap(),
        Output::Published(p) if p == [Publication::Sensitive]
    ));

    // Limits: a word of 1 to 32 characters, at most 50 words.
    assert!(matches!(
        add(&"x".repeat(33), None),
        Err(CommandError::Invalid { .. })
    ));
    assert!(matches!(add("", None), Err(CommandError::Invalid { .. })));
    add(&"x".repeat(32), None).unwrap();
    for i in 3..state::sensitive::MAX_WORDS {
        add(&format!("word{i}"), None).unwrap();
    }
    assert!(matches!(
        add("one-more", None),
        Err(CommandError::Limit { .. })
    ));
    // Changing a listed word's replacement is not a new word.
    add("spam", Some("ham")).unwrap();
    let deleted = run(
        &tree,
        &[command(Command::DeleteSensitiveWords(
            DeleteSensitiveWords {
                app_key: "prodkey001".into(),
                words: vec!["spam".into(), "darn".into()],
            },
        ))],
    );
    assert_eq!(deleted[0], Ok(Output::Done));
    match query(
        &tree,
        &Query::SensitiveWords {
            app_key: "prodkey001".into(),
        },
    )
    .unwrap()
    {
        QueryOutput::SensitiveWords(words) => {
            assert_eq!(words.len(), state::sensitive::MAX_WORDS - 2)
        }
        other => panic!("{other:?}"),
    }
}

// covers: HOOK-01, HOOK-03
