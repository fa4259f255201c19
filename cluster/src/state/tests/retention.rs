//! History retention (LIFE-01): what the leader finds past each type's retention, and
//! what expiring it removes — the messages and everything pointing at them, and nothing
//! else; and the messages of users erased with them (LIFE-02).

use super::*;

const APP: &str = "prodkey001";

fn publish_at(tree: &sled::Tree, now_ms: u64, messages: Vec<NewMessage>) {
    let mut overlay = Overlay::new(tree);
    let ctx = ApplyContext {
        area: AreaCode::Sg,
        now_ms,
    };
    let command = Command::Publish(Publish {
        app_key: APP.into(),
        messages,
    });
    apply(ctx, &mut overlay, &envelope(command)).unwrap();
    tree.apply_batch(overlay.into_batch()).unwrap();
}

fn expire(tree: &sled::Tree, ranges: Vec<ExpiredRange>) -> Result<Output, CommandError> {
    let command = Command::ExpireHistory(ExpireHistory {
        app_key: APP.into(),
        ranges,
    });
    run(tree, &[envelope(command)]).remove(0)
}

fn contents(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.content.as_str()).collect()
}

// covers: LIFE-01, PRV-04
#[test]
fn messages_past_their_types_retention_go_with_everything_that_points_at_them() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", APP)]);
    run(&tree, &[join("g1", vec!["alice".into(), "bob".into()])]);
    let ab = Conversation::private("alice", "bob", "");
    let g1 = Conversation::group_like(ConversationType::Group, "g1", "");
    // Day 0: three private messages and a group message; day 100: one more of each.
    publish_at(
        &tree,
        1_000,
        (1..=3)
            .map(|i| private_text("alice", "bob", &format!("old{i}")))
            .collect(),
    );
    publish_at(
        &tree,
        2_000,
        vec![text(g1.clone(), "alice", None, "old group")],
    );
    let old_uid = history(&tree, &ab, false, 1)[0].msg_uid.clone();
    let day_100 = 100 * DAY_MS;
    publish_at(&tree, day_100, vec![private_text("bob", "alice", "new")]);
    publish_at(
        &tree,
        day_100,
        vec![text(g1.clone(), "bob", None, "new group")],
    );

    // Private history is kept 90 days here, groups the default 180.
    let mut limits = AppLimits::default();
    limits.retention_days.private = 90;
    let set = Command::SetAppLimits(SetAppLimits {
        app_key: APP.into(),
        limits,
    });
    assert!(run(&tree, &[envelope(set)])[0].is_ok());

    // Day 120: only the private day-0 messages are due, as one range.
    let found = expired_history(&tree, APP, 120 * DAY_MS, DAY_MS, &[], 100).unwrap();
    let (due, cursor) = (found.ranges, found.next);
    assert_eq!(found.conversations, 2);
    assert_eq!(
        due,
        [ExpiredRange {
            conversation: ab.clone(),
            first_seq: 1,
            last_seq: 3
        }]
    );
    assert!(cursor.is_empty(), "every conversation was looked at");
    assert_eq!(expire(&tree, due.clone()), Ok(Output::Count(3)));
    // Proposed twice (a retried proposal): nothing more goes.
    assert_eq!(expire(&tree, due), Ok(Output::Count(0)));

    assert_eq!(contents(&history(&tree, &ab, false, 10)), ["new"]);
    assert_eq!(
        contents(&history(&tree, &g1, false, 10)),
        ["old group", "new group"]
    );
    let by_uid = query(
        &tree,
        &Query::GetMessage {
            app_key: APP.into(),
            msg_uid: old_uid,
        },
    );
    assert!(
        matches!(by_uid, Err(CommandError::NotFound { .. })),
        "{by_uid:?}"
    );
    // Sync no longer finds them in bob's inbox; the archive of day 0's hour has only
    // the group message.
    assert_eq!(
        contents(&sync_of(&tree, "bob", 0, 100).messages),
        ["old group", "new", "new group"]
    );
    match query(
        &tree,
        &Query::ArchiveHour {
            app_key: APP.into(),
            hour_start_ms: 0,
        },
    ) {
        Ok(QueryOutput::Messages(hour)) => assert_eq!(contents(&hour), ["old group"]),
        other => panic!("{other:?}"),
    }
    // A later message still follows on in the conversation.
    publish_at(
        &tree,
        day_100 + 1,
        vec![private_text("alice", "bob", "later")],
    );
    let seqs: Vec<u64> = history(&tree, &ab, false, 10)
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(seqs, [4, 5]);

    // Day 200: the group's day-0 message is due too.
    let due = expired_history(&tree, APP, 200 * DAY_MS, DAY_MS, &[], 100)
        .unwrap()
        .ranges;
    assert_eq!(due.len(), 2, "{due:?}");
}

