//! Audio/video rooms: joins, one room per user, resources, roles and host limits, the
//! reconnect timeout, and the ordered notices members get.

use meridian_proto::rtc::{
    LeaveReason, Resource, ResourceKind, Role, RoomInfo, RoomKind, RoomNotice,
};

use super::*;
use crate::state::rtc::{MAX_AUDIO_HOSTS, MAX_VIDEO_HOSTS};

pub(super) const APP: &str = "prodkey001";

pub(super) fn change_in(app: &str, room: &str, user: &str, change: RtcChange) -> Command {
    Command::ChangeRtcRoom(ChangeRtcRoom {
        app_key: app.into(),
        room_id: room.into(),
        user_id: user.into(),
        change,
    })
}

pub(super) fn rtc(
    tree: &sled::Tree,
    room: &str,
    user: &str,
    change: RtcChange,
) -> Result<Output, CommandError> {
    at(tree, 1_000, change_in(APP, room, user, change))
}

pub(super) fn join(kind: RoomKind, role: Role, session: u64) -> RtcChange {
    RtcChange::Join {
        kind,
        role,
        edge_id: 7,
        session,
    }
}

fn joined(out: Result<Output, CommandError>) -> RoomInfo {
    match out {
        Ok(Output::RtcRoom(Some(room))) => room,
        other => panic!("expected a room, got {other:?}"),
    }
}

fn stream(id: &str, kind: ResourceKind) -> Resource {
    Resource {
        stream_id: id.into(),
        kind,
        layers: vec!["big".into(), "small".into()],
        media_server: "sfu-1.sg:7000".into(),
        params: "{}".into(),
    }
}

fn publish(resources: Vec<Resource>) -> RtcChange {
    RtcChange::Publish {
        publish: resources,
        unpublish: Vec::new(),
    }
}

pub(super) fn app_tree() -> (tempfile::TempDir, sled::Tree) {
    let (dir, tree) = tree();
    // The sessions here are on edge 7, alive until 31 s.
    let alive = envelope(Command::EdgeAlive(EdgeAlive { edge_id: 7 }));
    run(&tree, &[create_app("Rtc", "devkey001", APP), alive]);
    (dir, tree)
}

/// The RTC notices in the feed, in order: (recipients, version, notice).
fn notices(tree: &sled::Tree) -> Vec<(Vec<String>, u64, RoomNotice)> {
    let page = crate::state::feed::page(tree, 0, 1_000).unwrap();
    page.events
        .into_iter()
        .filter_map(|(_, event)| match event {
            FeedEvent::Rtc {
                to,
                version,
                notice,
                ..
            } => Some((to, version, notice)),
            _ => None,
        })
        .collect()
}

// covers: RTC-01

#[test]
fn the_first_joiner_creates_a_room_members_hear_of_each_change_and_the_last_leave_ends_it() {
    let (_dir, tree) = app_tree();
    let first = joined(rtc(
        &tree,
        "r1",
        "alice",
        join(RoomKind::Meeting, Role::Participant, 1),
    ));
    assert_eq!(first.members.len(), 1);
    assert_eq!(first.version, 1);
    let second = joined(rtc(
        &tree,
        "r1",
        "bob",
        join(RoomKind::Meeting, Role::Observer, 2),
    ));
    assert_eq!(
        second.session_id, first.session_id,
        "one session per lifetime"
    );
    assert_eq!(second.members[1].role, Role::Observer);
    // A room's kind is fixed while it lives.
    let live = rtc(&tree, "r1", "carol", join(RoomKind::Live, Role::Host, 3));
    assert!(
        matches!(live, Err(CommandError::Invalid { .. })),
        "{live:?}"
    );

    let mut set = std::collections::BTreeMap::new();
    set.insert("topic".to_string(), "plans".to_string());
    rtc(
        &tree,
        "r1",
        "bob",
        RtcChange::SetAttributes {
            set,
            remove: Vec::new(),
        },
    )
    .unwrap();
    rtc(
        &tree,
        "r1",
        "alice",
        RtcChange::SetAttributes {
            set: Default::default(),
            remove: vec!["topic".into()],
        },
    )
    .unwrap();
    rtc(&tree, "r1", "bob", RtcChange::Leave).unwrap();
    rtc(&tree, "r1", "alice", RtcChange::Leave).unwrap();
    let seen = notices(&tree);
    let versions: Vec<u64> = seen.iter().map(|(_, v, _)| *v).collect();
    assert_eq!(versions, vec![1, 2, 3, 4, 5], "numbered in order");
    assert!(matches!(&seen[2].2, RoomNotice::Attributes { set, .. } if set["topic"] == "plans"));
    assert_eq!(seen[2].0, vec!["alice".to_string(), "bob".to_string()]);
    assert!(
        matches!(&seen[4].2, RoomNotice::Left { user_id, reason: LeaveReason::Left } if user_id == "bob")
    );
    assert_eq!(
        seen[4].0,
        vec!["alice".to_string()],
        "the leaver is not told"
    );
    // Empty: gone, and the next first joiner starts a new session.
    let gone = query(
        &tree,
        &Query::RtcRoom {
            app_key: APP.into(),
            room_id: "r1".into(),
            viewer: None,
        },
    );
    assert!(
        matches!(gone, Err(CommandError::NotFound { .. })),
        "{gone:?}"
    );
    let again = joined(rtc(
        &tree,
        "r1",
        "bob",
        join(RoomKind::Call, Role::Participant, 4),
    ));
    assert_ne!(again.session_id, first.session_id);
}

