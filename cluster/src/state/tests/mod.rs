use meridian_regions::AreaCode;

use super::*;
use crate::state::{chatrooms, messages};

mod keys;
mod wire_format;

fn ctx() -> ApplyContext {
    ApplyContext {
        area: AreaCode::Sg,
        now_ms: 1_000,
    }
}

fn creds(key: &str) -> Credentials {
    Credentials {
        app_key: key.to_string(),
        app_secret: format!("{key}secret"),
    }
}

fn create_app(name: &str, dev: &str, prod: &str) -> Envelope {
    Envelope {
        area: AreaCode::Sg,
        command: Command::CreateApp(CreateApp {
            name: name.into(),
            dev: creds(dev),
            prod: creds(prod),
        }),
    }
}

fn put_user(app_key: &str, user_id: &str) -> Envelope {
    Envelope {
        area: AreaCode::Sg,
        command: Command::PutUser(PutUser {
            app_key: app_key.into(),
            user_id: user_id.into(),
            name: Some("name".into()),
            portrait: None,
        }),
    }
}

fn tree() -> (tempfile::TempDir, sled::Tree) {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path())
        .temporary(true)
        .open()
        .unwrap();
    let tree = db.open_tree("state").unwrap();
    (dir, tree)
}

/// Applies envelopes one by one and commits the overlay, like one apply round.
fn run(tree: &sled::Tree, envelopes: &[Envelope]) -> Vec<Result<Output, CommandError>> {
    let mut overlay = Overlay::new(tree);
    let out = envelopes
        .iter()
        .map(|e| apply(ctx(), &mut overlay, e))
        .collect();
    tree.apply_batch(overlay.into_batch()).unwrap();
    out
}

// covers: NAV-05
#[test]
fn a_command_for_another_area_is_refused_and_changes_nothing() {
    let (_dir, tree) = tree();
    let mut foreign = create_app("Foreign", "devkey001", "prodkey001");
    foreign.area = AreaCode::Na;
    let out = run(&tree, &[foreign]);
    assert_eq!(
        out[0],
        Err(CommandError::WrongArea {
            cluster: AreaCode::Sg,
            requested: AreaCode::Na
        })
    );
    assert_eq!(
        query(&tree, &Query::ListApps).unwrap(),
        QueryOutput::Apps(vec![])
    );
}

#[test]
fn app_keys_resolve_to_their_environment_and_are_unique() {
    let (_dir, tree) = tree();
    let out = run(
        &tree,
        &[
            create_app("Chat", "devkey001", "prodkey001"),
            // Same prod key in the same batch: the second is refused.
            create_app("Copy", "devkey002", "prodkey001"),
        ],
    );
    assert!(out[0].is_ok());
    assert!(matches!(&out[1], Err(CommandError::Conflict { what }) if what.contains("prodkey001")));
    match query(
        &tree,
        &Query::GetApp {
            app_key: "devkey001".into(),
        },
    )
    .unwrap()
    {
        QueryOutput::App(app, env) => {
            assert_eq!(env, AppEnv::Dev);
            assert_eq!(app.name, "Chat");
            assert_eq!(app.home, AreaCode::Sg);
            assert_eq!(app.prod.app_key, "prodkey001");
        }
        other => panic!("unexpected {other:?}"),
    }
    // The refused command left no trace: its dev key is free.
    assert!(matches!(
        query(
            &tree,
            &Query::GetApp {
                app_key: "devkey002".into()
            }
        ),
        Err(CommandError::NotFound { .. })
    ));
}

#[test]
fn bad_credentials_and_names_are_refused_with_the_field_named() {
    let (_dir, tree) = tree();
    let cases = [
        (create_app("", "devkey001", "prodkey001"), "name"),
        (create_app("x", "short", "prodkey001"), "dev.appKey"),
        (create_app("x", "devkey001", "prod-key-001"), "prod.appKey"),
        (create_app("x", "samekey01", "samekey01"), "dev.appKey"),
    ];
    for (envelope, field) in cases {
        let out = run(&tree, &[envelope]);
        assert!(
            matches!(&out[0], Err(CommandError::Invalid { field: f, .. }) if f == field),
            "{field}: {:?}",
            out[0]
        );
    }
    assert_eq!(
        query(&tree, &Query::ListApps).unwrap(),
        QueryOutput::Apps(vec![])
    );
}

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
    let users: Vec<Envelope> = (0..users::DEV_USER_LIMIT)
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
    let prod: Vec<Envelope> = (0..=users::DEV_USER_LIMIT)
        .map(|i| put_user("prodkey001", &format!("u{i}")))
        .collect();
    assert!(run(&tree, &prod).iter().all(|r| r.is_ok()));
}

#[test]
fn deleting_an_app_removes_its_keys_and_users() {
    let (_dir, tree) = tree();
    run(
        &tree,
        &[
            create_app("Chat", "devkey001", "prodkey001"),
            put_user("devkey001", "a"),
            put_user("prodkey001", "b"),
        ],
    );
    let out = run(
        &tree,
        &[Envelope {
            area: AreaCode::Sg,
            command: Command::DeleteApp(DeleteApp {
                app_key: "devkey001".into(),
            }),
        }],
    );
    assert_eq!(
        out[0],
        Ok(Output::AppDeleted {
            app_key: "devkey001".into(),
            users_removed: 2
        })
    );
    assert_eq!(
        query(&tree, &Query::Counts).unwrap(),
        QueryOutput::Counts { apps: 0, users: 0 }
    );
    // The keys can be used again.
    assert!(run(&tree, &[create_app("Again", "devkey001", "prodkey001")])[0].is_ok());
}

fn envelope(command: Command) -> Envelope {
    Envelope {
        area: AreaCode::Sg,
        command,
    }
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

// covers: PRV-10, PRV-11
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

#[test]
fn an_all_command_applies_every_part_or_none() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let tags = |user: &str| {
        Command::SetTags(SetTags {
            app_key: "prodkey001".into(),
            user_id: user.into(),
            tags: vec!["t".into()],
        })
    };
    let put = |user: &str| put_user("prodkey001", user).command;
    // The second part fails (no such user): the first part's new user is undone too.
    let out = run(
        &tree,
        &[envelope(Command::All(vec![put("carol"), tags("nobody")]))],
    );
    assert!(matches!(&out[0], Err(CommandError::NotFound { .. })));
    assert!(matches!(
        query(
            &tree,
            &Query::GetUser {
                app_key: "prodkey001".into(),
                user_id: "carol".into()
            }
        ),
        Err(CommandError::NotFound { .. })
    ));
    let out = run(
        &tree,
        &[envelope(Command::All(vec![put("carol"), tags("carol")]))],
    );
    assert_eq!(out[0], Ok(Output::Done));
    assert!(matches!(
        query(&tree, &Query::GetUser { app_key: "prodkey001".into(), user_id: "carol".into() }),
        Ok(QueryOutput::User(u)) if u.tags == vec!["t".to_string()]
    ));
}

