//! Apps, their keys and settings, the residency guard and all-or-nothing commands.

use super::*;

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
    // The second part fails (a malformed user id): the first part's new user is undone too.
    let out = run(
        &tree,
        &[envelope(Command::All(vec![put("carol"), tags("no body")]))],
    );
    assert!(matches!(&out[0], Err(CommandError::Invalid { .. })));
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

// covers: API-08

#[test]
fn an_apps_limits_set_its_group_cap_and_multi_room_chatrooms() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let limits = |cap: u64, multi_room: bool| {
        envelope(Command::SetAppLimits(SetAppLimits {
            app_key: "prodkey001".into(),
            limits: AppLimits {
                group_member_cap: cap,
                multi_room_chatrooms: multi_room,
                ..AppLimits::default()
            },
        }))
    };
    assert!(matches!(
        &run(&tree, &[limits(0, false)])[0],
        Err(CommandError::Invalid { field, .. }) if field == "groupMemberCap"
    ));
    assert!(run(&tree, &[limits(2, true)])[0].is_ok());
    let join = |group: &str, users: &[&str]| {
        envelope(Command::JoinGroup(JoinGroup {
            app_key: "prodkey001".into(),
            group_id: group.into(),
            name: None,
            user_ids: users.iter().map(|u| u.to_string()).collect(),
        }))
    };
    assert!(matches!(
        &run(&tree, &[join("g", &["a", "b", "c"])])[0],
        Err(CommandError::MemberCap { limit: 2 })
    ));
    assert!(run(&tree, &[join("g", &["a", "b"])])[0].is_ok());
    // The other environment keeps the default cap.
    run(
        &tree,
        &[envelope(Command::JoinGroup(JoinGroup {
            app_key: "devkey001".into(),
            group_id: "g".into(),
            name: None,
            user_ids: vec!["a".into(), "b".into(), "c".into()],
        }))],
    )[0]
    .as_ref()
    .expect("3 of 3000");
    // Several rooms at once.
    run(
        &tree,
        &[envelope(Command::CreateChatrooms(CreateChatrooms {
            app_key: "prodkey001".into(),
            rooms: vec![("r1".into(), "One".into()), ("r2".into(), "Two".into())],
        }))],
    );
    for room in ["r1", "r2"] {
        let joined = run(
            &tree,
            &[envelope(Command::JoinChatroom(JoinChatroom {
                app_key: "prodkey001".into(),
                room_id: room.into(),
                user_id: "a".into(),
            }))],
        );
        assert!(joined[0].is_ok(), "{joined:?}");
    }
    for room in ["r1", "r2"] {
        let Ok(QueryOutput::RoomMembers(members)) = query(
            &tree,
            &Query::RoomMembers {
                app_key: "prodkey001".into(),
                room_id: room.into(),
            },
        ) else {
            panic!("members of {room}");
        };
        assert_eq!(members.len(), 1, "a is in {room}");
    }
}

// covers: LIFE-04
#[test]
fn a_rotated_secret_is_kept_as_previous_until_its_overlap_ends() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let rotate = |secret: &str, overlap_ms| {
        envelope(Command::RotateAppSecret(RotateAppSecret {
            app_key: "prodkey001".into(),
            new_secret: secret.into(),
            overlap_ms,
        }))
    };
    // The current secret again, a malformed one, or an overlap past 30 days: refused.
    for bad in [
        rotate("prodkey001secret", 10),
        rotate("no", 10),
        rotate("newsecret01", MAX_OVERLAP_MS + 1),
    ] {
        assert!(matches!(
            run(&tree, &[bad]).remove(0),
            Err(CommandError::Invalid { .. })
        ));
    }
    let out = run(&tree, &[rotate("newsecret01", 500)]).remove(0);
    let expected = PreviousSecret {
        app_secret: "prodkey001secret".into(),
        until_ms: ctx().now_ms + 500,
    };
    assert_eq!(out, Ok(Output::PreviousSecret(expected.clone())));
    let previous = |now_ms| {
        query(
            &tree,
            &Query::PreviousSecret {
                app_key: "prodkey001".into(),
                now_ms,
            },
        )
        .unwrap()
    };
    assert_eq!(previous(1_499), QueryOutput::PreviousSecret(Some(expected)));
    assert_eq!(previous(1_500), QueryOutput::PreviousSecret(None));
    match query(
        &tree,
        &Query::GetApp {
            app_key: "prodkey001".into(),
        },
    )
    .unwrap()
    {
        QueryOutput::App(app, AppEnv::Prod) => {
            assert_eq!(app.prod.app_secret, "newsecret01");
            assert_eq!(app.dev.app_secret, "devkey001secret");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sdk_switches_are_per_environment_and_go_with_their_app() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    let switch = |app_key: &str, on: bool| {
        envelope(Command::SetSdkFeatures(SetSdkFeatures {
            app_key: app_key.into(),
            features: SdkFeatures {
                realtime_conversations: on,
            },
        }))
    };
    let shown = |app_key: &str| {
        query(
            &tree,
            &Query::SdkFeatures {
                app_key: app_key.into(),
            },
        )
    };
    // Off until switched, for an unknown app refused and nothing kept.
    assert_eq!(
        shown("prodkey001").unwrap(),
        QueryOutput::SdkFeatures(SdkFeatures::default())
    );
    assert!(matches!(
        &run(&tree, &[switch("nokey0001", true)])[0],
        Err(CommandError::NotFound { .. })
    ));
    assert!(shown("nokey0001").is_err());
    assert!(run(&tree, &[switch("prodkey001", true)])[0].is_ok());
    let on = SdkFeatures {
        realtime_conversations: true,
    };
    assert_eq!(shown("prodkey001").unwrap(), QueryOutput::SdkFeatures(on));
    // The other environment keeps its own.
    assert_eq!(
        shown("devkey001").unwrap(),
        QueryOutput::SdkFeatures(SdkFeatures::default())
    );
    // Deleting the app and creating it again starts from off.
    let delete = envelope(Command::DeleteApp(DeleteApp {
        app_key: "prodkey001".into(),
    }));
    assert!(run(&tree, &[delete])[0].is_ok());
    assert!(run(&tree, &[create_app("Again", "devkey001", "prodkey001")])[0].is_ok());
    assert_eq!(
        shown("prodkey001").unwrap(),
        QueryOutput::SdkFeatures(SdkFeatures::default())
    );
}