// covers: RTC-01

#[test]
fn a_user_is_in_one_room_at_a_time_and_rooms_are_per_app() {
    let (_dir, tree) = app_tree();
    joined(rtc(
        &tree,
        "r1",
        "alice",
        join(RoomKind::Meeting, Role::Participant, 1),
    ));
    let elsewhere = rtc(
        &tree,
        "r2",
        "alice",
        join(RoomKind::Meeting, Role::Participant, 1),
    );
    assert!(
        matches!(elsewhere, Err(CommandError::Conflict { .. })),
        "{elsewhere:?}"
    );
    // The same room again (a reconnect) is fine.
    joined(rtc(
        &tree,
        "r1",
        "alice",
        join(RoomKind::Meeting, Role::Participant, 2),
    ));
    rtc(&tree, "r1", "alice", RtcChange::Leave).unwrap();
    joined(rtc(
        &tree,
        "r2",
        "alice",
        join(RoomKind::Meeting, Role::Participant, 2),
    ));

    // The other environment's r2 is another room, and it cannot read this one.
    let other = joined(at(
        &tree,
        1_000,
        change_in(
            "devkey001",
            "r2",
            "bob",
            join(RoomKind::Live, Role::Host, 3),
        ),
    ));
    assert_eq!(other.members.len(), 1);
    let peek = query(
        &tree,
        &Query::RtcRoom {
            app_key: "devkey001".into(),
            room_id: "r2".into(),
            viewer: Some("alice".into()),
        },
    );
    assert!(
        matches!(peek, Err(CommandError::NotMember { .. })),
        "{peek:?}"
    );
    // Bad input changes nothing.
    let bad = rtc(
        &tree,
        "bad/id",
        "alice",
        join(RoomKind::Meeting, Role::Participant, 1),
    );
    assert!(matches!(bad, Err(CommandError::Invalid { .. })));
    let wrong_role = rtc(&tree, "r3", "carol", join(RoomKind::Meeting, Role::Host, 1));
    assert!(matches!(wrong_role, Err(CommandError::Invalid { .. })));
    let none = query(
        &tree,
        &Query::RtcRoom {
            app_key: APP.into(),
            room_id: "r3".into(),
            viewer: None,
        },
    );
    assert!(matches!(none, Err(CommandError::NotFound { .. })));
}

// covers: RTC-01, RTC-02

#[test]
fn a_member_whose_session_returns_in_time_keeps_its_place_and_one_that_does_not_is_dropped() {
    let (_dir, tree) = app_tree();
    joined(rtc(
        &tree,
        "r1",
        "alice",
        join(RoomKind::Call, Role::Participant, 1),
    ));
    joined(rtc(
        &tree,
        "r1",
        "bob",
        join(RoomKind::Call, Role::Participant, 2),
    ));
    rtc(
        &tree,
        "r1",
        "alice",
        publish(vec![stream("cam", ResourceKind::Video)]),
    )
    .unwrap();
    let gone = |session| RtcChange::SessionGone {
        edge_id: 7,
        session,
        timeout_ms: 5_000,
    };
    // Alice's session 1 ends, she rejoins from session 3; the late end of 1 is stale.
    rtc(&tree, "r1", "alice", gone(1)).unwrap();
    let back = joined(rtc(
        &tree,
        "r1",
        "alice",
        join(RoomKind::Call, Role::Participant, 3),
    ));
    assert_eq!(back.members[0].user_id, "alice");
    assert!(back.members[0].online);
    assert_eq!(back.members[0].resources.len(), 1, "resources kept");
    rtc(&tree, "r1", "alice", gone(1)).unwrap();
    // Bob's ends for good: absent, then dropped at its timeout and not before.
    at(&tree, 10_000, change_in(APP, "r1", "bob", gone(2))).unwrap();
    assert!(!absent_members_due(&tree, 14_999).unwrap());
    at(
        &tree,
        14_999,
        Command::DropAbsentRtcMembers(DropAbsentRtcMembers),
    )
    .unwrap();
    assert!(absent_members_due(&tree, 15_000).unwrap());
    at(
        &tree,
        15_000,
        Command::DropAbsentRtcMembers(DropAbsentRtcMembers),
    )
    .unwrap();
    let (to, _, last) = notices(&tree).pop().unwrap();
    assert_eq!(to, vec!["alice".to_string()]);
    assert_eq!(
        last,
        RoomNotice::Left {
            user_id: "bob".into(),
            reason: LeaveReason::TimedOut
        }
    );
    // Bob is free to join another room.
    joined(rtc(
        &tree,
        "r2",
        "bob",
        join(RoomKind::Call, Role::Participant, 4),
    ));
}