fn text(
    conversation: Conversation,
    sender: &str,
    recipient: Option<&str>,
    content: &str,
) -> NewMessage {
    NewMessage {
        conversation,
        sender: sender.into(),
        recipient: recipient.map(str::to_string),
        object_name: "RC:TxtMsg".into(),
        content: content.into(),
        flags: MessageFlags::builtin("RC:TxtMsg"),
        push_content: None,
        push_data: None,
        verify_blacklist: true,
        visible_to: Vec::new(),
        sender_device: None,
    }
}

fn publish(tree: &sled::Tree, messages: Vec<NewMessage>) -> Result<Output, CommandError> {
    run(
        tree,
        &[envelope(Command::Publish(Publish {
            app_key: "prodkey001".into(),
            messages,
        }))],
    )
    .remove(0)
}

fn history(
    tree: &sled::Tree,
    conversation: &Conversation,
    newest_first: bool,
    limit: usize,
) -> Vec<Message> {
    match query(
        tree,
        &Query::History {
            app_key: "prodkey001".into(),
            page: HistoryPage {
                conversation: conversation.clone(),
                viewer: None,
                from_ms: 0,
                to_ms: u64::MAX,
                newest_first,
                limit,
                members_only: false,
                keyword: None,
                sender: None,
            },
        },
    )
    .unwrap()
    {
        QueryOutput::Messages(messages) => messages,
        other => panic!("{other:?}"),
    }
}

// covers: PRV-01, PRV-04, PRV-12, MSG-01
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
            Publication::Blocked | Publication::Sensitive | Publication::Dropped { .. } => None,
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
    let big = "x".repeat(messages::MAX_CONTENT_BYTES + 1);
    let refused = publish(
        &tree,
        vec![
            text(ab.clone(), "alice", Some("bob"), "3"),
            text(ab.clone(), "alice", Some("bob"), &big),
        ],
    );
    assert!(matches!(refused, Err(CommandError::Limit { .. })));
    assert_eq!(history(&tree, &ab, false, 10).len(), 2);
    let at_limit = "x".repeat(messages::MAX_CONTENT_BYTES);
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

fn join(group: &str, users: Vec<String>) -> Envelope {
    envelope(Command::JoinGroup(JoinGroup {
        app_key: "prodkey001".into(),
        group_id: group.into(),
        name: Some(format!("{group} name")),
        user_ids: users,
    }))
}

