//! Conversation lists, unread counts and group receipts.

use super::*;

fn conversation_list(tree: &sled::Tree, user: &str) -> Vec<ConversationSummary> {
    match query(
        tree,
        &Query::Conversations {
            app_key: "prodkey001".into(),
            user_id: user.into(),
            limit: 100,
        },
    ) {
        Ok(QueryOutput::ConversationList(list)) => list,
        other => panic!("{other:?}"),
    }
}

// covers: MSG-03, PRV-07, GRP-03

#[test]
fn conversation_lists_count_unread_until_read_and_group_receipts_name_readers() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    run(&tree, &[join("g1", vec!["alice".into(), "bob".into()])]);
    let ab = Conversation::private("alice", "bob", "");
    let g1 = Conversation::group_like(ConversationType::Group, "g1", "");
    for content in ["one", "two", "three"] {
        publish(&tree, vec![text(ab.clone(), "alice", Some("bob"), content)]).unwrap();
    }
    let Ok(Output::Published(published)) =
        publish(&tree, vec![text(g1.clone(), "alice", None, "group one")])
    else {
        panic!("group publish")
    };
    let Some(Publication::Stored { msg_uid, .. }) = published.first().cloned() else {
        panic!("stored")
    };
    // Pin the group for bob: pinned first, then by last message.
    run(
        &tree,
        &[envelope(Command::ChangeConversation(ChangeConversation {
            app_key: "prodkey001".into(),
            user_id: "bob".into(),
            kind: ConversationType::Group,
            target_id: "g1".into(),
            channel: String::new(),
            setting: ConversationSetting::Pinned(true),
        }))],
    );
    let list = conversation_list(&tree, "bob");
    let summary: Vec<(String, u64, bool)> = list
        .iter()
        .map(|c| {
            (
                c.conversation.target_for("bob").to_string(),
                c.unread,
                c.settings.pinned,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("g1".to_string(), 1, true), ("alice".to_string(), 3, false)]
    );
    assert_eq!(
        list[1].last.as_ref().map(|m| m.content.as_str()),
        Some("three")
    );
    // The sender has nothing unread in its own conversation.
    assert!(conversation_list(&tree, "alice")
        .iter()
        .all(|c| c.unread == 0));
    // Reading up to seq 2 leaves one unread; a mark never moves back.
    for seq in [2, 1] {
        run(
            &tree,
            &[envelope(Command::MarkRead(MarkRead {
                app_key: "prodkey001".into(),
                user_id: "bob".into(),
                conversation: ab.clone(),
                seq,
            }))],
        );
    }
    assert_eq!(conversation_list(&tree, "bob")[1].unread, 1);

    // bob reads the group message: alice learns it through a directed RC:RRRspMsg.
    let receipt = run(
        &tree,
        &[envelope(Command::GroupReadReceipt(GroupReadReceipt {
            app_key: "prodkey001".into(),
            group_id: "g1".into(),
            user_id: "bob".into(),
            msg_uids: vec![msg_uid.clone()],
        }))],
    )
    .remove(0);
    assert!(matches!(receipt, Ok(Output::Published(p)) if p.len() == 1));
    match query(
        &tree,
        &Query::Readers {
            app_key: "prodkey001".into(),
            msg_uid: msg_uid.clone(),
        },
    ) {
        Ok(QueryOutput::Readers(readers)) => {
            assert_eq!(
                readers.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
                ["bob"]
            )
        }
        other => panic!("{other:?}"),
    }
    let alice_sync = sync_of(&tree, "alice", 0, 100);
    let notice = alice_sync.messages.last().unwrap();
    assert_eq!(notice.object_name, "RC:RRRspMsg");
    assert!(notice.content.contains(&msg_uid));
    // The notice is for alice only, and never counts as unread.
    assert!(sync_of(&tree, "bob", 0, 100)
        .messages
        .iter()
        .all(|m| m.object_name != "RC:RRRspMsg"));
    // A non-member cannot send receipts.
    let refused = run(
        &tree,
        &[envelope(Command::GroupReadReceipt(GroupReadReceipt {
            app_key: "prodkey001".into(),
            group_id: "g1".into(),
            user_id: "mallory".into(),
            msg_uids: vec![msg_uid],
        }))],
    )
    .remove(0);
    assert!(matches!(refused, Err(CommandError::NotMember { .. })));
}

// covers: CHR-06