// covers: RTC-02, RTC-04

#[test]
fn observers_and_the_audience_do_not_publish_and_a_live_room_holds_16_video_and_32_hosts() {
    let (_dir, tree) = app_tree();
    joined(rtc(
        &tree,
        "m",
        "watcher",
        join(RoomKind::Meeting, Role::Observer, 1),
    ));
    let refused = rtc(
        &tree,
        "m",
        "watcher",
        publish(vec![stream("a", ResourceKind::Audio)]),
    );
    assert!(
        matches!(refused, Err(CommandError::Forbidden { .. })),
        "{refused:?}"
    );

    let hosts = ids("host", MAX_AUDIO_HOSTS as usize);
    for (i, host) in hosts.iter().enumerate() {
        joined(rtc(
            &tree,
            "live",
            host,
            join(RoomKind::Live, Role::Host, i as u64),
        ));
    }
    let over = rtc(
        &tree,
        "live",
        "one-more",
        join(RoomKind::Live, Role::Host, 99),
    );
    assert!(
        matches!(over, Err(CommandError::Limit { limit: 32, .. })),
        "{over:?}"
    );
    joined(rtc(
        &tree,
        "live",
        "fan",
        join(RoomKind::Live, Role::Audience, 100),
    ));
    let fan = rtc(
        &tree,
        "live",
        "fan",
        publish(vec![stream("a", ResourceKind::Audio)]),
    );
    assert!(matches!(fan, Err(CommandError::Forbidden { .. })));

    for host in &hosts[..MAX_VIDEO_HOSTS as usize] {
        rtc(
            &tree,
            "live",
            host,
            publish(vec![stream("cam", ResourceKind::Video)]),
        )
        .unwrap();
    }
    let seventeenth = &hosts[MAX_VIDEO_HOSTS as usize];
    let video = rtc(
        &tree,
        "live",
        seventeenth,
        publish(vec![stream("cam", ResourceKind::Video)]),
    );
    assert!(
        matches!(video, Err(CommandError::Limit { limit: 16, .. })),
        "{video:?}"
    );
    // Audio still goes, and a video host that unpublishes frees its place.
    rtc(
        &tree,
        "live",
        seventeenth,
        publish(vec![stream("mic", ResourceKind::Audio)]),
    )
    .unwrap();
    rtc(
        &tree,
        "live",
        &hosts[0],
        RtcChange::Publish {
            publish: Vec::new(),
            unpublish: vec!["cam".into()],
        },
    )
    .unwrap();
    rtc(
        &tree,
        "live",
        seventeenth,
        publish(vec![stream("cam", ResourceKind::Video)]),
    )
    .unwrap();
    // Bad descriptors are refused whole.
    let mut bad = stream("x", ResourceKind::Video);
    bad.layers = vec!["a".into(), "b".into(), "c".into(), "d".into()];
    let refused = rtc(&tree, "live", &hosts[1], publish(vec![bad]));
    assert!(matches!(refused, Err(CommandError::Invalid { .. })));
}

// covers: RTC-04