// covers: GRP-01, GRP-04
#[test]
fn groups_hold_at_most_3000_members_and_keep_both_indexes() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let out = run(
        &tree,
        &[join("g1", ids("m", 2999)), join("g1", vec!["last".into()])],
    );
    assert!(matches!(&out[1], Ok(Output::Group(g)) if g.members == 3000));
    let over = run(&tree, &[join("g1", vec!["extra".into(), "m1".into()])]);
    assert_eq!(over[0], Err(CommandError::MemberCap { limit: 3000 }));
    let QueryOutput::Members(group, members) = query(
        &tree,
        &Query::GroupMembers {
            app_key: "prodkey001".into(),
            group_id: "g1".into(),
        },
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!((group.members, members.len()), (3000, 3000));
    assert!(
        !members.iter().any(|m| m.user_id == "extra"),
        "a refused join changes nothing"
    );

    run(&tree, &[join("g2", vec!["m1".into()])]);
    let user_groups = |user: &str| match query(
        &tree,
        &Query::UserGroups {
            app_key: "prodkey001".into(),
            user_id: user.into(),
        },
    )
    .unwrap()
    {
        QueryOutput::Groups(groups) => groups.into_iter().map(|g| g.group_id).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(user_groups("m1"), ["g1", "g2"]);
    run(
        &tree,
        &[
            envelope(Command::QuitGroup(QuitGroup {
                app_key: "prodkey001".into(),
                group_id: "g1".into(),
                user_ids: vec!["m1".into(), "not-a-member".into()],
            })),
            envelope(Command::DismissGroup(DismissGroup {
                app_key: "prodkey001".into(),
                group_id: "g2".into(),
            })),
        ],
    );
    assert!(user_groups("m1").is_empty());
    assert_eq!(user_groups("m2"), ["g1"]);
    assert!(matches!(
        query(
            &tree,
            &Query::GroupMembers {
                app_key: "prodkey001".into(),
                group_id: "g2".into()
            }
        ),
        Err(CommandError::NotFound { .. })
    ));
    let bad = run(&tree, &[join("bad/id", vec!["a".into()])]);
    assert!(matches!(&bad[0], Err(CommandError::Invalid { field, .. }) if field == "groupId"));
}

fn room_cmd(command: Command, now_ms: u64, tree: &sled::Tree) -> Result<Output, CommandError> {
    let mut overlay = Overlay::new(tree);
    let ctx = ApplyContext {
        area: AreaCode::Sg,
        now_ms,
    };
    let out = apply(ctx, &mut overlay, &envelope(command));
    tree.apply_batch(overlay.into_batch()).unwrap();
    out
}

// covers: CHR-01, CHR-08, CHR-09
#[test]
fn chatrooms_keep_sets_and_attributes_and_idle_ones_are_destroyed_unless_kept_alive() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let app = || "prodkey001".to_string();
    room_cmd(
        Command::CreateChatrooms(CreateChatrooms {
            app_key: app(),
            rooms: vec![("r1".into(), "One".into()), ("r2".into(), "Two".into())],
        }),
        0,
        &tree,
    )
    .unwrap();
    room_cmd(
        Command::SetChatroomFlag(SetChatroomFlag {
            app_key: app(),
            room_ids: vec!["r2".into()],
            flag: RoomFlag::KeepAlive,
            on: true,
        }),
        0,
        &tree,
    )
    .unwrap();
    // A gag until t=1000 is in force before and gone after.
    room_cmd(
        Command::ChangeRoomSet(ChangeRoomSet {
            app_key: app(),
            room_id: Some("r1".into()),
            set: RoomSet::Gagged,
            members: vec!["alice".into()],
            until_ms: 1000,
            present: true,
        }),
        0,
        &tree,
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
    assert!(room_cmd(set(entries), 10, &tree).is_ok());
    let over = room_cmd(set(vec![("k100".into(), "v".into())]), 10, &tree);
    assert!(matches!(over, Err(CommandError::Limit { limit: 100, .. })));
    let long_value = room_cmd(set(vec![("k0".into(), "x".repeat(4097))]), 10, &tree);
    assert!(matches!(long_value, Err(CommandError::Invalid { .. })));

    // An hour of silence destroys r1 (with its attributes); keep-alive r2 stays.
    let destroyed = room_cmd(
        Command::DestroyIdleChatrooms(DestroyIdleChatrooms { app_key: app() }),
        chatrooms::IDLE_DESTROY_MS,
        &tree,
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

fn sync_of(tree: &sled::Tree, user: &str, after: u64, limit: usize) -> SyncPage {
    match query(
        tree,
        &Query::Sync {
            app_key: "prodkey001".into(),
            request: SyncRequest {
                user_id: user.into(),
                after,
                since_ms: 0,
                limit,
            },
        },
    ) {
        Ok(QueryOutput::Sync(page)) => page,
        other => panic!("{other:?}"),
    }
}

fn feed_after(tree: &sled::Tree, after: u64) -> FeedPage {
    match query(tree, &Query::Feed { after, limit: 1000 }) {
        Ok(QueryOutput::Feed(page)) => page,
        other => panic!("{other:?}"),
    }
}

// covers: MSG-01, PRV-02, GRP-05
#[test]
fn the_feed_orders_every_event_and_sync_returns_what_a_user_missed_in_that_order() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    run(&tree, &[join("g1", vec!["alice".into(), "bob".into()])]);
    let ab = Conversation::private("alice", "bob", "");
    let g1 = Conversation::group_like(ConversationType::Group, "g1", "");
    publish(&tree, vec![text(ab.clone(), "alice", Some("bob"), "one")]).unwrap();
    publish(&tree, vec![text(g1.clone(), "alice", None, "two")]).unwrap();
    let mut typing = text(ab.clone(), "alice", Some("bob"), "typing");
    typing.object_name = "RC:TypSts".into();
    typing.flags = MessageFlags::status();
    publish(&tree, vec![typing]).unwrap();
    publish(&tree, vec![text(ab.clone(), "bob", Some("alice"), "three")]).unwrap();
    // carol joins later: she sees only what comes after (GRP-05).
    run(&tree, &[join("g1", vec!["carol".into()])]);
    let mut later = ctx();
    later.now_ms = 2_000;
    let mut overlay = Overlay::new(&tree);
    apply(
        later,
        &mut overlay,
        &envelope(Command::Publish(Publish {
            app_key: "prodkey001".into(),
            messages: vec![text(g1.clone(), "bob", None, "four")],
        })),
    )
    .unwrap();
    tree.apply_batch(overlay.into_batch()).unwrap();

    // The feed: membership, 3 stored messages and one status message, in order.
    let feed = feed_after(&tree, 0);
    assert!(!feed.missed);
    let kinds: Vec<String> = feed
        .events
        .iter()
        .map(|(_, event)| match event {
            FeedEvent::Message { message, .. } => message.content.clone(),
            FeedEvent::Members { joined, .. } => format!("joined {}", joined.join(",")),
            FeedEvent::Banned { .. } => "banned".into(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "joined alice,bob",
            "one",
            "two",
            "typing",
            "three",
            "joined carol",
            "four"
        ]
    );
    let positions: Vec<u64> = feed.events.iter().map(|(pos, _)| *pos).collect();
    assert_eq!(positions, (1..=7).collect::<Vec<_>>());
    assert_eq!(feed.head, 7);
    assert_eq!(feed_after(&tree, 5).events.len(), 2);

    // bob's sync from nothing: his private and group messages, never the status one.
    let contents = |page: &SyncPage| -> Vec<String> {
        page.messages.iter().map(|m| m.content.clone()).collect()
    };
    let all = sync_of(&tree, "bob", 0, 100);
    assert_eq!(contents(&all), ["one", "two", "three", "four"]);
    assert_eq!((all.cursor, all.more), (7, false));
    assert_eq!(all.groups, ["g1"]);
    // Paged: two at a time, resuming at the cursor, nothing repeated or skipped.
    let first = sync_of(&tree, "bob", 0, 2);
    assert_eq!(
        (contents(&first), first.more),
        (vec!["one".into(), "two".into()], true)
    );
    let second = sync_of(&tree, "bob", first.cursor, 2);
    assert_eq!(contents(&second), ["three", "four"]);
    let rest = sync_of(&tree, "bob", second.cursor, 2);
    assert!(rest.messages.is_empty() && !rest.more);
    // carol joined after "two": she gets only "four".
    assert_eq!(contents(&sync_of(&tree, "carol", 0, 100)), ["four"]);
    // A cursor past everything answers nothing.
    assert!(sync_of(&tree, "alice", 7, 100).messages.is_empty());
}

// covers: MSG-01, GRP-05
#[test]
fn a_sync_page_counts_only_what_the_user_may_see_so_nothing_behind_it_is_skipped() {
    // Before: a group's oldest `limit + 1` messages were read and then filtered, so a page
    // of messages from before the user joined (or meant for others) hid what came after.
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    run(&tree, &[join("g1", vec!["alice".into(), "carol".into()])]);
    let g1 = Conversation::group_like(ConversationType::Group, "g1", "");
    for n in 0..3 {
        publish(
            &tree,
            vec![text(g1.clone(), "alice", None, &format!("before {n}"))],
        )
        .unwrap();
    }
    run(&tree, &[join("g1", vec!["bob".into()])]);
    for n in 0..3 {
        let mut directed = text(g1.clone(), "alice", None, &format!("for carol {n}"));
        directed.visible_to = vec!["alice".into(), "carol".into()];
        publish(&tree, vec![directed]).unwrap();
    }
    publish(&tree, vec![text(g1.clone(), "alice", None, "for all")]).unwrap();
    let page = sync_of(&tree, "bob", 0, 2);
    let contents: Vec<&str> = page.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["for all"]);
    assert!(!page.more);
}

/// The state as a sync reads it while the node keeps applying: `landing` is applied to
/// the tree right after the first read (the feed head), before any other.
struct ApplyingMidRead<'a> {
    tree: &'a sled::Tree,
    landing: std::cell::RefCell<Option<Vec<Envelope>>>,
}

impl StateRead for ApplyingMidRead<'_> {
    fn get_raw(&self, key: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        let value = self.tree.get_raw(key);
        if let Some(envelopes) = self.landing.borrow_mut().take() {
            run(self.tree, &envelopes);
        }
        value
    }
    fn scan_raw(&self, prefix: &[u8]) -> std::io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.tree.scan_raw(prefix)
    }
    fn visit_raw(
        &self,
        prefix: &[u8],
        reverse: bool,
        visit: &mut dyn FnMut(&[u8]) -> bool,
    ) -> std::io::Result<()> {
        self.tree.visit_raw(prefix, reverse, visit)
    }
    fn visit_from(
        &self,
        prefix: &[u8],
        start: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> std::io::Result<()> {
        self.tree.visit_from(prefix, start, visit)
    }
}

// covers: MSG-01
#[test]
fn a_sync_hands_out_nothing_past_the_head_it_answers_even_while_applies_land() {
    // Issue 16's chaos duplicate: a group message applied while a sync was reading was
    // handed out by the sync under an older cursor, then again by its live event.
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    run(&tree, &[join("g1", vec!["alice".into(), "bob".into()])]);
    let ab = Conversation::private("alice", "bob", "");
    let g1 = Conversation::group_like(ConversationType::Group, "g1", "");
    publish(&tree, vec![text(g1.clone(), "alice", None, "before")]).unwrap();
    let head = feed_after(&tree, 0).head;
    let landing = vec![envelope(Command::Publish(Publish {
        app_key: "prodkey001".into(),
        messages: vec![
            text(ab, "alice", Some("bob"), "late private"),
            text(g1, "alice", None, "late group"),
        ],
    }))];
    let racing = ApplyingMidRead {
        tree: &tree,
        landing: std::cell::RefCell::new(Some(landing)),
    };
    let request = SyncRequest {
        user_id: "bob".into(),
        after: 0,
        since_ms: 0,
        limit: 100,
    };
    let page = cross_domain::sync::sync(&racing, "prodkey001", &request).unwrap();
    let contents: Vec<&str> = page.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["before"]);
    assert_eq!((page.cursor, page.more), (head, false));
    // What landed comes after that cursor, once: the next sync (or its live events).
    let next = sync_of(&tree, "bob", page.cursor, 100);
    let contents: Vec<&str> = next.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["late private", "late group"]);
    assert!(next.messages.iter().all(|m| m.pos > page.cursor));
}