// covers: LIFE-01
#[test]
fn the_search_is_bounded_and_resumes_where_it_stopped() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", APP)]);
    for peer in ["bob", "carol", "dave"] {
        publish_at(&tree, 1_000, vec![private_text("alice", peer, "hi")]);
    }
    let now = 365 * DAY_MS;
    // Two conversations per call: two calls find all three, then it starts over.
    let found = expired_history(&tree, APP, now, DAY_MS, &[], 2).unwrap();
    let (first, cursor) = (found.ranges, found.next);
    assert_eq!((first.len(), found.conversations), (2, 2));
    assert!(!cursor.is_empty());
    let found = expired_history(&tree, APP, now, DAY_MS, &cursor, 2).unwrap();
    let (second, cursor) = (found.ranges, found.next);
    assert_eq!((second.len(), found.conversations), (1, 1));
    assert!(cursor.is_empty());
    assert_ne!(first[0].conversation, second[0].conversation);
    assert_ne!(first[1].conversation, second[0].conversation);

    // A command over the batch is refused whole.
    let too_many = ExpiredRange {
        last_seq: EXPIRE_BATCH + 1,
        ..first[0].clone()
    };
    assert!(matches!(
        expire(&tree, vec![too_many]),
        Err(CommandError::Limit { .. })
    ));
    assert_eq!(history(&tree, &first[0].conversation, false, 10).len(), 1);
}

// covers: LIFE-01, PRV-02
#[test]
fn inbox_entries_past_the_offline_window_go_before_their_messages() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", APP)]);
    // Day 0: alice writes to bob and to carol; day 10: bob answers alice.
    publish_at(&tree, 1_000, vec![private_text("alice", "bob", "old")]);
    publish_at(
        &tree,
        1_000,
        vec![private_text("alice", "carol", "old too")],
    );
    publish_at(
        &tree,
        10 * DAY_MS,
        vec![private_text("bob", "alice", "new")],
    );

    // Day 12, a 7-day window: both parties' entries of the day-0 messages are stale;
    // alice's inbox is searched past her stale entry to the fresh one, then the next user.
    let found = stale_inbox_entries(&tree, APP, 12 * DAY_MS, DAY_MS, &[], 100).unwrap();
    let mut entries = found.entries.clone();
    entries.sort();
    let users: Vec<&str> = entries.iter().map(|(user, _)| user.as_str()).collect();
    assert_eq!(users, ["alice", "alice", "bob", "carol"]);
    assert!(found.next.is_empty());
    // A search of 1 entry stops there and says where to go on.
    let first = stale_inbox_entries(&tree, APP, 12 * DAY_MS, DAY_MS, &[], 1).unwrap();
    assert_eq!((first.entries.len(), first.looked_at), (1, 1));
    let rest = stale_inbox_entries(&tree, APP, 12 * DAY_MS, DAY_MS, &first.next, 100).unwrap();
    assert_eq!(rest.entries.len(), 3);

    let trim = Command::TrimInboxes(TrimInboxes {
        app_key: APP.into(),
        entries: found.entries,
    });
    assert!(run(&tree, &[envelope(trim)])[0].is_ok());
    // Sync finds only what is in the window; history keeps every message.
    assert_eq!(contents(&sync_of(&tree, "bob", 0, 100).messages), ["new"]);
    assert_eq!(sync_of(&tree, "carol", 0, 100).messages, []);
    let ab = Conversation::private("alice", "bob", "");
    assert_eq!(contents(&history(&tree, &ab, false, 10)), ["old", "new"]);
    let again = stale_inbox_entries(&tree, APP, 12 * DAY_MS, DAY_MS, &[], 100).unwrap();
    assert_eq!(again.entries, []);
}