#[test]
fn an_audience_member_becomes_a_host_by_accepting_an_invitation_and_steps_down_unpublished() {
    let (_dir, tree) = app_tree();
    joined(rtc(
        &tree,
        "live",
        "star",
        join(RoomKind::Live, Role::Host, 1),
    ));
    joined(rtc(
        &tree,
        "live",
        "fan",
        join(RoomKind::Live, Role::Audience, 2),
    ));
    joined(rtc(
        &tree,
        "live",
        "other",
        join(RoomKind::Live, Role::Audience, 3),
    ));
    let self_promoted = rtc(
        &tree,
        "live",
        "fan",
        RtcChange::SetRole { role: Role::Host },
    );
    assert!(matches!(self_promoted, Err(CommandError::Forbidden { .. })));
    let by_fan = rtc(
        &tree,
        "live",
        "fan",
        RtcChange::Invite {
            user_id: "other".into(),
        },
    );
    assert!(matches!(by_fan, Err(CommandError::Forbidden { .. })));
    let uninvited = rtc(
        &tree,
        "live",
        "fan",
        RtcChange::AnswerInvite { accept: true },
    );
    assert!(matches!(uninvited, Err(CommandError::Forbidden { .. })));

    rtc(
        &tree,
        "live",
        "star",
        RtcChange::Invite {
            user_id: "other".into(),
        },
    )
    .unwrap();
    rtc(
        &tree,
        "live",
        "other",
        RtcChange::AnswerInvite { accept: false },
    )
    .unwrap();
    rtc(
        &tree,
        "live",
        "star",
        RtcChange::Invite {
            user_id: "fan".into(),
        },
    )
    .unwrap();
    let room = joined(rtc(
        &tree,
        "live",
        "fan",
        RtcChange::AnswerInvite { accept: true },
    ));
    let fan_in = |room: &RoomInfo| room.members.iter().find(|m| m.user_id == "fan").cloned();
    assert_eq!(fan_in(&room).unwrap().role, Role::Host);
    rtc(
        &tree,
        "live",
        "fan",
        publish(vec![stream("cam", ResourceKind::Video)]),
    )
    .unwrap();
    let room = joined(rtc(
        &tree,
        "live",
        "fan",
        RtcChange::SetRole {
            role: Role::Audience,
        },
    ));
    assert!(
        fan_in(&room).unwrap().resources.is_empty(),
        "stepping down unpublishes"
    );
    let tail: Vec<RoomNotice> = notices(&tree)
        .into_iter()
        .map(|(_, _, n)| n)
        .skip(3)
        .collect();
    assert!(
        matches!(&tail[0], RoomNotice::Invited { by, user_id } if by == "star" && user_id == "other")
    );
    assert!(matches!(&tail[1], RoomNotice::InviteDeclined { .. }));
    assert!(matches!(
        &tail[3],
        RoomNotice::RoleChanged {
            role: Role::Host,
            ..
        }
    ));
    assert!(matches!(&tail[4], RoomNotice::Published { .. }));
    assert!(matches!(
        &tail[5],
        RoomNotice::RoleChanged {
            role: Role::Audience,
            ..
        }
    ));
}

// covers: RTC-01

#[test]
fn members_of_an_edge_that_died_become_absent_and_are_dropped_after_the_default_timeout() {
    let (_dir, tree) = app_tree();
    joined(rtc(
        &tree,
        "r1",
        "alice",
        join(RoomKind::Call, Role::Participant, 1),
    ));
    joined(rtc(
        &tree,
        "r1",
        "bob",
        join(RoomKind::Call, Role::Participant, 2),
    ));
    // Bob rejoins from a session on edge 8, which keeps renewing its lease.
    at(&tree, 20_000, Command::EdgeAlive(EdgeAlive { edge_id: 8 })).unwrap();
    at(
        &tree,
        20_000,
        change_in(
            APP,
            "r1",
            "bob",
            RtcChange::Join {
                kind: RoomKind::Call,
                role: Role::Participant,
                edge_id: 8,
                session: 3,
            },
        ),
    )
    .unwrap();
    at(&tree, 40_000, Command::EdgeAlive(EdgeAlive { edge_id: 8 })).unwrap();
    // Edge 7's lease ran out at 31 s without a word: alice is absent from the next sweep.
    at(
        &tree,
        40_000,
        Command::DropAbsentRtcMembers(DropAbsentRtcMembers),
    )
    .unwrap();
    let room = match query(
        &tree,
        &Query::RtcRoom {
            app_key: APP.into(),
            room_id: "r1".into(),
            viewer: None,
        },
    ) {
        Ok(QueryOutput::RtcRoom(room)) => room,
        other => panic!("{other:?}"),
    };
    let online: Vec<(String, bool)> = room
        .members
        .iter()
        .map(|m| (m.user_id.clone(), m.online))
        .collect();
    assert_eq!(online, vec![("alice".into(), false), ("bob".into(), true)]);
    let drop_at = 40_000 + crate::state::rtc::RECONNECT_TIMEOUT_MS;
    assert!(!absent_members_due(&tree, drop_at - 1).unwrap());
    at(
        &tree,
        drop_at,
        Command::DropAbsentRtcMembers(DropAbsentRtcMembers),
    )
    .unwrap();
    let (to, _, last) = notices(&tree).pop().unwrap();
    assert_eq!(to, vec!["bob".to_string()]);
    assert!(
        matches!(last, RoomNotice::Left { user_id, reason: LeaveReason::TimedOut } if user_id == "alice")
    );
}