// covers: MSG-08, CHR-02
#[test]
fn bans_chatroom_joins_and_group_changes_reach_the_feed() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    run(
        &tree,
        &[envelope(Command::CreateChatrooms(CreateChatrooms {
            app_key: "prodkey001".into(),
            rooms: vec![("r1".into(), "one".into()), ("r2".into(), "two".into())],
        }))],
    );
    let join_room = |room: &str| {
        envelope(Command::JoinChatroom(JoinChatroom {
            app_key: "prodkey001".into(),
            room_id: room.into(),
            user_id: "ann".into(),
        }))
    };
    assert!(run(&tree, &[join_room("r1")])[0].is_ok());
    // One room at a time: joining r2 leaves r1.
    assert!(run(&tree, &[join_room("r2")])[0].is_ok());
    let members = |room: &str| match query(
        &tree,
        &Query::RoomMembers {
            app_key: "prodkey001".into(),
            room_id: room.into(),
        },
    ) {
        Ok(QueryOutput::RoomMembers(m)) => m.into_iter().map(|(u, _)| u).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert!(members("r1").is_empty());
    assert_eq!(members("r2"), ["ann"]);
    // A room ban kicks her out and keeps her out.
    run(
        &tree,
        &[envelope(Command::ChangeRoomSet(ChangeRoomSet {
            app_key: "prodkey001".into(),
            room_id: Some("r2".into()),
            set: RoomSet::Blocked,
            members: vec!["ann".into()],
            until_ms: 0,
            present: true,
        }))],
    );
    assert!(members("r2").is_empty());
    assert!(matches!(
        run(&tree, &[join_room("r2")])[0],
        Err(CommandError::Forbidden { .. })
    ));
    run(
        &tree,
        &[envelope(Command::BlockUsers(BlockUsers {
            app_key: "prodkey001".into(),
            user_ids: vec!["ann".into()],
            until_ms: 10_000,
        }))],
    );
    let events: Vec<FeedEvent> = feed_after(&tree, 0)
        .events
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    let room_change = |id: &str, joined: &[&str], left: &[&str]| FeedEvent::Members {
        app_key: "prodkey001".into(),
        kind: ConversationType::Chatroom,
        id: id.into(),
        joined: joined.iter().map(|s| s.to_string()).collect(),
        left: left.iter().map(|s| s.to_string()).collect(),
        dismissed: false,
    };
    assert_eq!(
        events,
        [
            room_change("r1", &["ann"], &[]),
            room_change("r1", &[], &["ann"]),
            room_change("r2", &["ann"], &[]),
            room_change("r2", &[], &["ann"]),
            FeedEvent::Banned {
                app_key: "prodkey001".into(),
                user_ids: vec!["ann".into()],
            },
        ]
    );
}

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
    later.now_ms += chatrooms::SHED_WINDOW_MS;
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

#[test]
fn presence_counts_while_the_edge_lease_holds_and_clears_with_the_edge() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let at = |now_ms: u64, command: Command| {
        let mut overlay = Overlay::new(&tree);
        let context = ApplyContext {
            area: AreaCode::Sg,
            now_ms,
        };
        let out = apply(context, &mut overlay, &envelope(command));
        tree.apply_batch(overlay.into_batch()).unwrap();
        out
    };
    let online = |now_ms: u64| match query(
        &tree,
        &Query::Online {
            app_key: "prodkey001".into(),
            user_id: "ann".into(),
            now_ms,
        },
    ) {
        Ok(QueryOutput::Sessions(s)) => s.len(),
        other => panic!("{other:?}"),
    };
    let presence = |edge_id, session_id, online: bool| {
        let status = if online {
            DeviceStatus::Online
        } else {
            DeviceStatus::Offline
        };
        session_change("ann", edge_id, session_id, status)
    };
    assert!(at(1_000, presence(7, 1, true)).is_ok());
    assert!(at(1_000, presence(8, 2, true)).is_ok());
    assert_eq!(online(2_000), 2);
    // Edge 7 renews its lease, edge 8 falls silent and, past its lease, does not count.
    at(20_000, Command::EdgeAlive(EdgeAlive { edge_id: 7 })).unwrap();
    assert_eq!(online(31_000), 1);
    // The sweep removes edge 8's leftovers; a session end removes one record.
    at(31_000, Command::ExpireEdges(ExpireEdges)).unwrap();
    at(32_000, presence(7, 1, false)).unwrap();
    assert_eq!(online(32_000), 0);
    // A clean stop takes every session of the edge offline at once.
    at(33_000, presence(7, 3, true)).unwrap();
    assert_eq!(online(33_000), 1);
    at(34_000, Command::EdgeStopped(EdgeStopped { edge_id: 7 })).unwrap();
    assert_eq!(online(34_000), 0);
}

fn private_text(from: &str, to: &str, content: &str) -> NewMessage {
    text(Conversation::private(from, to, ""), from, Some(to), content)
}

fn set_callbacks(tree: &sled::Tree, app_key: &str, callbacks: CallbackSettings) {
    let settings = AppSettings {
        callbacks,
        ..AppSettings::default()
    };
    let command = Command::SetAppSettings(SetAppSettings {
        app_key: app_key.into(),
        settings,
    });
    run(
        tree,
        &[Envelope {
            area: AreaCode::Sg,
            command,
        }],
    )[0]
    .as_ref()
    .unwrap();
}

fn outbox(tree: &sled::Tree) -> (Vec<Job>, u64) {
    match query(
        tree,
        &Query::Outbox {
            after: 0,
            limit: 100,
        },
    )
    .unwrap()
    {
        QueryOutput::Jobs { jobs, waiting } => (jobs, waiting),
        other => panic!("{other:?}"),
    }
}

fn dead_letters(tree: &sled::Tree, app_key: &str) -> Vec<Job> {
    let dead = Query::DeadLetters {
        app_key: app_key.into(),
        limit: 100,
    };
    match query(tree, &dead).unwrap() {
        QueryOutput::Jobs { jobs, .. } => jobs,
        other => panic!("{other:?}"),
    }
}

/// A web session of `user` (from 10.0.0.1:4242) started or ended on an edge.
fn session_change(user: &str, edge_id: u64, session_id: u64, status: DeviceStatus) -> Command {
    Command::Presence(ChangePresence {
        app_key: "prodkey001".into(),
        user_id: user.into(),
        record: SessionRecord {
            edge_id,
            session_id,
            platform: "web".into(),
            since_ms: 0,
            client_ip: "10.0.0.1:4242".into(),
        },
        status,
    })
}

fn command(command: Command) -> Envelope {
    Envelope {
        area: AreaCode::Sg,
        command,
    }
}

