//! Users, their lists, bans and tags.

use super::*;

#[test]
fn users_are_created_updated_and_validated() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let out = run(
        &tree,
        &[
            put_user("prodkey001", "alice"),
            put_user("prodkey001", "bad id!"),
            put_user("nokey0001", "bob"),
            put_user("prodkey001", &"x".repeat(64)),
            put_user("prodkey001", &"x".repeat(65)),
        ],
    );
    assert!(matches!(&out[0], Ok(Output::User(u)) if u.tokens_valid_after_ms == 0));
    assert!(matches!(&out[1], Err(CommandError::Invalid { field, .. }) if field == "userId"));
    assert!(matches!(&out[2], Err(CommandError::NotFound { .. })));
    assert!(out[3].is_ok(), "64 characters is the limit");
    assert!(matches!(&out[4], Err(CommandError::Invalid { field, .. }) if field == "userId"));

    let expired = run(
        &tree,
        &[Envelope {
            area: AreaCode::Sg,
            command: Command::ExpireTokens(ExpireTokens {
                app_key: "prodkey001".into(),
                user_id: "alice".into(),
                before_ms: 5_000,
            }),
        }],
    );
    assert!(matches!(&expired[0], Ok(Output::User(u)) if u.tokens_valid_after_ms == 5_000));
    // Data of one environment is invisible from the other.
    assert!(matches!(
        query(
            &tree,
            &Query::GetUser {
                app_key: "devkey001".into(),
                user_id: "alice".into()
            }
        ),
        Err(CommandError::NotFound { .. })
    ));
}

#[test]
fn a_dev_environment_holds_at_most_100_users() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let users: Vec<Envelope> = (0..state::users::DEV_USER_LIMIT)
        .map(|i| put_user("devkey001", &format!("u{i}")))
        .collect();
    assert!(run(&tree, &users).iter().all(|r| r.is_ok()));
    let out = run(
        &tree,
        &[
            put_user("devkey001", "one-too-many"),
            put_user("devkey001", "u5"),
        ],
    );
    assert!(matches!(
        &out[0],
        Err(CommandError::DevUserLimit { limit: 100 })
    ));
    assert!(
        out[1].is_ok(),
        "updating an existing user is not a new registration"
    );
    // prod has no such cap.
    let prod: Vec<Envelope> = (0..=state::users::DEV_USER_LIMIT)
        .map(|i| put_user("prodkey001", &format!("u{i}")))
        .collect();
    assert!(run(&tree, &prod).iter().all(|r| r.is_ok()));
}

