//! Audio/video rooms through real client sessions against `meridian dev` (RTC-01, RTC-02,
//! RTC-04): every answer and notice is read off a socket.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::rtc::{start_pk, Member};
use common::{admin_call, admin_json, binary, Api};
use meridian_client::codes;
use meridian_proto::rtc::{LeaveReason, Resource, ResourceKind, Role, RoomKind, RoomNotice};
use meridian_proto::{ClientFrame, ServerFrame};
use meridian_testkit::{AppServer, DevDeployment};

/// The reconnect timeout these deployments run with (the default is 30 s).
const RECONNECT_MS: u64 = 4_000;

fn stream(id: &str, kind: ResourceKind) -> Resource {
    Resource {
        stream_id: id.into(),
        kind,
        layers: vec!["big".into(), "small".into()],
        media_server: "sfu-1:7000".into(),
        params: r#"{"codec":"vp8"}"#.into(),
    }
}

async fn deployment(areas: &str) -> DevDeployment {
    let reconnect = RECONNECT_MS.to_string();
    DevDeployment::start_with(binary(), areas, 1, &["--rtc-reconnect-ms", &reconnect]).await
}

// covers: RTC-01, RTC-02

#[tokio::test]
async fn members_share_a_room_in_order_one_room_at_a_time_and_other_apps_rooms_stay_apart() {
    let dev = deployment("SG,NA").await;
    let (sg, na) = (Api::new(&dev, "SG", "prod"), Api::new(&dev, "NA", "prod"));
    let mut alice = Member::connect(&dev.ws("SG"), &sg, "alice").await;
    let mut bob = Member::connect(&dev.ws("SG"), &sg, "bob").await;

    let created = alice
        .join("r1", RoomKind::Meeting, Role::Participant)
        .await
        .unwrap();
    assert_eq!(created.members.len(), 1);
    let room = bob
        .join("r1", RoomKind::Meeting, Role::Participant)
        .await
        .unwrap();
    assert_eq!(room.session_id, created.session_id);
    // A member hears of its own changes too, in the same order as everyone.
    let (_, first, own) = alice.notice().await;
    assert!(matches!(own, RoomNotice::Joined { member } if member.user_id == "alice"));
    let (_, second, joined) = alice.notice().await;
    assert!(matches!(joined, RoomNotice::Joined { member } if member.user_id == "bob"));
    assert_eq!((first, second), (1, 2));

    // Resources and attributes reach every member in the order they were made.
    alice
        .publish("r1", vec![stream("mic", ResourceKind::Audio)])
        .await
        .unwrap();
    let mut set = BTreeMap::new();
    set.insert("topic".to_string(), "launch".to_string());
    bob.done(|req_id| ClientFrame::RtcSetAttributes {
        req_id,
        room_id: "r1".into(),
        set,
        remove: Vec::new(),
    })
    .await
    .unwrap();
    alice
        .publish("r1", vec![stream("cam", ResourceKind::Video)])
        .await
        .unwrap();
    let mut versions = Vec::new();
    for member in [&mut alice, &mut bob] {
        let mut seen = Vec::new();
        while seen.len() < 3 {
            let (room_id, version, notice) = member.notice().await;
            assert_eq!(room_id, "r1");
            if matches!(notice, RoomNotice::Joined { .. }) {
                continue;
            }
            seen.push((version, notice));
        }
        assert!(
            matches!(&seen[0].1, RoomNotice::Published { resources, .. } if resources[0].stream_id == "mic")
        );
        assert!(
            matches!(&seen[1].1, RoomNotice::Attributes { set, .. } if set["topic"] == "launch")
        );
        assert!(
            matches!(&seen[2].1, RoomNotice::Published { resources, .. } if resources[0].stream_id == "cam")
        );
        versions.push(seen.iter().map(|(v, _)| *v).collect::<Vec<_>>());
    }
    assert_eq!(versions[0], versions[1], "both saw the same versions");
    let info = match bob
        .ask(|req_id| ClientFrame::RtcRoom {
            req_id,
            room_id: "r1".into(),
        })
        .await
    {
        ServerFrame::RtcRoom { room, .. } => room,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(info.members[0].resources.len(), 2);
    assert_eq!(info.attributes["topic"], "launch");

    // One room at a time: another is refused until the first is left.
    let second = bob.join("r2", RoomKind::Meeting, Role::Participant).await;
    assert_eq!(second, Err(codes::RTC_IN_ANOTHER_ROOM));
    bob.done(|req_id| ClientFrame::RtcLeave {
        req_id,
        room_id: "r1".into(),
    })
    .await
    .unwrap();
    bob.join("r2", RoomKind::Meeting, Role::Participant)
        .await
        .unwrap();

    // Another area's app has its own r1, and cannot read SG's.
    let mut carol = Member::connect(&dev.ws("NA"), &na, "carol").await;
    let theirs = carol
        .join("r1", RoomKind::Call, Role::Participant)
        .await
        .unwrap();
    assert_eq!(theirs.members.len(), 1);
    assert_ne!(theirs.session_id, created.session_id);
    // The SG app's other environment neither.
    let dev_env = Api::new(&dev, "SG", "dev");
    let mut dave = Member::connect(&dev.ws("SG"), &dev_env, "alice").await;
    let peek = dave
        .ask(|req_id| ClientFrame::RtcRoom {
            req_id,
            room_id: "r1".into(),
        })
        .await;
    assert!(
        matches!(peek, ServerFrame::Error { code, .. } if code == codes::RTC_NOT_IN_ROOM),
        "{peek:?}"
    );
    // Bad input: a clear code, nothing changed.
    let bad = dave
        .join("no/such", RoomKind::Meeting, Role::Participant)
        .await;
    assert_eq!(bad, Err(codes::BAD_REQUEST));
    let bad = dave.join("r9", RoomKind::Live, Role::Participant).await;
    assert_eq!(bad, Err(codes::BAD_REQUEST));
    dave.join("r9", RoomKind::Live, Role::Host).await.unwrap();
}

// covers: RTC-01, RTC-02

#[tokio::test]
async fn a_member_back_within_the_timeout_keeps_its_place_and_one_that_stays_away_is_dropped() {
    let dev = deployment("SG").await;
    let api = Api::new(&dev, "SG", "prod");
    let ws = dev.ws("SG");
    let mut alice = Member::connect(&ws, &api, "alice").await;
    let mut bob = Member::connect(&ws, &api, "bob").await;
    alice
        .join("call", RoomKind::Call, Role::Participant)
        .await
        .unwrap();
    bob.join("call", RoomKind::Call, Role::Participant)
        .await
        .unwrap();
    alice
        .publish("call", vec![stream("cam", ResourceKind::Video)])
        .await
        .unwrap();

    // Alice's connection drops and she comes straight back: same place, same resources.
    alice.connection.close().await;
    let mut alice = Member::connect(&ws, &api, "alice").await;
    let back = alice
        .join("call", RoomKind::Call, Role::Participant)
        .await
        .unwrap();
    assert_eq!(back.members[0].user_id, "alice");
    assert!(back.members[0].online);
    assert_eq!(back.members[0].resources[0].stream_id, "cam");
    // Past the timeout (a non-event has nothing to await) she is still there: her next
    // stream is accepted, and bob sees no leave before it.
    tokio::time::sleep(Duration::from_millis(RECONNECT_MS + 2_000)).await;
    alice
        .publish("call", vec![stream("mic", ResourceKind::Audio)])
        .await
        .unwrap();
    loop {
        match bob.notice().await.2 {
            RoomNotice::Published { user_id, resources } if resources[0].stream_id == "mic" => {
                assert_eq!(user_id, "alice");
                break;
            }
            RoomNotice::Joined { .. } | RoomNotice::Published { .. } => {}
            other => panic!("bob saw {other:?} before alice's mic"),
        }
    }

    // Bob goes and stays away: alice hears he timed out.
    bob.connection.close().await;
    let wait = Duration::from_millis(RECONNECT_MS) + Duration::from_secs(20);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match alice.notice_within(left).await.2 {
            RoomNotice::Left { user_id, reason } => {
                assert_eq!((user_id.as_str(), reason), ("bob", LeaveReason::TimedOut));
                break;
            }
            _ => continue,
        }
    }
}