// covers: HOOK-01
#[test]
fn routed_messages_wait_in_the_outbox_in_lanes_until_delivered() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    // Nothing is routed before the app asks for it.
    publish(&tree, vec![private_text("ann", "bob", "before")]).unwrap();
    assert_eq!(outbox(&tree), (Vec::new(), 0));
    set_callbacks(
        &tree,
        "prodkey001",
        CallbackSettings {
            routing_url: Some("http://127.0.0.1:9/route".into()),
            routing_types: vec![ConversationType::Private.code()],
            ..CallbackSettings::default()
        },
    );
    publish(&tree, vec![private_text("ann", "bob", "one")]).unwrap();
    publish(&tree, vec![private_text("bob", "ann", "two")]).unwrap();
    publish(&tree, vec![private_text("ann", "cat", "three")]).unwrap();
    let (jobs, waiting) = outbox(&tree);
    assert_eq!(waiting, 3);
    let texts: Vec<&str> = jobs
        .iter()
        .map(|job| match &job.event {
            HookEvent::Message(m) => m.content.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
    // Both directions of one pair share a lane; another pair has its own.
    assert_eq!(jobs[0].lane, jobs[1].lane);
    assert_ne!(jobs[0].lane, jobs[2].lane);
    assert!(jobs.windows(2).all(|w| w[0].id < w[1].id));

    // Delivered jobs leave; a second report of the same delivery changes nothing.
    let ids = vec![jobs[0].id];
    run(
        &tree,
        &[command(Command::OutboxDelivered(OutboxDelivered {
            ids: ids.clone(),
        }))],
    );
    run(
        &tree,
        &[command(Command::OutboxDelivered(OutboxDelivered { ids }))],
    );
    let (left, waiting) = outbox(&tree);
    assert_eq!((left.len(), waiting), (2, 2));
    assert_eq!(left[0].id, jobs[1].id);
}

// covers: HOOK-01
#[test]
fn failed_callbacks_back_off_then_become_dead_letters_that_can_be_retried() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    set_callbacks(
        &tree,
        "prodkey001",
        CallbackSettings {
            routing_url: Some("http://127.0.0.1:9/route".into()),
            max_attempts: 2,
            ..CallbackSettings::default()
        },
    );
    publish(&tree, vec![private_text("ann", "bob", "one")]).unwrap();
    let id = outbox(&tree).0[0].id;
    let fail = || {
        command(Command::OutboxFailed(OutboxFailed {
            failures: vec![(id, "HTTP 500".into())],
        }))
    };
    assert_eq!(run(&tree, &[fail()])[0], Ok(Output::Dead(Vec::new())));
    let (jobs, _) = outbox(&tree);
    assert_eq!(jobs[0].attempts, 1);
    assert_eq!(
        jobs[0].next_attempt_ms,
        ctx().now_ms + outbox::FIRST_BACKOFF_MS
    );
    assert_eq!(jobs[0].last_error, "HTTP 500");
    // The cap reached, the job is a dead letter, no longer waiting.
    assert_eq!(run(&tree, &[fail()])[0], Ok(Output::Dead(vec![id])));
    assert_eq!(outbox(&tree), (Vec::new(), 0));
    let dead = dead_letters(&tree, "prodkey001");
    assert_eq!((dead.len(), dead[0].id, dead[0].attempts), (1, id, 2));
    // Retried, it waits again under the same id, with fresh attempts.
    let retry = command(Command::RetryDeadLetters(RetryDeadLetters {
        app_key: "prodkey001".into(),
    }));
    assert_eq!(outbox::retries(&tree).unwrap(), 0);
    assert_eq!(
        run(&tree, std::slice::from_ref(&retry))[0],
        Ok(Output::Count(1))
    );
    let (jobs, waiting) = outbox(&tree);
    assert_eq!((jobs[0].id, jobs[0].attempts, waiting), (id, 0, 1));
    assert!(dead_letters(&tree, "prodkey001").is_empty());
    // Jobs back under old ids tell sweeping dispatchers to start over; a retry that
    // moved nothing does not.
    assert_eq!(outbox::retries(&tree).unwrap(), 1);
    assert_eq!(run(&tree, &[retry])[0], Ok(Output::Count(0)));
    assert_eq!(outbox::retries(&tree).unwrap(), 1);
}

#[test]
fn backoff_doubles_up_to_its_cap() {
    assert_eq!(outbox::backoff_ms(1), 1_000);
    assert_eq!(outbox::backoff_ms(2), 2_000);
    assert_eq!(outbox::backoff_ms(5), 16_000);
    assert_eq!(outbox::backoff_ms(9), 256_000);
    assert_eq!(outbox::backoff_ms(10), outbox::MAX_BACKOFF_MS);
    assert_eq!(outbox::backoff_ms(40), outbox::MAX_BACKOFF_MS);
}

// covers: HOOK-03, HOOK-04
#[test]
fn device_and_chatroom_changes_are_reported_with_their_causes() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    set_callbacks(
        &tree,
        "prodkey001",
        CallbackSettings {
            online_status_url: Some("https://app.example.com/status".into()),
            chatroom_state_url: Some("https://app.example.com/rooms".into()),
            ..CallbackSettings::default()
        },
    );
    let presence = |status| command(session_change("ann", 4, 9, status));
    let rooms = |command: Command| {
        run(
            &tree,
            &[Envelope {
                area: AreaCode::Sg,
                command,
            }],
        )
    };
    run(&tree, &[presence(DeviceStatus::Online)]);
    rooms(Command::CreateChatrooms(CreateChatrooms {
        app_key: "prodkey001".into(),
        rooms: vec![("r1".into(), "Room".into())],
    }));
    rooms(Command::JoinChatroom(JoinChatroom {
        app_key: "prodkey001".into(),
        room_id: "r1".into(),
        user_id: "ann".into(),
    }));
    rooms(Command::ChangeRoomSet(ChangeRoomSet {
        app_key: "prodkey001".into(),
        room_id: Some("r1".into()),
        set: RoomSet::Blocked,
        members: vec!["ann".into()],
        until_ms: 0,
        present: true,
    }));
    rooms(Command::DestroyChatrooms(DestroyChatrooms {
        app_key: "prodkey001".into(),
        room_ids: vec!["r1".into()],
    }));
    // The edge dies: its lease runs out and the sweep takes ann offline.
    let mut overlay = Overlay::new(&tree);
    let later = ApplyContext {
        area: AreaCode::Sg,
        now_ms: 1_000 + presence::LEASE_MS + 1,
    };
    apply(
        later,
        &mut overlay,
        &command(Command::ExpireEdges(ExpireEdges)),
    )
    .unwrap();
    tree.apply_batch(overlay.into_batch()).unwrap();

    let events: Vec<HookEvent> = outbox(&tree).0.into_iter().map(|j| j.event).collect();
    let status = |status| {
        HookEvent::Status(StatusChange {
            user_id: "ann".into(),
            status,
            platform: "web".into(),
            client_ip: "10.0.0.1:4242".into(),
            session_id: "4-9".into(),
            time_ms: 1_000,
        })
    };
    let room = |user_ids: &[&str], event, cause| {
        HookEvent::Chatroom(RoomChange {
            room_id: "r1".into(),
            user_ids: user_ids.iter().map(|u| u.to_string()).collect(),
            event,
            cause,
            time_ms: 1_000,
        })
    };
    let mut offline = status(DeviceStatus::Offline);
    if let HookEvent::Status(change) = &mut offline {
        change.time_ms = later.now_ms;
    }
    assert_eq!(
        events,
        [
            status(DeviceStatus::Online),
            room(&[], RoomEvent::Created, RoomCause::Requested),
            room(&["ann"], RoomEvent::Joined, RoomCause::Requested),
            room(&["ann"], RoomEvent::Quit, RoomCause::Banned),
            room(&[], RoomEvent::Destroyed, RoomCause::Requested),
            offline,
        ]
    );
}

