//! The media server ([sfu], RTC-05, RTC-08) with real browsers: Debian's chromium
//! (puppeteer-core, `tests/media_web/driver.mjs`) publishes its fake camera and
//! microphone over WHIP into a live room of a `meridian dev`, the host announces the
//! stream with `rtcPublish`, and an audience member's page finds it in the `published`
//! notice and watches it over WHEP: it decodes video frames and receives audio. The
//! audience cannot publish, a user outside the room cannot watch, and a kicked member's
//! transport is closed within a second. In a meeting, two participants watch each other and an
//! observer watches both; a publisher hanging up ends the watching of its stream. Of a
//! simulcast stream, each subscriber gets the layer it picks, or the one its bandwidth
//! carries (the test limits it with Linux traffic control). A room the app server has
//! recorded yields a WebM file that ffprobe (Debian's ffmpeg) reads back.
//! `scripts/test` installs Node.js, npm and chromium; this test runs `npm ci` in
//! tests/media_web when its packages are missing or older than the lock file.
// covers: RTC-05, RTC-06, RTC-07, RTC-08

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::rtc::{media_metric, start_pk, Member};
use common::{binary, npm_install, Api};
use meridian_proto::rtc::{Resource, ResourceKind, Role, RoomKind, RoomNotice};
use meridian_proto::{ClientFrame, ServerFrame};
use meridian_testkit::{eventually, raw_http_with_head, AppServer, DevDeployment};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The browser starts and answers one command within this.
const WAIT: Duration = Duration::from_secs(60);

fn driver_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/media_web")
}

/// The browser and its pages, driven by lines of JSON.
struct Browser {
    child: Child,
    commands: ChildStdin,
    events: Lines<BufReader<ChildStdout>>,
}

impl Browser {
    fn start() -> Self {
        let mut child = Command::new("node")
            .arg("driver.mjs")
            .current_dir(driver_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node (scripts/test installs Node.js)");
        let events = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let commands = child.stdin.take().expect("stdin");
        Self {
            child,
            commands,
            events,
        }
    }

    /// Has a page carry out `command` and answers what it reported.
    async fn ask(&mut self, command: Value) -> Value {
        let line = format!("{command}\n");
        self.commands
            .write_all(line.as_bytes())
            .await
            .expect("sent");
        let line = tokio::time::timeout(WAIT, self.events.next_line())
            .await
            .unwrap_or_else(|_| panic!("no answer to {command} within {WAIT:?}"))
            .expect("the script's output")
            .unwrap_or_else(|| panic!("the script ended before answering {command}"));
        let answer: Value = serde_json::from_str(&line).expect("a JSON line");
        assert_eq!(answer["event"], command["do"], "the page failed: {answer}");
        answer
    }

    async fn quit(mut self) {
        self.commands
            .write_all(b"{\"do\":\"quit\"}\n")
            .await
            .expect("quit");
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the script ends")
            .expect("its status");
        assert!(status.success(), "the script failed: {status}");
    }
}

#[tokio::test]
async fn a_host_publishes_from_chromium_and_the_audience_watches_over_whep() {
    npm_install(&driver_dir());
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "dev");
    let mut alice = Member::connect(&dev.ws("SG"), &api, "alice").await;
    let mut bob = Member::connect(&dev.ws("SG"), &api, "bob").await;
    alice
        .join("stage", RoomKind::Live, Role::Host)
        .await
        .unwrap();
    bob.join("stage", RoomKind::Live, Role::Audience)
        .await
        .unwrap();
    // The edge tells members where the area's media server is.
    let media = alice.media_server.clone();
    assert!(media.starts_with("http://127.0.0.1:"), "{media:?}");
    assert_eq!(bob.media_server, media);
    let (alice_token, bob_token) = (api.token("alice").await, api.token("bob").await);

    let mut browser = Browser::start();
    let published = browser
        .ask(json!({"do": "publish", "page": "alice", "url": format!("{media}/whip/stage/cam"), "token": alice_token}))
        .await;
    assert_eq!(published["status"], 201, "{published}");
    assert!(published["location"]
        .as_str()
        .is_some_and(|l| l.starts_with("/resource/")));
    // Subscribers find the stream through the room's notices.
    alice
        .publish(
            "stage",
            vec![Resource {
                stream_id: "cam".into(),
                kind: ResourceKind::Video,
                layers: Vec::new(),
                media_server: media.clone(),
                params: "/whep/stage/alice/cam".into(),
            }],
        )
        .await
        .unwrap();
    let whep = loop {
        if let (_, _, RoomNotice::Published { user_id, resources }) = bob.notice().await {
            assert_eq!(user_id, "alice");
            break format!("{}{}", resources[0].media_server, resources[0].params);
        }
    };

