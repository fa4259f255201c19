//! Callbacks waiting in the outbox: lanes, backoff, dead letters.

use super::*;

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

/// An app whose messages are all routed, each callback tried `max_attempts` times.
fn routing_app(max_attempts: u32) -> (tempfile::TempDir, sled::Tree) {
    let (dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    set_callbacks(
        &tree,
        "prodkey001",
        CallbackSettings {
            routing_url: Some("http://127.0.0.1:9/route".into()),
            max_attempts,
            ..CallbackSettings::default()
        },
    );
    (dir, tree)
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
    let (_dir, tree) = routing_app(2);
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
        ctx().now_ms + state::outbox::FIRST_BACKOFF_MS
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
    assert_eq!(state::outbox::retries(&tree).unwrap(), 0);
    assert_eq!(
        run(&tree, std::slice::from_ref(&retry))[0],
        Ok(Output::Count(1))
    );
    let (jobs, waiting) = outbox(&tree);
    assert_eq!((jobs[0].id, jobs[0].attempts, waiting), (id, 0, 1));
    assert!(dead_letters(&tree, "prodkey001").is_empty());
    // Jobs back under old ids tell sweeping dispatchers to start over; a retry that
    // moved nothing does not.
    assert_eq!(state::outbox::retries(&tree).unwrap(), 1);
    assert_eq!(run(&tree, &[retry])[0], Ok(Output::Count(0)));
    assert_eq!(state::outbox::retries(&tree).unwrap(), 1);
}

#[test]
fn backoff_doubles_up_to_its_cap() {
    assert_eq!(state::outbox::backoff_ms(1), 1_000);
    assert_eq!(state::outbox::backoff_ms(2), 2_000);
    assert_eq!(state::outbox::backoff_ms(5), 16_000);
    assert_eq!(state::outbox::backoff_ms(9), 256_000);
    assert_eq!(state::outbox::backoff_ms(10), state::outbox::MAX_BACKOFF_MS);
    assert_eq!(state::outbox::backoff_ms(40), state::outbox::MAX_BACKOFF_MS);
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
        now_ms: 1_000 + state::presence::LEASE_MS + 1,
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

// covers: LIFE-01
#[test]
fn dead_letters_are_dropped_after_their_keep_and_newer_ones_stay() {
    let (_dir, tree) = routing_app(1);
    publish(&tree, vec![private_text("ann", "bob", "one")]).unwrap();
    publish(&tree, vec![private_text("ann", "bob", "two")]).unwrap();
    let ids: Vec<u64> = outbox(&tree).0.iter().map(|job| job.id).collect();
    let failures = ids.iter().map(|&id| (id, "HTTP 500".into())).collect();
    run(
        &tree,
        &[command(Command::OutboxFailed(OutboxFailed { failures }))],
    );
    assert_eq!(dead_letters(&tree, "prodkey001").len(), 2);

    let created = dead_letters(&tree, "prodkey001")[0].created_ms;
    let keep = state::outbox::DEAD_LETTER_KEEP_MS;
    let due = |now_ms| expired_dead_letters(&tree, "prodkey001", now_ms).unwrap();
    assert_eq!(due(created + keep - 1), Vec::<u64>::new());
    assert_eq!(due(created + keep), ids);

    let drop = |ids: Vec<u64>| {
        command(Command::DropDeadLetters(DropDeadLetters {
            app_key: "prodkey001".into(),
            ids,
        }))
    };
    assert!(run(&tree, &[drop(vec![ids[0]])])[0].is_ok());
    let left = dead_letters(&tree, "prodkey001");
    assert_eq!(left.iter().map(|job| job.id).collect::<Vec<_>>(), [ids[1]]);
    let too_many = vec![0; state::outbox::MAX_DROPPED_DEAD_LETTERS + 1];
    assert!(matches!(
        run(&tree, &[drop(too_many)])[0],
        Err(CommandError::Limit { .. })
    ));
    assert_eq!(dead_letters(&tree, "prodkey001").len(), 1);
}