#[test]
fn callback_settings_are_validated_at_their_limits() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let set = |callbacks: CallbackSettings| {
        let settings = AppSettings {
            callbacks,
            ..AppSettings::default()
        };
        run(
            &tree,
            &[command(Command::SetAppSettings(SetAppSettings {
                app_key: "prodkey001".into(),
                settings,
            }))],
        )
        .remove(0)
    };
    let rule = |timeout_ms| ModerationRule {
        url: "https://mod.example.com/check".into(),
        timeout_ms,
        ..ModerationRule::default()
    };
    let invalid = |result: Result<Output, CommandError>, field: &str| {
        assert!(
            matches!(&result, Err(CommandError::Invalid { field: f, .. }) if f == field),
            "{result:?}"
        )
    };
    invalid(
        set(CallbackSettings {
            routing_url: Some("ftp://app.example.com".into()),
            ..CallbackSettings::default()
        }),
        "callbacks.routingUrl",
    );
    invalid(
        set(CallbackSettings {
            routing_url: Some(format!("https://a.example.com/{}", "x".repeat(1_003))),
            ..CallbackSettings::default()
        }),
        "callbacks.routingUrl",
    );
    for url in [
        "https://app.example.com/cb#frag",
        "https:///no-host",
        "https://a b/c",
    ] {
        invalid(
            set(CallbackSettings {
                online_status_url: Some(url.into()),
                ..CallbackSettings::default()
            }),
            "callbacks.onlineStatusUrl",
        );
    }
    invalid(
        set(CallbackSettings {
            routing_types: vec![2],
            ..CallbackSettings::default()
        }),
        "callbacks.routingTypes",
    );
    for attempts in [0, 51] {
        invalid(
            set(CallbackSettings {
                max_attempts: attempts,
                ..CallbackSettings::default()
            }),
            "callbacks.maxAttempts",
        );
    }
    for timeout in [99, 10_001] {
        invalid(
            set(CallbackSettings {
                moderation: vec![rule(timeout)],
                ..CallbackSettings::default()
            }),
            "callbacks.moderation.timeoutMs",
        );
    }
    invalid(
        set(CallbackSettings {
            moderation: vec![rule(3_000); 21],
            ..CallbackSettings::default()
        }),
        "callbacks.moderation",
    );
    // At the limits, accepted.
    let edge = CallbackSettings {
        // 1,024 characters.
        routing_url: Some(format!("https://a.example.com/{}", "x".repeat(1_002))),
        moderation: vec![rule(100), rule(10_000)]
            .into_iter()
            .cycle()
            .take(20)
            .collect(),
        max_attempts: 50,
        ..CallbackSettings::default()
    };
    assert!(set(edge).is_ok());
}

// covers: HOOK-02
#[test]
fn a_moderation_rule_matches_when_every_list_does() {
    let rule = ModerationRule {
        url: "https://mod.example.com".into(),
        senders: vec!["ann".into()],
        conversation_types: vec![ConversationType::Group.code()],
        object_names: vec!["RC:TxtMsg".into()],
        ..ModerationRule::default()
    };
    assert!(rule.matches("ann", "g1", ConversationType::Group, "RC:TxtMsg"));
    assert!(!rule.matches("bob", "g1", ConversationType::Group, "RC:TxtMsg"));
    assert!(!rule.matches("ann", "bob", ConversationType::Private, "RC:TxtMsg"));
    assert!(!rule.matches("ann", "g1", ConversationType::Group, "RC:ImgMsg"));
    let callbacks = CallbackSettings {
        moderation: vec![rule],
        ..CallbackSettings::default()
    };
    assert!(callbacks
        .moderation_rule("ann", "g9", ConversationType::Group, "RC:TxtMsg")
        .is_some());
    assert!(callbacks
        .moderation_rule("ann", "g9", ConversationType::Group, "RC:ImgMsg")
        .is_none());
}

fn push_jobs(tree: &sled::Tree) -> Vec<PushJob> {
    outbox(tree)
        .0
        .into_iter()
        .filter_map(|job| match job.event {
            HookEvent::Push(push) => Some(push),
            _ => None,
        })
        .collect()
}

/// The prod app pushes through a webhook.
fn push_through_webhook() -> Envelope {
    command(Command::SetAppSettings(SetAppSettings {
        app_key: "prodkey001".into(),
        settings: AppSettings {
            push: PushSettings {
                webhook_url: Some("https://app.example.com/push".into()),
                ..PushSettings::default()
            },
            ..AppSettings::default()
        },
    }))
}

fn register_device(tree: &sled::Tree, user: &str, device: &str) -> Result<Output, CommandError> {
    run(
        tree,
        &[command(Command::RegisterPushToken(RegisterPushToken {
            app_key: "prodkey001".into(),
            user_id: user.into(),
            device: DeviceToken {
                device_id: device.into(),
                provider: PushProvider::Webhook,
                token: format!("token-{device}"),
                app_id: "web".into(),
            },
        }))],
    )
    .remove(0)
}