#[test]
fn blacklists_and_whitelists_change_within_their_limits() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let change = |list, others: Vec<String>, present| {
        envelope(Command::ChangeUserList(ChangeUserList {
            app_key: "prodkey001".into(),
            list,
            user_id: "alice".into(),
            others,
            present,
        }))
    };
    let out = run(
        &tree,
        &[
            change(UserList::Black, ids("b", 20), true),
            change(UserList::Black, ids("x", 21), true),
            change(UserList::Black, vec![], true),
            change(UserList::Black, vec!["bad id".into()], true),
            change(UserList::White, vec!["w1".into()], true),
            change(UserList::Black, vec!["b0".into(), "b1".into()], false),
        ],
    );
    assert!(out[0].is_ok());
    assert!(
        matches!(&out[1], Err(CommandError::Limit { limit: 20, .. })),
        "{:?}",
        out[1]
    );
    assert!(matches!(&out[2], Err(CommandError::Invalid { .. })));
    assert!(matches!(&out[3], Err(CommandError::Invalid { field, .. }) if field == "userId"));
    assert!(out[4].is_ok() && out[5].is_ok());
    let query = |list| {
        query(
            &tree,
            &Query::UserList {
                app_key: "prodkey001".into(),
                list,
                user_id: "alice".into(),
            },
        )
        .unwrap()
    };
    match query(UserList::Black) {
        QueryOutput::UserIds(black) => {
            assert_eq!(black.len(), 18);
            assert!(!black.contains(&"b0".to_string()) && black.contains(&"b19".to_string()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        query(UserList::White),
        QueryOutput::UserIds(vec!["w1".into()])
    );

    // At most 3000 entries: w1 + 149 × 20 + 19 reaches the edge; one more is refused whole.
    let mut fill: Vec<Envelope> = (0..149)
        .map(|batch| change(UserList::White, ids(&format!("f{batch}-"), 20), true))
        .collect();
    fill.push(change(UserList::White, ids("last-", 19), true));
    assert!(run(&tree, &fill).iter().all(|r| r.is_ok()));
    let over = run(
        &tree,
        &[change(
            UserList::White,
            vec!["one-more".into(), "w1".into()],
            true,
        )],
    );
    assert!(
        matches!(&over[0], Err(CommandError::Limit { limit: 3000, .. })),
        "{:?}",
        over[0]
    );
    match query(UserList::White) {
        QueryOutput::UserIds(white) => {
            assert_eq!(white.len(), 3000);
            assert!(!white.contains(&"one-more".to_string()));
        }
        other => panic!("{other:?}"),
    }
}

// covers: MSG-08

#[test]
fn bans_hold_until_their_end_and_unblock_lifts_them() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    run(
        &tree,
        &[
            envelope(Command::BlockUsers(BlockUsers {
                app_key: "prodkey001".into(),
                user_ids: vec!["a".into(), "b".into()],
                until_ms: 10_000,
            })),
            envelope(Command::UnblockUsers(UnblockUsers {
                app_key: "prodkey001".into(),
                user_ids: vec!["b".into()],
            })),
        ],
    );
    let blocked = |now_ms| {
        query(
            &tree,
            &Query::BlockedUsers {
                app_key: "prodkey001".into(),
                now_ms,
            },
        )
        .unwrap()
    };
    assert_eq!(
        blocked(9_999),
        QueryOutput::Blocked(vec![Block {
            user_id: "a".into(),
            until_ms: 10_000
        }])
    );
    assert_eq!(blocked(10_000), QueryOutput::Blocked(vec![]));
}

#[test]
fn tags_are_bounded() {
    let (_dir, tree) = tree();
    run(
        &tree,
        &[
            create_app("Chat", "devkey001", "prodkey001"),
            put_user("prodkey001", "alice"),
        ],
    );
    let set = |tags: Vec<String>| {
        envelope(Command::SetTags(SetTags {
            app_key: "prodkey001".into(),
            user_id: "alice".into(),
            tags,
        }))
    };
    let out = run(
        &tree,
        &[
            set(ids("t", 20)),
            set(ids("t", 21)),
            set(vec!["x".repeat(41)]),
            set(vec!["x".repeat(40)]),
        ],
    );
    assert!(out[0].is_ok());
    assert!(matches!(
        &out[1],
        Err(CommandError::Limit { limit: 20, .. })
    ));
    assert!(matches!(&out[2], Err(CommandError::Invalid { .. })));
    assert!(matches!(&out[3], Ok(Output::User(u)) if u.tags == vec!["x".repeat(40)]));
}

// covers: LIFE-02
#[test]
fn an_erased_user_leaves_every_membership_and_its_conversation_state_goes() {
    let (_dir, tree) = tree();
    let app = || "prodkey001".to_string();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let setup = [
        join("g1", vec!["gone".into(), "bob".into()]),
        envelope(Command::UltraGroup(ChangeUltraGroup {
            app_key: app(),
            group_id: "u1".into(),
            change: UltraGroupChange::Create {
                name: "U".into(),
                owner: "bob".into(),
            },
        })),
        envelope(Command::UltraGroup(ChangeUltraGroup {
            app_key: app(),
            group_id: "u1".into(),
            change: UltraGroupChange::Join {
                user_ids: vec!["gone".into()],
            },
        })),
        envelope(Command::CreateChatrooms(CreateChatrooms {
            app_key: app(),
            rooms: vec![("r1".into(), "One".into())],
        })),
        envelope(Command::JoinChatroom(JoinChatroom {
            app_key: app(),
            room_id: "r1".into(),
            user_id: "gone".into(),
        })),
    ];
    assert!(run(&tree, &setup).iter().all(Result::is_ok));
    publish(&tree, vec![private_text("gone", "bob", "hello")]).unwrap();
    let conversations = |user: &str| match query(
        &tree,
        &Query::Conversations {
            app_key: app(),
            user_id: user.into(),
            limit: 10,
        },
    ) {
        Ok(QueryOutput::ConversationList(list)) => list.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!(conversations("gone"), 2, "the private chat and g1");

    let erase = envelope(Command::DeleteUsers(DeleteUsers {
        app_key: app(),
        user_ids: vec!["gone".into()],
    }));
    assert!(run(&tree, &[erase])[0].is_ok());

    match query(
        &tree,
        &Query::GroupMembers {
            app_key: app(),
            group_id: "g1".into(),
        },
    ) {
        Ok(QueryOutput::Members(group, members)) => {
            assert_eq!(group.members, 1);
            assert_eq!(members.len(), 1, "{members:?}");
        }
        other => panic!("{other:?}"),
    }
    let is_member = query(
        &tree,
        &Query::UltraGroup {
            app_key: app(),
            group_id: "u1".into(),
            question: UltraGroupQuestion::IsMember {
                user_id: "gone".into(),
            },
        },
    );
    assert!(matches!(
        is_member,
        Ok(QueryOutput::UltraGroup(UltraGroupAnswer::Flag(false)))
    ));
    match query(
        &tree,
        &Query::RoomMembers {
            app_key: app(),
            room_id: "r1".into(),
        },
    ) {
        Ok(QueryOutput::RoomMembers(members)) => assert_eq!(members, []),
        other => panic!("{other:?}"),
    }
    assert_eq!(conversations("gone"), 0);
    assert_eq!(sync_of(&tree, "gone", 0, 100).messages, []);
    // bob keeps his side of the conversation.
    assert_eq!(conversations("bob"), 2);
    assert_eq!(sync_of(&tree, "bob", 0, 100).messages.len(), 1);
}