// covers: RTC-02, RTC-04

#[tokio::test]
async fn the_audience_does_not_publish_a_17th_video_host_is_refused_and_invited_fans_co_host() {
    let dev = deployment("SG").await;
    let api = Api::new(&dev, "SG", "prod");
    let ws = dev.ws("SG");
    let mut hosts = Vec::new();
    for i in 0..17 {
        let mut host = Member::connect(&ws, &api, &format!("host{i}")).await;
        host.join("live", RoomKind::Live, Role::Host).await.unwrap();
        hosts.push(host);
    }
    let mut fan = Member::connect(&ws, &api, "fan").await;
    fan.join("live", RoomKind::Live, Role::Audience)
        .await
        .unwrap();
    let refused = fan
        .publish("live", vec![stream("mic", ResourceKind::Audio)])
        .await;
    assert_eq!(refused, Err(codes::RTC_ROLE_FORBIDS));

    for host in hosts.iter_mut().take(16) {
        host.publish("live", vec![stream("cam", ResourceKind::Video)])
            .await
            .unwrap();
    }
    let seventeenth = hosts[16]
        .publish("live", vec![stream("cam", ResourceKind::Video)])
        .await;
    assert_eq!(seventeenth, Err(codes::RTC_LIMIT));
    hosts[16]
        .publish("live", vec![stream("mic", ResourceKind::Audio)])
        .await
        .unwrap();

    // Co-hosting: a fan may not promote itself, but accepts a host's invitation.
    let promote = fan
        .done(|req_id| ClientFrame::RtcSetRole {
            req_id,
            room_id: "live".into(),
            role: Role::Host,
        })
        .await;
    assert_eq!(promote, Err(codes::RTC_ROLE_FORBIDS));
    hosts[0]
        .done(|req_id| ClientFrame::RtcInvite {
            req_id,
            room_id: "live".into(),
            user_id: "fan".into(),
        })
        .await
        .unwrap();
    loop {
        if let RoomNotice::Invited { by, user_id } = fan.notice().await.2 {
            assert_eq!((by.as_str(), user_id.as_str()), ("host0", "fan"));
            break;
        }
    }
    fan.done(|req_id| ClientFrame::RtcAnswerInvite {
        req_id,
        room_id: "live".into(),
        accept: true,
    })
    .await
    .unwrap();
    loop {
        if let RoomNotice::RoleChanged { user_id, role } = hosts[5].notice().await.2 {
            assert_eq!((user_id.as_str(), role), ("fan", Role::Host));
            break;
        }
    }
    fan.publish("live", vec![stream("mic", ResourceKind::Audio)])
        .await
        .unwrap();
}