// covers: PUSH-01, PUSH-03
#[test]
fn offline_recipients_get_push_jobs_unless_muted_or_levelled_away() {
    let (_dir, tree) = tree();
    run(
        &tree,
        &[
            create_app("Chat", "devkey001", "prodkey001"),
            put_user("prodkey001", "ann"),
        ],
    );
    run(&tree, &[push_through_webhook()]);
    for user in ["bob", "cat", "dan", "eve"] {
        register_device(&tree, user, &format!("{user}-phone")).unwrap();
    }
    // cat is online; dan muted ann; eve takes only mentions of her from private chats.
    run(
        &tree,
        &[
            command(session_change("cat", 1, 1, DeviceStatus::Online)),
            command(Command::ChangeConversation(ChangeConversation {
                app_key: "prodkey001".into(),
                user_id: "dan".into(),
                kind: ConversationType::Private,
                target_id: "ann".into(),
                channel: String::new(),
                setting: ConversationSetting::Muted(true),
            })),
            command(Command::SetConversationTypeLevel(
                SetConversationTypeLevel {
                    app_key: "prodkey001".into(),
                    user_id: "eve".into(),
                    kind: ConversationType::Private,
                    level: 2,
                },
            )),
        ],
    );
    for user in ["bob", "cat", "dan", "eve"] {
        publish(
            &tree,
            vec![private_text(
                "ann",
                user,
                &format!(r#"{{"content":"hi {user}"}}"#),
            )],
        )
        .unwrap();
    }
    let mention = |user: &str| {
        format!(r#"{{"content":"@{user}","mentionedInfo":{{"type":2,"userIdList":["{user}"]}}}}"#)
    };
    publish(&tree, vec![private_text("ann", "dan", &mention("dan"))]).unwrap();
    publish(&tree, vec![private_text("ann", "eve", &mention("eve"))]).unwrap();
    // A custom message without pushContent is not pushed.
    let mut custom = private_text("ann", "bob", "{}");
    custom.object_name = "App:Custom".into();
    custom.flags = MessageFlags {
        persisted: true,
        counted: true,
    };
    publish(&tree, vec![custom]).unwrap();

    let jobs = push_jobs(&tree);
    let got: Vec<(&str, &str)> = jobs
        .iter()
        .map(|j| (j.user_id.as_str(), j.body.as_str()))
        .collect();
    assert_eq!(got, [("bob", "hi bob"), ("dan", "@dan"), ("eve", "@eve")]);
    assert_eq!(jobs[0].title, "name", "the sender's name titles the push");
    assert_eq!(jobs[0].device.token, "token-bob-phone");
}

// covers: PUSH-01
#[test]
fn push_devices_are_capped_per_user_and_a_gone_token_is_removed_only_if_unchanged() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    for i in 0..push::MAX_DEVICES_PER_USER {
        register_device(&tree, "bob", &format!("d{i}")).unwrap();
    }
    // Re-registering a known device is fine at the cap; an eleventh is refused.
    register_device(&tree, "bob", "d0").unwrap();
    assert!(matches!(
        register_device(&tree, "bob", "d10"),
        Err(CommandError::Limit { .. })
    ));
    let devices = |tree: &sled::Tree| push::devices(tree, "prodkey001", "bob").unwrap().len();
    assert_eq!(devices(&tree), 10);
    let unregister = |token: Option<&str>| {
        command(Command::UnregisterPushToken(UnregisterPushToken {
            app_key: "prodkey001".into(),
            user_id: "bob".into(),
            device_id: "d0".into(),
            token: token.map(str::to_string),
        }))
    };
    // A provider's "gone" for an older token leaves the device's new one alone.
    run(&tree, &[unregister(Some("an-older-token"))]);
    assert_eq!(devices(&tree), 10);
    run(&tree, &[unregister(Some("token-d0"))]);
    assert_eq!(devices(&tree), 9);
    run(&tree, &[unregister(None)]);
    assert_eq!(devices(&tree), 9);
}

// covers: HOOK-06
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
    for i in 3..sensitive::MAX_WORDS {
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
        QueryOutput::SensitiveWords(words) => assert_eq!(words.len(), sensitive::MAX_WORDS - 2),
        other => panic!("{other:?}"),
    }
}

// covers: HOOK-01, HOOK-03
#[test]
fn an_undecodable_job_is_skipped_and_an_unknown_session_end_is_not_reported() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    set_callbacks(
        &tree,
        "prodkey001",
        CallbackSettings {
            online_status_url: Some("https://app.example.com/status".into()),
            ..CallbackSettings::default()
        },
    );
    let presence = |status| command(session_change("ann", 2, 3, status));
    // An end of a session that was never recorded (or already expired) is not news.
    run(&tree, &[presence(DeviceStatus::Offline)]);
    assert_eq!(outbox(&tree).1, 0);
    run(&tree, &[presence(DeviceStatus::Online)]);
    run(&tree, &[presence(DeviceStatus::Offline)]);
    run(&tree, &[presence(DeviceStatus::Offline)]);
    assert_eq!(outbox(&tree).0.len(), 2);
    // A record that does not decode (between the two jobs) does not hold up the others.
    tree.insert(b"outbox/00000000000000000001x", b"garbage".as_slice())
        .unwrap();
    assert_eq!(outbox(&tree).0.len(), 2);
}

// covers: NAV-01, NAV-03
#[test]
fn the_area_catalog_keeps_one_valid_entry_per_area() {
    use meridian_regions::{CatalogEntry, EdgeDiscovery, HostPair};
    let (_dir, tree) = tree();
    let entry = |code: AreaCode, api: &str| CatalogEntry {
        code,
        nav: HostPair {
            primary: format!("nav-{code}.example.com"),
            backup: format!("nav-{code}-b.example.com"),
        },
        api: HostPair {
            primary: api.into(),
            backup: format!("{api}/backup"),
        },
        edges: EdgeDiscovery {
            discovery: Some(format!("_meridian-edge._tcp.{code}.example.com")),
            static_edges: Vec::new(),
            tls: true,
        },
    };
    let mut na = entry(AreaCode::Na, "https://api-na.example.com");
    na.edges.discovery = None;
    na.edges.static_edges = vec!["edge-na.example.com:443".into()];
    let sg = entry(AreaCode::Sg, "https://api-sg.example.com");
    let out = run(
        &tree,
        &[
            command(Command::PutAreaEntry(PutAreaEntry(na.clone()))),
            command(Command::PutAreaEntry(PutAreaEntry(sg.clone()))),
        ],
    );
    assert_eq!(out[1], Ok(Output::AreaEntry(sg.clone())));
    // Another area's entry is operator metadata: any area's cluster may keep it.
    assert_eq!(
        query(&tree, &Query::AreaCatalog).unwrap(),
        QueryOutput::AreaCatalog(vec![sg.clone(), na.clone()])
    );

    // A bad entry is refused and the stored one stays.
    let mut no_edges = entry(AreaCode::Sg, "https://other.example.com");
    no_edges.edges.discovery = None;
    let mut blank_nav = entry(AreaCode::Sg, "https://other.example.com");
    blank_nav.nav.backup = " ".into();
    let out = run(
        &tree,
        &[
            command(Command::PutAreaEntry(PutAreaEntry(no_edges))),
            command(Command::PutAreaEntry(PutAreaEntry(blank_nav))),
        ],
    );
    assert!(
        matches!(&out[0], Err(CommandError::Invalid { field, .. }) if field == "edges"),
        "{out:?}"
    );
    assert!(
        matches!(&out[1], Err(CommandError::Invalid { field, .. }) if field == "nav.backup"),
        "{out:?}"
    );
    assert_eq!(
        query(&tree, &Query::AreaEntry { code: AreaCode::Sg }).unwrap(),
        QueryOutput::AreaEntry(sg)
    );

    // A put replaces; a delete removes; deleting again is not found.
    let moved = entry(AreaCode::Sg, "https://api2-sg.example.com");
    let delete = || {
        command(Command::DeleteAreaEntry(DeleteAreaEntry {
            code: AreaCode::Na,
        }))
    };
    let out = run(
        &tree,
        &[
            command(Command::PutAreaEntry(PutAreaEntry(moved.clone()))),
            delete(),
        ],
    );
    assert_eq!(out[1], Ok(Output::Done));
    assert_eq!(
        query(&tree, &Query::AreaCatalog).unwrap(),
        QueryOutput::AreaCatalog(vec![moved])
    );
    assert!(matches!(
        run(&tree, &[delete()])[0],
        Err(CommandError::NotFound { .. })
    ));
    assert!(matches!(
        query(&tree, &Query::AreaEntry { code: AreaCode::Na }),
        Err(CommandError::NotFound { .. })
    ));
}

