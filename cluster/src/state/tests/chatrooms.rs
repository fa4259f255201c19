//! Chatrooms: sets, attributes, idle destruction, load shedding, auto-exit.

use super::*;

// covers: CHR-01, CHR-08, CHR-09

#[test]
fn chatrooms_keep_sets_and_attributes_and_idle_ones_are_destroyed_unless_kept_alive() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let app = || "prodkey001".to_string();
    at(
        &tree,
        0,
        Command::CreateChatrooms(CreateChatrooms {
            app_key: app(),
            rooms: vec![("r1".into(), "One".into()), ("r2".into(), "Two".into())],
        }),
    )
    .unwrap();
    at(
        &tree,
        0,
        Command::SetChatroomFlag(SetChatroomFlag {
            app_key: app(),
            room_ids: vec!["r2".into()],
            flag: RoomFlag::KeepAlive,
            on: true,
        }),
    )
    .unwrap();
    // A gag until t=1000 is in force before and gone after.
    at(
        &tree,
        0,
        Command::ChangeRoomSet(ChangeRoomSet {
            app_key: app(),
            room_id: Some("r1".into()),
            set: RoomSet::Gagged,
            members: vec!["alice".into()],
            until_ms: 1000,
            present: true,
        }),
    )
    .unwrap();
    let gagged = |now_ms| match query(
        &tree,
        &Query::RoomSetMembers {
            app_key: app(),
            room_id: Some("r1".into()),
            set: RoomSet::Gagged,
            now_ms,
        },
    )
    .unwrap()
    {
        QueryOutput::SetEntries(entries) => entries.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!((gagged(999), gagged(1000)), (1, 0));

    // 100 attributes fit; the 101st is refused and nothing of that call stays.
    let entries: Vec<(String, String)> = (0..100).map(|i| (format!("k{i}"), "v".into())).collect();
    let set = |entries: Vec<(String, String)>| {
        Command::SetRoomEntries(SetRoomEntries {
            app_key: app(),
            room_id: "r1".into(),
            owner: "alice".into(),
            entries,
            auto_delete: false,
        })
    };
    assert!(at(&tree, 10, set(entries)).is_ok());
    let over = at(&tree, 10, set(vec![("k100".into(), "v".into())]));
    assert!(matches!(over, Err(CommandError::Limit { limit: 100, .. })));
    let long_value = at(&tree, 10, set(vec![("k0".into(), "x".repeat(4097))]));
    assert!(matches!(long_value, Err(CommandError::Invalid { .. })));

    // An hour of silence destroys r1 (with its attributes); keep-alive r2 stays.
    let destroyed = at(
        &tree,
        state::chatrooms::IDLE_DESTROY_MS,
        Command::DestroyIdleChatrooms(DestroyIdleChatrooms { app_key: app() }),
    );
    assert_eq!(destroyed, Ok(Output::Destroyed(vec!["r1".into()])));
    match query(
        &tree,
        &Query::Chatrooms {
            app_key: app(),
            room_ids: vec![],
        },
    )
    .unwrap()
    {
        QueryOutput::Chatrooms(rooms) => assert_eq!(
            rooms.iter().map(|r| r.room_id.as_str()).collect::<Vec<_>>(),
            ["r2"]
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        query(
            &tree,
            &Query::RoomEntries {
                app_key: app(),
                room_id: "r1".into(),
                keys: vec![]
            }
        ),
        Err(CommandError::NotFound { .. })
    ));
}