    // The audience watches: video frames decode and audio arrives.
    let watching = browser
        .ask(json!({"do": "subscribe", "page": "bob", "url": whep, "token": bob_token}))
        .await;
    assert_eq!(watching["status"], 201, "{watching}");
    let started = tokio::time::Instant::now();
    let stats = decodes(&mut browser, "bob", 30, 30, Duration::from_secs(30)).await;
    eprintln!("bob decoding after {:?}: {stats}", started.elapsed());
    assert!(media_metric(&dev, "meridian_media_forwarded_bytes_total{kind=\"video\"}").await > 0.0);
    assert!(media_metric(&dev, "meridian_media_forwarded_bytes_total{kind=\"audio\"}").await > 0.0);
    // What alice's browser sends arrives: one audio and one video line in, and out to bob.
    for kind in ["audio", "video"] {
        let received = format!("meridian_media_received_bytes_total{{kind=\"{kind}\"}}");
        assert!(media_metric(&dev, &received).await > 0.0, "{received}");
        for way in ["publish", "subscribe"] {
            let tracks = format!("meridian_media_tracks{{kind=\"{kind}\",way=\"{way}\"}}");
            assert_eq!(media_metric(&dev, &tracks).await, 1.0, "{tracks}");
        }
    }
    // Bob's connection asked alice's browser for a keyframe.
    assert!(media_metric(&dev, "meridian_media_keyframe_requests_total").await > 0.0);
    assert_eq!(
        media_metric(&dev, "meridian_media_transports{way=\"subscribe\"}").await,
        1.0
    );
    assert_eq!(stats["protocol"], "udp", "{stats}");