// covers: RTC-04

#[test]
fn a_cross_room_pk_lets_each_room_hear_the_other_host_until_a_host_steps_down() {
    let (_dir, tree) = app_tree();
    let live = |session| join(RoomKind::Live, Role::Host, session);
    joined(rtc(&tree, "x", "anna", live(1)));
    joined(rtc(
        &tree,
        "x",
        "xfan",
        join(RoomKind::Live, Role::Audience, 2),
    ));
    joined(rtc(&tree, "y", "ben", live(3)));
    joined(rtc(
        &tree,
        "y",
        "yfan",
        join(RoomKind::Live, Role::Audience, 4),
    ));
    rtc(
        &tree,
        "x",
        "anna",
        publish(vec![stream("cam", ResourceKind::Video)]),
    )
    .unwrap();
    let invite = |by: &str, room: &str, other: &str, host: &str| {
        rtc(
            &tree,
            room,
            by,
            RtcChange::PkInvite {
                room_id: other.into(),
                user_id: host.into(),
            },
        )
    };
    // Only hosts, of other live rooms.
    assert!(matches!(
        invite("xfan", "x", "y", "ben"),
        Err(CommandError::Forbidden { .. })
    ));
    assert!(matches!(
        invite("anna", "x", "y", "yfan"),
        Err(CommandError::Forbidden { .. })
    ));
    assert!(matches!(
        invite("anna", "x", "x", "anna"),
        Err(CommandError::Invalid { .. })
    ));
    invite("anna", "x", "y", "ben").unwrap();
    assert!(
        matches!(
            invite("anna", "x", "y", "ben"),
            Err(CommandError::Forbidden { .. })
        ),
        "one at a time"
    );
    let wrong = rtc(&tree, "y", "yfan", RtcChange::PkAnswer { accept: true });
    assert!(matches!(wrong, Err(CommandError::Forbidden { .. })));
    rtc(&tree, "y", "ben", RtcChange::PkAnswer { accept: true }).unwrap();

    let seen = notices(&tree);
    let started: Vec<&Vec<String>> = seen
        .iter()
        .filter(|(_, _, n)| matches!(n, RoomNotice::PkStarted { .. }))
        .map(|(to, _, _)| to)
        .collect();
    assert_eq!(started.len(), 2, "each room hears the PK start");
    assert!(seen.iter().any(
        |(_, _, n)| matches!(n, RoomNotice::PkStarted { room_id, host, resources }
        if room_id == "x" && host == "anna" && resources[0].stream_id == "cam")
    ));
    // Ben's stream reaches both rooms; yfan's role change stays in y.
    rtc(
        &tree,
        "y",
        "ben",
        publish(vec![stream("mic", ResourceKind::Audio)]),
    )
    .unwrap();
    let (to, _, _) = notices(&tree).pop().unwrap();
    assert_eq!(
        to,
        vec![
            "ben".to_string(),
            "yfan".into(),
            "anna".into(),
            "xfan".into()
        ]
    );
    // Anna steps down: the PK ends on both sides, and x's streams stay in x.
    rtc(
        &tree,
        "x",
        "anna",
        RtcChange::SetRole {
            role: Role::Audience,
        },
    )
    .unwrap();
    let ended = notices(&tree)
        .into_iter()
        .filter(|(_, _, n)| matches!(n, RoomNotice::PkEnded { .. }))
        .count();
    assert_eq!(ended, 2);
    rtc(
        &tree,
        "y",
        "ben",
        publish(vec![stream("cam", ResourceKind::Video)]),
    )
    .unwrap();
    let (to, _, _) = notices(&tree).pop().unwrap();
    assert_eq!(to, vec!["ben".to_string(), "yfan".into()]);
    let over = rtc(&tree, "y", "ben", RtcChange::PkEnd);
    assert!(matches!(over, Err(CommandError::Forbidden { .. })));
}