// covers: SYS-03
#[test]
fn a_push_only_notice_reaches_the_devices_of_everyone_it_names_and_makes_no_message() {
    use crate::state::push::{Notice, NoticeAudience, MAX_NOTICE_TITLE_CHARS, MAX_NOTICE_USERS};
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let notice = |audience: NoticeAudience| {
        command(Command::PushNotice(PushNotice {
            app_key: "prodkey001".into(),
            notice: Notice {
                audience,
                title: "News".into(),
                body: "Doors open at 9".into(),
                data: Some(r#"{"page":"news"}"#.into()),
            },
        }))
    };
    let everyone = || NoticeAudience {
        everyone: true,
        ..NoticeAudience::default()
    };
    // Without push settings there is nothing to push with.
    assert!(matches!(
        &run(&tree, &[notice(everyone())])[0],
        Err(CommandError::Invalid { field, .. }) if field == "push"
    ));
    let tags = |user: &str, tags: &[&str]| {
        command(Command::SetTags(SetTags {
            app_key: "prodkey001".into(),
            user_id: user.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }))
    };
    run(
        &tree,
        &[
            push_through_webhook(),
            put_user("prodkey001", "ann"),
            put_user("prodkey001", "bob"),
            put_user("prodkey001", "cat"),
            put_user("prodkey001", "dan"),
            tags("ann", &["vip", "sg"]),
            tags("bob", &["vip"]),
            // cat is online: a notice is not a message, it still goes to her devices.
            command(session_change("cat", 1, 1, DeviceStatus::Online)),
        ],
    );
    for (user, device) in [
        ("ann", "ann-phone"),
        ("ann", "ann-pad"),
        ("bob", "bob-phone"),
        ("cat", "cat-phone"),
    ] {
        register_device(&tree, user, device).unwrap();
    }
    // dan has no device: nothing reaches him.
    let reached = |audience: NoticeAudience| -> Vec<String> {
        let Ok(Output::Notice { id, devices }) = run(&tree, &[notice(audience)]).remove(0) else {
            panic!("notice refused");
        };
        let mut devices_reached: Vec<String> = push_jobs(&tree)
            .into_iter()
            .filter(|job| job.msg_uid == id)
            .map(|job| {
                assert_eq!(
                    (job.title.as_str(), job.body.as_str()),
                    ("News", "Doors open at 9")
                );
                assert_eq!(job.data.as_deref(), Some(r#"{"page":"news"}"#));
                job.device.device_id
            })
            .collect();
        assert_eq!(devices_reached.len() as u64, devices);
        devices_reached.sort();
        devices_reached
    };
    assert_eq!(
        reached(everyone()),
        ["ann-pad", "ann-phone", "bob-phone", "cat-phone"]
    );
    let tagged = |all: &[&str], any: &[&str], users: &[&str]| NoticeAudience {
        tags_all: all.iter().map(|t| t.to_string()).collect(),
        tags_any: any.iter().map(|t| t.to_string()).collect(),
        user_ids: users.iter().map(|u| u.to_string()).collect(),
        ..NoticeAudience::default()
    };
    assert_eq!(
        reached(tagged(&["vip", "sg"], &[], &[])),
        ["ann-pad", "ann-phone"]
    );
    assert_eq!(
        reached(tagged(&[], &["sg", "none"], &[])),
        ["ann-pad", "ann-phone"]
    );
    assert_eq!(
        reached(tagged(&["vip"], &[], &["cat"])),
        ["ann-pad", "ann-phone", "bob-phone", "cat-phone"]
    );
    assert_eq!(
        reached(tagged(&[], &[], &["bob", "dan", "bob"])),
        ["bob-phone"]
    );
    let apns_only = NoticeAudience {
        providers: vec![PushProvider::Apns],
        ..everyone()
    };
    assert!(reached(apns_only).is_empty());

    // Refused, and nothing changes: no audience, too many users, no text.
    let waiting = outbox(&tree).1;
    let too_many = NoticeAudience {
        user_ids: (0..=MAX_NOTICE_USERS).map(|i| format!("u{i}")).collect(),
        ..NoticeAudience::default()
    };
    let mut no_text = notice(everyone());
    if let Command::PushNotice(PushNotice { notice, .. }) = &mut no_text.command {
        notice.body.clear();
    }
    let mut long_title = notice(everyone());
    if let Command::PushNotice(PushNotice { notice, .. }) = &mut long_title.command {
        notice.title = "t".repeat(MAX_NOTICE_TITLE_CHARS + 1);
    }
    let out = run(
        &tree,
        &[
            notice(NoticeAudience::default()),
            notice(too_many),
            no_text,
            long_title,
        ],
    );
    assert!(matches!(&out[3], Err(CommandError::Invalid { field, .. }) if field == "title"));
    assert!(matches!(&out[0], Err(CommandError::Invalid { field, .. }) if field == "audience"));
    assert!(matches!(&out[1], Err(CommandError::Limit { .. })));
    assert!(matches!(&out[2], Err(CommandError::Invalid { field, .. }) if field == "alert"));
    assert_eq!(outbox(&tree).1, waiting);
    // No message was made: nobody has anything to sync.
    assert!(matches!(
        query(&tree, &Query::Conversations { app_key: "prodkey001".into(), user_id: "ann".into(), limit: 10 }),
        Ok(QueryOutput::ConversationList(list)) if list.is_empty()
    ));
}

// covers: SYS-03
#[test]
fn a_notice_reaching_more_devices_than_one_apply_may_write_is_refused_whole() {
    use crate::state::push::{Notice, NoticeAudience, MAX_DEVICES_PER_USER, MAX_NOTICE_DEVICES};
    let (_dir, tree) = tree();
    let mut setup = vec![
        create_app("Chat", "devkey001", "prodkey001"),
        push_through_webhook(),
    ];
    let users = MAX_NOTICE_DEVICES / MAX_DEVICES_PER_USER + 1;
    for u in 0..users {
        let user = format!("u{u}");
        setup.push(put_user("prodkey001", &user));
        for d in 0..MAX_DEVICES_PER_USER {
            setup.push(command(Command::RegisterPushToken(RegisterPushToken {
                app_key: "prodkey001".into(),
                user_id: user.clone(),
                device: DeviceToken {
                    device_id: format!("d{d}"),
                    provider: PushProvider::Webhook,
                    token: format!("token-{u}-{d}"),
                    app_id: "web".into(),
                },
            })));
        }
    }
    assert!(run(&tree, &setup).iter().all(Result::is_ok));
    let waiting = outbox(&tree).1;
    let out = run(
        &tree,
        &[command(Command::PushNotice(PushNotice {
            app_key: "prodkey001".into(),
            notice: Notice {
                audience: NoticeAudience {
                    everyone: true,
                    ..NoticeAudience::default()
                },
                title: String::new(),
                body: "hello".into(),
                data: None,
            },
        }))],
    );
    assert!(
        matches!(&out[0], Err(CommandError::Limit { limit, .. }) if *limit == MAX_NOTICE_DEVICES as u64),
        "{out:?}"
    );
    assert_eq!(outbox(&tree).1, waiting);
}
