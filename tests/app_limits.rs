//! Per-app limits (API-08) set through the operator admin API and in force at once: the
//! group cap, several chatrooms at a time, a client connection's send rate and the
//! Server API's rates.

mod common;

use common::{admin_json, assert_error, binary, connect, synced, text, Api, FRAME_WAIT};
use meridian_proto::{ClientFrame, ServerFrame};
use std::time::Duration;

use meridian_testkit::{eventually, DevDeployment};
use serde_json::{json, Value};

fn send(client_id: &str, to: &str) -> ClientFrame {
    text(client_id, 1, to, r#"{"content":"hi"}"#)
}

// covers: API-08, GRP-01, CHR-02, MSG-06
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apps_limits_are_set_through_the_admin_api_and_enforced() {
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let api = Api::new(&dev, "SG", "prod");
    let path = format!("/admin/v1/apps/{}/limits", api.key);
    let (status, shown) = admin_json(&dev, "GET", &path, Value::Null).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["limits"]["groupMemberCap"], 3000);
    assert_eq!(
        shown["limits"]["retentionDays"],
        json!({"private": 180, "group": 180, "ultraGroup": 7, "chatroom": 60})
    );

    // Bad limits are refused and change nothing.
    for bad in [
        json!({"groupMemberCap": 0}),
        json!({"clientSendsPerSecond": 1001}),
        json!({"apiRates": {"defaultPerSecond": 0}}),
        json!({"retentionDays": {"chatroom": 0}}),
        json!({"groupCap": 5}),
    ] {
        let (status, answer) = admin_json(&dev, "PUT", &path, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {answer}");
    }
    let limits = json!({
        "groupMemberCap": 2,
        "multiRoomChatrooms": true,
        "clientSendsPerSecond": 1,
        "retentionDays": {"private": 30, "group": 30, "ultraGroup": 7, "chatroom": 1},
    });
    let (status, answer) = admin_json(&dev, "PUT", &path, limits).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["limits"]["clientSendsPerSecond"], 1);
    // Nothing resolved the app at the edge before (its records are cached a second
    // there): the first connection has the new limits. One send a second: c2 is refused.
    let ws = dev.ws("SG");
    let mut alice = connect(&ws, &api, "alice", "alice-web", "Web", None).await;
    synced(&mut alice).await;
    alice.send(&send("c1", "bob")).await.unwrap();
    alice.send(&send("c2", "bob")).await.unwrap();
    let mut answers = Vec::new();
    while answers.len() < 2 {
        match alice.next_within(FRAME_WAIT).await.expect("a frame") {
            ServerFrame::Ack { client_id, .. } => answers.push((client_id, 0)),
            ServerFrame::Error {
                code, client_id, ..
            } => answers.push((client_id.unwrap_or_default(), code)),
            _ => continue,
        }
    }
    answers.sort();
    assert_eq!(answers, [("c1".to_string(), 0), ("c2".to_string(), 20604)]);

    // Several rooms at once: joining r2 keeps alice in r1.
    api.ok("/chatroom/create.json", "chatroom[r1]=One&chatroom[r2]=Two")
        .await;
    for (req_id, room) in [(1, "r1"), (2, "r2")] {
        alice
            .send(&ClientFrame::JoinChatroom {
                req_id,
                chatroom_id: room.into(),
            })
            .await
            .unwrap();
        loop {
            match alice.next_within(FRAME_WAIT).await.expect("joined") {
                ServerFrame::ChatroomJoined { req_id: done, .. } if done == req_id => break,
                ServerFrame::Error { code, message, .. } => panic!("{code} {message}"),
                _ => continue,
            }
        }
    }
    let both = api
        .ok("/chatroom/users/exist.json", "chatroomId=r1&userId=alice")
        .await;
    assert_eq!(both["result"][0]["isInChrm"], 1, "{both}");
    let both = api
        .ok("/chatroom/users/exist.json", "chatroomId=r2&userId=alice")
        .await;
    assert_eq!(both["result"][0]["isInChrm"], 1, "{both}");

    // A group holds 2; the third member is refused (405) and nothing changes.
    let (answer, value) = api
        .form(
            "/group/create.json",
            "userId=a&userId=b&userId=c&groupId=g&groupName=G",
        )
        .await;
    assert_error(&answer, &value, 405, 405);
    api.ok(
        "/group/create.json",
        "userId=a&userId=b&groupId=g&groupName=G",
    )
    .await;

    // The Server API's default class at 3 requests a second for this app: once the
    // edge's cached record (a second) gives way, a fast run of calls is refused.
    let rates = json!({"groupMemberCap": 2, "apiRates": {"defaultPerSecond": 3}});
    let (status, answer) = admin_json(&dev, "PUT", &path, rates).await;
    assert_eq!(status, 200, "{answer}");
    let refused = eventually(
        Duration::from_secs(10),
        "a refusal at 3 a second",
        || async {
            for _ in 0..10 {
                let (answer, value) = api.form("/user/info.json", "userId=a").await;
                // (Refusals at the default 100 a second can come first, while cached.)
                let message = value["errorMessage"].as_str().unwrap_or_default();
                if answer.status == 429 && message.contains("3 requests/s") {
                    return Some(value);
                }
            }
            None
        },
    )
    .await;
    assert_eq!(refused["code"], 1008);
}