#[test]
fn a_busy_room_sheds_low_priority_first_and_never_whitelisted_messages() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let set = |set: RoomSet, room: Option<&str>, members: &[&str]| {
        envelope(Command::ChangeRoomSet(ChangeRoomSet {
            app_key: "prodkey001".into(),
            room_id: room.map(str::to_string),
            set,
            members: members.iter().map(|m| m.to_string()).collect(),
            until_ms: 0,
            present: true,
        }))
    };
    run(
        &tree,
        &[
            envelope(Command::CreateChatrooms(CreateChatrooms {
                app_key: "prodkey001".into(),
                rooms: vec![("r1".into(), "room".into())],
            })),
            set(RoomSet::LowPriority, None, &["App:Like"]),
            set(RoomSet::MessageWhitelist, None, &["App:Gift"]),
            set(RoomSet::UserWhitelist, Some("r1"), &["host"]),
        ],
    );
    let room = Conversation::group_like(ConversationType::Chatroom, "r1", "");
    let message = |sender: &str, object_name: &str| {
        let mut m = text(room.clone(), sender, None, "x");
        m.object_name = object_name.into();
        m
    };
    // One apply round is one instant: one 200 ms window.
    let mut batch = Vec::new();
    for _ in 0..25 {
        batch.push(message("fan", "App:Like"));
    }
    for _ in 0..25 {
        batch.push(message("fan", "RC:TxtMsg"));
    }
    batch.push(message("fan", "App:Gift"));
    batch.push(message("host", "RC:TxtMsg"));
    let Ok(Output::Published(published)) = publish(&tree, batch) else {
        panic!("publish")
    };
    let outcome = |range: std::ops::Range<usize>| -> (usize, Vec<Priority>) {
        let mut accepted = 0;
        let mut dropped = Vec::new();
        for p in &published[range] {
            match p {
                Publication::Stored { .. } => accepted += 1,
                Publication::Dropped { priority, .. } => dropped.push(*priority),
                other => panic!("{other:?}"),
            }
        }
        (accepted, dropped)
    };
    // Low priority may take 20 of the 40; then high priority fills the window to 40.
    let (likes, dropped_likes) = outcome(0..25);
    assert_eq!((likes, dropped_likes.len()), (20, 5));
    assert!(dropped_likes.iter().all(|p| *p == Priority::Low));
    let (texts, dropped_texts) = outcome(25..50);
    assert_eq!((texts, dropped_texts.len()), (20, 5));
    assert!(dropped_texts.iter().all(|p| *p == Priority::High));
    // Whitelisted types and users get through a full window.
    assert_eq!(outcome(50..52), (2, vec![]));
    // A dropped message is nowhere: not in history, not in the feed.
    let stored = history(&tree, &room, false, 100);
    assert_eq!(stored.len(), 42);
    // The next window starts empty.
    let mut later = ctx();
    later.now_ms += state::chatrooms::SHED_WINDOW_MS;
    let mut overlay = Overlay::new(&tree);
    let out = apply(
        later,
        &mut overlay,
        &envelope(Command::Publish(Publish {
            app_key: "prodkey001".into(),
            messages: vec![message("fan", "App:Like")],
        })),
    );
    assert!(matches!(out, Ok(Output::Published(p)) if matches!(p[0], Publication::Stored { .. })));
}

// covers: CHR-07