    // The audience does not publish (RTC-04), and only members watch.
    let refused = browser
        .ask(json!({"do": "publish", "page": "bob", "url": format!("{media}/whip/stage/bobcam"), "token": bob_token}))
        .await;
    assert_eq!(refused["status"], 403, "{refused}");
    let body: Value = serde_json::from_str(refused["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["code"], 53003, "{body}");
    let carol_token = api.token("carol").await;
    let outsider = browser
        .ask(json!({"do": "subscribe", "page": "carol", "url": whep, "token": carol_token}))
        .await;
    assert_eq!(outsider["status"], 403, "{outsider}");

    // A kicked member's transport closes within a second.
    let kicked = tokio::time::Instant::now();
    api.json(
        "/rtc/user/kick.json",
        &json!({"roomId": "stage", "userId": "bob"}),
    )
    .await;
    eventually(Duration::from_secs(1), "bob's transport closed", || {
        let gauge = media_metric(&dev, "meridian_media_transports{way=\"subscribe\"}");
        async move { (gauge.await == 0.0).then_some(()) }
    })
    .await;
    eprintln!(
        "bob's transport closed {:?} after the kick",
        kicked.elapsed()
    );
    // A host stepping down to the audience stops publishing.
    alice
        .done(|req_id| ClientFrame::RtcSetRole {
            req_id,
            room_id: "stage".into(),
            role: Role::Audience,
        })
        .await
        .unwrap();
    eventually(Duration::from_secs(1), "alice's publishing closed", || {
        let gauge = media_metric(&dev, "meridian_media_transports{way=\"publish\"}");
        async move { (gauge.await == 0.0).then_some(()) }
    })
    .await;
    // Closed transports take their media lines with them.
    for way in ["publish", "subscribe"] {
        let tracks = format!("meridian_media_tracks{{kind=\"video\",way=\"{way}\"}}");
        assert_eq!(media_metric(&dev, &tracks).await, 0.0, "{tracks}");
    }
    browser.quit().await;
}

// covers: RTC-04, RTC-05
/// In a cross-room PK, a room's audience watches the other room's host on the same media
/// server, while the PK lasts and no longer.
#[tokio::test]
async fn a_pk_partner_rooms_audience_watches_the_other_host_while_the_pk_lasts() {
    npm_install(&driver_dir());
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "dev");
    let mut anna = Member::connect(&dev.ws("SG"), &api, "anna").await;
    anna.join("x", RoomKind::Live, Role::Host).await.unwrap();
    let mut ben = Member::connect(&dev.ws("SG"), &api, "ben").await;
    ben.join("y", RoomKind::Live, Role::Host).await.unwrap();
    let _fans = audience(&dev, &api, "y", &["yan"]).await;
    let media = anna.media_server.clone();
    let mut browser = Browser::start();
    let published = browser
        .ask(
            json!({"do": "publish", "page": "anna", "url": format!("{media}/whip/x/cam"),
            "token": api.token("anna").await}),
        )
        .await;
    assert_eq!(published["status"], 201, "{published}");
    // Room y's audience may not watch room x's host before a PK.
    let whep = format!("{media}/whep/x/anna/cam");
    let yan_token = api.token("yan").await;
    let refused = browser
        .ask(json!({"do": "subscribe", "page": "yan-early", "url": whep, "token": yan_token}))
        .await;
    assert_eq!(refused["status"], 403, "{refused}");

    start_pk((&mut anna, "x"), (&mut ben, "ben"), "y").await;
    // Room y shows its partner, so members who join later know whom they may watch.
    let y = ben
        .ask(|req_id| ClientFrame::RtcRoom {
            req_id,
            room_id: "y".into(),
        })
        .await;
    let ServerFrame::RtcRoom { room, .. } = y else {
        panic!("{y:?}")
    };
    let partner = room.pk.expect("room y is in a PK");
    assert_eq!(
        (
            partner.room_id.as_str(),
            partner.host.as_str(),
            partner.local_host.as_str()
        ),
        ("x", "anna", "ben")
    );
    let watching = browser
        .ask(json!({"do": "subscribe", "page": "yan", "url": whep, "token": yan_token}))
        .await;
    assert_eq!(watching["status"], 201, "{watching}");
    decodes(&mut browser, "yan", 30, 30, Duration::from_secs(30)).await;

    // The PK ends: yan's transport closes within a second or so of the next check.
    ben.done(|req_id| ClientFrame::RtcPkEnd {
        req_id,
        room_id: "y".into(),
    })
    .await
    .unwrap();
    eventually(Duration::from_secs(2), "yan's transport closed", || {
        let gauge = media_metric(&dev, "meridian_media_transports{way=\"subscribe\"}");
        async move { (gauge.await == 0.0).then_some(()) }
    })
    .await;
    browser.quit().await;
}

/// Has `page` report its stats until it decodes more than `frames` video frames and
/// received more than `packets` audio packets; panics after `within`.
async fn decodes(
    browser: &mut Browser,
    page: &str,
    frames: u64,
    packets: u64,
    within: Duration,
) -> Value {
    stats_until(browser, page, within, "decodes enough", |stats| {
        let decoded = stats["video"]["framesDecoded"].as_u64().unwrap_or(0);
        let audio = stats["audio"]["packetsReceived"].as_u64().unwrap_or(0);
        decoded > frames && frame_width(stats) > 0 && audio > packets
    })
    .await
}

/// Has `page` report its stats until `done` holds of them; panics after `within`.
async fn stats_until(
    browser: &mut Browser,
    page: &str,
    within: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let stats = browser.ask(json!({"do": "stats", "page": page})).await;
        if done(&stats) {
            return stats;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{page}: not {what} within {within:?}: {stats}"
        );
        // getStats is a snapshot: ask again shortly.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn frame_width(stats: &Value) -> u64 {
    stats["video"]["frameWidth"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn meeting_participants_see_each_other_an_observer_sees_both_and_hanging_up_ends_the_watching(
) {
    npm_install(&driver_dir());
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "dev");
    let mut members = Vec::new();
    for (user, role) in [
        ("alice", Role::Participant),
        ("bob", Role::Participant),
        ("carol", Role::Observer),
    ] {
        let mut member = Member::connect(&dev.ws("SG"), &api, user).await;
        member
            .join("standup", RoomKind::Meeting, role)
            .await
            .unwrap();
        members.push((user, member, api.token(user).await));
    }
    let media = members[0].1.media_server.clone();
    let token = |user: &str| members.iter().find(|m| m.0 == user).unwrap().2.clone();

    let mut browser = Browser::start();
    for user in ["alice", "bob"] {
        let answer = browser
            .ask(json!({"do": "publish", "page": format!("{user}-camera"),
                "url": format!("{media}/whip/standup/cam"), "token": token(user)}))
            .await;
        assert_eq!(answer["status"], 201, "{answer}");
    }
    let watching = [
        ("alice", "bob"),
        ("bob", "alice"),
        ("carol", "alice"),
        ("carol", "bob"),
    ];
    for (watcher, publisher) in watching {
        let answer = browser
            .ask(
                json!({"do": "subscribe", "page": format!("{watcher}-{publisher}"),
                "url": format!("{media}/whep/standup/{publisher}/cam"), "token": token(watcher)}),
            )
            .await;
        assert_eq!(answer["status"], 201, "{answer}");
    }
    let started = tokio::time::Instant::now();
    for (watcher, publisher) in watching {
        let page = format!("{watcher}-{publisher}");
        let stats = decodes(&mut browser, &page, 100, 100, Duration::from_secs(15)).await;
        eprintln!("{page} after {:?}: {stats}", started.elapsed());
    }
    // An observer only watches (RTC-04).
    let refused = browser
        .ask(json!({"do": "publish", "page": "carol-camera",
            "url": format!("{media}/whip/standup/cam"), "token": token("carol")}))
        .await;
    assert_eq!(refused["status"], 403, "{refused}");

    // Alice hangs up: the transports watching her end with hers.
    let hangup = browser
        .ask(json!({"do": "hangup", "page": "alice-camera"}))
        .await;
    assert_eq!(hangup["status"], 200, "{hangup}");
    let gauge = "meridian_media_transports{way=\"subscribe\"}";
    eventually(
        Duration::from_secs(2),
        "the watchers of alice closed",
        || {
            let value = media_metric(&dev, gauge);
            async move { (value.await == 2.0).then_some(()) }
        },
    )
    .await;
    assert_eq!(
        media_metric(&dev, "meridian_media_transports{way=\"publish\"}").await,
        1.0
    );
    decodes(&mut browser, "carol-bob", 200, 200, Duration::from_secs(15)).await;
    browser.quit().await;
}

#[tokio::test]
async fn a_recorded_room_yields_a_webm_file_of_each_stream_that_ffprobe_reads() {
    npm_install(&driver_dir());
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "dev");
    let app_server = AppServer::start().await;
    let mut alice = Member::connect(&dev.ws("SG"), &api, "alice").await;
    // Only a room someone is in can be recorded.
    let start = json!({"roomId": "lesson", "callbackUrl": app_server.url("/recording")});
    let (_, refused) = api.json("/rtc/record/start.json", &start).await;
    assert_ne!(refused["code"], 200, "{refused}");
    alice
        .join("lesson", RoomKind::Meeting, Role::Participant)
        .await
        .unwrap();
    let (_, started) = api.json("/rtc/record/start.json", &start).await;
    assert_eq!(started["code"], 200, "{started}");

    let media = alice.media_server.clone();
    let mut browser = Browser::start();
    let published = browser
        .ask(
            json!({"do": "publish", "page": "alice", "url": format!("{media}/whip/lesson/cam"),
            "token": api.token("alice").await}),
        )
        .await;
    assert_eq!(published["status"], 201, "{published}");
    eventually(Duration::from_secs(10), "alice's stream recorded", || {
        let gauge = media_metric(&dev, "meridian_media_recordings");
        async move { (gauge.await == 1.0).then_some(()) }
    })
    .await;
    // What is recorded is this long.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, stopped) = api
        .json("/rtc/record/stop.json", &json!({"roomId": "lesson"}))
        .await;
    assert_eq!(stopped["code"], 200, "{stopped}");

    // The app server is told once the file is stored, and the room lists it.
    let told = app_server
        .wait_until(Duration::from_secs(20), "the recording callback", |r| {
            r.iter().any(|r| r.path == "/recording" && r.status == 200)
        })
        .await;
    let ready = told.iter().find(|r| r.path == "/recording").unwrap().json();
    assert_eq!(ready["event"], "recordingReady", "{ready}");
    assert_eq!(
        (&ready["userId"], &ready["streamId"]),
        (&json!("alice"), &json!("cam"))
    );
    assert_eq!(ready["tracks"], json!(["VP8", "opus"]), "{ready}");
    let duration_ms = ready["durationMs"].as_u64().unwrap();
    assert!((2_000..10_000).contains(&duration_ms), "{ready}");
    let (_, listed) = api
        .json("/rtc/record/query.json", &json!({"roomId": "lesson"}))
        .await;
    let recordings = listed["recordings"].as_array().expect("recordings");
    assert_eq!(recordings.len(), 1, "{listed}");
    assert_eq!(recordings[0]["fileId"], ready["fileId"]);
    let url = recordings[0]["url"].as_str().unwrap();
    let (file, head) = raw_http_with_head(url, "GET", &[], b"").await;
    assert_eq!(file.status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: video/webm"),
        "{head}"
    );

    // An independent decoder reads a VP8 video track and an Opus audio track lasting
    // what the callback said.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lesson.webm");
    std::fs::write(&path, &file.body).unwrap();
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-of",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(&path)
        .output()
        .await
        .expect("ffprobe (scripts/test installs ffmpeg)");
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let probed: Value = serde_json::from_slice(&probe.stdout).unwrap();
    let codecs: Vec<&str> = probed["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap())
        .collect();
    assert_eq!(codecs, ["vp8", "opus"], "{probed}");
    assert!(probed["streams"][0]["width"].as_u64().unwrap() > 0);
    assert_eq!(probed["format"]["format_name"], "matroska,webm");
    let seconds: f64 = probed["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let said = duration_ms as f64 / 1_000.0;
    eprintln!(
        "recorded {} bytes, {codecs:?}, ffprobe {seconds} s, callback {said} s",
        file.body.len()
    );
    assert!(
        (seconds - said).abs() < 0.5,
        "ffprobe: {seconds} s, callback: {said} s"
    );
    assert_eq!(
        media_metric(&dev, "meridian_media_recordings_stored_total").await,
        1.0
    );
    browser.quit().await;
}

/// `fans` join live room `room` as its audience. Keep what this returns for as long as
/// they watch: a member whose session is gone past the reconnect grace leaves the room,
/// and the SFU closes its transports.
async fn audience(dev: &DevDeployment, api: &Api, room: &str, fans: &[&str]) -> Vec<Member> {
    let mut members = Vec::new();
    for fan in fans {
        let mut member = Member::connect(&dev.ws("SG"), api, fan).await;
        member
            .join(room, RoomKind::Live, Role::Audience)
            .await
            .unwrap();
        members.push(member);
    }
    members
}

#[tokio::test]
async fn a_subscriber_picks_a_simulcast_layer() {
    npm_install(&driver_dir());
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "dev");
    let mut host = Member::connect(&dev.ws("SG"), &api, "alice").await;
    host.join("show", RoomKind::Live, Role::Host).await.unwrap();
    let media = host.media_server.clone();
    let _fans = audience(&dev, &api, "show", &["bob", "carol"]).await;
    let mut browser = Browser::start();
    let published = browser
        .ask(
            json!({"do": "publish", "page": "alice", "url": format!("{media}/whip/show/cam"),
            "token": api.token("alice").await, "layers": ["big", "small"]}),
        )
        .await;
    assert_eq!(published["status"], 201, "{published}");
    // Bob asks for the small layer, carol for the big one.
    let whep = format!("{media}/whep/show/alice/cam");
    for (fan, layer) in [("bob", "small"), ("carol", "big")] {
        let url = format!("{whep}?layer={layer}");
        let answer = browser
            .ask(json!({"do": "subscribe", "page": fan, "url": url, "token": api.token(fan).await}))
            .await;
        assert_eq!(answer["status"], 201, "{answer}");
    }
    let small = decodes(&mut browser, "bob", 30, 30, Duration::from_secs(30)).await;
    let big = decodes(&mut browser, "carol", 30, 30, Duration::from_secs(30)).await;
    eprintln!("small: {small}\nbig: {big}");
    assert!(
        frame_width(&small) < frame_width(&big),
        "small {small} big {big}"
    );
    browser.quit().await;
}

// covers: RTC-05
/// Where no UDP gets through, browsers publish and watch over ICE-TCP (RFC 6544) on the
/// media server's WHIP/WHEP port.
#[tokio::test]
async fn where_udp_is_blocked_browsers_publish_and_watch_over_tcp_on_the_whip_port() {
    npm_install(&driver_dir());
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "dev");
    let mut host = Member::connect(&dev.ws("SG"), &api, "alice").await;
    host.join("cafe", RoomKind::Live, Role::Host).await.unwrap();
    let media = host.media_server.clone();
    let _fans = audience(&dev, &api, "cafe", &["bob"]).await;
    let port: u16 = media.rsplit(':').next().unwrap().parse().unwrap();
    let _blocked = Throttle::udp_blocked_to(port);

    let mut browser = Browser::start();
    let published = browser
        .ask(
            json!({"do": "publish", "page": "alice", "url": format!("{media}/whip/cafe/cam"),
            "token": api.token("alice").await}),
        )
        .await;
    assert_eq!(published["status"], 201, "{published}");
    let whep = format!("{media}/whep/cafe/alice/cam");
    let watching = browser
        .ask(
            json!({"do": "subscribe", "page": "bob", "url": whep, "token": api.token("bob").await}),
        )
        .await;
    assert_eq!(watching["status"], 201, "{watching}");
    let started = tokio::time::Instant::now();
    let stats = decodes(&mut browser, "bob", 30, 30, Duration::from_secs(30)).await;
    eprintln!(
        "bob decoding over TCP after {:?}: {stats}",
        started.elapsed()
    );
    assert_eq!(stats["protocol"], "tcp", "{stats}");
    let alice = browser.ask(json!({"do": "stats", "page": "alice"})).await;
    assert_eq!(alice["protocol"], "tcp", "{alice}");
    // Chromium may open one connection per local address it has: at least one each.
    let open = media_metric(&dev, "meridian_media_tcp_connections").await;
    assert!(open >= 2.0, "{open} ICE-TCP connections");

    // Hanging up closes bob's connections; alice's stay.
    let hung_up = browser.ask(json!({"do": "hangup", "page": "bob"})).await;
    assert_eq!(hung_up["status"], 200, "{hung_up}");
    eventually(
        Duration::from_secs(5),
        "bob's TCP connections closed",
        || {
            let gauge = media_metric(&dev, "meridian_media_tcp_connections");
            async move { (1.0..open).contains(&gauge.await).then_some(()) }
        },
    )
    .await;
    let alice = browser.ask(json!({"do": "stats", "page": "alice"})).await;
    assert_eq!(alice["state"], "connected", "{alice}");
    browser.quit().await;
}

/// Traffic control on the loopback interface (Linux's htb, with `tc`) until dropped:
/// UDP matching a port goes to a class of its own, the rest passes. Tests that use it
/// never run side by side (the nextest group `processes`), as lo has one root qdisc.
struct Throttle;

impl Throttle {
    /// Limits what leaves `port` over UDP to `rate`. The media server sends all its
    /// media from its one port, so this is the bandwidth towards its subscribers.
    fn udp_from(port: u16, rate: &str) -> Self {
        // A short queue, as a real bottleneck's: what does not fit is dropped rather
        // than delayed for many seconds (which would starve the connectivity checks
        // and fail the connection).
        Throttle::udp(("sport", port), rate, "25")
    }