// covers: RTC-01, RTC-02
#[tokio::test]
async fn the_app_server_is_told_of_a_room_created_and_destroyed_and_its_hosts_coming_and_going() {
    let dev = deployment("SG").await;
    let api = Api::new(&dev, "SG", "prod");
    let server = AppServer::start().await;
    let path = format!("/admin/v1/apps/{}/rtc-callback", api.key);
    let bad = serde_json::json!({"url": "ftp://app/rtc"});
    assert_eq!(admin_call(&dev, "PUT", &path, bad).await, 400);
    let url = serde_json::json!({"url": server.url("/rtc")});
    assert_eq!(admin_call(&dev, "PUT", &path, url.clone()).await, 200);
    assert_eq!(
        admin_json(&dev, "GET", &path, serde_json::Value::Null)
            .await
            .1,
        url
    );

    let ws = dev.ws("SG");
    let mut star = Member::connect(&ws, &api, "star").await;
    let mut fan = Member::connect(&ws, &api, "fan").await;
    star.join("gig", RoomKind::Live, Role::Host).await.unwrap();
    fan.join("gig", RoomKind::Live, Role::Audience)
        .await
        .unwrap();
    let cam = stream("cam", ResourceKind::Video);
    star.publish("gig", vec![cam]).await.unwrap();
    // The audience's comings and goings are not reported, as the commercial service's.
    for member in [&mut fan, &mut star] {
        member
            .done(|req_id| ClientFrame::RtcLeave {
                req_id,
                room_id: "gig".into(),
            })
            .await
            .unwrap();
    }

    let told = server
        .wait_until(Duration::from_secs(20), "five room callbacks", |r| {
            r.iter()
                .filter(|r| r.path == "/rtc" && r.status == 200)
                .count()
                >= 5
        })
        .await;
    let bodies: Vec<serde_json::Value> = told
        .iter()
        .filter(|r| r.path == "/rtc" && r.status == 200)
        .map(|r| r.json())
        .collect();
    let events: Vec<(u64, &str)> = bodies
        .iter()
        .map(|b| (b["event"].as_u64().unwrap(), b["userId"].as_str().unwrap()))
        .collect();
    // Created, joined, resources changed, left, destroyed: in order, the room's lane.
    let star_only = [
        (2, "star"),
        (11, "star"),
        (20, "star"),
        (12, "star"),
        (3, "star"),
    ];
    assert_eq!(events, star_only, "{bodies:?}");
    assert!(bodies.iter().all(|b| b["channelId"] == "gig"));
    let uri = &bodies[2]["members"][0]["data"]["uris"][0];
    assert_eq!(
        (&uri["msid"], &uri["mediaType"]),
        (&"cam".into(), &1.into()),
        "{uri}"
    );
    let (stayed, lasted) = (
        bodies[3]["durationTime"].as_u64(),
        bodies[4]["durationTime"].as_u64(),
    );
    assert!(
        stayed <= lasted,
        "a stay within the room's life: {stayed:?} {lasted:?}"
    );
}