// covers: LIFE-02
#[test]
fn a_user_erased_with_its_messages_loses_every_message_it_sent_and_only_those() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", APP)]);
    run(&tree, &[join("g1", vec!["gone".into(), "bob".into()])]);
    let private = Conversation::private("gone", "bob", "");
    let g1 = Conversation::group_like(ConversationType::Group, "g1", "");
    publish_at(
        &tree,
        1_000,
        vec![
            private_text("gone", "bob", "mine 1"),
            private_text("gone", "bob", "mine 2"),
            private_text("bob", "gone", "theirs"),
            private_text("gone", "bob", "mine 3"),
        ],
    );
    publish_at(
        &tree,
        2_000,
        vec![text(g1.clone(), "gone", None, "mine in g1")],
    );
    publish_at(
        &tree,
        3_000,
        vec![text(g1.clone(), "bob", None, "bob in g1")],
    );

    let erase = |sent_messages| {
        envelope(Command::EraseUsers(EraseUsers {
            app_key: APP.into(),
            user_ids: vec!["gone".into()],
            sent_messages,
        }))
    };
    // Without the option nothing is pending; with it the user waits for the sweep.
    assert!(run(&tree, &[erase(false)])[0].is_ok());
    assert!(erasing_sent(&tree, APP).unwrap().is_empty());
    assert!(run(&tree, &[erase(true)])[0].is_ok());
    let pending = erasing_sent(&tree, APP).unwrap();
    assert_eq!(pending.keys().collect::<Vec<_>>(), ["gone"]);

    // A search bounded to two messages stops with a cursor; from there it goes on to
    // the end, and the two searches together find exactly the erased user's messages.
    let first = sent_by_erased(&tree, APP, &pending, &[], 2).unwrap();
    assert_eq!(first.looked_at, 2);
    assert!(!first.next.is_empty());
    let rest = sent_by_erased(&tree, APP, &pending, &first.next, 100).unwrap();
    assert!(rest.next.is_empty(), "the end of the app's messages");
    assert_eq!(first.looked_at + rest.looked_at, 6);
    let ranges: Vec<ExpiredRange> = first.ranges.into_iter().chain(rest.ranges).collect();
    let found: u64 = ranges.iter().map(|r| r.last_seq - r.first_seq + 1).sum();
    assert_eq!(found, 4, "{ranges:?}");
    assert!(matches!(expire(&tree, ranges), Ok(Output::Count(4))));

    assert_eq!(contents(&history(&tree, &private, false, 10)), ["theirs"]);
    assert_eq!(contents(&history(&tree, &g1, false, 10)), ["bob in g1"]);
    let again = sent_by_erased(&tree, APP, &pending, &[], 100).unwrap();
    assert!(again.ranges.is_empty());

    let done = envelope(Command::SentMessagesErased(SentMessagesErased {
        app_key: APP.into(),
        user_ids: vec!["gone".into()],
    }));
    assert!(run(&tree, &[done])[0].is_ok());
    assert!(erasing_sent(&tree, APP).unwrap().is_empty());
}

/// The erasure callbacks waiting in the outbox: (users, sent messages too).
fn erasure_callbacks(tree: &sled::Tree) -> Vec<(Vec<String>, bool)> {
    outbox(tree)
        .0
        .into_iter()
        .filter_map(|job| match job.event {
            HookEvent::UsersErased(erased) => Some((erased.user_ids, erased.sent_messages)),
            _ => None,
        })
        .collect()
}

// covers: LIFE-02
#[test]
fn the_app_hears_of_an_erasure_once_it_is_complete_where_it_asked_to() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", APP)]);
    let erase = |user: &str, sent_messages| {
        envelope(Command::EraseUsers(EraseUsers {
            app_key: APP.into(),
            user_ids: vec![user.into()],
            sent_messages,
        }))
    };
    // No URL: nothing to tell.
    assert!(run(&tree, &[erase("ann", false)])[0].is_ok());
    assert_eq!(erasure_callbacks(&tree), []);

    let set = |url: Option<&str>| {
        envelope(Command::SetErasureCallback(SetErasureCallback {
            app_key: APP.into(),
            url: url.map(str::to_string),
        }))
    };
    assert!(run(&tree, &[set(Some("not a url"))])[0].is_err());
    assert!(run(&tree, &[set(Some("https://app.example/erased"))])[0].is_ok());
    assert_eq!(
        erasure_callback(&tree, APP).unwrap().as_deref(),
        Some("https://app.example/erased")
    );

    // Without their messages the erasure is complete at once; with them, only once the
    // sweep is through (`SentMessagesErased`).
    let deleted = envelope(Command::DeleteUsers(DeleteUsers {
        app_key: APP.into(),
        user_ids: vec!["bea".into()],
    }));
    assert!(
        run(&tree, &[deleted, erase("cal", false), erase("dan", true)])
            .iter()
            .all(Result::is_ok)
    );
    assert_eq!(
        erasure_callbacks(&tree),
        [
            (vec!["bea".to_string()], false),
            (vec!["cal".to_string()], false)
        ]
    );
    let done = envelope(Command::SentMessagesErased(SentMessagesErased {
        app_key: APP.into(),
        user_ids: vec!["dan".into()],
    }));
    assert!(run(&tree, &[done])[0].is_ok());
    assert_eq!(
        erasure_callbacks(&tree).last(),
        Some(&(vec!["dan".to_string()], true))
    );

    // Removed: nothing more is told.
    assert!(run(&tree, &[set(None)])[0].is_ok());
    assert!(run(&tree, &[erase("eve", false)])[0].is_ok());
    assert_eq!(erasure_callbacks(&tree).len(), 3);
}