    /// Drops every UDP packet to `port`, as a network that blocks UDP would.
    fn udp_blocked_to(port: u16) -> Self {
        Throttle::udp(("dport", port), "8bit", "0")
    }

    fn udp((direction, port): (&str, u16), rate: &str, queue: &str) -> Self {
        let port = port.to_string();
        let rate_args = ["rate", rate, "ceil", rate];
        let steps: [Vec<&str>; 5] = [
            vec![
                "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "20",
            ],
            [
                &[
                    "class", "add", "dev", "lo", "parent", "1:", "classid", "1:10", "htb",
                ][..],
                &rate_args,
            ]
            .concat(),
            vec![
                "qdisc", "add", "dev", "lo", "parent", "1:10", "handle", "10:", "pfifo", "limit",
                queue,
            ],
            vec![
                "class", "add", "dev", "lo", "parent", "1:", "classid", "1:20", "htb", "rate",
                "100gbit",
            ],
            vec![
                "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                "match", "ip", "protocol", "17", "0xff", "match", "ip", direction, &port, "0xffff",
                "flowid", "1:10",
            ],
        ];
        // A root qdisc left by a run that was killed would refuse ours.
        Throttle::clear();
        let throttle = Throttle;
        for step in steps {
            let status = std::process::Command::new("tc")
                .args(&step)
                .stderr(Stdio::null())
                .status()
                .expect("tc (Debian's iproute2)");
            assert!(status.success(), "tc {step:?}: {status}");
        }
        throttle
    }