// covers: RTC-01, RTC-02
#[tokio::test]
async fn the_app_server_reads_a_rooms_hosts_and_resources_and_kicks_and_blocks_a_member() {
    let dev = deployment("SG").await;
    let api = Api::new(&dev, "SG", "prod");
    let ws = dev.ws("SG");
    let mut star = Member::connect(&ws, &api, "star").await;
    let mut fan = Member::connect(&ws, &api, "fan").await;
    let created = star.join("show", RoomKind::Live, Role::Host).await.unwrap();
    fan.join("show", RoomKind::Live, Role::Audience)
        .await
        .unwrap();
    star.publish(
        "show",
        vec![
            stream("cam", ResourceKind::Video),
            stream("mic", ResourceKind::Audio),
        ],
    )
    .await
    .unwrap();

    let (_, room) = api
        .json(
            "/rtc/room/query.json",
            &serde_json::json!({"roomId": "show"}),
        )
        .await;
    assert_eq!(room["code"], 200, "{room}");
    assert_eq!(room["sessionId"], created.session_id.as_str());
    let members = room["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "a live room lists its hosts: {room}");
    assert_eq!(members[0]["userId"], "star");
    let uris = members[0]["data"]["uris"].as_array().unwrap();
    let kinds: Vec<(&str, u64)> = uris
        .iter()
        .map(|u| {
            (
                u["msid"].as_str().unwrap(),
                u["mediaType"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds, vec![("cam", 1), ("mic", 0)]);
    // Another app's room of that name is not this one; a missing id is refused.
    let other = Api::new(&dev, "SG", "dev");
    let (_, theirs) = other
        .json(
            "/rtc/room/query.json",
            &serde_json::json!({"roomId": "show"}),
        )
        .await;
    assert_eq!(theirs["code"], 200);
    assert_eq!(theirs["members"], serde_json::json!([]));
    let (_, missing) = api
        .json("/rtc/room/query.json", &serde_json::json!({}))
        .await;
    assert_ne!(missing["code"], 200);

    // The kicked member hears it, and so does the room.
    let (_, kicked) = api
        .json(
            "/rtc/user/kick.json",
            &serde_json::json!({"roomId": "show", "userId": "fan"}),
        )
        .await;
    assert_eq!(kicked["code"], 200, "{kicked}");
    for member in [&mut fan, &mut star] {
        loop {
            if let RoomNotice::Left { user_id, reason } = member.notice().await.2 {
                assert_eq!((user_id.as_str(), reason), ("fan", LeaveReason::Kicked));
                break;
            }
        }
    }
    // Blocked (the commercial service's block, then kick), the fan joins no room until
    // unblocked.
    for minute in [
        serde_json::json!(0),
        serde_json::json!(43_201),
        serde_json::json!("ten"),
    ] {
        let bad = serde_json::json!({"userId": "fan", "minute": minute});
        let (_, refused) = api.json("/rtc/user/block.json", &bad).await;
        assert_eq!(refused["code"], 1002, "{bad}: {refused}");
    }
    let block = serde_json::json!({"userId": "fan", "minute": "10"});
    let (_, blocked) = api.json("/rtc/user/block.json", &block).await;
    assert_eq!(blocked["code"], 200, "{blocked}");
    let refused = fan
        .join("other", RoomKind::Meeting, Role::Participant)
        .await;
    assert_eq!(refused.unwrap_err(), meridian_proto::codes::RTC_BLOCKED);
    let unblock = serde_json::json!({"userId": "fan"});
    let (_, unblocked) = api.json("/rtc/user/unblock.json", &unblock).await;
    assert_eq!(unblocked["code"], 200, "{unblocked}");
    // Free to join elsewhere now.
    fan.join("other", RoomKind::Meeting, Role::Participant)
        .await
        .unwrap();

    // The edge measured the signalling latency of those joins.
    let mut joins = 0.0;
    for url in dev.endpoints["metrics"].as_array().unwrap() {
        let exposition = meridian_testkit::raw_http(url.as_str().unwrap(), "GET", &[], b"").await;
        let text = String::from_utf8_lossy(&exposition.body).into_owned();
        for line in text.lines() {
            if let Some(count) =
                line.strip_prefix("meridian_edge_rtc_seconds_count{op=\"rtc_join\"} ")
            {
                joins += count.parse::<f64>().unwrap();
            }
        }
    }
    assert_eq!(joins, 4.0, "four joins measured (the refused one too)");
}

// covers: RTC-01, RTC-02

#[tokio::test]
async fn meridian_chat_joins_a_room_and_publishes_from_a_terminal() {
    let dev = deployment("SG").await;
    // `meridian chat` uses the demo app's dev environment.
    let api = Api::new(&dev, "SG", "dev");
    let mut bob = Member::connect(&dev.ws("SG"), &api, "bob").await;
    bob.join("talk", RoomKind::Meeting, Role::Participant)
        .await
        .unwrap();
    let mut chat = tokio::process::Command::new(binary())
        .args(["chat", "--user", "alice", "--endpoints"])
        .arg(&dev.endpoints_file)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run meridian chat");
    let mut input = chat.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut input, b"/rtc talk meeting\n/publish cam video\n")
        .await
        .unwrap();
    drop(input);
    let output = chat.wait_with_output().await.unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // One JSON line per frame: its own join notice, then the join's answer, …
    let frames: Vec<serde_json::Value> = printed
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let joined = frames
        .iter()
        .find(|frame| frame["type"] == "rtcJoined")
        .unwrap_or_else(|| panic!("no rtcJoined in {printed}"));
    assert_eq!(joined["room"]["members"][0]["userId"], "bob");
    loop {
        match bob.notice().await.2 {
            RoomNotice::Published { user_id, resources } => {
                assert_eq!(user_id, "alice");
                assert_eq!(resources[0].kind, ResourceKind::Video);
                break;
            }
            RoomNotice::Joined { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

// covers: RTC-04

#[tokio::test]
async fn hosts_of_two_live_rooms_pk_and_each_audience_hears_the_other_host() {
    let dev = deployment("SG").await;
    let api = Api::new(&dev, "SG", "prod");
    let ws = dev.ws("SG");
    let mut anna = Member::connect(&ws, &api, "anna").await;
    let mut ben = Member::connect(&ws, &api, "ben").await;
    let mut ben_fan = Member::connect(&ws, &api, "benfan").await;
    anna.join("x", RoomKind::Live, Role::Host).await.unwrap();
    ben.join("y", RoomKind::Live, Role::Host).await.unwrap();
    ben_fan
        .join("y", RoomKind::Live, Role::Audience)
        .await
        .unwrap();
    start_pk((&mut anna, "x"), (&mut ben, "ben"), "y").await;
    anna.publish("x", vec![stream("cam", ResourceKind::Video)])
        .await
        .unwrap();
    // Ben's audience hears the PK start in its room, then anna's stream as room x's.
    let mut started = false;
    loop {
        let (room_id, _, notice) = ben_fan.notice().await;
        match notice {
            RoomNotice::PkStarted {
                room_id: other,
                host,
                ..
            } => {
                assert_eq!(
                    (room_id.as_str(), other.as_str(), host.as_str()),
                    ("y", "x", "anna")
                );
                started = true;
            }
            RoomNotice::Published { user_id, .. } => {
                assert!(started, "the PK start comes first");
                assert_eq!((room_id.as_str(), user_id.as_str()), ("x", "anna"));
                break;
            }
            _ => {}
        }
    }
    ben.done(|req_id| ClientFrame::RtcPkEnd {
        req_id,
        room_id: "y".into(),
    })
    .await
    .unwrap();
    loop {
        if let RoomNotice::PkEnded { room_id } = anna.notice().await.2 {
            assert_eq!(room_id, "y");
            break;
        }
    }
}
