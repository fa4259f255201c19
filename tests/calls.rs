//! Calls through real client sessions against `meridian dev` (RTC-03, RTC-10): the
//! CallLib's signalling messages go through ordinary sends, the server answers for busy
//! and unanswering callees, and `/rtc/call/query.json` tells the app server how each call
//! went. Every signal is read off a socket.

mod common;

use std::time::Duration;

use common::calls::{call_id, calls_ended, hangup, invite, members, record, Phone, GROUP, PRIVATE};
use common::rtc::Member;
use common::{admin_call, binary, pem, put_settings, register_push, wait_offline, Api};
use meridian_client::codes;
use meridian_proto::rtc::{Role, RoomKind};
use meridian_push::fake::FakeApns;
use meridian_testkit::{eventually, DevDeployment};
use serde_json::{json, Value};

const INVITE: &str = "RC:VCInvite";
const RINGING: &str = "RC:VCRinging";
const ACCEPT: &str = "RC:VCAccept";
const HANGUP: &str = "RC:VCHangup";
const MODIFY_MEMBERS: &str = "RC:VCModifyMem";
const MODIFY_MEDIA: &str = "RC:VCModifyMedia";

/// The CallLib's hang-up reasons, from the sender's side.
const CANCEL: u64 = 1;
const REJECT: u64 = 2;
const HANG_UP: u64 = 3;
const BUSY: u64 = 4;
const NO_RESPONSE: u64 = 5;
const NETWORK: u64 = 7;

async fn deployment(extra: &[&str]) -> DevDeployment {
    // Signals come faster than chat messages: the per-session send budget is raised.
    let flags = [&["--sends-per-second", "100"], extra].concat();
    DevDeployment::start_with(binary(), "SG", 1, &flags).await
}