    fn clear() {
        let _ = std::process::Command::new("tc")
            .args(["qdisc", "del", "dev", "lo", "root"])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Throttle {
    fn drop(&mut self) {
        Throttle::clear();
    }
}

// covers: RTC-06
#[tokio::test]
async fn a_subscriber_moves_between_simulcast_layers_with_its_bandwidth() {
    npm_install(&driver_dir());
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "dev");
    let mut host = Member::connect(&dev.ws("SG"), &api, "alice").await;
    host.join("band", RoomKind::Live, Role::Host).await.unwrap();
    let media = host.media_server.clone();
    let port: u16 = media.rsplit(':').next().unwrap().parse().unwrap();
    let _fans = audience(&dev, &api, "band", &["bob", "carol"]).await;
    let mut browser = Browser::start();
    let published = browser
        .ask(
            json!({"do": "publish", "page": "alice", "url": format!("{media}/whip/band/cam"),
            "token": api.token("alice").await, "layers": ["big", "small"]}),
        )
        .await;
    assert_eq!(published["status"], 201, "{published}");
    let whep = format!("{media}/whep/band/alice/cam");
    // Carol pins the big layer, to tell its width; then she leaves.
    let pinned = browser
        .ask(
            json!({"do": "subscribe", "page": "carol", "url": format!("{whep}?layer=big"),
            "token": api.token("carol").await}),
        )
        .await;
    assert_eq!(pinned["status"], 201, "{pinned}");
    let big = frame_width(&decodes(&mut browser, "carol", 30, 30, Duration::from_secs(30)).await);
    browser.ask(json!({"do": "hangup", "page": "carol"})).await;

    // Bob lets his bandwidth choose: the big layer while nothing limits it, the small one
    // while 300 kbit/s reach him, the big one again once the limit lifts.
    let auto = browser
        .ask(
            json!({"do": "subscribe", "page": "bob", "url": whep, "token": api.token("bob").await}),
        )
        .await;
    assert_eq!(auto["status"], 201, "{auto}");
    // The estimator's probing climbs back slowly on a loaded machine (13 s seen).
    let within = Duration::from_secs(60);
    let started = tokio::time::Instant::now();
    stats_until(&mut browser, "bob", within, "on the big layer", |s| {
        frame_width(s) == big
    })
    .await;
    eprintln!(
        "bob on the big layer ({big} wide) after {:?}",
        started.elapsed()
    );
    let throttle = Throttle::udp_from(port, "300kbit");
    let limited = tokio::time::Instant::now();
    let small = stats_until(&mut browser, "bob", within, "on the small layer", |s| {
        (1..big).contains(&frame_width(s))
    })
    .await;
    eprintln!(
        "bob on the small layer {:?} after the limit: {small}",
        limited.elapsed()
    );
    drop(throttle);
    let lifted = tokio::time::Instant::now();
    stats_until(&mut browser, "bob", within, "back on the big layer", |s| {
        frame_width(s) == big
    })
    .await;
    eprintln!(
        "bob back on the big layer {:?} after the limit lifted",
        lifted.elapsed()
    );
    assert!(media_metric(&dev, "meridian_media_layer_switches_total").await >= 2.0);
    browser.quit().await;
}

/// A real RTMP server standing in for the CDN: Debian's nginx with its RTMP module
/// (scripts/test installs them), live application `live`, stopped when dropped.
struct RtmpServer {
    /// Killed on drop.
    _child: Child,
    _dir: tempfile::TempDir,
}

/// A loopback port held for a server started later: bound but not listening, so a
/// connection is refused as if nothing were there, and no other process can take the port
/// meanwhile (a server that took it would be sent the push, and answer nothing useful).
struct HeldPort(socket2::Socket);

impl HeldPort {
    fn new() -> Self {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None);
        let socket = socket.unwrap();
        let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        socket.bind(&loopback.into()).unwrap();
        Self(socket)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().as_socket().unwrap().port()
    }
}

impl RtmpServer {
    /// Starts the server on `held`'s port, let go of just before.
    async fn start_on(held: HeldPort) -> Self {
        let port = held.port();
        drop(held);
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display();
        let config = format!(
            "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\n\
             daemon off;\nmaster_process off;\npid {root}/nginx.pid;\n\
             error_log {root}/error.log;\nevents {{}}\n\
             rtmp {{ server {{ listen 127.0.0.1:{port}; application live {{ live on; }} }} }}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), config).unwrap();
        // Debian's is in /usr/sbin, which a non-root PATH may lack.
        let debians = "/usr/sbin/nginx";
        let nginx = if Path::new(debians).is_file() {
            debians
        } else {
            "nginx"
        };
        let mut child = Command::new(nginx)
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-p")
            .arg(dir.path())
            .kill_on_drop(true)
            .spawn()
            .expect("nginx (scripts/test installs nginx-light and libnginx-mod-rtmp)");
        eventually(Duration::from_secs(10), "nginx listening", || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ())
        })
        .await;
        // What answered is nginx, not another process on the port.
        assert!(
            child.try_wait().unwrap().is_none(),
            "nginx exited: {}",
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        );
        Self {
            _child: child,
            _dir: dir,
        }
    }
}

