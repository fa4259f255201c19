//! Ultra groups: channels, private lists, mutes, edits and limits.

use super::*;

fn ultra(group: &str, change: UltraGroupChange) -> Envelope {
    envelope(Command::UltraGroup(ChangeUltraGroup {
        app_key: "prodkey001".into(),
        group_id: group.into(),
        change,
    }))
}

fn ultra_answer(tree: &sled::Tree, group: &str, question: UltraGroupQuestion) -> UltraGroupAnswer {
    match query(
        tree,
        &Query::UltraGroup {
            app_key: "prodkey001".into(),
            group_id: group.into(),
            question,
        },
    ) {
        Ok(QueryOutput::UltraGroup(answer)) => answer,
        other => panic!("{other:?}"),
    }
}

// covers: ULG-01, ULG-02, ULG-05, ULG-07

#[test]
fn ultra_groups_keep_channels_private_lists_mutes_edits_and_their_limits() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let out = run(
        &tree,
        &[
            ultra(
                "u1",
                UltraGroupChange::Create {
                    name: "U".into(),
                    owner: "alice".into(),
                },
            ),
            ultra(
                "u1",
                UltraGroupChange::Join {
                    user_ids: vec!["bob".into(), "carol".into()],
                },
            ),
            ultra(
                "u1",
                UltraGroupChange::CreateChannel {
                    channel: "ops".into(),
                    private: true,
                },
            ),
            ultra(
                "u1",
                UltraGroupChange::ChangeSet {
                    channel: "ops".into(),
                    set: UltraGroupSet::PrivateChannelUsers,
                    user_ids: vec!["alice".into(), "bob".into()],
                    present: true,
                },
            ),
        ],
    );
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    // Creating it again is a conflict; 50 channels at most (ULG-02).
    assert!(matches!(
        run(
            &tree,
            &[ultra(
                "u1",
                UltraGroupChange::Create {
                    name: "U".into(),
                    owner: "x".into()
                }
            )]
        )[0],
        Err(CommandError::Conflict { .. })
    ));
    let channels: Vec<Envelope> = (0..49)
        .map(|i| {
            ultra(
                "u1",
                UltraGroupChange::CreateChannel {
                    channel: format!("c{i}"),
                    private: false,
                },
            )
        })
        .collect();
    assert!(run(&tree, &channels).iter().all(Result::is_ok));
    assert!(matches!(
        run(
            &tree,
            &[ultra(
                "u1",
                UltraGroupChange::CreateChannel {
                    channel: "one-more".into(),
                    private: false
                }
            )]
        )[0],
        Err(CommandError::Limit { limit: 50, .. })
    ));
    // A user is in at most 100 ultra groups (ULG-01).
    let many: Vec<Envelope> = (0..99)
        .map(|i| {
            ultra(
                &format!("g{i}"),
                UltraGroupChange::Create {
                    name: String::new(),
                    owner: "bob".into(),
                },
            )
        })
        .collect();
    assert!(run(&tree, &many).iter().all(Result::is_ok));
    assert!(matches!(
        run(
            &tree,
            &[ultra(
                "g100",
                UltraGroupChange::Create {
                    name: String::new(),
                    owner: "bob".into()
                }
            )]
        )[0],
        Err(CommandError::Limit { limit: 100, .. })
    ));

    // A private channel's messages reach its users only; carol cannot send there.
    let ops = Conversation::group_like(ConversationType::UltraGroup, "u1", "ops");
    let from_client = |sender: &str, conversation: &Conversation, id: &str| {
        let mut m = text(conversation.clone(), sender, None, id);
        m.sender_device = Some(ClientOrigin {
            device_id: "d".into(),
            client_id: id.into(),
        });
        publish(&tree, vec![m])
    };
    let Ok(Output::Published(sent)) = from_client("alice", &ops, "secret") else {
        panic!("send")
    };
    let Some(Publication::Stored { msg_uid, .. }) = sent.first().cloned() else {
        panic!()
    };
    assert!(matches!(
        from_client("carol", &ops, "nope"),
        Err(CommandError::NotMember { .. })
    ));
    let page = |viewer: &str, conversation: &Conversation| -> Result<Vec<String>, CommandError> {
        match query(
            &tree,
            &Query::History {
                app_key: "prodkey001".into(),
                page: HistoryPage {
                    conversation: conversation.clone(),
                    viewer: Some(viewer.into()),
                    from_ms: 0,
                    to_ms: u64::MAX,
                    newest_first: false,
                    limit: 10,
                    members_only: true,
                    keyword: None,
                    sender: None,
                },
            },
        )? {
            QueryOutput::Messages(m) => Ok(m.into_iter().map(|m| m.content).collect()),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(page("bob", &ops).unwrap(), ["secret"]);
    assert!(page("carol", &ops).unwrap().is_empty());
    assert!(matches!(
        page("mallory", &ops),
        Err(CommandError::NotMember { .. })
    ));

    // Mutes (ULG-05): the whole group muted, only the whitelist speaks.
    let lobby = Conversation::group_like(ConversationType::UltraGroup, "u1", "");
    run(
        &tree,
        &[
            ultra(
                "u1",
                UltraGroupChange::SetMuted {
                    channel: String::new(),
                    muted: true,
                },
            ),
            ultra(
                "u1",
                UltraGroupChange::ChangeSet {
                    channel: String::new(),
                    set: UltraGroupSet::MuteWhitelist,
                    user_ids: vec!["carol".into()],
                    present: true,
                },
            ),
        ],
    );
    assert!(matches!(
        from_client("bob", &lobby, "b1"),
        Err(CommandError::Muted { .. })
    ));
    assert!(from_client("carol", &lobby, "c1").is_ok());

    // Edit (ULG-07): only the sender; history shows the new content, marked modified.
    let edit = |sender: &str, content: &str| {
        run(
            &tree,
            &[ultra(
                "u1",
                UltraGroupChange::Modify {
                    msg_uid: msg_uid.clone(),
                    sender: sender.into(),
                    content: content.into(),
                },
            )],
        )
        .remove(0)
    };
    assert!(edit("bob", "hijack").is_err());
    assert!(
        matches!(edit("alice", "edited"), Ok(Output::Published(p)) if matches!(p[0], Publication::Transient { .. }))
    );
    assert_eq!(page("bob", &ops).unwrap(), ["edited"]);

    // Per-channel unread for bob: "ops" has alice's message, the lobby carol's.
    let UltraGroupAnswer::Unread(unread) = ultra_answer(
        &tree,
        "u1",
        UltraGroupQuestion::Unread {
            user_id: "bob".into(),
        },
    ) else {
        panic!("unread")
    };
    let counts: Vec<(String, u64)> = unread
        .iter()
        .filter(|(_, n, _)| *n > 0)
        .map(|(c, n, _)| (c.clone(), *n))
        .collect();
    assert_eq!(counts, [(String::new(), 1), ("ops".to_string(), 1)]);

    // Dismiss removes everything and tells the sessions.
    run(&tree, &[ultra("u1", UltraGroupChange::Dismiss)]);
    assert!(matches!(
        query(
            &tree,
            &Query::UltraGroup {
                app_key: "prodkey001".into(),
                group_id: "u1".into(),
                question: UltraGroupQuestion::Get
            }
        ),
        Err(CommandError::NotFound { .. })
    ));
}