// covers: RTC-03, RTC-10
#[tokio::test]
async fn one_to_one_calls_ring_answer_cancel_and_answer_busy_with_records() {
    let dev = deployment(&[]).await;
    let api = Api::new(&dev, "SG", "prod");
    let ws = dev.ws("SG");
    let mut alice = Phone::connect(&ws, &api, "alice").await;
    let mut bob = Phone::connect(&ws, &api, "bob").await;

    // Invite → ringing → accept → audio to video → the callee hangs up.
    alice
        .signal(PRIVATE, "bob", INVITE, invite("c1", 1, &["bob"]))
        .await
        .unwrap();
    assert_eq!(
        bob.expect(INVITE, "alice").await["inviteUserIds"],
        json!(["bob"])
    );
    bob.signal(PRIVATE, "alice", RINGING, call_id("c1"))
        .await
        .unwrap();
    alice.expect(RINGING, "bob").await;
    let ringing = record(&api, "c1").await;
    assert_eq!(members(&ringing)[1].1, "ringing", "{ringing}");
    bob.signal(PRIVATE, "alice", ACCEPT, call_id("c1"))
        .await
        .unwrap();
    alice.expect(ACCEPT, "bob").await;
    let switch = json!({ "callId": "c1", "mediaType": 2 });
    alice
        .signal(PRIVATE, "bob", MODIFY_MEDIA, switch)
        .await
        .unwrap();
    bob.expect(MODIFY_MEDIA, "alice").await;
    bob.signal(PRIVATE, "alice", HANGUP, hangup("c1", HANG_UP))
        .await
        .unwrap();
    assert_eq!(alice.expect(HANGUP, "bob").await["reason"], HANG_UP);
    let done = record(&api, "c1").await;
    assert_eq!(
        (
            &done["caller"],
            &done["targetId"],
            &done["conversationType"]
        ),
        (&json!("alice"), &json!("bob"), &json!(1)),
        "{done}"
    );
    assert_eq!(done["mediaType"], "video", "the switch is recorded");
    assert_eq!(done["endReason"], "hangup", "{done}");
    assert_eq!(done["endedBy"], "bob");
    let (started, accepted, ended) = (
        done["startTime"].as_u64().unwrap(),
        done["acceptTime"].as_u64().unwrap(),
        done["endTime"].as_u64().unwrap(),
    );
    assert!(started <= accepted && accepted <= ended, "{done}");
    assert_eq!(done["duration"].as_u64(), Some(ended - accepted));
    assert!(members(&done).iter().all(|(_, state, _)| state == "left"));

    // The caller cancels before an answer.
    alice
        .signal(PRIVATE, "bob", INVITE, invite("c2", 1, &["bob"]))
        .await
        .unwrap();
    bob.expect(INVITE, "alice").await;
    alice
        .signal(PRIVATE, "bob", HANGUP, hangup("c2", CANCEL))
        .await
        .unwrap();
    assert_eq!(bob.expect(HANGUP, "alice").await["reason"], CANCEL);
    let cancelled = record(&api, "c2").await;
    assert_eq!(cancelled["endReason"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["acceptTime"], Value::Null);
    assert_eq!(cancelled["duration"], 0);
    assert_eq!(members(&cancelled)[1].2, "cancelled");

    // A callee in another call is answered "busy" by the server, to both sides; its own
    // call goes on.
    let mut carol = Phone::connect(&ws, &api, "carol").await;
    let mut dave = Phone::connect(&ws, &api, "dave").await;
    carol
        .signal(PRIVATE, "dave", INVITE, invite("c3", 2, &["dave"]))
        .await
        .unwrap();
    dave.expect(INVITE, "carol").await;
    dave.signal(PRIVATE, "carol", ACCEPT, call_id("c3"))
        .await
        .unwrap();
    carol.expect(ACCEPT, "dave").await;
    alice
        .signal(PRIVATE, "dave", INVITE, invite("c4", 1, &["dave"]))
        .await
        .unwrap();
    assert_eq!(alice.expect(HANGUP, "dave").await["reason"], BUSY);
    dave.expect(INVITE, "alice").await;
    assert_eq!(dave.expect(HANGUP, "dave").await["reason"], BUSY);
    let busy = record(&api, "c4").await;
    assert_eq!(
        (&busy["endReason"], &busy["endedBy"]),
        (&json!("busy"), &json!("dave"))
    );
    assert_eq!(
        record(&api, "c3").await["endReason"],
        Value::Null,
        "still on"
    );

    // So is a callee in an audio/video room.
    let mut erin = Member::connect(&ws, &api, "erin").await;
    erin.join("meet", RoomKind::Meeting, Role::Participant)
        .await
        .unwrap();
    alice
        .signal(PRIVATE, "erin", INVITE, invite("c5", 1, &["erin"]))
        .await
        .unwrap();
    assert_eq!(alice.expect(HANGUP, "erin").await["reason"], BUSY);
    assert_eq!(record(&api, "c5").await["endReason"], "busy");

    dave.signal(PRIVATE, "carol", HANGUP, hangup("c3", HANG_UP))
        .await
        .unwrap();
    carol.expect(HANGUP, "dave").await;
    assert_eq!(record(&api, "c3").await["endReason"], "hangup");

    // Bad signals are refused with a reason and change nothing: bob's next call signal
    // is the good invite after them.
    let refused = |answer: Result<(), (u32, String)>, says: &str| {
        let (code, message) = answer.expect_err("refused");
        assert_eq!(code, codes::BAD_REQUEST, "{message}");
        assert!(message.contains(says), "{message} should say {says}");
    };
    let unknown = alice
        .signal(PRIVATE, "bob", HANGUP, hangup("nope", HANG_UP))
        .await;
    refused(unknown, "call nope not found");
    let garbled = alice.signal(PRIVATE, "bob", INVITE, "{not json").await;
    refused(garbled, "content must be a JSON object");
    let odd_media = alice
        .signal(PRIVATE, "bob", INVITE, invite("c6", 9, &["bob"]))
        .await;
    refused(odd_media, "mediaType");
    let someone_else = alice
        .signal(PRIVATE, "bob", INVITE, invite("c6", 1, &["carol"]))
        .await;
    refused(someone_else, "the other user");
    let (answer, value) = api
        .json("/rtc/call/query.json", &json!({ "callId": "c6" }))
        .await;
    assert_eq!(
        (answer.status, &value["code"]),
        (400, &json!(1002)),
        "{value}"
    );
    alice
        .signal(PRIVATE, "bob", INVITE, invite("c6", 1, &["bob"]))
        .await
        .unwrap();
    let (object_name, sender, content) = bob.next_signal().await;
    assert_eq!((object_name.as_str(), sender.as_str()), (INVITE, "alice"));
    assert_eq!(content["callId"], "c6");

    // A caller still in a call it lost (here: it never hung up c6) starts another: the
    // server hangs up the old one for it, and the other side hears.
    alice
        .signal(PRIVATE, "carol", INVITE, invite("c7", 1, &["carol"]))
        .await
        .unwrap();
    carol.expect(INVITE, "alice").await;
    assert_eq!(bob.expect(HANGUP, "alice").await["callId"], "c6");
    let lost = record(&api, "c6").await;
    assert_eq!(
        (&lost["endReason"], &lost["endedBy"]),
        (&json!("cancelled"), &json!("alice"))
    );
    assert_eq!(record(&api, "c7").await["endReason"], Value::Null);

    // The area's metrics count calls by outcome.
    eventually(
        Duration::from_secs(15),
        "two busy calls counted",
        || async { (calls_ended(&dev, "busy").await == 2.0).then_some(()) },
    )
    .await;
    assert_eq!(calls_ended(&dev, "cancelled").await, 2.0);
}

// covers: RTC-03, RTC-10
#[tokio::test]
async fn a_group_call_goes_on_while_two_are_in_it_and_takes_mid_call_invites() {
    let dev = deployment(&[]).await;
    let api = Api::new(&dev, "SG", "prod");
    let ws = dev.ws("SG");
    api.ok(
        "/group/create.json",
        "userId=alice&userId=bob&userId=carol&userId=dave&groupId=team&groupName=Team",
    )
    .await;
    let mut phones = Vec::new();
    for user in ["alice", "bob", "carol", "dave"] {
        phones.push(Phone::connect(&ws, &api, user).await);
    }
    let [alice, bob, carol, dave] = &mut phones[..] else {
        unreachable!()
    };

    // A client rings members of the group only.
    let (code, message) = alice
        .signal(GROUP, "team", INVITE, invite("g0", 1, &["bob", "zed"]))
        .await
        .expect_err("zed is no member");
    assert_eq!(code, codes::BAD_REQUEST);
    assert!(message.contains("zed is not in group team"), "{message}");
    alice
        .signal(GROUP, "team", INVITE, invite("g1", 2, &["bob", "carol"]))
        .await
        .unwrap();
    for callee in [&mut *bob, &mut *carol] {
        assert_eq!(callee.expect(INVITE, "alice").await["mediaType"], 2);
    }
    bob.signal(GROUP, "team", ACCEPT, call_id("g1"))
        .await
        .unwrap();
    alice.expect(ACCEPT, "bob").await;
    carol
        .signal(GROUP, "team", HANGUP, hangup("g1", REJECT))
        .await
        .unwrap();
    alice.expect(HANGUP, "carol").await;

    // Bob brings dave in; the caller leaves and the other two go on.
    let add = json!({ "callId": "g1", "modifyMemType": 1, "callerId": "alice", "mediaType": 2,
                      "inviteUserIds": ["dave"] });
    bob.signal(GROUP, "team", MODIFY_MEMBERS, add)
        .await
        .unwrap();
    assert_eq!(
        dave.expect(MODIFY_MEMBERS, "bob").await["inviteUserIds"],
        json!(["dave"])
    );
    dave.signal(GROUP, "team", ACCEPT, call_id("g1"))
        .await
        .unwrap();
    bob.expect(ACCEPT, "dave").await;
    alice
        .signal(GROUP, "team", HANGUP, hangup("g1", HANG_UP))
        .await
        .unwrap();
    dave.expect(HANGUP, "alice").await;
    let going = record(&api, "g1").await;
    assert_eq!(going["endReason"], Value::Null, "{going}");
    let states: Vec<(String, String, Value)> = members(&going);
    assert_eq!(
        states,
        vec![
            ("alice".into(), "left".into(), json!("hangup")),
            ("bob".into(), "joined".into(), Value::Null),
            ("carol".into(), "left".into(), json!("rejected")),
            ("dave".into(), "joined".into(), Value::Null),
        ]
    );
    assert_eq!(going["members"][3]["invitedBy"], "bob");

    // Bob hangs up: dave would be alone, so the call ends.
    bob.signal(GROUP, "team", HANGUP, hangup("g1", HANG_UP))
        .await
        .unwrap();
    dave.expect(HANGUP, "bob").await;
    let done = record(&api, "g1").await;
    assert_eq!(
        (&done["endReason"], &done["endedBy"]),
        (&json!("hangup"), &json!("bob"))
    );
    assert_eq!(done["targetId"], "team");
    assert!(members(&done).iter().all(|(_, state, _)| state == "left"));

    // A late signal for an ended call is routed and changes nothing.
    dave.signal(GROUP, "team", HANGUP, hangup("g1", HANG_UP))
        .await
        .unwrap();
    assert_eq!(record(&api, "g1").await, done);
}

// covers: RTC-03
#[tokio::test]
async fn a_party_gone_past_the_reconnect_grace_is_hung_up_for_and_one_back_in_time_stays() {
    let dev = deployment(&["--rtc-reconnect-ms", "1000"]).await;
    let api = Api::new(&dev, "SG", "prod");
    let ws = dev.ws("SG");
    let mut alice = Phone::connect(&ws, &api, "alice").await;
    let mut bob = Phone::connect(&ws, &api, "bob").await;
    alice
        .signal(PRIVATE, "bob", INVITE, invite("v1", 1, &["bob"]))
        .await
        .unwrap();
    bob.expect(INVITE, "alice").await;
    bob.signal(PRIVATE, "alice", ACCEPT, call_id("v1"))
        .await
        .unwrap();
    alice.expect(ACCEPT, "bob").await;

    // Bob's connection drops and comes straight back: the call goes on.
    drop(bob);
    wait_offline(&api, "bob").await;
    let bob = Phone::connect(&ws, &api, "bob").await;
    assert_eq!(record(&api, "v1").await["endTime"], Value::Null);

    // Then it drops for good: past the grace the server hangs up for bob ("network"),
    // and bob is not left busy.
    drop(bob);
    assert_eq!(alice.expect(HANGUP, "bob").await["reason"], NETWORK);
    let ended = record(&api, "v1").await;
    assert_eq!(
        (&ended["endReason"], &ended["endedBy"]),
        (&json!("network"), &json!("bob")),
        "{ended}"
    );
    alice
        .signal(PRIVATE, "bob", INVITE, invite("v2", 1, &["bob"]))
        .await
        .unwrap();
    let next = record(&api, "v2").await;
    assert_eq!(next["endReason"], Value::Null, "bob was left busy: {next}");
}

// covers: RTC-03, RTC-10
#[tokio::test]
async fn a_callee_that_never_answers_is_hung_up_for_on_both_sides() {
    let dev = deployment(&["--call-answer-timeout-ms", "1000"]).await;
    let api = Api::new(&dev, "SG", "prod");
    let ws = dev.ws("SG");
    let mut alice = Phone::connect(&ws, &api, "alice").await;
    let mut bob = Phone::connect(&ws, &api, "bob").await;

    // Online: bob's phone rings and nobody picks up.
    alice
        .signal(PRIVATE, "bob", INVITE, invite("n1", 1, &["bob"]))
        .await
        .unwrap();
    bob.expect(INVITE, "alice").await;
    bob.signal(PRIVATE, "alice", RINGING, call_id("n1"))
        .await
        .unwrap();
    assert_eq!(alice.expect(HANGUP, "bob").await["reason"], NO_RESPONSE);
    assert_eq!(bob.expect(HANGUP, "bob").await["reason"], NO_RESPONSE);
    let missed = record(&api, "n1").await;
    assert_eq!(
        (&missed["endReason"], &missed["endedBy"]),
        (&json!("noAnswer"), &json!("bob"))
    );
    assert_eq!(members(&missed)[1].2, "noAnswer");

    // Offline: carol finds the invite and the hang-up when she comes back.
    alice
        .signal(PRIVATE, "carol", INVITE, invite("n2", 2, &["carol"]))
        .await
        .unwrap();
    assert_eq!(alice.expect(HANGUP, "carol").await["reason"], NO_RESPONSE);
    let mut carol = Phone::connect(&ws, &api, "carol").await;
    assert_eq!(carol.expect(INVITE, "alice").await["callId"], "n2");
    assert_eq!(carol.expect(HANGUP, "carol").await["reason"], NO_RESPONSE);
    assert_eq!(record(&api, "n2").await["endReason"], "noAnswer");
}

// covers: RTC-03
#[tokio::test]
async fn meridian_call_rings_from_a_terminal_until_the_other_side_hangs_up() {
    let dev = deployment(&[]).await;
    // `meridian call` uses the demo app's dev environment.
    let api = Api::new(&dev, "SG", "dev");
    let mut bob = Phone::connect(&dev.ws("SG"), &api, "bob").await;
    let ring = tokio::process::Command::new(binary())
        .args(["call", "--user", "alice", "--endpoints"])
        .arg(&dev.endpoints_file)
        .args(["ring", "--to", "bob", "--video", "--timeout", "30"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run meridian call");
    let invite = bob.expect(INVITE, "alice").await;
    assert_eq!(invite["mediaType"], 2, "{invite}");
    let id = invite["callId"].as_str().unwrap().to_string();
    bob.signal(PRIVATE, "alice", RINGING, call_id(&id))
        .await
        .unwrap();
    bob.signal(PRIVATE, "alice", ACCEPT, call_id(&id))
        .await
        .unwrap();
    bob.signal(PRIVATE, "alice", HANGUP, hangup(&id, HANG_UP))
        .await
        .unwrap();
    let output = ring.wait_with_output().await.unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events: Vec<String> = printed
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["event"].to_string())
        .collect();
    assert_eq!(
        events,
        [
            "\"calling\"",
            "\"ringing\"",
            "\"accepted\"",
            "\"hangup\"",
            "\"ended\""
        ],
        "{printed}"
    );
    assert_eq!(record(&api, &id).await["endReason"], "hangup");
}

// covers: RTC-10, PUSH-06
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_callee_is_woken_by_a_voip_push_and_its_messages_by_notifications() {
    const IOS: &str = "com.example.chat";
    let apns = FakeApns::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("apns-ca.pem");
    std::fs::write(&ca, pem(&apns.ca_cert())).unwrap();
    let dev = deployment(&["--outbound-ca", ca.to_str().unwrap()]).await;
    let api = Api::new(&dev, "SG", "prod");
    let settings = json!({"push": {"apps": [{"appId": IOS, "apns": apns.credentials(IOS)}]}});
    assert_eq!(put_settings(&dev, &api.key, settings).await, 200);
    // Bob's iPhone registers its notification token and its PushKit token, then sleeps.
    let (alert_token, voip_token) = ("a1".repeat(32), "b2".repeat(32));
    let ws = dev.ws("SG");
    register_push(&ws, &api, "bob", ("apns", &alert_token, IOS)).await;
    register_push(&ws, &api, "bob", ("apns_voip", &voip_token, IOS)).await;
    wait_offline(&api, "bob").await;

    let mut alice = Phone::connect(&ws, &api, "alice").await;
    alice
        .signal(PRIVATE, "bob", INVITE, invite("v1", 2, &["bob"]))
        .await
        .unwrap();
    let text = json!({ "content": "call me back" });
    alice
        .signal(PRIVATE, "bob", "RC:TxtMsg", text)
        .await
        .unwrap();
    let pushes = apns.wait_for(2, Duration::from_secs(15)).await.unwrap();
    let to = |token: &str| {
        let found = pushes.iter().find(|p| p.device_token == token);
        found.unwrap_or_else(|| panic!("no push to {token} in {pushes:?}"))
    };
    let ring = to(&voip_token);
    assert_eq!(ring.headers["apns-push-type"], "voip");
    assert_eq!(ring.headers["apns-topic"], format!("{IOS}.voip"));
    let call: Value = serde_json::from_str(ring.data.as_deref().unwrap()).unwrap();
    assert_eq!(
        (&call["callId"], &call["mediaType"]),
        (&json!("v1"), &json!(2))
    );
    let message = to(&alert_token);
    assert_eq!(message.headers["apns-push-type"], "alert");
    assert_eq!(message.body, "call me back");
    assert_eq!(pushes.len(), 2, "one push each: {pushes:?}");
}

// covers: RTC-10
#[tokio::test]
async fn a_call_record_goes_with_its_conversations_history_and_one_going_on_stays() {
    // A retention "day" of a second: a day of private history lasts a second.
    let dev = deployment(&["--retention-day-ms", "1000"]).await;
    let api = Api::new(&dev, "SG", "prod");
    let days = json!({"private": 1, "group": 1, "ultraGroup": 1, "chatroom": 1});
    let limits = format!("/admin/v1/apps/{}/limits", api.key);
    let status = admin_call(&dev, "PUT", &limits, json!({ "retentionDays": days })).await;
    assert_eq!(status, 200);
    let ws = dev.ws("SG");
    let mut alice = Phone::connect(&ws, &api, "alice").await;
    let mut bob = Phone::connect(&ws, &api, "bob").await;

    // r1 is cancelled at once; r2 is answered and goes on.
    alice
        .signal(PRIVATE, "bob", INVITE, invite("r1", 1, &["bob"]))
        .await
        .unwrap();
    bob.expect(INVITE, "alice").await;
    alice
        .signal(PRIVATE, "bob", HANGUP, hangup("r1", CANCEL))
        .await
        .unwrap();
    bob.expect(HANGUP, "alice").await;
    alice
        .signal(PRIVATE, "bob", INVITE, invite("r2", 1, &["bob"]))
        .await
        .unwrap();
    bob.expect(INVITE, "alice").await;
    bob.signal(PRIVATE, "alice", ACCEPT, call_id("r2"))
        .await
        .unwrap();
    alice.expect(ACCEPT, "bob").await;
    assert_eq!(record(&api, "r1").await["endReason"], "cancelled");

    // The leader's retention sweep (every 2 s) forgets r1 once its day has passed.
    let api = &api;
    eventually(
        Duration::from_secs(20),
        "r1's record forgotten",
        || async move {
            let asked = json!({"callId": "r1"});
            let (_, answer) = api.json("/rtc/call/query.json", &asked).await;
            (answer["code"] == 1002).then_some(())
        },
    )
    .await;
    let going_on = record(api, "r2").await;
    assert!(going_on["endTime"].is_null(), "{going_on}");
    assert_eq!(going_on["callId"], "r2");
}