/// One frame of the live stream at `url`, decoded by Debian's ffmpeg to 8-bit luma, with
/// the stream's codecs; `None` while nothing is pushed there.
async fn grab_frame(url: &str, width: usize, height: usize) -> Option<Vec<u8>> {
    let decoded = Command::new("ffmpeg")
        .args(["-v", "error", "-rw_timeout", "5000000", "-i", url])
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(15), decoded)
        .await
        .ok()?
        .ok()?;
    (output.status.success() && output.stdout.len() == width * height).then_some(output.stdout)
}

/// The mean luma of the frame's pixels in `x` × `y`.
fn brightness(
    frame: &[u8],
    width: usize,
    x: std::ops::Range<usize>,
    y: std::ops::Range<usize>,
) -> f64 {
    let area = (x.len() * y.len()) as f64;
    let sum: u64 = y
        .flat_map(|row| x.clone().map(move |column| row * width + column))
        .map(|i| u64::from(frame[i]))
        .sum();
    sum as f64 / area
}

// covers: RTC-09
#[tokio::test]
async fn a_mixed_live_room_reaches_an_rtmp_server_in_the_layout_asked_for() {
    npm_install(&driver_dir());
    let cdn_port = HeldPort::new();
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "dev");
    let mut hosts = Vec::new();
    for user in ["alice", "bob"] {
        let mut host = Member::connect(&dev.ws("SG"), &api, user).await;
        host.join("stage", RoomKind::Live, Role::Host)
            .await
            .unwrap();
        hosts.push(host);
    }
    let media = hosts[0].media_server.clone();
    let mut browser = Browser::start();
    for user in ["alice", "bob"] {
        let published = browser
            .ask(
                json!({"do": "publish", "page": user, "url": format!("{media}/whip/stage/cam"),
                "token": api.token(user).await}),
            )
            .await;
        assert_eq!(published["status"], 201, "{published}");
    }

    // Bad settings are refused and start nothing.
    let (width, height) = (640, 360);
    let url = format!("rtmp://127.0.0.1:{}/live/stage", cdn_port.port());
    let order = |layout: Value| {
        let mut order = json!({"roomId": "stage", "width": width, "height": height, "fps": 15,
            "bitrateKbps": 600, "pushUrls": [url]});
        order
            .as_object_mut()
            .unwrap()
            .extend(layout.as_object().unwrap().clone());
        order
    };
    for bad in [
        order(json!({"layout": "adaptive", "pushUrls": ["http://127.0.0.1/live/x"]})),
        order(json!({"layout": "adaptive", "width": 641})),
        order(json!({"layout": "mosaic"})),
        order(json!({"layout": "custom"})),
    ] {
        let (_, refused) = api.json("/rtc/mix/start.json", &bad).await;
        assert_eq!(refused["code"], 1002, "{bad}: {refused}");
    }
    assert_eq!(media_metric(&dev, "meridian_media_mixes").await, 0.0);

    // Adaptive: the two cameras side by side, each 4:3 picture letterboxed in its half,
    // so the canvas's top rows stay black.
    // The CDN is down at first: the push fails, is counted, and the mix is built again
    // until the CDN answers.
    let (_, started) = api
        .json("/rtc/mix/start.json", &order(json!({"layout": "adaptive"})))
        .await;
    assert_eq!(started["code"], 200, "{started}");
    eventually(Duration::from_secs(30), "a refused push counted", || {
        let failures = media_metric(&dev, "meridian_media_mix_failures_total");
        async move { (failures.await >= 1.0).then_some(()) }
    })
    .await;
    let cdn = RtmpServer::start_on(cdn_port).await;
    let mixed = tokio::time::Instant::now();
    let frame = eventually(Duration::from_secs(60), "both cameras in the mix", || {
        let url = url.clone();
        async move {
            let frame = grab_frame(&url, width, height).await?;
            let left = brightness(&frame, width, 40..280, 100..260);
            let right = brightness(&frame, width, 360..600, 100..260);
            let top = brightness(&frame, width, 0..width, 0..50);
            eprintln!("adaptive: left {left:.0}, right {right:.0}, top {top:.0}");
            (left > top + 20.0 && right > top + 20.0).then_some(frame)
        }
    })
    .await;
    eprintln!(
        "both cameras mixed {:?} after the CDN came up",
        mixed.elapsed()
    );
    assert!(
        brightness(&frame, width, 0..width, 0..50) < 30.0,
        "black above"
    );
    // ffprobe joins the live stream anywhere; on a loaded machine its probing may end
    // before the first audio packet, so it may take another look.
    let picture = format!("h264,{width},{height}");
    let streams = eventually(Duration::from_secs(30), "h264 and aac in the push", || {
        let url = url.clone();
        let picture = picture.clone();
        async move {
            let probe = Command::new("ffprobe")
                .args(["-v", "error", "-rw_timeout", "5000000"])
                .args(["-show_entries", "stream=codec_name,width,height"])
                .args(["-of", "csv=p=0", &url])
                .output()
                .await
                .expect("ffprobe");
            let streams = String::from_utf8_lossy(&probe.stdout).to_string();
            eprintln!("ffprobe: {streams:?}");
            (streams.contains(&picture) && streams.contains("aac")).then_some(streams)
        }
    })
    .await;
    eprintln!("the push carries {streams:?}");

    // Floating, bob's camera the main one: it fills the canvas's height (the top rows are
    // his picture now), alice's floats small at the top right.
    let floating = order(json!({"layout": "floating", "mainUserId": "bob"}));
    let (_, changed) = api.json("/rtc/mix/start.json", &floating).await;
    assert_eq!(changed["code"], 200, "{changed}");
    eventually(Duration::from_secs(30), "the floating layout", || {
        let url = url.clone();
        async move {
            let frame = grab_frame(&url, width, height).await?;
            let top = brightness(&frame, width, 200..440, 0..50);
            let sides = brightness(&frame, width, 0..60, 100..260);
            eprintln!("floating: top {top:.0}, sides {sides:.0}");
            (top > sides + 20.0).then_some(())
        }
    })
    .await;

    // Stopped: the push ends, and the RTMP server has nothing to play.
    let (_, stopped) = api
        .json("/rtc/mix/stop.json", &json!({"roomId": "stage"}))
        .await;
    assert_eq!(stopped["code"], 200, "{stopped}");
    eventually(Duration::from_secs(10), "the mix ended", || {
        let gauge = media_metric(&dev, "meridian_media_mixes");
        async move { (gauge.await == 0.0).then_some(()) }
    })
    .await;
    assert!(
        grab_frame(&url, width, height).await.is_none(),
        "nothing pushed any more"
    );
    browser.quit().await;
    drop(cdn);
}
