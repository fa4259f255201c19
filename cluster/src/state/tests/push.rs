//! Push jobs, device tokens and push-only notices.

use super::*;
use crate::state::apps::REDACTED_KEY;
use crate::state::vendor_push::{VendorApp, VendorChannel, VendorPush};

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

/// Registers `user`'s phone, whose webhook token is `token-{n}`.
fn users_phone(user: &str, n: usize) -> Envelope {
    command(Command::RegisterPushToken(RegisterPushToken {
        app_key: "prodkey001".into(),
        user_id: user.into(),
        device: DeviceToken {
            device_id: "phone".into(),
            provider: PushProvider::Webhook,
            token: format!("token-{n}"),
            app_id: "web".into(),
        },
    }))
}

/// An app with one user, ann, whose pushes go to a webhook.
fn app_pushing_through_a_webhook() -> (tempfile::TempDir, sled::Tree) {
    let (dir, tree) = tree();
    run(
        &tree,
        &[
            create_app("Chat", "devkey001", "prodkey001"),
            put_user("prodkey001", "ann"),
        ],
    );
    run(&tree, &[push_through_webhook()]);
    (dir, tree)
}

// covers: PUSH-01, PUSH-03

#[test]
fn offline_recipients_get_push_jobs_unless_muted_or_levelled_away() {
    let (_dir, tree) = app_pushing_through_a_webhook();
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
    for i in 0..state::push::MAX_DEVICES_PER_USER {
        register_device(&tree, "bob", &format!("d{i}")).unwrap();
    }
    // Re-registering a known device is fine at the cap; an eleventh is refused.
    register_device(&tree, "bob", "d0").unwrap();
    assert!(matches!(
        register_device(&tree, "bob", "d10"),
        Err(CommandError::Limit { .. })
    ));
    let devices = |tree: &sled::Tree| {
        state::push::devices(tree, "prodkey001", "bob")
            .unwrap()
            .len()
    };
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
    // Without push settings there is nothing to push with: accepted (as the commercial
    // service accepts it), reaching no device.
    assert!(matches!(
        &run(&tree, &[notice(everyone())])[0],
        Ok(Output::Notice { devices: 0, .. })
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

// covers: SYS-02

#[test]
fn a_broadcast_pushes_every_offline_device_in_batches() {
    use crate::state::cross_domain::broadcast_pushes::BROADCAST_PUSH_BATCH;
    let (_dir, tree) = tree();
    let mut setup = vec![
        create_app("Chat", "devkey001", "prodkey001"),
        push_through_webhook(),
    ];
    // One batch and five devices more, one per user.
    let users = BROADCAST_PUSH_BATCH + 5;
    setup.extend((0..users).map(|u| users_phone(&format!("u{u:05}"), u)));
    assert!(run(&tree, &setup).iter().all(Result::is_ok));
    let broadcast = text(
        Conversation::system("news", ""),
        "news",
        None,
        r#"{"content":"Extra!"}"#,
    );
    publish(&tree, vec![broadcast]).unwrap();
    let pushed_to = |tree: &sled::Tree| {
        let mut after = 0;
        let mut users = Vec::new();
        loop {
            let Ok(QueryOutput::Jobs { jobs, .. }) =
                query(tree, &Query::Outbox { after, limit: 1000 })
            else {
                panic!("the outbox");
            };
            let Some(last) = jobs.last().map(|job| job.id) else {
                return users;
            };
            after = last;
            users.extend(jobs.into_iter().filter_map(|job| match job.event {
                HookEvent::Push(push) => Some(push.user_id),
                _ => None,
            }));
        }
    };
    // The first batch goes while the broadcast is stored; the rest is pending.
    assert_eq!(pushed_to(&tree).len(), BROADCAST_PUSH_BATCH);
    assert!(pending_broadcast_pushes(&tree, "prodkey001").unwrap());
    let expand = || {
        command(Command::ExpandBroadcastPushes(ExpandBroadcastPushes {
            app_key: "prodkey001".into(),
        }))
    };
    assert!(run(&tree, &[expand()])[0].is_ok());
    let mut reached = pushed_to(&tree);
    assert_eq!(reached.len(), users, "every device once");
    reached.sort();
    reached.dedup();
    assert_eq!(reached.len(), users);
    assert!(!pending_broadcast_pushes(&tree, "prodkey001").unwrap());
    // Nothing is left to do: a further sweep pushes nothing more.
    assert!(run(&tree, &[expand()])[0].is_ok());
    assert_eq!(pushed_to(&tree).len(), users);
}

/// SYS-02 with `os`: a broadcast for one platform pushes only its devices, in every
/// batch, and everyone keeps the message.
// covers: SYS-02, PUSH-01
#[test]
fn a_broadcast_for_one_platform_pushes_only_its_devices() {
    use crate::state::cross_domain::broadcast_pushes::BROADCAST_PUSH_BATCH;
    use crate::state::{BroadcastToPlatforms, PublishWithPush};
    let (_dir, tree) = tree();
    let mut setup = vec![
        create_app("Chat", "devkey001", "prodkey001"),
        push_through_webhook(),
    ];
    // Every phone pushes through the webhook; two are past the first batch.
    let users = BROADCAST_PUSH_BATCH + 2;
    setup.extend((0..users).map(|u| users_phone(&format!("u{u:05}"), u)));
    assert!(run(&tree, &setup).iter().all(Result::is_ok));
    let broadcast = |n: usize, providers: Vec<PushProvider>| {
        let message = text(
            Conversation::system("news", ""),
            "news",
            None,
            &format!(r#"{{"content":"Extra {n}"}}"#),
        );
        command(Command::BroadcastToPlatforms(BroadcastToPlatforms {
            publish: PublishWithPush {
                app_key: "prodkey001".into(),
                messages: vec![message],
                options: Default::default(),
                push: Box::default(),
            },
            providers,
        }))
    };
    let expand = command(Command::ExpandBroadcastPushes(ExpandBroadcastPushes {
        app_key: "prodkey001".into(),
    }));
    let pushes = |tree: &sled::Tree| outbox(tree).1;

    // For iOS only: no webhook phone is pushed, in the first batch or the rest.
    assert!(run(&tree, &[broadcast(1, vec![PushProvider::Apns])])[0].is_ok());
    assert!(pending_broadcast_pushes(&tree, "prodkey001").unwrap());
    assert!(run(&tree, std::slice::from_ref(&expand))[0].is_ok());
    assert!(!pending_broadcast_pushes(&tree, "prodkey001").unwrap());
    assert_eq!(pushes(&tree), 0);
    // For the webhook's platform: every phone, once.
    assert!(run(&tree, &[broadcast(2, vec![PushProvider::Webhook])])[0].is_ok());
    assert!(run(&tree, &[expand])[0].is_ok());
    assert_eq!(pushes(&tree), users as u64);
}

fn vendor_push(channels: Vec<VendorChannel>) -> VendorPush {
    VendorPush {
        apps: vec![VendorApp {
            app_id: "com.example.chat".into(),
            channels,
        }],
    }
}

fn huawei(secret: &str) -> VendorChannel {
    VendorChannel::Huawei(meridian_push::HuaweiCredentials {
        app_id: "104123456".into(),
        app_secret: secret.into(),
        token_uri: meridian_push::HUAWEI_TOKEN_URI.into(),
        endpoint: meridian_push::HUAWEI_ENDPOINT.into(),
    })
}

fn set_vendor_push(tree: &sled::Tree, vendors: VendorPush) -> Result<Output, CommandError> {
    run(
        tree,
        &[command(Command::SetVendorPush(SetVendorPush {
            app_key: "prodkey001".into(),
            vendors,
        }))],
    )
    .remove(0)
}

// covers: PUSH-05

#[test]
fn vendor_channels_alone_make_push_jobs_for_vendor_devices() {
    let (_dir, tree) = tree();
    run(
        &tree,
        &[
            create_app("Chat", "devkey001", "prodkey001"),
            put_user("prodkey001", "ann"),
        ],
    );
    run(
        &tree,
        &[command(Command::RegisterPushToken(RegisterPushToken {
            app_key: "prodkey001".into(),
            user_id: "bob".into(),
            device: DeviceToken {
                device_id: "bob-phone".into(),
                provider: PushProvider::Huawei,
                token: "hw-token".into(),
                app_id: "com.example.chat".into(),
            },
        }))],
    );
    publish(
        &tree,
        vec![private_text("ann", "bob", r#"{"content":"before"}"#)],
    )
    .unwrap();
    assert!(push_jobs(&tree).is_empty(), "no credentials, no pushes");

    set_vendor_push(&tree, vendor_push(vec![huawei("s3cret")])).unwrap();
    publish(
        &tree,
        vec![private_text("ann", "bob", r#"{"content":"after"}"#)],
    )
    .unwrap();

    let jobs = push_jobs(&tree);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].body, "after");
    assert_eq!(jobs[0].device.provider, PushProvider::Huawei);
}

// covers: PUSH-05

#[test]
fn vendor_push_keeps_redacted_secrets_validates_and_goes_with_the_app() {
    let (_dir, tree) = tree();
    run(&tree, &[create_app("Chat", "devkey001", "prodkey001")]);
    set_vendor_push(&tree, vendor_push(vec![huawei("s3cret")])).unwrap();
    let stored = |tree: &sled::Tree| state::vendor_push::of_app(tree, "prodkey001").unwrap();
    let shown = stored(&tree).redacted();
    assert_eq!(shown, vendor_push(vec![huawei(REDACTED_KEY)]));

    // Sent back as shown, the stored secret stays.
    set_vendor_push(&tree, shown).unwrap();
    assert_eq!(stored(&tree), vendor_push(vec![huawei("s3cret")]));

    let twice = set_vendor_push(&tree, vendor_push(vec![huawei("a"), huawei("b")]));
    assert!(
        matches!(&twice, Err(CommandError::Invalid { field, .. }) if field == "apps.channels.huawei"),
        "{twice:?}"
    );
    let bad_id = VendorChannel::Huawei(meridian_push::HuaweiCredentials {
        app_id: "not digits".into(),
        ..match huawei("s") {
            VendorChannel::Huawei(c) => c,
            other => panic!("{other:?}"),
        }
    });
    assert!(set_vendor_push(&tree, vendor_push(vec![bad_id])).is_err());
    let mut elsewhere = vendor_push(vec![huawei(REDACTED_KEY)]);
    elsewhere.apps[0].app_id = "com.example.other".into();
    assert!(
        set_vendor_push(&tree, elsewhere).is_err(),
        "a placeholder with no stored secret behind it is refused"
    );
    assert_eq!(
        stored(&tree),
        vendor_push(vec![huawei("s3cret")]),
        "refusals change nothing"
    );

    run(
        &tree,
        &[command(Command::DeleteApp(DeleteApp {
            app_key: "prodkey001".into(),
        }))],
    );
    assert_eq!(
        tree.scan_prefix(b"pushvendor/").count(),
        0,
        "deleting the app deletes its vendor channels"
    );
}

// covers: RTC-10

#[test]
fn an_offline_callee_gets_a_voip_push_and_messages_skip_its_voip_token() {
    let (_dir, tree) = app_pushing_through_a_webhook();
    register_device(&tree, "bob", "bob-phone").unwrap();
    let voip = DeviceToken {
        device_id: crate::state::push::voip_device_id("bob-phone"),
        provider: PushProvider::ApnsVoip,
        token: "voip-token".into(),
        app_id: "com.example.chat".into(),
    };
    let register = RegisterPushToken {
        app_key: "prodkey001".into(),
        user_id: "bob".into(),
        device: voip,
    };
    run(&tree, &[command(Command::RegisterPushToken(register))]);
    let mut invite = NewMessage::private_text("ann", "bob", r#"{"callId":"c1"}"#);
    invite.object_name = "RC:VCInvite".into();
    invite.flags = MessageFlags::builtin("RC:VCInvite");
    let text = NewMessage::private_text("ann", "bob", r#"{"content":"hi"}"#);
    let publish = Publish {
        app_key: "prodkey001".into(),
        messages: vec![invite, text],
    };
    let published = run(&tree, &[command(Command::Publish(publish))]).remove(0);
    assert!(published.is_ok(), "{published:?}");
    let jobs: Vec<(PushProvider, String)> = push_jobs(&tree)
        .into_iter()
        .map(|job| (job.device.provider, job.body))
        .collect();
    assert_eq!(
        jobs,
        vec![
            (PushProvider::ApnsVoip, "name is calling".to_string()),
            (PushProvider::Webhook, "hi".to_string()),
        ]
    );
}

/// LIFE-05: push jobs (waiting and dead) and pending broadcasts as format 6 wrote them
/// come out of the 6 → 7 and 7 → 8 steps as they were, with the default options and, for
/// the broadcast, every provider.
// covers: LIFE-05, PUSH-05
#[test]
fn push_records_of_format_6_are_upgraded_with_the_default_options() {
    use crate::raft::wire::{from_bytes, to_bytes};
    use crate::state::cross_domain::broadcast_pushes::PendingBroadcast;
    use crate::state::keys;
    use crate::state::upgrades::{self, push_options::v6};

    let (_dir, tree) = app_pushing_through_a_webhook();
    register_device(&tree, "bob", "bob-phone").unwrap();
    let hello = text(
        Conversation::private("ann", "bob", ""),
        "ann",
        Some("bob"),
        r#"{"content":"hi"}"#,
    );
    publish(&tree, vec![hello]).unwrap();
    let job = outbox(&tree)
        .0
        .into_iter()
        .find(|job| matches!(job.event, HookEvent::Push(_)))
        .expect("bob's push job");
    let HookEvent::Push(push) = job.event.clone() else {
        unreachable!()
    };
    let message = crate::state::messages::by_uid(&tree, "prodkey001", &push.msg_uid).unwrap();
    let old_job = v6::Job {
        id: job.id,
        app_key: job.app_key.clone(),
        lane: job.lane.clone(),
        event: v6::HookEvent::Push(v6::PushJob {
            user_id: push.user_id,
            device: push.device,
            title: push.title,
            body: push.body,
            data: push.data,
            msg_uid: push.msg_uid,
        }),
        created_ms: job.created_ms,
        attempts: job.attempts,
        next_attempt_ms: job.next_attempt_ms,
        last_error: job.last_error.clone(),
    };
    let old_bytes = to_bytes(&old_job).unwrap();
    assert_ne!(
        old_bytes,
        to_bytes(&job).unwrap(),
        "format 7 writes the options"
    );
    let (waiting, dead) = (
        keys::outbox::job(job.id),
        keys::outbox::dead("prodkey001", job.id),
    );
    tree.insert(&waiting, old_bytes.clone()).unwrap();
    tree.insert(&dead, old_bytes).unwrap();
    let pending = keys::push::broadcast("prodkey001", "bcast-1");
    let old_pending = v6::PendingBroadcast {
        message: message.clone(),
        title: "News".into(),
        body: "Extra!".into(),
        after: b"pushtoken/prodkey001/u1/".to_vec(),
    };
    tree.insert(&pending, to_bytes(&old_pending).unwrap())
        .unwrap();

    for from in [6, 7] {
        let mut overlay = Overlay::new(&tree);
        upgrades::step(from, &mut overlay).unwrap();
        tree.apply_batch(overlay.into_batch()).unwrap();
    }

    let read = |key: &[u8]| tree.get(key).unwrap().expect("kept");
    assert_eq!(from_bytes::<Job>(&read(&waiting)).unwrap(), job);
    assert_eq!(from_bytes::<Job>(&read(&dead)).unwrap(), job);
    assert_eq!(
        from_bytes::<PendingBroadcast>(&read(&pending)).unwrap(),
        PendingBroadcast {
            message,
            title: "News".into(),
            body: "Extra!".into(),
            after: b"pushtoken/prodkey001/u1/".to_vec(),
            options: Default::default(),
            providers: Vec::new(),
        }
    );
}

/// ULG-06: with the app's pace, an ultra group pushes one user once per interval, but
/// a mention of them always; without it, every message pushes.
// covers: ULG-06
#[test]
fn an_ultra_group_pushes_a_user_at_the_apps_pace_but_mentions_always() {
    use crate::state::push_style::{SetUltraGroupPushPace, UltraGroupPushPace};
    let (_dir, tree) = app_pushing_through_a_webhook();
    register_device(&tree, "bob", "bob-phone").unwrap();
    let ultra = |change| {
        command(Command::UltraGroup(ChangeUltraGroup {
            app_key: "prodkey001".into(),
            group_id: "fans".into(),
            change,
        }))
    };
    let setup = run(
        &tree,
        &[
            ultra(UltraGroupChange::Create {
                name: "Fans".into(),
                owner: "ann".into(),
            }),
            ultra(UltraGroupChange::Join {
                user_ids: vec!["bob".into()],
            }),
        ],
    );
    assert!(setup.iter().all(Result::is_ok), "{setup:?}");
    let pace = |interval_secs| {
        command(Command::SetUltraGroupPushPace(SetUltraGroupPushPace {
            app_key: "prodkey001".into(),
            pace: UltraGroupPushPace { interval_secs },
        }))
    };
    // At the limit's edge: a day is accepted, a second more refused.
    assert!(run(&tree, &[pace(86_401)])[0].is_err());
    assert!(run(&tree, &[pace(86_400)])[0].is_ok());
    assert!(run(&tree, &[pace(60)])[0].is_ok());

    // Messages at `now_ms`, as the leader stamps them.
    let say_at = |now_ms: u64, content: &str| {
        let message = text(
            Conversation::group_like(ConversationType::UltraGroup, "fans", ""),
            "ann",
            None,
            content,
        );
        let mut overlay = Overlay::new(&tree);
        let ctx = ApplyContext {
            area: AreaCode::Sg,
            now_ms,
        };
        let published = apply(
            ctx,
            &mut overlay,
            &command(Command::Publish(Publish {
                app_key: "prodkey001".into(),
                messages: vec![message],
            })),
        );
        assert!(published.is_ok(), "{published:?}");
        tree.apply_batch(overlay.into_batch()).unwrap();
    };
    let bodies = || -> Vec<String> { push_jobs(&tree).into_iter().map(|p| p.body).collect() };
    say_at(10_000, r#"{"content":"one"}"#);
    say_at(20_000, r#"{"content":"two"}"#);
    say_at(
        30_000,
        r#"{"content":"@bob three","mentionedInfo":{"type":2,"userIdList":["bob"]}}"#,
    );
    say_at(69_999, r#"{"content":"four"}"#);
    say_at(70_000, r#"{"content":"five"}"#);
    assert_eq!(bodies(), ["one", "@bob three", "five"]);

    // Back to every message.
    assert!(run(&tree, &[pace(0)])[0].is_ok());
    say_at(71_000, r#"{"content":"six"}"#);
    assert_eq!(bodies().last().map(String::as_str), Some("six"));
}

/// PUSH-01: an app's push rate cap is kept within its limits, refused past them (and a
/// refusal keeps the cap before it), read back, and erased with the app.
// covers: PUSH-01
#[test]
fn a_push_rate_cap_is_kept_within_its_limits_and_goes_with_the_app() {
    use crate::state::push_style::{PushRate, SetPushRate};
    let (_dir, tree) = app_pushing_through_a_webhook();
    let cap = |per_second| {
        command(Command::SetPushRate(SetPushRate {
            app_key: "prodkey001".into(),
            rate: PushRate { per_second },
        }))
    };
    let read = || match query(
        &tree,
        &Query::PushRate {
            app_key: "prodkey001".into(),
        },
    ) {
        Ok(QueryOutput::PushRate(rate)) => rate.per_second,
        other => panic!("{other:?}"),
    };
    assert_eq!(read(), 0, "no cap until one is set");
    assert!(run(&tree, &[cap(100_000)])[0].is_ok());
    assert_eq!(read(), 100_000);
    let refused = run(&tree, &[cap(100_001)]);
    assert!(
        matches!(&refused[0], Err(CommandError::Invalid { field, .. }) if field == "perSecond"),
        "{refused:?}"
    );
    assert_eq!(read(), 100_000, "a refusal changes nothing");
    assert!(run(&tree, &[cap(1)])[0].is_ok());
    assert_eq!(read(), 1);
    assert!(run(&tree, &[cap(0)])[0].is_ok());
    assert_eq!(read(), 0);

    assert!(run(&tree, &[cap(50)])[0].is_ok());
    let deleted = run(
        &tree,
        &[command(Command::DeleteApp(DeleteApp {
            app_key: "prodkey001".into(),
        }))],
    );
    assert!(deleted[0].is_ok(), "{deleted:?}");
    assert!(
        tree.scan_prefix(crate::state::keys::push::RATE)
            .next()
            .is_none(),
        "the cap went with the app"
    );
}

/// PUSH-07: a message naming a push template is pushed in each recipient's language
/// (the default where the template has none or the user set none); an unknown template
/// leaves the message's own text; every limit is held at its edge and a refusal keeps
/// what was there.
// covers: PUSH-07
#[test]
fn a_push_template_speaks_each_recipients_language_within_its_limits() {
    use crate::state::push_templates::{
        PushTemplate, SetPushLanguage, SetPushTemplate, TemplateText, MAX_TEMPLATES,
    };
    let (_dir, tree) = app_pushing_through_a_webhook();
    let text = |title: Option<&str>, body: &str| TemplateText {
        title: title.map(str::to_string),
        body: body.into(),
    };
    let template = |languages: Vec<(String, TemplateText)>| PushTemplate {
        default: text(None, "You have a new message"),
        languages: languages.into_iter().collect(),
    };
    let put = |id: &str, template: Option<PushTemplate>| {
        run(
            &tree,
            &[command(Command::SetPushTemplate(SetPushTemplate {
                app_key: "prodkey001".into(),
                template_id: id.into(),
                template,
            }))],
        )
        .remove(0)
    };
    let chinese = ("zh_CN".to_string(), text(Some("新消息"), "您有一条新消息"));
    assert!(put("new-message", Some(template(vec![chinese.clone()]))).is_ok());

    // Limits, each at its edge; a refusal changes nothing.
    let long = |n: usize| "x".repeat(n);
    let refused = |id: &str, template: PushTemplate| {
        let answer = put(id, Some(template));
        assert!(
            matches!(answer, Err(CommandError::Invalid { .. })),
            "{answer:?}"
        );
    };
    assert!(put(&long(64), Some(template(vec![]))).is_ok());
    refused(&long(65), template(vec![]));
    refused("bad id", template(vec![]));
    let mut body_at_limit = template(vec![]);
    body_at_limit.default.body = long(1_024);
    assert!(put("edge", Some(body_at_limit.clone())).is_ok());
    body_at_limit.default.body.push('x');
    refused("edge", body_at_limit);
    let mut titled = template(vec![]);
    titled.default.title = Some(long(201));
    refused("edge", titled);
    refused(
        "edge",
        template(vec![("e".into(), text(None, "short code"))]),
    );
    refused("edge", template(vec![("en_US".into(), text(None, ""))]));
    let languages = |n: usize| {
        (0..n)
            .map(|i| (format!("l{i:02}"), text(None, "t")))
            .collect()
    };
    assert!(put("edge", Some(template(languages(50)))).is_ok());
    refused("edge", template(languages(51)));
    let stored = match query(
        &tree,
        &Query::PushTemplates {
            app_key: "prodkey001".into(),
        },
    ) {
        Ok(QueryOutput::PushTemplates(templates)) => templates,
        other => panic!("{other:?}"),
    };
    assert_eq!(stored["edge"].languages.len(), 50, "the refusals kept it");
    assert_eq!(stored["new-message"].languages["zh_CN"], chinese.1);
    // At most 100 templates: the 101st is refused, replacing one still works.
    for n in stored.len()..MAX_TEMPLATES {
        assert!(put(&format!("t{n}"), Some(template(vec![]))).is_ok());
    }
    refused("one-too-many", template(vec![]));
    assert!(put("edge", Some(template(vec![]))).is_ok());
    assert!(put("edge", None).is_ok());
    assert!(put("one-more", Some(template(vec![]))).is_ok());

    // bob reads Chinese, carol set nothing, dave a language the template lacks.
    let language = |user: &str, language: &str| {
        command(Command::SetPushLanguage(SetPushLanguage {
            app_key: "prodkey001".into(),
            user_id: user.into(),
            language: Some(language.into()),
        }))
    };
    let set = run(
        &tree,
        &[language("bob", "zh_CN"), language("dave", "fr_FR")],
    );
    assert!(set.iter().all(Result::is_ok), "{set:?}");
    assert!(run(&tree, &[language("bob", "z")])[0].is_err());
    for user in ["bob", "carol", "dave"] {
        register_device(&tree, user, &format!("{user}-phone")).unwrap();
    }
    let publish = |template_id: Option<&str>| {
        let push = meridian_push::PushOptions {
            template_id: template_id.map(str::to_string),
            ..Default::default()
        };
        let messages = ["bob", "carol", "dave"]
            .map(|to| private_text("ann", to, r#"{"content":"secret plans"}"#))
            .to_vec();
        let published = run(
            &tree,
            &[command(Command::PublishWithPush(
                crate::state::PublishWithPush {
                    app_key: "prodkey001".into(),
                    messages,
                    options: Default::default(),
                    push: Box::new(push),
                },
            ))],
        );
        assert!(published[0].is_ok(), "{published:?}");
    };
    publish(Some("new-message"));
    let pushed: Vec<(String, String, String)> = push_jobs(&tree)
        .into_iter()
        .map(|job| (job.user_id, job.title, job.body))
        .collect();
    assert_eq!(
        pushed,
        [
            ("bob".into(), "新消息".into(), "您有一条新消息".into()),
            (
                "carol".into(),
                "name".into(),
                "You have a new message".into()
            ),
            (
                "dave".into(),
                "name".into(),
                "You have a new message".into()
            ),
        ]
    );
    publish(Some("no-such-template"));
    let last = push_jobs(&tree).pop().unwrap();
    assert_eq!(
        last.body, "secret plans",
        "an unknown template leaves the text"
    );
}

/// SYS-03: a push-only notice to everyone is paged like a broadcast, so it reaches far
/// more devices than one apply may write (once refused above 10,000): each device once,
/// online or not.
// covers: SYS-03
#[test]
fn a_notice_to_everyone_reaches_200_000_devices_page_by_page_each_once() {
    use crate::state::cross_domain::broadcast_pushes::BROADCAST_PUSH_BATCH;
    use crate::state::push::{Notice, NoticeAudience, NoticeOptions};
    const DEVICES: usize = 200_000;
    let (_dir, tree) = tree();
    let mut setup = vec![
        create_app("Chat", "devkey001", "prodkey001"),
        push_through_webhook(),
    ];
    for u in 0..DEVICES {
        let user_id = format!("u{u:06}");
        setup.push(put_user("prodkey001", &user_id));
        setup.push(users_phone(&user_id, u));
    }
    assert!(run(&tree, &setup).iter().all(Result::is_ok));
    let notice = command(Command::PushNoticeWithOptions(PushNoticeWithOptions {
        app_key: "prodkey001".into(),
        notice: Notice {
            audience: NoticeAudience {
                everyone: true,
                ..NoticeAudience::default()
            },
            title: "News".into(),
            body: "Extra!".into(),
            data: None,
        },
        options: Box::new(NoticeOptions::default()),
    }));
    let Ok(Output::Notice { devices, .. }) = run(&tree, &[notice]).remove(0) else {
        panic!("the notice is taken");
    };
    assert_eq!(
        devices, BROADCAST_PUSH_BATCH as u64,
        "the first page at once"
    );
    let expand = || {
        command(Command::ExpandBroadcastPushes(ExpandBroadcastPushes {
            app_key: "prodkey001".into(),
        }))
    };
    let mut sweeps = 0;
    while pending_broadcast_pushes(&tree, "prodkey001").unwrap() {
        assert!(run(&tree, &[expand()])[0].is_ok());
        sweeps += 1;
    }
    assert_eq!(sweeps, DEVICES / BROADCAST_PUSH_BATCH, "one page per sweep");
    let mut reached: Vec<String> = tree
        .scan_prefix(crate::state::keys::outbox::JOB)
        .map(|entry| {
            let job: Job = crate::raft::wire::from_bytes(&entry.unwrap().1).unwrap();
            match job.event {
                HookEvent::Push(push) => push.device.token,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    assert_eq!(reached.len(), DEVICES);
    reached.sort();
    reached.dedup();
    assert_eq!(reached.len(), DEVICES, "each device once");
}