#[test]
fn offline_chatroom_members_leave_after_30_messages_or_30_seconds_unless_whitelisted() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let at = |now_ms: u64, commands: Vec<Command>| {
        let mut overlay = Overlay::new(&tree);
        let context = ApplyContext {
            area: AreaCode::Sg,
            now_ms,
        };
        let out: Vec<_> = commands
            .into_iter()
            .map(|c| apply(context, &mut overlay, &envelope(c)))
            .collect();
        tree.apply_batch(overlay.into_batch()).unwrap();
        out
    };
    let app = || "prodkey001".to_string();
    let join = |user: &str| {
        Command::JoinChatroom(JoinChatroom {
            app_key: app(),
            room_id: "r1".into(),
            user_id: user.into(),
        })
    };
    let offline = |user: &str| {
        Command::ChatroomMemberOffline(ChatroomMemberOffline {
            app_key: app(),
            room_id: "r1".into(),
            user_id: user.into(),
        })
    };
    let say = || {
        Command::Publish(Publish {
            app_key: app(),
            messages: vec![text(
                Conversation::group_like(ConversationType::Chatroom, "r1", ""),
                "talker",
                None,
                "x",
            )],
        })
    };
    let members = || match query(
        &tree,
        &Query::RoomMembers {
            app_key: app(),
            room_id: "r1".into(),
        },
    ) {
        Ok(QueryOutput::RoomMembers(m)) => {
            let mut users: Vec<String> = m.into_iter().map(|(u, _)| u).collect();
            users.sort();
            users
        }
        other => panic!("{other:?}"),
    };
    at(
        1_000,
        vec![
            Command::CreateChatrooms(CreateChatrooms {
                app_key: app(),
                rooms: vec![("r1".into(), "room".into())],
            }),
            Command::ChangeRoomSet(ChangeRoomSet {
                app_key: app(),
                room_id: Some("r1".into()),
                set: RoomSet::UserWhitelist,
                members: vec!["vip".into()],
                until_ms: 0,
                present: true,
            }),
            join("talker"),
            join("counted"),
            join("timed"),
            join("back"),
            join("vip"),
        ],
    );
    at(
        2_000,
        vec![
            offline("counted"),
            offline("timed"),
            offline("back"),
            offline("vip"),
        ],
    );
    // 29 messages in separate windows: nobody has missed 30 yet.
    for i in 0..29 {
        at(3_000 + i * 200, vec![say()]);
    }
    assert_eq!(members(), ["back", "counted", "talker", "timed", "vip"]);
    // "back" rejoins in time and is no longer offline; the 30th message exits the others.
    at(9_000, vec![join("back")]);
    at(9_200, vec![say()]);
    assert_eq!(members(), ["back", "talker", "vip"]);

    // Time: "timed" goes offline, misses one message, and the sweep 30 s later exits it.
    at(10_000, vec![join("timed")]);
    at(11_000, vec![offline("timed")]);
    at(12_000, vec![say()]);
    let sweep = || Command::DestroyIdleChatrooms(DestroyIdleChatrooms { app_key: app() });
    at(41_999, vec![sweep()]);
    assert!(members().contains(&"timed".to_string()));
    at(42_000, vec![sweep()]);
    assert_eq!(members(), ["back", "talker", "vip"]);
}

// covers: CHR-09
#[test]
fn a_leaving_members_auto_delete_attributes_go_once_the_area_has_the_level_for_it() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let app = || "prodkey001".to_string();
    let created = CreateChatrooms {
        app_key: app(),
        rooms: vec![("r1".into(), "One".into())],
    };
    at(&tree, 0, Command::CreateChatrooms(created)).unwrap();
    let join = |user: &str| {
        Command::JoinChatroom(JoinChatroom {
            app_key: app(),
            room_id: "r1".into(),
            user_id: user.into(),
        })
    };
    let quit = |user: &str| {
        Command::QuitChatroom(QuitChatroom {
            app_key: app(),
            room_id: "r1".into(),
            user_ids: vec![user.into()],
        })
    };
    let set = |owner: &str, key: &str, auto_delete| {
        Command::SetRoomEntries(SetRoomEntries {
            app_key: app(),
            room_id: "r1".into(),
            owner: owner.into(),
            entries: vec![(key.into(), "v".into())],
            auto_delete,
        })
    };
    let keys = || match query(
        &tree,
        &Query::RoomEntries {
            app_key: app(),
            room_id: "r1".into(),
            keys: Vec::new(),
        },
    )
    .unwrap()
    {
        QueryOutput::RoomEntries(entries) => {
            let mut keys: Vec<String> = entries.into_iter().map(|e| e.key).collect();
            keys.sort();
            keys
        }
        other => panic!("{other:?}"),
    };
    for command in [
        join("alice"),
        join("bob"),
        set("alice", "seat1", true),
        set("alice", "title", false),
        set("bob", "seat2", true),
    ] {
        at(&tree, 1, command).unwrap();
    }
    // Below the level (an area with replicas of older builds), a leave keeps them all.
    at(&tree, 2, quit("alice")).unwrap();
    assert_eq!(keys(), ["seat1", "seat2", "title"]);

    // At it, alice's auto-delete attribute goes with her; her other one and bob's stay.
    at(&tree, 3, join("alice")).unwrap();
    let level = |level| Command::SetAreaLevel(SetAreaLevel { level });
    at(&tree, 4, level(7)).unwrap();
    at(&tree, 4, level(6)).unwrap();
    assert_eq!(
        crate::state::areas::level(&tree).unwrap(),
        7,
        "the level only rises"
    );
    at(&tree, 5, quit("alice")).unwrap();
    assert_eq!(keys(), ["seat2", "title"]);
}
